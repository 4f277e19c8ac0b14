package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// A provider's own service names under a delegating zone, and a domain
// above a listed name, are refused at submission and never reach the RPZ
// export (where elb.amazonaws.com would block every AWS load balancer for
// every hospital); customers' names on the same platforms are stored,
// flagged.
func TestWarninglistProviderNamesRefused(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t)})
	member := h.Key(h.Org("Member", policy.Member, ""), policy.Analyst)
	reader := h.Key(h.Org("Reader", policy.Member, ""), policy.Sensor)
	refused := []string{"elb.amazonaws.com", "s3.eu-west-2.amazonaws.com", "eu-west-2.compute.amazonaws.com",
		"www.tumblr.com", "ct.sendgrid.net", "rlp.de"}
	flagged := []string{"evil-bucket.s3.amazonaws.com", "ec2-54-197-140-72.compute-1.amazonaws.com",
		"attacker-app.herokuapp.com", "u10021139.ct.sendgrid.net"}
	var items []map[string]any
	for _, v := range append(append([]string{}, refused...), flagged...) {
		items = append(items, map[string]any{"type": "domain", "value": v, "tlp": "green"})
	}
	res := submit(t, h, member, items...)
	for i, r := range res {
		switch {
		case i < len(refused) && (r.Status != "rejected" || len(r.Warninglists) == 0):
			t.Errorf("%s: %s %+v %v, want rejected by a warninglist", r.Value, r.Status, r.Error, r.Warninglists)
		case i >= len(refused) && (r.Status != "created" || len(r.Warninglists) == 0):
			t.Errorf("%s: %s %+v %v, want created and flagged", r.Value, r.Status, r.Error, r.Warninglists)
		}
	}
	rpz := string(h.Do("GET", "/api/v1/export/rpz", reader, nil).Body)
	for _, v := range refused {
		if strings.Contains(rpz, "\n"+v+" ") || strings.Contains(rpz, "\n"+v+".") {
			t.Errorf("the RPZ export carries %s", v)
		}
	}
	if !strings.Contains(rpz, "evil-bucket.s3.amazonaws.com") {
		t.Errorf("the RPZ export lacks the flagged customer name evil-bucket.s3.amazonaws.com:\n%.2000s", rpz)
	}
}

// Tags beginning "hdn:" are the hub's own: a member cannot put its
// indicator in the coordinator's review of warninglist overrides (or make a
// later re-check take it for one) by tagging it hdn:warninglist-override;
// the coordinator's real override keeps the tag.
func TestHubTagsAreTheHubs(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t)})
	coord := h.Key(h.Org("Sector CERT", policy.Coordinator, ""), policy.Analyst)
	member := h.Key(h.Org("Member", policy.Member, ""), policy.Analyst)
	id := submit(t, h, member, map[string]any{"type": "domain", "value": "forged-tag.bad-wave.xyz",
		"tags": []string{"hdn:warninglist-override", "HDN:Other", "campaign-x"}})[0].ID
	if tags := getIndicator(t, h, member, id).Tags; len(tags) != 1 || tags[0] != "campaign-x" {
		t.Errorf("a member's hdn: tags were kept: %v", tags)
	}
	r := h.Do("POST", "/api/v1/indicators", coord, map[string]any{"indicators": []map[string]any{{"type": "ipv4", "value": "8.8.8.8",
		"tags": []string{"resolver-abuse"}, "override_warninglists": true}}})
	var res struct{ Results []struct{ ID, Status string } }
	r.JSON(t, &res)
	if r.Status != 200 || len(res.Results) != 1 || res.Results[0].ID == "" {
		t.Fatalf("the coordinator's override: %d %s", r.Status, r.Body)
	}
	if tags := getIndicator(t, h, coord, res.Results[0].ID).Tags; !strings.Contains(strings.Join(tags, " "), "hdn:warninglist-override") {
		t.Errorf("the coordinator's override lost its tag: %v", tags)
	}
}
