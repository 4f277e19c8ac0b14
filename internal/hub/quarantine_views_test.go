package hub_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/policy"
)

// stixIndicatorView is what a STIX consumer decides on.
type stixIndicatorView struct {
	Modified    string `json:"modified"`
	ValidFrom   string `json:"valid_from"`
	ValidUntil  string `json:"valid_until"`
	Revoked     bool   `json:"revoked"`
	Quarantined bool   `json:"x_hdn_quarantined"`
}

// taxiiIndicator reads the newest version of an indicator's TAXII object.
func taxiiIndicator(t *testing.T, h *hubtest.Hub, key, id string) stixIndicatorView {
	t.Helper()
	env, _ := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/indicator--"+id+"/", key, nil))
	if len(env.Objects) != 1 {
		t.Fatalf("TAXII object %s: %d objects", id, len(env.Objects))
	}
	var v stixIndicatorView
	if err := json.Unmarshal(env.Objects[0], &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// mispAttribute finds value among the attributes a restSearch returns.
func mispAttribute(attrs []misp.Attribute, value string) (misp.Attribute, bool) {
	i := slices.IndexFunc(attrs, func(a misp.Attribute) bool { return a.Value == value })
	if i < 0 {
		return misp.Attribute{}, false
	}
	return attrs[i], true
}

func stixTimeOf(t *testing.T, what, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q: %v", what, s, err)
	}
	return v
}

// TestQuarantinedIsOutOfUseOverTAXIIAndMISP: a quarantined indicator stops
// matching (docs/SIGNAL.md), so the STIX and MISP views say so too: over
// TAXII its version is valid only until its quarantine, and marked
// x_hdn_quarantined; in MISP JSON its attribute has to_ids false and
// leaves to_ids=1 searches. A release is a new version, valid again.
func TestQuarantinedIsOutOfUseOverTAXIIAndMISP(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	kc, ks, ka, kb := h.Key(coord, policy.Analyst), h.Key(src, policy.Analyst), h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	const value, other = "quarantined-view.example", "still-live-view.example"
	res := submit(t, h, ks,
		map[string]any{"type": "domain", "value": value, "tlp": "green"},
		map[string]any{"type": "domain", "value": other, "tlp": "green"})
	id := res[0].ID

	live := func(when string) {
		t.Helper()
		if v := taxiiIndicator(t, h, kb, id); v.ValidUntil != "" || v.Quarantined || v.Revoked {
			t.Errorf("%s: TAXII shows %+v; want a valid version without valid_until", when, v)
		}
		attr, ok := mispAttribute(searchAttrsFull(t, h, kb, map[string]any{"to_ids": 1}), value)
		if !ok || !attr.ToIDS || attr.Deleted {
			t.Errorf("%s: MISP to_ids=1 search: found %t, %+v", when, ok, attr)
		}
	}
	live("fresh")

	sight(t, h, ka, id, "false-positive")
	sight(t, h, kb, id, "false-positive")
	if j := getIndicator(t, h, kb, id); !j.Quarantined {
		t.Fatalf("not quarantined after two reports: %+v", j)
	}

	q := taxiiIndicator(t, h, kb, id)
	if !q.Quarantined || q.Revoked || q.ValidUntil == "" {
		t.Fatalf("quarantined over TAXII: %+v; want x_hdn_quarantined, not revoked, a valid_until", q)
	}
	until, from, modified := stixTimeOf(t, "valid_until", q.ValidUntil), stixTimeOf(t, "valid_from", q.ValidFrom), stixTimeOf(t, "modified", q.Modified)
	if !until.After(from) || until.After(modified) || until.After(time.Now()) {
		t.Errorf("quarantined over TAXII: valid_until %v; want after valid_from %v and no later than modified %v (the quarantine)", until, from, modified)
	}
	if attr, ok := mispAttribute(searchAttrsFull(t, h, kb, map[string]any{"to_ids": 1}), value); ok {
		t.Errorf("MISP to_ids=1 search returns the quarantined indicator: %+v", attr)
	}
	if _, ok := mispAttribute(searchAttrsFull(t, h, kb, map[string]any{"to_ids": 1}), other); !ok {
		t.Errorf("MISP to_ids=1 search lost the live indicator")
	}
	attr, ok := mispAttribute(searchAttrsFull(t, h, kb, map[string]any{"value": value}), value)
	if !ok || attr.ToIDS || attr.Deleted {
		t.Errorf("MISP search by value: found %t, %+v; want to_ids false, not deleted", ok, attr)
	}

	if r := h.Do("POST", "/api/v1/indicators/"+id+"/release", kc, nil); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	live("released")
	if v := taxiiIndicator(t, h, kb, id); !stixTimeOf(t, "modified", v.Modified).After(modified) {
		t.Errorf("the release is not a newer version: modified %s, quarantined version %s", v.Modified, q.Modified)
	}
}
