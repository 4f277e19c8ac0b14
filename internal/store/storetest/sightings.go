package storetest

import (
	"errors"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func testSightings(e *env) {
	a := e.org(e.unique("a"), policy.Member, "")
	b := e.org(e.unique("b"), policy.Member, "")
	res := e.ingest(sub(a.ID, indicator.Domain, "sighted.example.org"))
	id := res[0].ID
	h1 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	h2 := h1.Add(time.Hour)
	err := e.st.AddSightings(e.ctx, []model.Sighting{
		{IndicatorID: id, Org: b.ID, Kind: model.Sighted, Hour: h1.Add(17 * time.Minute), Count: 3},
		{IndicatorID: id, Org: b.ID, Kind: model.Sighted, Hour: h2, Count: 2},
		{IndicatorID: id, Org: b.ID, Kind: model.Sighted, Hour: h1, Count: 1, Host: "10.1.2.3", ObservedAt: h1.Add(5 * time.Minute)},
		{IndicatorID: id, Org: a.ID, Kind: model.FalsePositive, Hour: h2, Count: 1},
	})
	if err != nil {
		e.Fatalf("AddSightings: %v", err)
	}
	counts, err := e.st.SightingCounts(e.ctx, id)
	if err != nil {
		e.Fatal(err)
	}
	want := map[string]model.SightingCount{
		b.ID + "/sighting":       {Org: b.ID, Kind: model.Sighted, Count: 6, First: h1, Last: h2},
		a.ID + "/false-positive": {Org: a.ID, Kind: model.FalsePositive, Count: 1, First: h2, Last: h2},
	}
	if len(counts) != len(want) {
		e.Fatalf("SightingCounts: %+v, want %d rows", counts, len(want))
	}
	for _, c := range counts {
		w, ok := want[c.Org+"/"+string(c.Kind)]
		if !ok || c.Count != w.Count || !c.First.Equal(w.First) || !c.Last.Equal(w.Last) {
			e.Errorf("SightingCounts row %+v, want %+v", c, w)
		}
	}
	// A batch naming an unknown indicator stores nothing.
	err = e.st.AddSightings(e.ctx, []model.Sighting{
		{IndicatorID: id, Org: b.ID, Kind: model.Sighted, Hour: h1, Count: 100},
		{IndicatorID: "00000000-0000-0000-0000-000000000000", Org: b.ID, Kind: model.Sighted, Hour: h1, Count: 1},
	})
	if !errors.Is(err, store.ErrNotFound) {
		e.Fatalf("unknown indicator: %v, want ErrNotFound", err)
	}
	counts, _ = e.st.SightingCounts(e.ctx, id)
	for _, c := range counts {
		if c.Org == b.ID && c.Count != 6 {
			e.Fatalf("a failed batch was partly stored: count %d", c.Count)
		}
	}
	for _, bad := range []model.Sighting{
		{IndicatorID: id, Org: b.ID, Kind: model.Sighted, Hour: h1, Count: 0},
		{IndicatorID: id, Org: b.ID, Kind: "liked", Hour: h1, Count: 1},
		{IndicatorID: id, Kind: model.Sighted, Hour: h1, Count: 1},
	} {
		if err := e.st.AddSightings(e.ctx, []model.Sighting{bad}); err == nil {
			e.Errorf("AddSightings(%+v) accepted", bad)
		}
	}
	if counts, err := e.st.SightingCounts(e.ctx, "no-such-id"); err != nil || len(counts) != 0 {
		e.Errorf("counts of an unknown indicator: %v, %v", counts, err)
	}
}
