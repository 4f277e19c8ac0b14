package storetest

import (
	"errors"
	"fmt"
	"strings"
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

// testSightingReports: the sightings of a report are added once per
// organisation and key, however often the report is sent again; another
// organisation's report with the same key, and sightings without a key,
// are added each time; a report whose batch failed was not stored, so it
// is added when sent again.
func testSightingReports(e *env) {
	a := e.org(e.unique("a"), policy.Member, "")
	b := e.org(e.unique("b"), policy.Member, "")
	id := e.ingest(sub(a.ID, indicator.Domain, "reported.example.org"))[0].ID
	h := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	count := func(org string) int64 {
		counts, err := e.st.SightingCounts(e.ctx, id)
		if err != nil {
			e.Fatal(err)
		}
		var n int64
		for _, c := range counts {
			if c.Org == org {
				n += c.Count
			}
		}
		return n
	}
	report := func(org, key string, n int64) []model.Sighting {
		digest := fmt.Sprint("d", n)
		return []model.Sighting{
			{IndicatorID: id, Org: org, Kind: model.Sighted, Hour: h, Count: n, Report: key, ReportDigest: digest},
			{IndicatorID: id, Org: org, Kind: model.Sighted, Hour: h.Add(time.Hour), Count: n, Report: key, ReportDigest: digest, Host: "10.0.0.1", ObservedAt: h.Add(time.Hour)},
		}
	}
	add := func(ss []model.Sighting) {
		if err := e.st.AddSightings(e.ctx, ss); err != nil {
			e.Fatalf("AddSightings: %v", err)
		}
	}
	stored := func(org, key string) bool {
		_, ok, err := e.st.SightingReport(e.ctx, org, key)
		if err != nil {
			e.Fatal(err)
		}
		return ok
	}
	if stored(b.ID, "r-1") {
		e.Fatal("a report not yet sent is stored")
	}
	add(report(b.ID, "r-1", 5))
	if !stored(b.ID, "r-1") || stored(a.ID, "r-1") {
		e.Fatal("SightingReport does not say which organisation's report was stored")
	}
	if digest, _, _ := e.st.SightingReport(e.ctx, b.ID, "r-1"); digest != "d5" {
		e.Fatalf("report r-1 stored with digest %q, want d5", digest)
	}
	add(report(b.ID, "r-1", 5)) // sent again: not added
	if n := count(b.ID); n != 10 {
		e.Fatalf("a report sent twice: count %d, want 10", n)
	}
	add(append(report(a.ID, "r-1", 1), report(b.ID, "r-2", 2)...)) // a's r-1 is its own
	if na, nb := count(a.ID), count(b.ID); na != 2 || nb != 14 {
		e.Fatalf("another organisation's report with the same key and a new key: counts %d and %d, want 2 and 14", na, nb)
	}
	// Within one batch the sightings of a new report are all added (the
	// store cannot tell a copy from the report's own; the API merges each
	// report once), and the key is claimed once.
	add(append(report(b.ID, "r-3", 1), report(b.ID, "r-3", 1)...))
	if n := count(b.ID); n != 18 {
		e.Fatalf("a new report's sightings in one batch: count %d, want 18", n)
	}
	add(report(b.ID, "r-3", 1))
	if n := count(b.ID); n != 18 {
		e.Fatalf("a report sent again after a batch that claimed it: count %d, want 18", n)
	}
	add(report(b.ID, "", 1))
	add(report(b.ID, "", 1))
	if n := count(b.ID); n != 22 {
		e.Fatalf("sightings without a key: count %d, want 22 (added each time)", n)
	}
	// A failed batch stores nothing, its key included.
	bad := append(report(b.ID, "r-4", 1), model.Sighting{IndicatorID: "00000000-0000-0000-0000-000000000000", Org: b.ID, Kind: model.Sighted, Hour: h, Count: 1, Report: "r-4"})
	if err := e.st.AddSightings(e.ctx, bad); !errors.Is(err, store.ErrNotFound) {
		e.Fatalf("a report naming an unknown indicator: %v, want ErrNotFound", err)
	}
	if stored(b.ID, "r-4") {
		e.Fatal("the key of a failed batch is stored")
	}
	add(report(b.ID, "r-4", 1))
	if n := count(b.ID); n != 24 {
		e.Fatalf("a report sent again after its batch failed: count %d, want 24", n)
	}
	if err := e.st.AddSightings(e.ctx, report(b.ID, strings.Repeat("k", 256), 1)); err == nil {
		e.Error("a report key of 256 bytes was accepted")
	}
}
