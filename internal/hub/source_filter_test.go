package hub_test

import (
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// TestListBySourceKeepsAnonymity: listing by source finds a source's
// indicators, but never its anonymous ones for an organisation that may not
// know who shared them; the source itself and the coordinator find both.
func TestListBySourceKeepsAnonymity(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	submit(t, h, ka,
		map[string]any{"type": "domain", "value": "named.source-test.example", "tlp": "green"},
		map[string]any{"type": "domain", "value": "anonymous.source-test.example", "tlp": "green", "anonymous": true})
	for key, want := range map[string]int{h.Key(b, policy.ReadOnly): 1, ka: 2, h.Key(coord, policy.ReadOnly): 2} {
		var lr listResp
		r := h.Do("GET", "/api/v1/indicators?source=Hospital%20A", key, nil)
		r.JSON(t, &lr)
		if r.Status != 200 || len(lr.Indicators) != want {
			t.Errorf("by source: %d, %d indicators, want %d (%s)", r.Status, len(lr.Indicators), want, r.Body)
		}
		for _, ind := range lr.Indicators {
			if ind.Value == "anonymous.source-test.example" && want == 1 {
				t.Errorf("an anonymous indicator was found by its source")
			}
		}
	}
	var lr listResp
	h.Do("GET", "/api/v1/indicators?source=Nobody", ka, nil).JSON(t, &lr)
	if len(lr.Indicators) != 0 {
		t.Errorf("an unknown source found %d", len(lr.Indicators))
	}
}

// TestListQuarantinedAndByTag: the coordinator finds quarantined
// indicators and those stored over a refusing warninglist.
func TestListQuarantinedAndByTag(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, Warninglists: wl})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	kc := h.Key(coord, policy.Analyst)
	res := submit(t, h, kc,
		map[string]any{"type": "domain", "value": "google.com", "tlp": "green", "override_warninglists": true},
		map[string]any{"type": "domain", "value": "plain.tag-test.example", "tlp": "green"})
	if _, err := h.Store.SetQuarantine(t.Context(), res[1].ID, true, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	var lr listResp
	h.Do("GET", "/api/v1/indicators?tag=hdn:warninglist-override", kc, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].Value != "google.com" {
		t.Errorf("by tag: %+v", lr.Indicators)
	}
	lr = listResp{}
	h.Do("GET", "/api/v1/indicators?quarantined=true", kc, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].ID != res[1].ID {
		t.Errorf("quarantined: %+v", lr.Indicators)
	}
}
