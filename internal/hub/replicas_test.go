package hub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestReplicasElectOneForTheSingletonJobs: two hubs on one SQLite data
// directory (two replicas): exactly one holds the jobs lease and runs the
// singleton jobs, the other serves the API and streams only; when the first
// stops, the other takes the jobs over (and its expiry sweep expires what is
// due).
func TestReplicasElectOneForTheSingletonJobs(t *testing.T) {
	testLeaderElection(t, hub.Config{DataDir: t.TempDir()})
}

// TestReplicasElectOneForTheSingletonJobsOnPostgres: the same on
// PostgreSQL (HDN_TEST_POSTGRES_DSN).
func TestReplicasElectOneForTheSingletonJobsOnPostgres(t *testing.T) {
	testLeaderElection(t, hub.Config{DB: hubtest.PostgresDSN(t)})
}

func testLeaderElection(t *testing.T, cfg hub.Config) {
	cfg.LeaseTTL, cfg.LeaseRenew = 2*time.Second, 100*time.Millisecond
	cfg.ExpirySweep = 100 * time.Millisecond
	cfg.FederationCheck = 100 * time.Millisecond
	a := hubtest.Start(t, cfg)
	b := hubtest.Start(t, cfg)
	leader := func() []*hubtest.Hub {
		var out []*hubtest.Hub
		for _, h := range []*hubtest.Hub{a, b} {
			if h.Hub.Leader() {
				out = append(out, h)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, "one replica takes the jobs lease", func() bool { return len(leader()) == 1 })
	// Over many renewals, never both.
	for range 30 {
		if n := len(leader()); n > 1 {
			t.Fatal("both replicas run the singleton jobs")
		}
		time.Sleep(50 * time.Millisecond)
	}
	l := leader()
	if len(l) != 1 {
		t.Fatalf("%d replicas hold the jobs lease, want 1", len(l))
	}
	first, other := l[0], a
	if first == a {
		other = b
	}
	jobs := first.Hub.SingletonJobs()
	for _, want := range []string{"expiry", "sessions", "federation"} {
		if !slices.Contains(jobs, want) {
			t.Errorf("the leader runs %v, without %s", jobs, want)
		}
	}
	if got := other.Hub.SingletonJobs(); len(got) != 0 {
		t.Errorf("the other replica runs singleton jobs %v", got)
	}
	// Both serve the API.
	o := first.Org("hospital-a", policy.Member, "")
	k := first.Key(o, policy.Analyst)
	if r := other.Do("GET", "/api/v1/indicators", k, nil); r.Status != 200 {
		t.Fatalf("the other replica does not serve the API: %d %s", r.Status, r.Body)
	}

	first.Stop()
	eventually(t, 30*time.Second, "the other replica takes the jobs over", other.Hub.Leader)
	if got := other.Hub.SingletonJobs(); !slices.Contains(got, "expiry") {
		t.Fatalf("the new leader runs %v, without expiry", got)
	}
	// Its expiry sweep runs: an indicator due in a moment gets expired.
	res := submit(t, other, k, map[string]any{"value": "due-soon.example.org", "tlp": "green",
		"valid_until": time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339Nano)})
	eventually(t, 30*time.Second, "the new leader's expiry sweep expires the indicator", func() bool {
		var ind api.IndicatorJSON
		r := other.Do("GET", "/api/v1/indicators/"+res[0].ID, k, nil)
		if r.Status != 200 {
			t.Fatalf("GET indicator: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &ind)
		return ind.Expired
	})
}

// TestLeaderStopsItsJobsWhenTheLeaseIsTaken: a replica whose lease another
// holder took (it had expired, as after a stall) stops its singleton jobs at
// its next renewal, and starts them again once the lease is free.
func TestLeaderStopsItsJobsWhenTheLeaseIsTaken(t *testing.T) {
	const ttl = 2 * time.Second
	h := hubtest.Start(t, hub.Config{LeaseTTL: ttl, LeaseRenew: 100 * time.Millisecond})
	eventually(t, 30*time.Second, "the only replica takes the jobs lease", h.Hub.Leader)
	// As seen from a clock past the lease's expiry, another replica takes it.
	ok, err := h.Store.AcquireLease(t.Context(), "hub-jobs", "intruder", time.Hour, time.Now().Add(2*ttl))
	if err != nil || !ok {
		t.Fatalf("AcquireLease by another holder after the expiry: %v %v", ok, err)
	}
	eventually(t, 30*time.Second, "the replica stops its jobs", func() bool { return !h.Hub.Leader() && len(h.Hub.SingletonJobs()) == 0 })
	if err := h.Store.ReleaseLease(t.Context(), "hub-jobs", "intruder"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the replica takes the lease again and restarts its jobs", func() bool {
		return h.Hub.Leader() && slices.Contains(h.Hub.SingletonJobs(), "federation")
	})
}
