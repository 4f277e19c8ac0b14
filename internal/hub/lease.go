package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// jobsLease is the lease that elects, among hub replicas on one store, the
// one that runs the singleton jobs (expiry, signal, feeds, federation,
// sessions). Streams, the API and the UI run on every replica.
const jobsLease = "hub-jobs"

// Lease timing defaults: a holder renews every 5 s a lease that lasts 15 s,
// so a replica that dies without releasing it is replaced within about 20 s.
const (
	defaultLeaseTTL   = 15 * time.Second
	defaultLeaseRenew = 5 * time.Second
)

// lease is a hub's side of the jobs lease.
type lease struct {
	holder string // random per Hub: two hubs in one process are two replicas
	leader atomic.Bool
	mu     sync.Mutex
	jobs   []string // the singleton jobs running now
}

func newHolderID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Leader says whether this hub holds the jobs lease and runs the singleton
// jobs now.
func (h *Hub) Leader() bool { return h.lease.leader.Load() }

// SingletonJobs names the singleton jobs this hub runs now (none unless it
// is the leader).
func (h *Hub) SingletonJobs() []string {
	h.lease.mu.Lock()
	defer h.lease.mu.Unlock()
	return append([]string(nil), h.lease.jobs...)
}

// leaseLoop takes the jobs lease when it can and renews it; while it holds
// it, the jobs run. When a renewal is refused (another replica took an
// expired lease) the jobs are stopped, and so they are when the lease has
// gone unrenewed until one renewal interval before it expires (stopBy):
// that interval is left for the jobs to wind down before another replica
// may take the lease. No renewal attempt of a leader may end after stopBy
// (its context ends there), so that a renewal that hangs cannot keep the
// jobs running past it, and a leader whose renewal failed tries again
// before stopBy rather than only at the next interval. The jobs start again
// when the lease is taken again. A job that ends on its own ends the hub,
// as any other part does. At the end the lease is released, so another
// replica takes over at its next attempt instead of after the expiry.
func (h *Hub) leaseLoop(ctx context.Context, jobs *group) error {
	ttl, renew := h.cfg.LeaseTTL, h.cfg.LeaseRenew
	if 2*renew >= ttl {
		// A renewal in time would be due only at or after stopBy: the
		// jobs would stop at every interval.
		h.log.Warn("the jobs lease's renewal interval is too long for its duration; renewing every third of it instead",
			"ttl", ttl, "renew", renew)
		renew = ttl / 3
	}
	var (
		stopJobs context.CancelFunc
		done     chan error
		lastOK   time.Time // when the lease last ran from (its expiry is lastOK+ttl)
		failed   bool      // the last attempt failed
	)
	// stopBy is when the jobs must have been told to stop unless the lease
	// is renewed before: one renewal interval before the lease expires.
	stopBy := func() time.Time { return lastOK.Add(ttl - renew) }
	stop := func(why string) {
		if stopJobs == nil {
			return
		}
		stopJobs()
		<-done
		stopJobs, done = nil, nil
		h.lease.leader.Store(false)
		h.lease.mu.Lock()
		h.lease.jobs = nil
		h.lease.mu.Unlock()
		h.log.Info("singleton jobs stopped", "why", why, "holder", h.lease.holder)
	}
	defer func() {
		stop("the hub is stopping")
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := h.st.ReleaseLease(rctx, jobsLease, h.lease.holder); err != nil {
			h.log.Warn("releasing the jobs lease failed; another replica takes over when it expires", "err", err)
		}
	}()
	t := time.NewTicker(renew)
	defer t.Stop()
	for {
		// The lease is judged by the wall clock, never by Config.Now (a
		// test clock): replicas compare their clocks through the store.
		// An attempt that hangs counts as failed after one interval, and
		// a leader's ends at stopBy at the latest: one that could not end
		// before stopBy is not made while the jobs run.
		now := time.Now()
		deadline := now.Add(renew)
		if stopJobs != nil {
			if !now.Before(stopBy()) {
				stop("the lease could not be renewed in time")
			} else if stopBy().Before(deadline) {
				deadline = stopBy()
			}
		}
		actx, cancel := context.WithDeadline(ctx, deadline)
		got, err := h.st.AcquireLease(actx, jobsLease, h.lease.holder, ttl, now)
		cancel()
		failed = err != nil
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			h.log.Warn("renewing the jobs lease failed", "err", err, "leader", stopJobs != nil)
			// Another replica may take the lease once it expires: stop
			// one renewal interval before that could happen.
			if stopJobs != nil && !time.Now().Before(stopBy()) {
				stop("the lease could not be renewed in time")
			}
		case got:
			lastOK = now
			if stopJobs == nil {
				jctx, cancel := context.WithCancel(ctx)
				stopJobs, done = cancel, make(chan error, 1)
				names := make([]string, 0, len(jobs.parts))
				for _, p := range jobs.parts {
					names = append(names, p.name)
				}
				h.lease.mu.Lock()
				h.lease.jobs = names
				h.lease.mu.Unlock()
				h.lease.leader.Store(true)
				h.log.Info("jobs lease taken: running the singleton jobs", "holder", h.lease.holder, "jobs", names)
				go func() { done <- jobs.run(jctx) }()
			}
		default:
			stop("another replica holds the jobs lease")
		}
		// The next attempt comes at the next interval. A leader whose
		// attempt failed tries again halfway to stopBy (while that leaves
		// an attempt a tenth of an interval at least), and wakes at stopBy
		// to stop the jobs if the interval ends later.
		var retry *time.Timer
		var retryC <-chan time.Time
		if stopJobs != nil && failed {
			wait := time.Until(stopBy())
			if wait/2 >= renew/10 {
				wait /= 2
			}
			retry = time.NewTimer(wait)
			retryC = retry.C
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			// A job ended on its own (not stopped by us): end the hub, as
			// any part that ends does.
			stopJobs()
			stopJobs, done = nil, nil
			h.lease.leader.Store(false)
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-t.C:
		case <-retryC:
		}
		if retry != nil {
			retry.Stop()
		}
	}
}
