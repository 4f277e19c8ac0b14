package sensor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestAlertsFileRotatedAway: logrotate's default moves the alerts file away
// and expects the writer to make a new one; the sensor does so (within a
// second of its next alert), and nothing is lost or written to the moved
// file after the move was noticed.
func TestAlertsFileRotatedAway(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", h.Key(a, policy.Analyst), map[string]any{"indicators": []any{
		map[string]any{"value": "rotated-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	dir := t.TempDir()
	alerts := filepath.Join(dir, "alerts.json")
	sock := filepath.Join(dir, "eve.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: h.Key(a, policy.Sensor), StateDir: t.TempDir(), Out: io.Discard,
		Alerts: alerts, Inputs: []sensor.Input{{Format: match.FormatEVE, Path: "unix:" + sock}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Current()
	conn := dialSocket(t, sock)
	defer conn.Close()
	lines := func(path string) int {
		b, err := os.ReadFile(path)
		if err != nil {
			return -1
		}
		return bytes.Count(b, []byte("\n"))
	}
	waitLines := func(path string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for lines(path) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d alert lines, want %d", path, lines(path), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Fprintln(conn, eveDNS(time.Now(), "rotated-c2.example.net"))
	waitLines(alerts, 1)
	rotated := alerts + ".1"
	if err := os.Rename(alerts, rotated); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the sensor's look at the path
	fmt.Fprintln(conn, eveDNS(time.Now(), "rotated-c2.example.net"))
	fmt.Fprintln(conn, eveDNS(time.Now(), "rotated-c2.example.net"))
	waitLines(alerts, 2)
	if n := lines(rotated); n != 1 {
		t.Errorf("the moved file holds %d lines, want the 1 from before the move", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
