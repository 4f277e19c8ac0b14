package match

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// sanLine is a TLS event whose certificate names n subject alternative
// names, each given twice, with the names of hits among them.
func sanLine(n int, hits ...string) []byte {
	var sb strings.Builder
	sb.WriteString(`{"timestamp":"2025-01-01T00:00:00.000000+0000","event_type":"tls","src_ip":"10.0.0.1","dest_ip":"198.51.100.1","tls":{"sni":"x.example.org","subjectaltname":[`)
	for i := range n {
		fmt.Fprintf(&sb, `"%x.e.example.org","%x.e.example.org",`, i, i)
		if i == n/2 {
			for _, h := range hits {
				fmt.Fprintf(&sb, `%q,%q,`, h, h)
			}
		}
	}
	sb.WriteString(`"last.example.org"]}}`)
	return []byte(sb.String())
}

// TestManyObservationsDeduped: an event with many observations (a
// certificate's alternative names, as many as its owner likes) is deduped
// like a small one: a name given twice is one hit.
func TestManyObservationsDeduped(t *testing.T) {
	x, err := Build([]Indicator{{ID: "d1", Type: indicator.Domain, Value: "evil.example.org"}, {ID: "d2", Type: indicator.Hostname, Value: "c2.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(x)
	for _, n := range []int{4, 2000} { // below and above manyObservations
		s := m.NewSession(FormatEVE)
		out, err := s.Match(nil, sanLine(n, "www.evil.example.org", "c2.example.net"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(out), `"d1"`); got != 1 {
			t.Errorf("%d names: the domain indicator in %d alerts, want 1:\n%.2000s", n, got, out)
		}
		if got := strings.Count(string(out), `"d2"`); got != 1 {
			t.Errorf("%d names: the hostname indicator in %d alerts, want 1", n, got)
		}
	}
}

// BenchmarkManyObservations matches a TLS event with 10,000 alternative
// names (each given twice): linear in their number since they are deduped
// with a set (it took about 0.8 s when each was compared with the earlier
// ones).
func BenchmarkManyObservations(b *testing.B) {
	x, err := Build([]Indicator{{ID: "d1", Type: indicator.Domain, Value: "evil.example.org"}})
	if err != nil {
		b.Fatal(err)
	}
	m := NewMatcher(x)
	line := sanLine(10000)
	s := m.NewSession(FormatEVE)
	for b.Loop() {
		if _, err := s.Match(nil, line); err != nil {
			b.Fatal(err)
		}
	}
}
