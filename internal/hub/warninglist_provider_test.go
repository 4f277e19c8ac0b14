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
