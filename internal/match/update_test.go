package match

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
)

// TestUpdate applies random additions, replacements and removals through
// Update and checks every lookup against an index built from scratch.
func TestUpdate(t *testing.T) {
	old := maxDeltaMin
	maxDeltaMin = 40 // compact now and then
	defer func() { maxDeltaMin = old }()
	r := rand.New(rand.NewPCG(3, 4))
	gen := func(id int) Indicator {
		k := r.IntN(60)
		ind := Indicator{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", id, r.IntN(3)), Labels: []string{"malware"}}
		if r.IntN(3) == 0 {
			ind.ID = fmt.Sprintf("id-%d", id)
		}
		switch r.IntN(5) {
		case 0:
			ind.Type, ind.Value = indicator.Domain, fmt.Sprintf("d%d.example", k)
		case 1:
			ind.Type, ind.Value = indicator.IPv4, fmt.Sprintf("192.0.2.%d", k)
		case 2:
			ind.Type, ind.Value = indicator.CIDR, fmt.Sprintf("10.%d.0.0/16", k%8)
		case 3:
			ind.Type, ind.Value = indicator.URL, fmt.Sprintf("http://u%d.example/x", k)
		default:
			ind.Type, ind.Value = indicator.MD5, fmt.Sprintf("%032x", k)
		}
		return ind
	}
	probes := func(k int) []logparse.Observation {
		return []logparse.Observation{
			{Kind: logparse.KindName, Value: fmt.Appendf(nil, "www.d%d.example", k)},
			{Kind: logparse.KindIP, Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", k))},
			{Kind: logparse.KindIP, Addr: netip.MustParseAddr(fmt.Sprintf("10.%d.1.1", k%8))},
			{Kind: logparse.KindURL, Value: fmt.Appendf(nil, "http://u%d.example/x?q=1", k)},
			{Kind: logparse.KindHash, Value: fmt.Appendf(nil, "%032X", k)},
		}
	}
	model := map[string]Indicator{}
	var inds []Indicator
	for i := range 300 {
		ind := gen(i)
		model[ind.ID] = ind
		inds = append(inds, ind)
	}
	x, err := Build(slices.Collect(maps.Values(model)))
	if err != nil {
		t.Fatal(err)
	}
	next := 1000
	for step := range 60 {
		var add []Indicator
		var remove []string
		ids := slices.Sorted(maps.Keys(model))
		for range r.IntN(8) {
			if r.IntN(2) == 0 && len(ids) > 0 {
				id := ids[r.IntN(len(ids))]
				remove = append(remove, id)
				delete(model, id)
			} else {
				ind := gen(next)
				if r.IntN(3) == 0 && len(ids) > 0 {
					ind.ID = ids[r.IntN(len(ids))] // a replacement
				}
				next++
				add = append(add, ind)
				model[ind.ID] = ind
			}
		}
		if x, err = x.Update(add, remove); err != nil {
			t.Fatal(err)
		}
		if step%10 == 9 {
			x = x.Compact()
		}
		fresh, _ := Build(slices.Collect(maps.Values(model)))
		if x.Len() != fresh.Len() || x.Count(indicator.CIDR) != fresh.Count(indicator.CIDR) {
			t.Fatalf("step %d: Len %d, want %d", step, x.Len(), fresh.Len())
		}
		for k := range 60 {
			for _, o := range probes(k) {
				got := refIDs(collect(func(fn func(Ref)) { x.Match(&o, fn) }))
				want := refIDs(collect(func(fn func(Ref)) { fresh.Match(&o, fn) }))
				if !slices.Equal(got, want) {
					t.Fatalf("step %d: %s %q: got %v, want %v", step, o.Kind, o.Value, got, want)
				}
			}
		}
	}
}

// TestUpdateSession: a Session sees an update at once (its miss cache is
// tied to the index it was filled from).
func TestUpdateSession(t *testing.T) {
	x, _ := Build([]Indicator{{ID: "a", Type: indicator.Domain, Value: "a.example"}})
	m := NewMatcher(x)
	s := m.NewSession(FormatLines)
	if out, _ := s.Match(nil, []byte("new.example")); len(out) != 0 {
		t.Fatal("alert before the update")
	}
	x2, err := x.Update([]Indicator{{ID: "n", Type: indicator.Domain, Value: "new.example"}}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	m.Swap(x2)
	if out, _ := s.Match(nil, []byte("new.example")); len(out) == 0 {
		t.Error("no alert after the update")
	}
	if out, _ := s.Match(nil, []byte("a.example")); len(out) != 0 {
		t.Error("alert on a removed indicator")
	}
	out := make([]byte, 0, 4096)
	line := []byte("www.new.example")
	if n := testing.AllocsPerRun(20, func() { s.Match(out[:0], line) }); n != 0 {
		t.Errorf("%.0f allocations per line on an updated index", n)
	}
}
