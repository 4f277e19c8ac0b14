package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// testLeases: a lease is taken when free, renewed by its holder, refused to
// another holder until it expires, taken over once expired, and freed by
// its holder's release only.
func testLeases(e *env) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	const ttl = 15 * time.Second
	acquire := func(name, holder string, now time.Time, want bool) {
		e.Helper()
		got, err := e.st.AcquireLease(e.ctx, name, holder, ttl, now)
		if err != nil {
			e.Fatalf("AcquireLease(%q, %q, %s): %v", name, holder, now.Format(time.TimeOnly), err)
		}
		if got != want {
			e.Fatalf("AcquireLease(%q, %q, %s) = %v, want %v", name, holder, now.Format(time.TimeOnly), got, want)
		}
	}
	acquire("jobs", "a", t0, true)                                // free
	acquire("jobs", "b", t0.Add(time.Second), false)              // held by a
	acquire("jobs", "a", t0.Add(5*time.Second), true)             // renewed: now until t0+20s
	acquire("jobs", "b", t0.Add(19*time.Second), false)           // the renewal counts, not the first expiry
	acquire("other", "b", t0.Add(19*time.Second), true)           // leases are independent
	acquire("jobs", "b", t0.Add(20*time.Second), true)            // expired at now: taken over
	acquire("jobs", "a", t0.Add(21*time.Second), false)           // a lost it
	if err := e.st.ReleaseLease(e.ctx, "jobs", "a"); err != nil { // not a's: nothing happens
		e.Fatalf("ReleaseLease by a non-holder: %v", err)
	}
	acquire("jobs", "a", t0.Add(22*time.Second), false)
	if err := e.st.ReleaseLease(e.ctx, "jobs", "b"); err != nil {
		e.Fatalf("ReleaseLease by the holder: %v", err)
	}
	acquire("jobs", "a", t0.Add(23*time.Second), true) // released: free at once
	if err := e.st.ReleaseLease(e.ctx, "never-taken", "a"); err != nil {
		e.Fatalf("ReleaseLease of a lease never taken: %v", err)
	}
	if _, err := e.st.AcquireLease(e.ctx, "", "a", ttl, t0); err == nil {
		e.Error("AcquireLease with an empty name succeeded")
	}
	if _, err := e.st.AcquireLease(e.ctx, "jobs", "a", 0, t0); err == nil {
		e.Error("AcquireLease with a zero ttl succeeded")
	}
}

// testLeasesRace: of replicas racing for one free lease, exactly one wins.
func testLeasesRace(e *env) {
	now := time.Now().UTC()
	wins := e.race("AcquireLease", 8, func(i int) (bool, error) {
		return e.st.AcquireLease(e.ctx, "race", fmt.Sprintf("replica-%d", i), 15*time.Second, now)
	})
	if wins != 1 {
		e.Errorf("%d replicas took one free lease, want exactly 1", wins)
	}
}

// race runs fn n times at once, as replicas on one database would, reports
// the errors, and counts the calls that returned true.
func (e *env) race(what string, n int, fn func(i int) (bool, error)) int {
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ok, err := fn(i)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.Errorf("%s: %v", what, err)
	}
	return int(wins.Load())
}
