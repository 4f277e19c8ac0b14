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
// expired lease) or has failed for longer than the lease could have lasted
// without it, the jobs are stopped; they start again when the lease is taken
// again. A job that ends on its own ends the hub, as any other part does. At
// the end the lease is released, so another replica takes over at its next
// attempt instead of after the expiry.
func (h *Hub) leaseLoop(ctx context.Context, jobs *group) error {
	ttl, renew := h.cfg.LeaseTTL, h.cfg.LeaseRenew
	var (
		stopJobs context.CancelFunc
		done     chan error
		lastOK   time.Time
	)
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
		// A renewal that hangs counts as failed after one interval, so
		// that the jobs stop before the lease can expire.
		now := time.Now()
		actx, cancel := context.WithTimeout(ctx, renew)
		got, err := h.st.AcquireLease(actx, jobsLease, h.lease.holder, ttl, now)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			h.log.Warn("renewing the jobs lease failed", "err", err, "leader", stopJobs != nil)
			// Another replica may take the lease once it expires: stop
			// one renewal interval before that could happen.
			if stopJobs != nil && time.Since(lastOK) >= ttl-renew {
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
		}
	}
}
