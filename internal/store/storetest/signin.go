package storetest

import (
	"time"

	"github.com/hdnetwork/hdn/internal/store"
)

var signInLimit = store.SignInLimit{Max: 3, Window: 15 * time.Minute, LockFor: 10 * time.Minute}

// testSignInLimits: a key is refused once it has Max failures within the
// window, tentative ones included; the failure that reaches the limit locks
// it for LockFor; failures age out of the window; an aborted attempt does
// not count, a forgotten key starts afresh, keys are independent, and the
// sweep deletes only what has aged out.
func testSignInLimits(e *env) {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	begin := func(key string, at time.Time, want bool) string {
		e.Helper()
		id, ok, err := e.st.BeginSignIn(e.ctx, key, at, signInLimit)
		if err != nil {
			e.Fatalf("BeginSignIn(%s, %s): %v", key, at.Format(time.TimeOnly), err)
		}
		if ok != want || (ok && id == "") || (!ok && id != "") {
			e.Fatalf("BeginSignIn(%s, %s) = %q, %v; want ok %v", key, at.Format(time.TimeOnly), id, ok, want)
		}
		return id
	}
	fail := func(key string, at time.Time) {
		e.Helper()
		if err := e.st.FailSignIn(e.ctx, key, at, signInLimit); err != nil {
			e.Fatalf("FailSignIn(%s): %v", key, err)
		}
	}
	// Three failures a minute apart lock "a" from the third for 10 minutes.
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		begin("a", at, true)
		fail("a", at)
	}
	begin("b", t0.Add(2*time.Minute), true) // keys are independent
	begin("a", t0.Add(12*time.Minute-time.Nanosecond), false)
	begin("a", t0.Add(12*time.Minute), true) // the lock is over, and the failures were forgotten with it
	begin("a", t0.Add(12*time.Minute), true)
	begin("a", t0.Add(12*time.Minute), true)

	// Tentative failures count: three sign-ins in progress refuse a fourth.
	begin("c", t0, true)
	begin("c", t0, true)
	third := begin("c", t0, true)
	begin("c", t0, false)
	if err := e.st.AbortSignIn(e.ctx, "c", third); err != nil {
		e.Fatalf("AbortSignIn: %v", err)
	}
	begin("c", t0, true) // the aborted one no longer counts
	// An attempt is only its key's to abort.
	other := begin("d", t0, true)
	if err := e.st.AbortSignIn(e.ctx, "c", other); err != nil {
		e.Fatalf("AbortSignIn of another key's attempt: %v", err)
	}
	begin("d", t0, true)
	begin("d", t0, true)
	begin("d", t0, false)

	// Failures age out of the window, and a forgotten key starts afresh.
	begin("e", t0, true)
	fail("e", t0)
	begin("e", t0.Add(time.Minute), true)
	fail("e", t0.Add(time.Minute))
	begin("e", t0.Add(15*time.Minute), true) // the first has aged out: two within the window
	fail("e", t0.Add(15*time.Minute))
	begin("e", t0.Add(15*time.Minute), true) // the third, in progress
	begin("e", t0.Add(15*time.Minute), false)
	if err := e.st.ForgetSignIns(e.ctx, "e"); err != nil {
		e.Fatalf("ForgetSignIns: %v", err)
	}
	begin("e", t0.Add(15*time.Minute), true)

	// The sweep keeps what is within the window and the locks in force.
	for range 2 {
		begin("f", t0.Add(30*time.Minute), true)
		fail("f", t0.Add(30*time.Minute))
	}
	for range 3 {
		begin("g", t0.Add(30*time.Minute), true)
		fail("g", t0.Add(30*time.Minute))
	}
	n, err := e.st.SweepSignIns(e.ctx, t0.Add(40*time.Minute), signInLimit)
	if err != nil || n == 0 {
		e.Errorf("SweepSignIns: %d, %v; want the aged-out rows of a to e deleted", n, err)
	}
	begin("f", t0.Add(40*time.Minute), true)
	begin("f", t0.Add(40*time.Minute), false) // the failures at 30 min were kept
	begin("g", t0.Add(40*time.Minute-time.Nanosecond), false)
	if n, err := e.st.SweepSignIns(e.ctx, t0.Add(40*time.Minute-time.Nanosecond), signInLimit); err != nil {
		e.Errorf("SweepSignIns: %d, %v", n, err)
	}
	begin("g", t0.Add(40*time.Minute-time.Nanosecond), false) // the lock was kept
	if n, err := e.st.SweepSignIns(e.ctx, t0.Add(24*time.Hour), signInLimit); err != nil || n == 0 {
		e.Errorf("SweepSignIns a day later: %d, %v; want everything deleted", n, err)
	}
	if n, err := e.st.SweepSignIns(e.ctx, t0.Add(24*time.Hour), signInLimit); err != nil || n != 0 {
		e.Errorf("SweepSignIns again: %d, %v; want nothing left", n, err)
	}

	if _, _, err := e.st.BeginSignIn(e.ctx, "", t0, signInLimit); err == nil {
		e.Error("BeginSignIn with an empty key succeeded")
	}
	if _, _, err := e.st.BeginSignIn(e.ctx, "h", t0, store.SignInLimit{Window: time.Minute, LockFor: time.Minute}); err == nil {
		e.Error("BeginSignIn with a zero Max succeeded")
	}
}

// testSignInLimitsRace: of sign-ins racing on one key (replicas on one
// database), no more than Max are let through.
func testSignInLimitsRace(e *env) {
	now := time.Now().UTC()
	passed := e.race("BeginSignIn", 12, func(int) (bool, error) {
		_, ok, err := e.st.BeginSignIn(e.ctx, "race", now, signInLimit)
		return ok, err
	})
	if passed != signInLimit.Max {
		e.Errorf("%d of 12 racing sign-ins were let through, want %d", passed, signInLimit.Max)
	}
}
