package api

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// statusOf makes a status listing n objects.
func statusOf(id string, n int) *taxiiStatus {
	st := &taxiiStatus{ID: id, Status: "complete"}
	for i := range n {
		st.Successes = append(st.Successes, taxiiStatusDetail{ID: fmt.Sprintf("indicator--%s-%d", id, i), Version: "2026-11-27T12:00:00.000Z"})
	}
	return st
}

// TestTAXIIStatusesBounded: the statuses kept stay within the count and
// byte bounds of each organisation and of all, the oldest go first (an
// organisation's own first when it alone is over), and the newest status of
// a request is always kept, even alone over a bound.
func TestTAXIIStatusesBounded(t *testing.T) {
	big := statusSize(statusOf("x", 1000)) // ~120 KB

	t.Run("count per organisation", func(t *testing.T) {
		ss := newTAXIIStatuses(3, 1<<30, 1<<30)
		for i := range 5 {
			ss.put("a", statusOf(fmt.Sprint(i), 1))
		}
		for i := range 5 {
			if _, ok := ss.get("a", fmt.Sprint(i)); ok != (i >= 2) {
				t.Errorf("status %d kept: %v", i, ok)
			}
		}
	})

	t.Run("bytes per organisation", func(t *testing.T) {
		ss := newTAXIIStatuses(100, 2*big+big/2, 1<<30)
		ss.put("other", statusOf("o", 1))
		for i := range 4 {
			ss.put("a", statusOf(fmt.Sprint(i), 1000))
		}
		for i := range 4 {
			if _, ok := ss.get("a", fmt.Sprint(i)); ok != (i >= 2) {
				t.Errorf("status %d kept: %v", i, ok)
			}
		}
		if _, ok := ss.get("other", "o"); !ok {
			t.Error("another organisation's status went for a's bound")
		}
	})

	t.Run("bytes of all", func(t *testing.T) {
		ss := newTAXIIStatuses(100, 1<<30, 3*big+big/2)
		for i := range 6 {
			ss.put([]string{"a", "b"}[i%2], statusOf(fmt.Sprint(i), 1000))
		}
		for i := range 6 {
			if _, ok := ss.get([]string{"a", "b"}[i%2], fmt.Sprint(i)); ok != (i >= 3) {
				t.Errorf("status %d kept: %v", i, ok)
			}
		}
	})

	t.Run("the newest alone over the bounds", func(t *testing.T) {
		ss := newTAXIIStatuses(100, big/2, big/2)
		ss.put("a", statusOf("small", 1))
		ss.put("a", statusOf("huge", 1000))
		if _, ok := ss.get("a", "huge"); !ok {
			t.Error("the newest status was not kept")
		}
		if _, ok := ss.get("a", "small"); ok {
			t.Error("an older status was kept beside one over the bound")
		}
	})

	t.Run("random", func(t *testing.T) {
		const perOrg, orgBudget, budget = 20, 40 * 1024, 100 * 1024
		ss := newTAXIIStatuses(perOrg, orgBudget, budget)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 5000 {
			org := fmt.Sprint("org", rng.IntN(8))
			id := fmt.Sprint(i)
			ss.put(org, statusOf(id, rng.IntN(200)))
			if _, ok := ss.get(org, id); !ok {
				t.Fatalf("put %d: the newest status is not kept", i)
			}
			sum, n := 0, 0
			for name, o := range ss.byOrg {
				osum := 0
				for _, r := range o.order {
					st, ok := o.byID[r.id]
					if !ok || statusSize(st) != r.size {
						t.Fatalf("put %d: %s's order names %s, kept %v", i, name, r.id, ok)
					}
					osum += r.size
				}
				if len(o.byID) != len(o.order) || osum != o.bytes {
					t.Fatalf("put %d: %s keeps %d statuses in its map, %d in order, %d bytes counted of %d", i, name, len(o.byID), len(o.order), o.bytes, osum)
				}
				if len(o.order) > 1 && (len(o.order) > perOrg || o.bytes > orgBudget) {
					t.Fatalf("put %d: %s keeps %d statuses, %d bytes", i, name, len(o.order), o.bytes)
				}
				sum += osum
				n += len(o.order)
			}
			if sum != ss.bytes || (n > 1 && sum > budget) {
				t.Fatalf("put %d: %d bytes kept, %d counted, budget %d", i, sum, ss.bytes, budget)
			}
			if len(ss.all) > 2*n+64 {
				t.Fatalf("put %d: %d references for %d statuses", i, len(ss.all), n)
			}
		}
	})
}

// TestTAXIIStatusSize: the estimate grows with the objects a status lists.
func TestTAXIIStatusSize(t *testing.T) {
	small, large := statusSize(statusOf("a", 10)), statusSize(statusOf("a", 10_000))
	if large < 1000*small/2 || large < 10_000*(64+len("indicator--a-0")) {
		t.Errorf("sizes %d for 10 objects, %d for 10,000", small, large)
	}
	st := statusOf("a", 1)
	st.Failures = []taxiiStatusDetail{{ID: "x", Message: strings.Repeat("m", 10_000)}}
	if statusSize(st) < 10_000 {
		t.Errorf("a failure's message is not counted: %d", statusSize(st))
	}
}
