package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hdnetwork/hdn/internal/store"
)

// testTAXIIStatuses: a status is read back by its organisation only; the
// statuses kept stay within the count and byte bounds of each organisation
// and of all and within the age, the oldest going first (an organisation's
// own first when it alone is over), and the status just kept always stays,
// even alone over a bound.
func testTAXIIStatuses(e *env) {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	unbounded := store.TAXIIStatusLimit{PerOrg: 1 << 30, OrgBytes: 1 << 40, Bytes: 1 << 40, MaxAge: 1000 * time.Hour}
	body := func(id string, size int) []byte {
		return append([]byte(id+":"), bytes.Repeat([]byte{'x'}, size)...)
	}
	n := 0
	put := func(org, id string, size int, lim store.TAXIIStatusLimit) {
		e.Helper()
		n++
		st := store.TAXIIStatus{ID: id, Org: org, Created: t0.Add(time.Duration(n) * time.Second), Body: body(id, size)}
		if err := e.st.PutTAXIIStatus(e.ctx, st, lim); err != nil {
			e.Fatalf("PutTAXIIStatus(%s, %s): %v", org, id, err)
		}
	}
	kept := func(org, id string) bool {
		e.Helper()
		b, err := e.st.TAXIIStatus(e.ctx, org, id)
		if errors.Is(err, store.ErrNotFound) {
			return false
		}
		if err != nil || !bytes.HasPrefix(b, []byte(id+":")) {
			e.Fatalf("TAXIIStatus(%s, %s): %.40q, %v", org, id, b, err)
		}
		return true
	}

	put("a", "s1", 10, unbounded)
	if !kept("a", "s1") {
		e.Error("a status is not read back")
	}
	if kept("b", "s1") {
		e.Error("another organisation reads a's status")
	}
	if kept("a", "no-such-status") {
		e.Error("an unknown status was found")
	}
	if err := e.st.PutTAXIIStatus(e.ctx, store.TAXIIStatus{ID: "s1", Org: "a", Created: t0, Body: []byte("again")}, unbounded); !errors.Is(err, store.ErrConflict) {
		e.Errorf("PutTAXIIStatus with a taken id: %v, want ErrConflict", err)
	}
	for _, bad := range []store.TAXIIStatus{{Org: "a", Body: []byte("b")}, {ID: "x", Body: []byte("b")}, {ID: "x", Org: "a"}} {
		if err := e.st.PutTAXIIStatus(e.ctx, bad, unbounded); err == nil {
			e.Errorf("PutTAXIIStatus accepted %+v", bad)
		}
	}

	// Count per organisation.
	lim := unbounded
	lim.PerOrg = 3
	for i := range 5 {
		put("count", fmt.Sprint("c", i), 10, lim)
	}
	for i := range 5 {
		if kept("count", fmt.Sprint("c", i)) != (i >= 2) {
			e.Errorf("count bound: status c%d kept: %v", i, !(i >= 2))
		}
	}
	// Bytes per organisation; another organisation's status stays.
	lim = unbounded
	lim.OrgBytes = 2500
	put("other", "o1", 10, lim)
	for i := range 4 {
		put("bytes", fmt.Sprint("b", i), 1000, lim)
	}
	for i := range 4 {
		if kept("bytes", fmt.Sprint("b", i)) != (i >= 2) {
			e.Errorf("byte bound per organisation: status b%d kept: %v", i, !(i >= 2))
		}
	}
	if !kept("other", "o1") {
		e.Error("another organisation's status went for one organisation's bound")
	}
	// The newest alone over the bounds stays, and nothing older beside it.
	lim = unbounded
	lim.OrgBytes, lim.Bytes = 500, 1<<40
	put("huge", "small", 10, lim)
	put("huge", "huge", 1000, lim)
	if !kept("huge", "huge") || kept("huge", "small") {
		e.Errorf("one status over the bound: newest kept %v, older kept %v", kept("huge", "huge"), kept("huge", "small"))
	}
	// Age: statuses older than MaxAge go at the next put.
	lim = unbounded
	lim.MaxAge = time.Hour
	n += 3600
	put("age", "fresh", 10, lim)
	if kept("a", "s1") || kept("count", "c4") || !kept("age", "fresh") {
		e.Errorf("after an hour: old kept %v, %v; fresh kept %v", kept("a", "s1"), kept("count", "c4"), kept("age", "fresh"))
	}
	// Bytes of all, oldest first whatever the organisation.
	lim = unbounded
	lim.Bytes = 3500
	for i := range 6 {
		put([]string{"x", "y"}[i%2], fmt.Sprint("all", i), 1000, lim)
	}
	for i := range 6 {
		if kept([]string{"x", "y"}[i%2], fmt.Sprint("all", i)) != (i >= 3) {
			e.Errorf("byte bound of all: status all%d kept: %v", i, !(i >= 3))
		}
	}

	// Random puts: after each, the bounds hold and the newest is kept.
	lim = store.TAXIIStatusLimit{PerOrg: 20, OrgBytes: 40 * 1024, Bytes: 100 * 1024, MaxAge: 1000 * time.Hour}
	rng := rand.New(rand.NewPCG(1, 2))
	type rec struct {
		org  string
		size int
	}
	var all []string
	recs := map[string]rec{}
	for i := range 300 {
		org, id := fmt.Sprint("org", rng.IntN(4)), fmt.Sprint("r", i)
		size := rng.IntN(8000)
		put(org, id, size, lim)
		all = append(all, id)
		recs[id] = rec{org, len(body(id, size))}
		if !kept(org, id) {
			e.Fatalf("put %d: the newest status is not kept", i)
		}
		if i%30 != 29 {
			continue
		}
		total, nKept, count, orgBytes := 0, 0, map[string]int{}, map[string]int{}
		for _, id := range all {
			r := recs[id]
			if kept(r.org, id) {
				total += r.size
				nKept++
				count[r.org]++
				orgBytes[r.org] += r.size
			}
		}
		for org, c := range count {
			if c > 1 && (c > lim.PerOrg || int64(orgBytes[org]) > lim.OrgBytes) {
				e.Fatalf("put %d: %s keeps %d statuses, %d bytes", i, org, c, orgBytes[org])
			}
		}
		if nKept > 1 && int64(total) > lim.Bytes {
			e.Fatalf("put %d: %d statuses of %d bytes kept, bound %d", i, nKept, total, lim.Bytes)
		}
		if nKept < 5 {
			e.Fatalf("put %d: only %d statuses kept: the bounds let more stay", i, nKept)
		}
	}
}
