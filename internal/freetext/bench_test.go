package freetext

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// BenchmarkExtract extracts from a generated report of about 100 KB:
// the golden report's prose, interleaved with paragraphs that name fresh
// addresses, defanged domains and URLs, hashes and e-mail addresses, so
// that most values are distinct as in a real indicator appendix.
func BenchmarkExtract(b *testing.B) {
	text := benchReport(b, 100<<10)
	var cs []Candidate
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if cs, err = Extract(text, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(cs)), "candidates")
}

// BenchmarkExtractProse is the same size of prose without indicators: the
// cost of reading past ordinary words.
func BenchmarkExtractProse(b *testing.B) {
	para := "The actor relied on spearphishing with invoice themes, then moved laterally using " +
		"stolen credentials; persistence was achieved through scheduled tasks (see Appendix A), " +
		"and exfiltration happened over HTTPS in the early morning hours, e.g. between 02:00 and 04:00.\n"
	text := strings.Repeat(para, 100<<10/len(para)+1)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Extract(text, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReport(b *testing.B, size int) string {
	prose, err := os.ReadFile("testdata/report.txt")
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		s := make([]byte, n)
		for i := range s {
			s[i] = digits[r.IntN(16)]
		}
		return string(s)
	}
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		sb.Write(prose)
		for range 10 {
			fmt.Fprintf(&sb, "Stage %d contacted %d.%d.%d.%d:%d and c2-%s[.]example[.]com, then fetched "+
				"hxxps://cdn-%s[.]top/p/%s.bin (sha256 %s, md5 %s); the lure came from ops%d[at]mail-%s[.]ru.\n",
				i, r.IntN(223)+1, r.IntN(256), r.IntN(256), r.IntN(254)+1, r.IntN(60000)+1024,
				hex(6), hex(5), hex(8), hex(64), hex(32), r.IntN(100), hex(4))
		}
	}
	return sb.String()
}

// BenchmarkExtractDense is the worst case for the per-token work: 1 MiB in
// which every word is a candidate to classify (addresses with ports,
// defanged names, colon-hex, key=value pairs, a name glued to CJK text).
func BenchmarkExtractDense(b *testing.B) {
	for _, c := range []struct{ name, pattern string }{
		{"ip-port", "203.0.113.7:8080 "},
		{"defanged", "evil[.]com\u00a0"},
		{"colon-hex", "AA:"},
		{"key-value", "k=v.example&"},
		{"cjk", "访evil.com"},
	} {
		text := strings.Repeat(c.pattern, 1<<20/len(c.pattern))
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Extract(text, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
