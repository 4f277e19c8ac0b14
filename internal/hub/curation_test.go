package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// submitID submits one item and returns its id, failing unless it was
// stored.
func submitID(t *testing.T, h *hubtest.Hub, key string, item map[string]any) string {
	t.Helper()
	res := submit(t, h, key, item)
	if len(res) != 1 || res[0].ID == "" || (res[0].Status != "created" && res[0].Status != "updated") {
		t.Fatalf("submit %v: %+v", item, res)
	}
	return res[0].ID
}

// TestFormerPartnerDoesNotCurate: once the coordinator moved a customer to
// another partner, the partner that submitted for it may no longer revoke or
// re-mark what it submitted; the new partner may.
func TestFormerPartnerDoesNotCurate(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	oldP := h.Org("Old MSSP", policy.Partner, "")
	newP := h.Org("New MSSP", policy.Partner, "")
	c := h.Org("Care Home", policy.Customer, "Old MSSP")
	kOld, kNew, kc := h.Key(oldP, policy.Analyst), h.Key(newP, policy.Analyst), h.Key(c, policy.Analyst)
	id1 := submitID(t, h, kOld, map[string]any{"type": "domain", "value": "evil-one.example.org", "tlp": "amber", "on_behalf_of": "Care Home"})
	id2 := submitID(t, h, kOld, map[string]any{"type": "domain", "value": "evil-two.example.org", "tlp": "amber", "on_behalf_of": "Care Home"})
	if r := h.Do("POST", "/api/v1/orgs/"+c.ID+"/move", h.Key(coord, policy.Admin), map[string]any{"partner": "New MSSP"}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+id1+"/revoke", kOld, nil); r.Status != 403 {
		t.Errorf("the former partner revokes: %d %s, want 403", r.Status, r.Body)
	}
	if r := mispCall(h, "POST", "/tags/attachTagToObject", kOld, map[string]any{"uuid": id2, "tag": "tlp:clear"}); r.Status != 403 {
		t.Errorf("the former partner re-marks: %d %s, want 403", r.Status, r.Body)
	}
	if got := getIndicator(t, h, kc, id1); got.Revoked {
		t.Error("revoked by the former partner")
	}
	if got := getIndicator(t, h, kc, id2); got.TLP != "amber" {
		t.Errorf("TLP %s after the former partner's tag, want amber", got.TLP)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+id1+"/revoke", kNew, nil); r.Status != 200 {
		t.Errorf("the new partner revokes: %d %s, want 200", r.Status, r.Body)
	}
}

