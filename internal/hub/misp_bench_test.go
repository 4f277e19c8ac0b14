package hub_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// BenchmarkMISPSearch measures the MISP-compatible reads over
// HDN_BENCH_MISP_N indicators (default 100,000) that belong to no report, so
// that they form the virtual per-source events: a search by value (served
// by the value index), and an event search (which groups every visible
// indicator without a report into the virtual events).
func BenchmarkMISPSearch(b *testing.B) {
	n := envInt("HDN_BENCH_MISP_N", 100_000)
	h := hubtest.Start(b, hub.Config{})
	key := h.Key(h.Org("bench", policy.Member, ""), policy.Analyst)
	const batch = 10_000
	for start := 0; start < n; start += batch {
		var buf bytes.Buffer
		buf.WriteString(`{"indicators":[`)
		for i := start; i < min(start+batch, n); i++ {
			if i > start {
				buf.WriteByte(',')
			}
			t, v := benchValue(0, i)
			fmt.Fprintf(&buf, `{"type":%q,"value":%q,"tlp":"green"}`, t, v)
		}
		buf.WriteString(`]}`)
		if r := h.Do("POST", "/api/v1/indicators", key, buf.Bytes()); r.Status != 200 {
			b.Fatalf("seed: %d", r.Status)
		}
	}
	_, probe := benchValue(0, n/2)
	hdr := map[string]string{"Authorization": key, "Accept": "application/json"}
	for _, q := range []struct{ name, path, body string }{
		{"attributes-by-value", "/attributes/restSearch", fmt.Sprintf(`{"value": %q}`, probe)},
		{"events-page-of-10", "/events/restSearch", `{"limit": 10, "page": 1, "metadata": true}`},
		{"events-index", "/events/index", `{}`},
	} {
		b.Run(q.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				t0 := time.Now()
				r := h.DoWith("POST", q.path, hdr, q.body)
				total += time.Since(t0)
				if r.Status != 200 {
					b.Fatalf("%s: %d %.200s", q.path, r.Status, r.Body)
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/request")
		})
	}
}
