package sensor_test

import (
	"fmt"
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

// TestRetroHuntFindsURLsAsLiveMatching: the retro-hunt record keeps URLs
// in the canonical form live matching looks them up in, so an indicator
// that arrives later finds a URL seen with dot-segments or escapes of
// unreserved characters, as live matching would have.
func TestRetroHuntFindsURLsAsLiveMatching(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka, sk := h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)
	ts := time.Now().UTC().Add(-2 * time.Hour).Format("2006-01-02T15:04:05.000000-0700")
	httpLine := func(host, url string) string {
		return fmt.Sprintf(`{"timestamp":%q,"event_type":"http","src_ip":"10.0.0.7","src_port":51000,"dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","http":{"hostname":%q,"url":%q}}`, ts, host, url)
	}
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: sk, StateDir: t.TempDir(),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t,
			httpLine("dl.bad-actor-zone.net", "/x/../payload.exe"),
			httpLine("dl.bad-actor-zone.net", "/%7Euser/doc.pdf"))}}}
	runOnce(t, cfg)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"type": "url", "value": "http://dl.bad-actor-zone.net/payload.exe", "tlp": "green"},
		map[string]any{"type": "url", "value": "http://dl.bad-actor-zone.net/~user/doc.pdf", "tlp": "green"}}}).JSON(t, &res)
	var ids []string
	for _, r := range res.Results {
		if r.ID == "" {
			t.Fatalf("submit: %+v", res.Results)
		}
		ids = append(ids, r.ID)
	}
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "benign.example.org"))}}
	found := map[string]bool{}
	for _, al := range runOnce(t, cfg) {
		if al.HDN.Retro {
			found[al.HDN.ID] = true
		}
	}
	for _, id := range ids {
		if !found[id] {
			t.Errorf("indicator %s was not found in the record; retro alerts for %v", id, found)
		}
	}
}
