package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

var (
	benchOnce sync.Once
	benchSet  []model.Indicator
)

// benchIndicators is 100,000 indicators in about the mix a sector hub
// holds: mostly domains, URLs and addresses, some hashes and the rest.
func benchIndicators() []model.Indicator {
	benchOnce.Do(func() {
		const n = 100_000
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tlps := []policy.TLP{policy.Clear, policy.Green, policy.Amber, policy.AmberStrict, policy.Red}
		benchSet = make([]model.Indicator, n)
		for i := range benchSet {
			h := sha256.Sum256(fmt.Append(nil, "bench", i))
			var t indicator.Type
			var v string
			switch r := i % 20; {
			case r < 8:
				t, v = indicator.Domain, fmt.Sprintf("host-%x.bad-%d.example", h[:4], i%997)
			case r < 11:
				t, v = indicator.URL, fmt.Sprintf("http://cdn-%d.example/%x/update.php?id=%d", i%991, h[:6], i)
			case r < 14:
				t, v = indicator.IPv4, fmt.Sprintf("%d.%d.%d.%d", 1+h[0]%223, h[1], h[2], h[3])
			case r < 15:
				t, v = indicator.CIDR, fmt.Sprintf("%d.%d.%d.0/24", 1+h[0]%223, h[1], h[2])
			case r < 17:
				t, v = indicator.SHA256, hex.EncodeToString(h[:])
			case r < 18:
				t, v = indicator.MD5, hex.EncodeToString(h[:16])
			case r < 19:
				t, v = indicator.Email, fmt.Sprintf("invoice-%d@bad-%x.example", i, h[:2])
			default:
				t, v = indicator.JA3, hex.EncodeToString(h[16:])
			}
			benchSet[i] = model.Indicator{
				ID:   fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]),
				Type: t, Value: v, TLP: tlps[i%len(tlps)],
				Labels:      []string{"malware", "c2"}[:1+i%2],
				Description: "seen at a member hospital",
				Confidence:  60, ValidFrom: created, Created: created, Modified: created, FirstSeen: created, LastSeen: created,
				Seq: int64(i + 1),
			}
		}
	})
	return benchSet
}

// BenchmarkExport writes 100,000 indicators in each format to io.Discard
// and reports the time per indicator.
func BenchmarkExport(b *testing.B) {
	inds := benchIndicators()
	for _, f := range Formats() {
		b.Run(string(f), func(b *testing.B) {
			opt := Options{Now: testNow, DatasetType: "domain"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Write(io.Discard, f, seq(inds), opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(inds)), "ns/indicator")
		})
	}
}
