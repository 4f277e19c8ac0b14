package match

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
)

func refIDs(refs []Ref) []string {
	var ids []string
	for _, r := range refs {
		ids = append(ids, r.ID())
	}
	sort.Strings(ids)
	return ids
}

func collect(f func(fn func(Ref))) []Ref {
	var refs []Ref
	f(func(r Ref) { refs = append(refs, r) })
	return refs
}

func TestRefRoundTrip(t *testing.T) {
	until := time.Date(2027, 5, 1, 12, 0, 0, 0, time.UTC)
	inds := []Indicator{
		{ID: "6f1c2b7e-2c1a-4d3b-9e8f-0a1b2c3d4e5f", Type: indicator.Domain, Value: "evil.example", TLP: "amber", Labels: []string{"malware", "c2"}, Confidence: 80, Report: "Report \"A\"", ValidUntil: until},
		{ID: "6F1C2B7E-2C1A-4D3B-9E8F-0A1B2C3D4E5F", Type: indicator.IPv4, Value: "192.0.2.1", TLP: "clear", Labels: []string{}},
		{ID: "not-a-uuid", Type: indicator.IPv6, Value: "2001:db8::1", TLP: "green"},
		{ID: strings.Repeat("x", 255), Type: indicator.CIDR, Value: "10.1.0.0/16"},
		{ID: "u", Type: indicator.URL, Value: "http://evil.example/a?b=c"},
		{ID: "h", Type: indicator.SHA256, Value: strings.Repeat("ab", 32)},
		{ID: "e", Type: indicator.Email, Value: "a@evil.example"},
		{ID: "j", Type: indicator.JA4, Value: "t13d1516h2_8daaf6152771_b186095e22b6"},
		{ID: "c6", Type: indicator.CIDR, Value: "2001:db8::/32"},
	}
	x, err := Build(inds)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(inds) || x.Count(indicator.CIDR) != 2 {
		t.Fatalf("Len %d, cidr %d", x.Len(), x.Count(indicator.CIDR))
	}
	var got []Indicator
	for _, f := range []func(func(Ref)){
		func(fn func(Ref)) { x.MatchDomain([]byte("evil.example"), fn) },
		func(fn func(Ref)) { x.MatchIP(netip.MustParseAddr("192.0.2.1"), fn) },
		func(fn func(Ref)) { x.MatchIP(netip.MustParseAddr("2001:db8::1"), fn) },
		func(fn func(Ref)) { x.MatchIP(netip.MustParseAddr("10.1.2.3"), fn) },
		func(fn func(Ref)) { x.MatchURL([]byte("http://evil.example/a?b=c"), fn) },
		func(fn func(Ref)) { x.MatchHash([]byte(strings.Repeat("AB", 32)), fn) },
		func(fn func(Ref)) { x.MatchEmail([]byte("A@Evil.Example"), fn) },
		func(fn func(Ref)) { x.MatchJA4([]byte("t13d1516h2_8daaf6152771_b186095e22b6"), fn) },
	} {
		for _, r := range collect(f) {
			got = append(got, r.Indicator())
		}
	}
	want := slices.Clone(inds)
	want[2].Labels, want[3].Labels = nil, nil // nil and empty come back alike
	key := func(a Indicator) string { return a.ID + string(a.Type) }
	slices.SortFunc(got, func(a, b Indicator) int { return strings.Compare(key(a), key(b)) })
	slices.SortFunc(want, func(a, b Indicator) int { return strings.Compare(key(a), key(b)) })
	if len(got) != len(want) {
		t.Fatalf("got %d indicators, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		w, g := want[i], got[i]
		if len(w.Labels) == 0 && len(g.Labels) == 0 {
			w.Labels, g.Labels = nil, nil
		}
		if !w.ValidUntil.Equal(g.ValidUntil) {
			t.Errorf("%s: ValidUntil %v, want %v", w.ID, g.ValidUntil, w.ValidUntil)
		}
		w.ValidUntil, g.ValidUntil = time.Time{}, time.Time{}
		if fmt.Sprint(w) != fmt.Sprint(g) {
			t.Errorf("round trip:\ngot  %+v\nwant %+v", g, w)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	_, err := Build([]Indicator{
		{ID: "a", Type: "bogus", Value: "x"},
		{ID: "", Type: indicator.Domain, Value: "evil.example"},
		{ID: "c", Type: indicator.IPv4, Value: "not-an-ip"},
		{ID: "d", Type: indicator.MD5, Value: "abc"},
		{ID: "e", Type: indicator.Domain, Value: "ok.example"},
	})
	for _, want := range []error{ErrType, ErrID, ErrValue} {
		if !errors.Is(err, want) {
			t.Errorf("error %v does not wrap %v", err, want)
		}
	}
	x, _ := Build([]Indicator{{ID: "e", Type: indicator.Domain, Value: "ok.example"}, {ID: "c", Type: indicator.IPv4, Value: "nope"}})
	if x.Len() != 1 {
		t.Errorf("index of the good ones has %d", x.Len())
	}
}

// TestNames checks name normalisation and the parent walk, with many
// indicators so that buckets overflow and probe sequences are long.
func TestNames(t *testing.T) {
	b := NewBuilder()
	for i := range 20000 {
		if err := b.Add(Indicator{ID: fmt.Sprint(i), Type: indicator.Domain, Value: fmt.Sprintf("d%d.example", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ind := range []Indicator{
		{ID: "dup1", Type: indicator.Domain, Value: "dup.example"},
		{ID: "dup2", Type: indicator.Domain, Value: "dup.example"},
		{ID: "host", Type: indicator.Hostname, Value: "dup.example"},
		{ID: "upper", Type: indicator.Domain, Value: "UPPER.Example."},
		{ID: "idn", Type: indicator.Domain, Value: "bücher.example"},
	} {
		if err := b.Add(ind); err != nil {
			t.Fatal(err)
		}
	}
	x := b.Build()
	for _, c := range []struct {
		name string
		want []string
	}{
		{"d0.example", []string{"0"}},
		{"a.b.D19999.EXAMPLE.", []string{"19999"}},
		{"d20000.example", nil},
		{"dup.example", []string{"dup1", "dup2", "host"}},
		{"x.dup.example", []string{"dup1", "dup2"}},
		{"upper.example", []string{"upper"}},
		{"www.xn--bcher-kva.example", []string{"idn"}},
		{"www.BÜCHER.example", []string{"idn"}},
		{"example", nil},
		{"", nil},
		{".", nil},
		{"..", nil},
		{strings.Repeat("a.", 200) + "d1.example", nil},
	} {
		got := refIDs(collect(func(fn func(Ref)) { x.MatchDomain([]byte(c.name), fn) }))
		if !slices.Equal(got, c.want) {
			t.Errorf("MatchDomain(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCIDRRandom compares the range set with a brute-force scan over
// random nested and overlapping blocks.
func TestCIDRRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var inds []Indicator
		var prefixes []netip.Prefix
		for i := range 300 {
			var p netip.Prefix
			if r.IntN(4) == 0 {
				var a [16]byte
				a[0], a[1], a[2] = 0x20, 0x01, byte(r.IntN(4))
				a[3] = byte(r.IntN(256))
				p = netip.PrefixFrom(netip.AddrFrom16(a), 8+r.IntN(121)).Masked()
			} else {
				a := [4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))}
				p = netip.PrefixFrom(netip.AddrFrom4(a), 8+r.IntN(25)).Masked()
			}
			prefixes = append(prefixes, p)
			inds = append(inds, Indicator{ID: fmt.Sprint(i), Type: indicator.CIDR, Value: p.String()})
		}
		x, err := Build(inds)
		if err != nil {
			t.Fatal(err)
		}
		for range 2000 {
			var a netip.Addr
			if r.IntN(4) == 0 {
				var b [16]byte
				b[0], b[1], b[2] = 0x20, 0x01, byte(r.IntN(4))
				for i := 3; i < 16; i++ {
					b[i] = byte(r.IntN(256))
				}
				a = netip.AddrFrom16(b)
			} else {
				a = netip.AddrFrom4([4]byte{10, byte(r.IntN(5)), byte(r.IntN(256)), byte(r.IntN(256))})
			}
			// Pick an edge of a block now and then.
			if r.IntN(3) == 0 {
				p := prefixes[r.IntN(len(prefixes))]
				a = p.Addr()
				if r.IntN(2) == 0 {
					_, last := prefixRange(p)
					a = keyAddr(last, p.Addr().Is4())
				}
			}
			var want []string
			for i, p := range prefixes {
				if p.Contains(a) {
					want = append(want, fmt.Sprint(i))
				}
			}
			sort.Strings(want)
			got := refIDs(collect(func(fn func(Ref)) { x.MatchIP(a, fn) }))
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: MatchIP(%v) = %v, want %v", round, a, got, want)
			}
		}
	}
}

func keyAddr(k u128, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{byte(k.lo >> 24), byte(k.lo >> 16), byte(k.lo >> 8), byte(k.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(k.hi >> (56 - 8*i))
		b[8+i] = byte(k.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func TestHashAndEmail(t *testing.T) {
	x, err := Build([]Indicator{
		{ID: "md5", Type: indicator.MD5, Value: "D41D8CD98F00B204E9800998ECF8427E"},
		{ID: "ja3", Type: indicator.JA3, Value: "d41d8cd98f00b204e9800998ecf8427e"},
		{ID: "x509", Type: indicator.X509SHA1, Value: "7B:B6:98:38:69:70:36:3D:29:19:CC:57:72:84:69:84:FF:D4:A8:89"},
		{ID: "mail", Type: indicator.Email, Value: "Ceo@Evil.Example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    func(func(Ref))
		want []string
	}{
		{func(fn func(Ref)) { x.MatchHash([]byte("d41d8cd98f00b204e9800998ecf8427e"), fn) }, []string{"ja3", "md5"}},
		{func(fn func(Ref)) { x.MatchHash([]byte("7BB698386970363D2919CC5772846984FFD4A889"), fn) }, []string{"x509"}},
		{func(fn func(Ref)) { x.MatchHash([]byte("7bb6"), fn) }, nil},
		{func(fn func(Ref)) { x.MatchEmail([]byte("ceo@evil.example"), fn) }, []string{"mail"}},
		{func(fn func(Ref)) { x.MatchEmail([]byte("ceo@evil.example.org"), fn) }, nil},
	} {
		if got := refIDs(collect(c.f)); !slices.Equal(got, c.want) {
			t.Errorf("got %v, want %v", got, c.want)
		}
	}
}

// TestEmptyIndex: every lookup on an empty index finds nothing.
func TestEmptyIndex(t *testing.T) {
	for _, x := range []*Index{NewBuilder().Build(), NewMatcher(nil).Load()} {
		o := []logparse.Observation{
			{Kind: logparse.KindName, Value: []byte("a.example")},
			{Kind: logparse.KindIP, Addr: netip.MustParseAddr("10.0.0.1")},
			{Kind: logparse.KindIP, Addr: netip.MustParseAddr("::1")},
			{Kind: logparse.KindURL, Value: []byte("http://a.example/")},
			{Kind: logparse.KindHash, Value: bytes.Repeat([]byte("a"), 32)},
			{Kind: logparse.KindEmail, Value: []byte("a@b.example")},
			{Kind: logparse.KindJA4, Value: []byte("x")},
		}
		for i := range o {
			x.Match(&o[i], func(Ref) { t.Errorf("match in an empty index") })
		}
	}
}

// TestExpiry: an indicator stops matching at its valid-until second, by
// the matcher's clock.
func TestExpiry(t *testing.T) {
	until := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	x, _ := Build([]Indicator{{ID: "a", Type: indicator.Domain, Value: "evil.example", ValidUntil: until}})
	now := until.Add(-time.Second)
	m := NewMatcher(x, WithClock(func() time.Time { return now }))
	s := m.NewSession(FormatLines)
	if out, _ := s.Match(nil, []byte("evil.example")); len(out) == 0 {
		t.Error("no alert a second before expiry")
	}
	now = until
	if out, _ := s.Match(nil, []byte("evil.example")); len(out) != 0 {
		t.Errorf("alert at expiry: %s", out)
	}
}
