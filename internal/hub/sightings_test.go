package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestSightingReportsIdempotencyKey: a sensor that sends a report again
// with the same Idempotency-Key (its answer was lost) gets 200 and the
// report is counted once; a new key, or no key, counts again; a bad key is
// a clear 400 and stores nothing.
func TestSightingReportsIdempotencyKey(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	src := h.Org("hospital-a", policy.Member, "")
	other := h.Org("hospital-b", policy.Member, "")
	srcKey := h.Key(src, policy.Analyst)
	sensorKey := h.Key(other, policy.Sensor)
	id := submit(t, h, srcKey, map[string]any{"type": "domain", "value": "retry.example.org", "tlp": "amber"})[0].ID
	body := map[string]any{"sightings": []any{map[string]any{"indicator": id, "count": 7}}}
	report := func(hdr map[string]string) hubtest.Response {
		t.Helper()
		h2 := map[string]string{"Authorization": "Bearer " + sensorKey}
		for k, v := range hdr {
			h2[k] = v
		}
		return h.DoWith("POST", "/api/v1/sightings", h2, body)
	}
	total := func() int64 {
		t.Helper()
		var s api.SightingsJSON
		r := h.Do("GET", "/api/v1/indicators/"+id+"/sightings", srcKey, nil)
		r.JSON(t, &s)
		if r.Status != 200 {
			t.Fatalf("sightings: %d %s", r.Status, r.Body)
		}
		return s.Total
	}
	for i, c := range []struct {
		key  string
		want int64
	}{
		{"7f1c6a52-0b7e-4d8e-9f61-3f5b2b9d7a10", 7},
		{"7f1c6a52-0b7e-4d8e-9f61-3f5b2b9d7a10", 7},   // sent again
		{`"7f1c6a52-0b7e-4d8e-9f61-3f5b2b9d7a10"`, 7}, // the same key, quoted
		{"another-report", 14},
		{"", 21},
		{"", 28},
	} {
		hdr := map[string]string{}
		if c.key != "" {
			hdr["Idempotency-Key"] = c.key
		}
		if r := report(hdr); r.Status != 200 {
			t.Fatalf("report %d: %d %s", i, r.Status, r.Body)
		}
		if got := total(); got != c.want {
			t.Fatalf("after report %d (key %q): %d sightings, want %d", i, c.key, got, c.want)
		}
	}
	// Another report under a key already used is refused, and not
	// counted.
	otherReport := map[string]any{"sightings": []any{map[string]any{"indicator": id, "count": 1000}}}
	if r := h.DoWith("POST", "/api/v1/sightings", map[string]string{"Authorization": "Bearer " + sensorKey, "Idempotency-Key": "another-report"}, otherReport); r.Status != 422 || !strings.Contains(string(r.Body), "another report") {
		t.Errorf("another report under a used key: %d %s, want 422", r.Status, r.Body)
	}
	for _, bad := range []string{`""`, strings.Repeat("k", 256), "a key with spaces", "clé", `a"b`} {
		r := report(map[string]string{"Idempotency-Key": bad})
		if r.Status != 400 || !strings.Contains(string(r.Body), "Idempotency-Key") {
			t.Errorf("key %q: %d %s, want 400 naming the header", bad, r.Status, r.Body)
		}
	}
	if got := total(); got != 28 {
		t.Errorf("after refused reports: %d sightings, want 28", got)
	}
	// Once the source narrows the audience to itself, a new report from
	// hospital-b is a 404, but a report stored before is still answered
	// as then, so that its sender learns that it was stored.
	if res := submit(t, h, srcKey, map[string]any{"type": "domain", "value": "retry.example.org", "tlp": "amber",
		"audience": map[string]any{"orgs": []string{src.ID}}}); res[0].ID != id || res[0].Status != "updated" {
		t.Fatalf("narrowing the audience: %+v", res[0])
	}
	if r := report(map[string]string{"Idempotency-Key": "after-narrowing"}); r.Status != 404 {
		t.Errorf("a new report of an indicator no longer visible: %d %s, want 404", r.Status, r.Body)
	}
	r := report(map[string]string{"Idempotency-Key": "another-report"})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"replayed":true`) {
		t.Errorf("a stored report sent again after the narrowing: %d %s, want 200 replayed", r.Status, r.Body)
	}
	if got := total(); got != 28 {
		t.Errorf("after the replays: %d sightings, want 28", got)
	}
}
