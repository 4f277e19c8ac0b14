package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestQuarantineHoldsTheValue is the auditor's scenario: a quarantine
// holds a type and value, not one source's indicator of it. Reports against
// two sources' indicators of the value count together; the quarantine takes
// every source's live indicator of it; a member, and a partner for each of
// its customers, that submit the value afterwards get it quarantined — not
// exported, quarantined on the stream from its first event, not announced
// live to sensors; the coordinator's release of one releases them all.
func TestQuarantineHoldsTheValue(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	early := h.Org("Hospital Early", policy.Member, "")
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	late := h.Org("Hospital Late", policy.Member, "")
	mssp := h.Org("MSSP North", policy.Partner, "")
	h.Org("Care One", policy.Customer, mssp.ID)
	h.Org("Care Two", policy.Customer, mssp.ID)
	kc, kb := h.Key(coord, policy.Analyst), h.Key(b, policy.Analyst)
	const value = "ehr.hospital-a.example"
	item := map[string]any{"type": "domain", "value": value, "tlp": "green"}
	srcID := submit(t, h, h.Key(src, policy.Analyst), item)[0].ID
	earlyID := submit(t, h, h.Key(early, policy.Analyst), item)[0].ID
	c := follow(t, []string{h.URL}, h.Key(b, policy.Sensor), false, 0)

	// One report against each source's indicator: two organisations agree
	// the value is benign, and both indicators are quarantined.
	sight(t, h, h.Key(a, policy.Analyst), srcID, "false-positive")
	if r := sight(t, h, kb, earlyID, "false-positive"); !strings.Contains(string(r.Body), `"quarantined":2`) {
		t.Fatalf("reports against two sources' indicators of the value: %s; want both quarantined", r.Body)
	}
	for _, id := range []string{srcID, earlyID} {
		if j := getIndicator(t, h, kb, id); !j.Quarantined || !strings.Contains(j.QuarantineReason, "2 organisations") {
			t.Errorf("%s after the quorum: quarantined %v %q", id, j.Quarantined, j.QuarantineReason)
		}
	}

	// Another member, and a partner for each of its customers, submit it.
	type result struct {
		ID, Status  string
		Quarantined bool
	}
	var res []result
	for key, its := range map[string][]any{
		h.Key(late, policy.Analyst): {item},
		h.Key(mssp, policy.Analyst): {
			map[string]any{"type": "domain", "value": value, "tlp": "green", "on_behalf_of": "Care One"},
			map[string]any{"type": "domain", "value": value, "tlp": "green", "on_behalf_of": "Care Two"}},
	} {
		var body struct{ Results []result }
		r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": its})
		if r.Status != 200 {
			t.Fatalf("submit: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &body)
		res = append(res, body.Results...)
	}
	lateIDs := map[string]bool{}
	for _, r := range res {
		if r.Status != "created" || !r.Quarantined {
			t.Errorf("a new source's submission of the quarantined value: %+v; want created, quarantined", r)
		}
		lateIDs[r.ID] = true
		if j := getIndicator(t, h, kb, r.ID); !j.Quarantined || !strings.Contains(j.QuarantineReason, "2 organisations") {
			t.Errorf("%s: quarantined %v %q", r.ID, j.Quarantined, j.QuarantineReason)
		}
	}
	if r := h.Do("GET", "/api/v1/export/list", kb, nil); strings.Contains(string(r.Body), value) {
		t.Errorf("the quarantined value is exported again: %s", r.Body)
	}
	// The sensors' stream carries them quarantined, never live.
	for id := range lateIDs {
		c.waitFor(t, "the new submission, quarantined, on the stream", func(ev streamclient.Event) bool {
			return ev.Indicator != nil && ev.Indicator.ID == id && ev.Indicator.Quarantined
		})
	}
	for _, ev := range c.snapshot() {
		if ev.Indicator != nil && ev.Indicator.Value == value && !ev.Indicator.Quarantined && lateIDs[ev.Indicator.ID] {
			t.Errorf("the stream carried the quarantined value live: %+v", ev.Indicator)
		}
	}

	// The coordinator's release of one releases the value.
	var lateID string
	for id := range lateIDs {
		lateID = id
	}
	if r := h.Do("POST", "/api/v1/indicators/"+lateID+"/release", kc, nil); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	for _, id := range append([]string{srcID, earlyID}, idsOf(lateIDs)...) {
		if j := getIndicator(t, h, kb, id); j.Quarantined {
			t.Errorf("%s still quarantined after the coordinator released the value", id)
		}
	}
	if r := h.Do("GET", "/api/v1/export/list", kb, nil); !strings.Contains(string(r.Body), value) {
		t.Errorf("the released value is not exported")
	}
	if r := submit(t, h, h.Key(a, policy.Analyst), item); getIndicator(t, h, kb, r[0].ID).Quarantined {
		t.Errorf("a submission after the release is quarantined: %+v", r[0])
	}
}

func idsOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
