package sensor_test

import (
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestSensorQuarantine: when two organisations report an indicator a false
// positive, the hub quarantines it and the sensor stops matching it; when
// the coordinator releases it, the sensor matches it again.
func TestSensorQuarantine(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("sector-cert", policy.Coordinator, "")
	src := h.Org("hospital-src", policy.Member, "")
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ks := h.Key(src, policy.Analyst)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ks, map[string]any{"indicators": []any{
		map[string]any{"value": "supplier-updates.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID
	now := time.Now().UTC()
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: h.Key(b, policy.Sensor), StateDir: t.TempDir(),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(now, "supplier-updates.example.net"))}}}
	if got := runOnce(t, cfg); len(got) != 1 || got[0].HDN.ID != id {
		t.Fatalf("before the quarantine: %+v", got)
	}
	for _, o := range []string{"hospital-a", "hospital-b"} {
		org := a
		if o == "hospital-b" {
			org = b
		}
		r := h.Do("POST", "/api/v1/sightings", h.Key(org, policy.Analyst), map[string]any{"sightings": []any{map[string]any{"indicator": id, "kind": "false-positive"}}})
		if r.Status != 200 {
			t.Fatalf("false-positive report: %d %s", r.Status, r.Body)
		}
	}
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now().UTC(), "supplier-updates.example.net"))}}
	if got := runOnce(t, cfg); len(got) != 0 {
		t.Fatalf("alerts for a quarantined indicator: %+v", got)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+id+"/release", h.Key(coord, policy.Analyst), nil); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	// Released, it arrives again: live traffic matches (and the retro-hunt
	// of a returning indicator finds this hour's earlier traffic).
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now().UTC(), "supplier-updates.example.net"))}}
	live := 0
	for _, al := range runOnce(t, cfg) {
		if al.HDN.ID != id {
			t.Errorf("an alert for another indicator: %+v", al)
		}
		if !al.HDN.Retro {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("after the release: %d live alerts, want 1", live)
	}
}
