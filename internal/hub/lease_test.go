package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// flakyLeases is a real store whose AcquireLease works okCalls times, then
// fails at once (a refused connection), then hangs until its context ends
// (a database that stopped answering: pgx ends a call when its context
// does). It notes every attempt made while the hub runs the jobs that may
// last past lastOK+ttl-renew, the point by which the jobs must stop.
type flakyLeases struct {
	store.Store
	ttl, renew time.Duration
	okCalls    int
	leader     func() bool

	mu     sync.Mutex
	calls  int
	lastOK time.Time // the now of the last successful AcquireLease
	late   []string
	// whether the hub still ran its jobs when it tried again after the
	// failure
	retriedAsLeader bool
}

func (f *flakyLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	if f.leader() && !f.lastOK.IsZero() {
		stopBy := f.lastOK.Add(f.ttl - f.renew)
		if dl, ok := ctx.Deadline(); !ok {
			f.late = append(f.late, fmt.Sprintf("attempt %d at lastOK%+.3fs has no deadline", n, now.Sub(f.lastOK).Seconds()))
		} else if dl.After(stopBy) {
			f.late = append(f.late, fmt.Sprintf("attempt %d at lastOK%+.3fs may run until lastOK%+.3fs, past lastOK%+.3fs",
				n, now.Sub(f.lastOK).Seconds(), dl.Sub(f.lastOK).Seconds(), stopBy.Sub(f.lastOK).Seconds()))
		}
		if n == f.okCalls+2 {
			f.retriedAsLeader = true
		}
	}
	f.mu.Unlock()
	switch {
	case n <= f.okCalls:
		got, err := f.Store.AcquireLease(ctx, name, holder, ttl, now)
		if got && err == nil {
			f.mu.Lock()
			f.lastOK = now
			f.mu.Unlock()
		}
		return got, err
	case n == f.okCalls+1:
		return false, errors.New("injected fault: connection refused")
	default:
		<-ctx.Done()
		return false, fmt.Errorf("injected fault: no answer: %w", ctx.Err())
	}
}

// TestLeaseStopsJobsARenewalIntervalBeforeExpiry: a leader whose renewal
// fails at once, and whose next attempt hangs, stops its jobs by
// lastOK+ttl-renew, one renewal interval before another replica may take
// the lease (docs/DEPLOYMENT.md), and never makes an attempt that could
// outlast that point while the jobs run. The lease is long (12 s, renewed
// every 4 s) so that the margins are seconds, not milliseconds.
func TestLeaseStopsJobsARenewalIntervalBeforeExpiry(t *testing.T) {
	const ttl, renew = 12 * time.Second, 4 * time.Second
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &flakyLeases{Store: st, ttl: ttl, renew: renew, okCalls: 1}
	h := &Hub{
		cfg:   Config{LeaseTTL: ttl, LeaseRenew: renew},
		log:   slog.New(slog.NewTextHandler(t.Output(), nil)),
		st:    f,
		lease: lease{holder: newHolderID()},
	}
	f.leader = h.Leader

	started := make(chan struct{}, 8)
	stopped := make(chan time.Time, 8)
	jobs := &group{}
	jobs.add("probe", func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- time.Now()
		return nil
	}, nil)

	ctx, cancel := context.WithCancel(t.Context())
	loopDone := make(chan error, 1)
	go func() { loopDone <- h.leaseLoop(ctx, jobs) }()
	defer func() {
		cancel()
		if err := <-loopDone; err != nil {
			t.Errorf("leaseLoop: %v", err)
		}
	}()

	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the jobs never started")
	}
	f.mu.Lock()
	lastOK := f.lastOK
	f.mu.Unlock()
	if lastOK.IsZero() {
		t.Fatal("the jobs started without a successful AcquireLease")
	}

	var at time.Time
	select {
	case at = <-stopped:
	case <-time.After(time.Until(lastOK.Add(ttl + 3*renew))):
		t.Fatalf("the jobs still ran %s after the lease expired", 3*renew)
	}
	since := at.Sub(lastOK)
	t.Logf("lease taken at lastOK; jobs stopped at lastOK%+.3fs; stop due by lastOK%+.0fs, lease expires at lastOK%+.0fs",
		since.Seconds(), (ttl - renew).Seconds(), ttl.Seconds())
	if limit := ttl - renew/2; since >= limit {
		t.Errorf("the jobs stopped %s after the last renewal, want before %s: one renewal interval (%s) before the expiry at %s, with %s of slack",
			since.Round(time.Millisecond), limit, renew, ttl, renew/2)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.retriedAsLeader {
		t.Error("the jobs stopped at the first failed renewal, without another attempt before they had to")
	}
	for _, l := range f.late {
		t.Errorf("a renewal attempt made while the jobs ran could outlast the point where they must stop: %s", l)
	}
}
