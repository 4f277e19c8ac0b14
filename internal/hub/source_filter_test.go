package hub_test

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
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