// TestCuratorsDoNotOpenSharing: the coordinator curates what members share
// — it may tag it and make its TLP stricter — but may not make it more open,
// by a tag or by replacing a report; a tag does not bring a revoked
// indicator back either. The source may do both.
func TestCuratorsDoNotOpenSharing(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	m := h.Org("Hospital A", policy.Member, "")
	kc, km := h.Key(coord, policy.Analyst), h.Key(m, policy.Analyst)
	id := submitID(t, h, km, map[string]any{"type": "domain", "value": "strict.example.org", "tlp": "amber"})
	if r := mispCall(h, "POST", "/tags/attachTagToObject", kc, map[string]any{"uuid": id, "tag": "tlp:clear"}); r.Status != 403 {
		t.Errorf("the coordinator opens amber to clear: %d %s, want 403", r.Status, r.Body)
	}
	if got := getIndicator(t, h, km, id); got.TLP != "amber" {
		t.Fatalf("TLP %s after the coordinator's tlp:clear, want amber", got.TLP)
	}
	if r := mispCall(h, "POST", "/tags/attachTagToObject", kc, map[string]any{"uuid": id, "tag": "tlp:amber+strict"}); r.Status != 200 {
		t.Errorf("the coordinator narrows amber to amber+strict: %d %s, want 200", r.Status, r.Body)
	}
	if got := getIndicator(t, h, km, id); got.TLP != "amber+strict" {
		t.Errorf("TLP %s after the coordinator's tlp:amber+strict", got.TLP)
	}
	if r := mispCall(h, "POST", "/tags/attachTagToObject", km, map[string]any{"uuid": id, "tag": "tlp:green"}); r.Status != 200 {
		t.Errorf("the source opens its own: %d %s, want 200", r.Status, r.Body)
	}

	// A revoked indicator stays revoked when tagged.
	if r := h.Do("POST", "/api/v1/indicators/"+id+"/revoke", km, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := mispCall(h, "POST", "/tags/attachTagToObject", kc, map[string]any{"uuid": id, "tag": "reviewed"}); r.Status != 400 {
		t.Errorf("the coordinator tags a revoked indicator: %d %s, want 400", r.Status, r.Body)
	}
	if got := getIndicator(t, h, km, id); !got.Revoked {
		t.Error("a tag brought the revoked indicator back")
	}

	// Reports: a tag, a MISP event and a STIX report from the coordinator
	// do not open a member's report.
	var rep struct{ ID, TLP string }
	r := h.Do("POST", "/api/v1/reports", km, map[string]any{"title": "winter campaign", "tlp": "amber"})
	r.JSON(t, &rep)
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	if r := mispCall(h, "POST", "/tags/attachTagToObject", kc, map[string]any{"uuid": rep.ID, "tag": "tlp:clear"}); r.Status != 403 {
		t.Errorf("the coordinator opens the report by a tag: %d %s, want 403", r.Status, r.Body)
	}
	if r := mispCall(h, "POST", "/events/add", kc, map[string]any{"Event": map[string]any{"info": "winter campaign", "uuid": rep.ID, "Tag": []any{map[string]any{"name": "tlp:clear"}}}}); r.Status != 403 {
		t.Errorf("the coordinator replaces the report with a clear event: %d %s, want 403", r.Status, r.Body)
	}
	bundle := map[string]any{"type": "bundle", "id": "bundle--0d7c9a4e-1111-4222-8333-944455556667", "objects": []any{
		map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
			"created": "2022-10-01T00:00:00.000Z", "name": "TLP:CLEAR", "extensions": map[string]any{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": map[string]any{"extension_type": "property-extension", "tlp_2_0": "clear"}}},
		map[string]any{"type": "report", "spec_version": "2.1", "id": "report--" + rep.ID, "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
			"name": "winter campaign, opened", "published": "2026-01-01T00:00:00Z", "object_refs": []string{"indicator--0d7c9a4e-1111-4222-8333-944455556668"},
			"object_marking_refs": []string{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"}}}}
	if r := h.Do("POST", "/api/v1/import/stix", kc, bundle); r.Status != 200 {
		t.Errorf("the coordinator's STIX report: %d %s", r.Status, r.Body)
	}
	var got struct{ TLP, Title string }
	if r := h.Do("GET", "/api/v1/reports/"+rep.ID, km, nil); r.Status != 200 {
		t.Fatalf("the member's report: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &got)
	}
	if got.TLP != "amber" || got.Title != "winter campaign" {
		t.Errorf("the member's report after the coordinator's imports: %+v, want amber and its title", got)
	}
}

// TestPartnerAloneDoesNotQuarantine: a partner and the customer whose keys
// it makes are one party when they report a false positive; another
// organisation agreeing quarantines.
func TestPartnerAloneDoesNotQuarantine(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	h.Org("Sector CERT", policy.Coordinator, "")
	p := h.Org("MSSP", policy.Partner, "")
	c := h.Org("Care Home", policy.Customer, "MSSP")
	m := h.Org("Hospital A", policy.Member, "")
	other := h.Org("Hospital B", policy.Member, "")
	km := h.Key(m, policy.Analyst)
	id := submitID(t, h, km, map[string]any{"type": "domain", "value": "c2.example.net", "tlp": "green"})
	fp := func(key string) {
		t.Helper()
		r := h.Do("POST", "/api/v1/sightings", key, map[string]any{"sightings": []any{map[string]any{"indicator": id, "kind": "false-positive"}}})
		if r.Status != 200 {
			t.Fatalf("false positive: %d %s", r.Status, r.Body)
		}
	}
	fp(h.Key(p, policy.Analyst))
	fp(h.Key(c, policy.Sensor))
	if got := getIndicator(t, h, km, id); got.Quarantined {
		t.Fatal("quarantined by a partner and its customer alone")
	}
	fp(h.Key(other, policy.Sensor))
	if got := getIndicator(t, h, km, id); !got.Quarantined {
		t.Error("not quarantined after another organisation agreed")
	}
}

// TestMISPFalsePositivesQuarantine: false positives reported through MISP's
// /sightings/add (type 1) count towards quarantine as through the native
// API.
func TestMISPFalsePositivesQuarantine(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	h.Org("Sector CERT", policy.Coordinator, "")
	m := h.Org("Hospital A", policy.Member, "")
	km := h.Key(m, policy.Analyst)
	id := submitID(t, h, km, map[string]any{"type": "domain", "value": "fp-by-misp.example.net", "tlp": "green"})
	for i, name := range []string{"Hospital B", "Hospital C"} {
		if got := getIndicator(t, h, km, id); got.Quarantined {
			t.Fatalf("quarantined after %d reports", i)
		}
		k := h.Key(h.Org(name, policy.Member, ""), policy.Sensor)
		if r := mispCall(h, "POST", "/sightings/add", k, map[string]any{"value": "fp-by-misp.example.net", "type": "1"}); r.Status != 200 {
			t.Fatalf("MISP false positive: %d %s", r.Status, r.Body)
		}
	}
	if got := getIndicator(t, h, km, id); !got.Quarantined {
		t.Error("two organisations' MISP false positives did not quarantine the indicator")
	}
}

// TestGroupsPerOrgBounded: an organisation owns at most 200 sharing groups
// (each names its members, who carry it in every policy decision); the
// bound is per owner, and not the coordinator's.
func TestGroupsPerOrgBounded(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{RateLimit: -1}})
	a := h.Org("Hospital A", policy.Member, "")
	h.Org("Hospital B", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	for i := range 200 {
		if r := h.Do("POST", "/api/v1/groups", ka, map[string]any{"name": fmt.Sprintf("g%03d", i), "members": []string{"Hospital B"}}); r.Status != 201 {
			t.Fatalf("group %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := h.Do("POST", "/api/v1/groups", ka, map[string]any{"name": "one-too-many", "members": []string{"Hospital B"}})
	if r.Status != 409 || !strings.Contains(string(r.Body), "at most 200") {
		t.Errorf("the 201st group: %d %s, want 409", r.Status, r.Body)
	}
	kb := h.Key(h.Org("Hospital C", policy.Member, ""), policy.Analyst)
	if r := h.Do("POST", "/api/v1/groups", kb, map[string]any{"name": "c-group"}); r.Status != 201 {
		t.Errorf("another organisation's group: %d %s", r.Status, r.Body)
	}
	// The coordinator curates the network and is not bounded.
	kc := h.Key(h.Org("Sector CERT", policy.Coordinator, ""), policy.Analyst)
	for i := range 201 {
		if r := h.Do("POST", "/api/v1/groups", kc, map[string]any{"name": fmt.Sprintf("cert-g%03d", i)}); r.Status != 201 {
			t.Fatalf("the coordinator's group %d: %d %s", i, r.Status, r.Body)
		}
	}
}

// TestSTIXContextCannotTakeAnIndicatorsID: a STIX indicator kept as context
// (a pattern_type hdn does not evaluate) may not take the id of one of the
// hub's indicators — another organisation's, here — or exports would carry
// two objects of that id, the context one revoked and newer.
func TestSTIXContextCannotTakeAnIndicatorsID(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	c := h.Org("Hospital C", policy.Member, "")
	ka, kb, kc := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst), h.Key(c, policy.Analyst)
	victim := submitID(t, h, kb, map[string]any{"type": "domain", "value": "real-c2.bad-actor-zone.net", "tlp": "green"})
	sid := "indicator--" + victim
	bundle := map[string]any{"type": "bundle", "id": "bundle--0d7c9a4e-1111-4222-8333-944455556667", "objects": []any{map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": sid, "created": "2020-01-01T00:00:00.000Z", "modified": "2099-01-01T00:00:00.000Z",
		"name": "benign", "pattern_type": "sigma", "pattern": "title: x", "valid_from": "2020-01-01T00:00:00Z", "revoked": true}}}
	r := h.Do("POST", "/api/v1/import/stix?tlp=green", ka, bundle)
	if r.Status != 200 || !strings.Contains(string(r.Body), "a context object needs an id of its own") {
		t.Errorf("import: %d %s, want the object refused", r.Status, r.Body)
	}
	r = h.Do("GET", "/api/v1/export/stix", kc, nil)
	if n := strings.Count(string(r.Body), `"id":"`+sid+`"`); n != 1 {
		t.Errorf("Hospital C's STIX export holds %d objects of id %s, want 1", n, sid)
	}
}
