package sensor_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestStateRefusedThenApplied: when the state directory refuses a batch of
// stream events (here its database is locked by another process past the
// sensor's busy timeout, as a backup tool might), the sensor counts and
// logs the failure, keeps matching, and applies the same batch once the
// state takes writes again. Before, its apply loop stopped for good at the
// first failure: the copy never moved again while the sensor ran on.
func TestStateRefusedThenApplied(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(org, policy.Analyst), h.Key(org, policy.Sensor)
	post := func(value string) {
		t.Helper()
		r := h.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": value, "tlp": "green"}}})
		if r.Status != 200 {
			t.Fatalf("post %s: %d %s", value, r.Status, r.Body)
		}
	}
	var mu sync.Mutex
	arrived := map[string]int{}
	has := func(v string) bool { mu.Lock(); defer mu.Unlock(); return arrived[v] > 0 }
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: state, Out: io.Discard,
		SightingsEvery: time.Second, Name: "edge-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t)}},
		OnIndicators: func(in []match.Indicator, _ []string) {
			mu.Lock()
			defer mu.Unlock()
			for _, ind := range in {
				arrived[ind.Value]++
			}
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
	post("before.example.org")
	eventually(t, 30*time.Second, "the first indicator in the copy", func() bool { return has("before.example.org") })

	// Another process takes the state database's write lock and keeps it.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(state, "indicators.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	post("while-locked.example.org")
	eventually(t, 60*time.Second, "a counted failure to apply", func() bool { return s.Metrics().StateFailures > 0 })
	if has("while-locked.example.org") {
		t.Fatal("an indicator arrived in a copy that could not be written")
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	eventually(t, 60*time.Second, "the refused batch applied once the lock is gone", func() bool { return has("while-locked.example.org") })
	post("after.example.org")
	eventually(t, 30*time.Second, "later indicators too", func() bool { return has("after.example.org") })
	mu.Lock()
	defer mu.Unlock()
	if arrived["while-locked.example.org"] != 1 {
		t.Errorf("the refused indicator arrived %d times, want once", arrived["while-locked.example.org"])
	}
}
