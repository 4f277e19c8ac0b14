package sensor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// Two hub replicas on one store, a sensor attached to replica B (its hub
// list names B, then A): an indicator posted to A reaches the sensor through
// B; when B is killed the sensor fails over to A and resumes from its cursor
// with no gap and no duplicate — each indicator arrives in its copy once and
// raises one alert — and its sightings and heartbeats go to A.

// On SQLite with the in-process bus: B's streams learn of A's writes by
// polling the store.
func TestFailoverBetweenReplicasSQLitePolling(t *testing.T) {
	testFailover(t, hub.Config{DataDir: t.TempDir(), StreamPoll: 100 * time.Millisecond})
}

// On SQLite with an embedded NATS JetStream: by bus notifications (polling
// turned off).
func TestFailoverBetweenReplicasSQLiteNATS(t *testing.T) {
	url, stream := hubtest.NATS(t, false)
	testFailover(t, hub.Config{DataDir: t.TempDir(), NATS: url, NATSStream: stream, NATSPrefix: stream, StreamPoll: time.Hour})
}

// On PostgreSQL and an external NATS JetStream (HDN_TEST_POSTGRES_DSN and
// HDN_TEST_NATS_URL), by bus notifications.
func TestFailoverBetweenReplicasPostgresNATS(t *testing.T) {
	url, stream := hubtest.NATS(t, true)
	testFailover(t, hub.Config{DB: hubtest.PostgresDSN(t), NATS: url, NATSStream: stream, NATSPrefix: stream, StreamPoll: time.Hour})
}

// arrivals counts what the sensor's copy received and the alerts it raised.
type arrivals struct {
	mu      sync.Mutex
	arrived map[string]int // by value
	alerts  map[string]int // by value
}

func (a *arrivals) count(m map[string]int, v string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return m[v]
}

func testFailover(t *testing.T, cfg hub.Config) {
	a := hubtest.Start(t, cfg)
	b := hubtest.Start(t, cfg)
	org := a.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := a.Key(org, policy.Analyst), a.Key(org, policy.Sensor)
	post := func(value string) {
		t.Helper()
		r := a.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": value, "tlp": "green"}}})
		if r.Status != 200 {
			t.Fatalf("post %s to replica A: %d %s", value, r.Status, r.Body)
		}
	}
	got := &arrivals{arrived: map[string]int{}, alerts: map[string]int{}}
	eve := writeFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{b.URL, a.URL}, Key: sensorKey, StateDir: t.TempDir(), Out: io.Discard,
		FromStart: true, SightingsEvery: 100 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond, Name: "edge-1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Inputs: []sensor.Input{{Format: match.FormatEVE, Path: eve}},
		OnIndicators: func(in []match.Indicator, _ []string) {
			got.mu.Lock()
			defer got.mu.Unlock()
			for _, ind := range in {
				got.arrived[ind.Value]++
			}
		},
		OnAlert: func(line []byte) {
			var al struct {
				HDN struct{ Value string } `json:"hdn"`
			}
			if err := json.Unmarshal(line, &al); err != nil {
				t.Errorf("alert line %q: %v", line, err)
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			got.alerts[al.HDN.Value]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sensor: %v", err)
		}
	}()
	arrive := func(values ...string) {
		t.Helper()
		for _, v := range values {
			eventually(t, 30*time.Second, v+" in the sensor's copy", func() bool { return got.count(got.arrived, v) > 0 })
		}
	}

	post("before.example.org")
	arrive("before.example.org") // the snapshot, from B
	eventually(t, 30*time.Second, "the sensor's stream on B", func() bool { return b.Hub.ActiveStreams() == 1 && a.Hub.ActiveStreams() == 0 })
	post("via-b.example.org")
	arrive("via-b.example.org") // posted to A, streamed by B

	b.Stop() // its streams end; it answers nothing more
	killed := time.Now().UTC()
	post("after-1.example.org")
	post("after-2.example.org")
	arrive("after-1.example.org", "after-2.example.org")
	if n := a.Hub.ActiveStreams(); n != 1 {
		t.Errorf("replica A serves %d streams after the failover, want the sensor's", n)
	}
	if n := s.Metrics().StreamInterruptions; n < 1 {
		t.Errorf("the sensor counted %d stream interruptions after its hub stopped, want at least 1", n)
	}

	// Every indicator once in the copy, and one alert each when seen.
	values := []string{"before.example.org", "via-b.example.org", "after-1.example.org", "after-2.example.org"}
	f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		fmt.Fprintln(f, eveDNS(time.Now(), v))
	}
	f.Close()
	for _, v := range values {
		eventually(t, 30*time.Second, "an alert for "+v, func() bool { return got.count(got.alerts, v) > 0 })
	}
	// Sightings go to A now (B is gone): the shared store has them all.
	st := a.Store
	for _, v := range values {
		var id string
		r := a.Do("GET", "/api/v1/indicators?value="+v, analyst, nil)
		var list struct {
			Indicators []struct{ ID string } `json:"indicators"`
		}
		r.JSON(t, &list)
		if len(list.Indicators) != 1 {
			t.Fatalf("lookup %s on A: %s", v, r.Body)
		}
		id = list.Indicators[0].ID
		eventually(t, 30*time.Second, "the sighting of "+v+" on replica A", func() bool {
			cs, err := st.SightingCounts(context.Background(), id)
			if err != nil {
				t.Fatalf("SightingCounts: %v", err)
			}
			return len(cs) > 0
		})
	}
	// Heartbeats too.
	admin := a.Key(org, policy.Admin)
	eventually(t, 30*time.Second, "a heartbeat on replica A after B was killed", func() bool {
		var list sensorsJSON
		a.Do("GET", "/api/v1/sensors", admin, nil).JSON(t, &list)
		if len(list.Sensors) != 1 {
			return false
		}
		seen, err := time.Parse(time.RFC3339Nano, list.Sensors[0].LastSeen)
		return err == nil && seen.After(killed)
	})

	got.mu.Lock()
	defer got.mu.Unlock()
	for _, v := range values {
		if n := got.arrived[v]; n != 1 {
			t.Errorf("%s arrived in the sensor's copy %d times, want once", v, n)
		}
		if n := got.alerts[v]; n != 1 {
			t.Errorf("%s raised %d alerts, want one", v, n)
		}
	}
	if len(got.arrived) != len(values) {
		t.Errorf("the copy received %v, want exactly %v", got.arrived, values)
	}
}

// eventually polls cond until it holds, failing the test after within (a
// bound for a loaded machine, not a measurement).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
