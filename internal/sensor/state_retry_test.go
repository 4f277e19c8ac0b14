package sensor_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
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
	state := t.TempDir()
	s, got, _ := startSensor(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: state, SightingsEvery: time.Second, Name: "edge-1"})
	postGreen(t, h, analyst, "before.example.org")
	eventually(t, 30*time.Second, "the first indicator in the copy", func() bool { return got.has("before.example.org") })

	// Another process takes the state database's write lock and keeps it.
	ctx := context.Background()
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
	postGreen(t, h, analyst, "while-locked.example.org")
	eventually(t, 60*time.Second, "a counted failure to apply", func() bool { return s.Metrics().StateFailures > 0 })
	if got.has("while-locked.example.org") {
		t.Fatal("an indicator arrived in a copy that could not be written")
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	eventually(t, 60*time.Second, "the refused batch applied once the lock is gone", func() bool { return got.has("while-locked.example.org") })
	postGreen(t, h, analyst, "after.example.org")
	eventually(t, 30*time.Second, "later indicators too", func() bool { return got.has("after.example.org") })
	if n := got.count(got.arrived, "while-locked.example.org"); n != 1 {
		t.Errorf("the refused indicator arrived %d times, want once", n)
	}
}
