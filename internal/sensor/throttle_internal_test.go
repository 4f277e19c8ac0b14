package sensor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestThrottleFullEndsEarliestWindows: at its limit of open windows the
// throttle ends the earliest ones early, writing their summaries, instead
// of letting every later match through unthrottled; nothing is lost and
// the limit holds.
func TestThrottleFullEndsEarliestWindows(t *testing.T) {
	th := newThrottle(time.Hour, time.Now)
	th.limit = 10
	at := time.Date(2026, 11, 28, 10, 5, 0, 0, time.UTC)
	line := func(host string) []byte {
		return fmt.Appendf(nil, `{"timestamp":"x","src_ip":%q,"hdn":{"id":"ind-1"}}`+"\n", host)
	}
	var written, summaries []byte
	for i := range 25 {
		host := fmt.Sprintf("10.0.0.%d", i)
		for range 3 {
			write, ended := th.admit("ind-1", host, at, line(host))
			summaries = append(summaries, ended...)
			if write {
				written = append(written, line(host)...)
			}
			if len(th.open) > th.limit {
				t.Fatalf("%d windows open, limit %d", len(th.open), th.limit)
			}
		}
	}
	summaries = append(summaries, th.due(true)...)
	if n := bytes.Count(written, []byte("\n")); n != 25 {
		t.Errorf("%d first alerts written, want one per host (25)", n)
	}
	hosts := map[string]int64{}
	for l := range bytes.Lines(summaries) {
		var s struct {
			SrcIP string `json:"src_ip"`
			HDN   struct {
				Repeats int64 `json:"repeats"`
			} `json:"hdn"`
		}
		if err := json.Unmarshal(l, &s); err != nil {
			t.Fatalf("summary %q: %v", l, err)
		}
		hosts[s.SrcIP] += s.HDN.Repeats
	}
	if len(hosts) != 25 {
		t.Errorf("summaries for %d hosts, want 25", len(hosts))
	}
	for h, n := range hosts {
		if n != 2 {
			t.Errorf("%s: %d repeats in its summaries, want 2", h, n)
		}
	}
}
