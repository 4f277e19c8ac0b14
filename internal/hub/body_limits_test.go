package hub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestSmallBodyLimits: the enrolment, which needs no key, reads a few KiB
// at most, and the other small JSON endpoints 1 MiB: a larger body is
// refused with 413 before the token, key or fields are looked at. The bulk
// endpoints still take bodies well over 1 MiB.
func TestSmallBodyLimits(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	m := h.Org("Hospital A", policy.Member, "")
	analyst, sensor := h.Key(m, policy.Analyst), h.Key(m, policy.Sensor)
	tooLarge := func(what string, r hubtest.Response, limit int) {
		t.Helper()
		if r.Status != 413 || r.ErrorCode() != "payload_too_large" || !strings.Contains(string(r.Body), fmt.Sprint(limit)) {
			t.Errorf("%s: %d %.300s, want 413 payload_too_large naming the limit of %d bytes", what, r.Status, r.Body, limit)
		}
	}
	// An enrolment of 8 KiB: 413, not 401 for its (long) token.
	r := h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": "hdn_" + strings.Repeat("a", 8<<10), "name": "edge"})
	tooLarge("an 8 KiB enrolment", r, api.MaxEnrolBodyBytes)
	// Small endpoints: 2 MiB is refused as too large, not for its fields.
	big := strings.Repeat("a", 2<<20)
	tooLarge("a 2 MiB heartbeat", h.Do("POST", "/api/v1/sensors/heartbeat", sensor, map[string]any{"name": "edge", "last_error": big}), api.MaxSmallBodyBytes)
	tooLarge("a 2 MiB proposal", h.Do("POST", "/api/v1/proposals", sensor, map[string]any{"value": "x.example.org", "evidence": big}), api.MaxSmallBodyBytes)
	tooLarge("a 2 MiB group", h.Do("POST", "/api/v1/groups", analyst, map[string]any{"name": big}), api.MaxSmallBodyBytes)
	if r := mispCall(h, "POST", "/attributes/restSearch", analyst, map[string]any{"value": big}); r.Status != 413 || !strings.Contains(string(r.Body), fmt.Sprint(api.MaxSmallBodyBytes)) {
		t.Errorf("a 2 MiB MISP search: %d %.300s, want 413 naming the limit", r.Status, r.Body)
	}

	// A bulk submission of about 2 MiB is taken whole.
	var buf bytes.Buffer
	buf.WriteString(`{"indicators": [`)
	const n = 25_000
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"type":"domain","value":"host%d.bulk-example.org","tlp":"green","labels":["malware"]}`, i)
	}
	buf.WriteString(`]}`)
	if buf.Len() <= api.MaxSmallBodyBytes {
		t.Fatalf("the bulk body is %d bytes, not over the small limit", buf.Len())
	}
	if r := h.Do("POST", "/api/v1/indicators", analyst, buf.Bytes()); r.Status != 200 {
		t.Fatalf("a bulk submission of %d bytes: %d %.300s", buf.Len(), r.Status, r.Body)
	}
	if got := countIndicators(t, h); got != n {
		t.Fatalf("the store holds %d changes, want %d", got, n)
	}
	// So is a MISP event over 1 MiB.
	var attrs []map[string]any
	for i := range 20_000 {
		attrs = append(attrs, map[string]any{"type": "domain", "value": fmt.Sprintf("m%d.misp-bulk-example.org", i), "to_ids": true})
	}
	event := map[string]any{"Event": map[string]any{"info": "big", "Attribute": attrs}}
	if b, _ := json.Marshal(event); len(b) <= api.MaxSmallBodyBytes {
		t.Fatalf("the MISP event is %d bytes, not over the small limit", len(b))
	}
	if r := mispCall(h, "POST", "/events/add", analyst, event); r.Status != 200 {
		t.Fatalf("a MISP event over 1 MiB: %d %.300s", r.Status, r.Body)
	}
}
