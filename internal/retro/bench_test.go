package retro

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkAdd measures Add on the sensor's hot path, from all Ps at once,
// with a working set of distinct values that repeat (as traffic does). It
// reports the bytes an hour's file and sets take per distinct value kept.
func BenchmarkAdd(b *testing.B) {
	const distinct = 1 << 16
	names := make([][]byte, distinct)
	urls := make([][]byte, distinct)
	hashes := make([][]byte, distinct)
	addrs := make([]netip.Addr, distinct)
	for i := range distinct {
		names[i] = fmt.Appendf(nil, "host%d.sub%d.example%d.com", i, i%97, i%13)
		urls[i] = fmt.Appendf(nil, "http://example%d.com/path/%d?q=%d", i%13, i, i%5)
		hashes[i] = fmt.Appendf(nil, "%064x", i*2654435761)
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	cases := []struct {
		name string
		add  func(r *Record, i int)
	}{
		{"domain", func(r *Record, i int) { r.Add(at(10, 0), Domain, names[i]) }},
		{"ip", func(r *Record, i int) { r.AddIP(at(10, 0), addrs[i]) }},
		{"url", func(r *Record, i int) { r.Add(at(10, 0), URL, urls[i]) }},
		{"hash", func(r *Record, i int) { r.Add(at(10, 0), Hash, hashes[i]) }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c := &clock{t: at(11, 0)}
			r, err := Open(b.TempDir(), Options{Now: c.Now})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			for i := range distinct { // the hour's sets are grown
				bc.add(r, i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					bc.add(r, i&(distinct-1))
					i += 7919
				}
			})
			b.StopTimer()
			st := r.Stats()
			mem := int64(0)
			for _, bk := range r.open {
				for i := range bk.shards {
					for _, s := range bk.shards[i].sets {
						mem += int64(8 * len(s.slots))
					}
					mem += int64(16 * len(bk.shards[i].ips.slots))
				}
			}
			if err := r.Flush(); err != nil {
				b.Fatal(err)
			}
			disk := r.Stats().DiskBytes
			b.ReportMetric(float64(st.InMemory)/distinct, "values/obs")
			b.ReportMetric(float64(mem)/float64(st.InMemory), "mem-B/value")
			b.ReportMetric(float64(disk)/float64(st.InMemory), "disk-B/value")
		})
	}
}
