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

// TestRetroHuntOncePerValue: an indicator that arrives is hunted for in the
// recent record once; its updates (a new description, TLP or labels) do not
// hunt again, so one DNS query of two hours ago is one retro alert and one
// sighting, not one more per update.
func TestRetroHuntOncePerValue(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka, sk := h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: sk, StateDir: t.TempDir(),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now().UTC().Add(-2*time.Hour), "dup.example.com"))}}}
	runOnce(t, cfg)
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "benign.example.org"))}}
	var id string
	retro := 0
	for _, desc := range []string{"first", "second, the same value", "third, the same value"} {
		var res struct{ Results []api.ItemResult }
		h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
			map[string]any{"value": "dup.example.com", "tlp": "green", "description": desc}}}).JSON(t, &res)
		id = res.Results[0].ID
		for _, al := range runOnce(t, cfg) {
			if al.HDN.Retro && al.HDN.ID == id {
				retro++
			}
		}
	}
	var sj api.SightingsJSON
	h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
	if retro != 1 || sj.Total != 1 {
		t.Errorf("one query two hours ago, the indicator submitted three times: %d retro alerts, %d sightings; want 1 and 1", retro, sj.Total)
	}
}
