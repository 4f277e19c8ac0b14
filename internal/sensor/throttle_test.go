package sensor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

func eveDNSFrom(at time.Time, src, name string) string {
	return strings.Replace(eveDNS(at, name), `"src_ip":"10.0.0.5"`, fmt.Sprintf(`"src_ip":%q`, src), 1)
}

// TestAlertWindowHoldsBackRepeats: a host that looks a bad domain up fifty
// times in five minutes raises one alert, and one summary saying how many
// matches it stands for; a match after the window opens a new one; another
// host has its own window; the hub's sightings count every match. Without
// a window every match is an alert.
func TestAlertWindowHoldsBackRepeats(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "beacon-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	var lines []string
	for i := range 50 {
		lines = append(lines, eveDNSFrom(start.Add(time.Duration(i)*6*time.Second), "10.0.0.5", "beacon-c2.example.net"))
	}
	for i := range 3 {
		lines = append(lines, eveDNSFrom(start.Add(time.Duration(i)*time.Minute), "10.0.0.9", "beacon-c2.example.net"))
	}
	lines = append(lines, eveDNSFrom(start.Add(20*time.Minute), "10.0.0.5", "beacon-c2.example.net"))
	path := writeFile(t, lines...)

	run := func(window time.Duration) ([]alertLine, sensor.Metrics) {
		t.Helper()
		var out bytes.Buffer
		cfg := sensor.Config{Hubs: []string{h.URL}, Key: h.Key(b, policy.Sensor), StateDir: t.TempDir(), Out: &out, Alerts: "-", Once: true,
			Inputs: []sensor.Input{{Format: match.FormatEVE, Path: path}}, AlertWindow: window, SyncTimeout: 10 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := sensor.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return parseAlerts(t, out.Bytes()), s.Metrics()
	}

	got, m := run(10 * time.Minute)
	type row struct {
		src     string
		repeats int64
		start   string
	}
	var rows []row
	for _, al := range got {
		if al.HDN.ID != id {
			t.Fatalf("alert for %s, want %s", al.HDN.ID, id)
		}
		rows = append(rows, row{al.SrcIP, al.HDN.Repeats, al.HDN.WindowStart})
	}
	windowStart := start.Format(time.RFC3339Nano)
	want := []row{
		{"10.0.0.5", 0, ""},           // the first match
		{"10.0.0.9", 0, ""},           // the other host's first
		{"10.0.0.5", 0, ""},           // the first host's first in the window 20 minutes on
		{"10.0.0.5", 49, windowStart}, // the summaries, as the run ends: by window, indicator and host
		{"10.0.0.9", 2, windowStart},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("alerts with a 10-minute window:\n got %v\nwant %v", rows, want)
	}
	if m.Alerts != 5 || m.AlertsHeldBack != 51 {
		t.Errorf("counters: %d alerts, %d held back; want 5 and 51", m.Alerts, m.AlertsHeldBack)
	}
	var sj api.SightingsJSON
	h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
	if sj.Total != 54 {
		t.Errorf("the hub counts %d sightings, want all 54 matches", sj.Total)
	}

	if got, m := run(0); len(got) != 54 || m.AlertsHeldBack != 0 {
		t.Errorf("without a window: %d alerts, %d held back; want 54 and 0", len(got), m.AlertsHeldBack)
	}
	// The summary stands for the latest match it held back, whatever the
	// order they were read in: here the last of the fifty.
	if last := got[3]; last.Timestamp != start.Add(49*6*time.Second).Format("2006-01-02T15:04:05.000000-0700") {
		t.Errorf("the summary's match is of %s, want the latest held back", last.Timestamp)
	}
}

// TestAlertWindowEndsByTheClockWhenFollowing: a followed input's window
// ends by the wall clock too, so the summary of a burst comes without a
// further match; the hub's sightings count every match.
func TestAlertWindowEndsByTheClockWhenFollowing(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "burst-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID
	sock := filepath.Join(t.TempDir(), "eve.sock")
	alerts := make(chan []byte, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: h.Key(a, policy.Sensor), StateDir: t.TempDir(), Out: io.Discard,
		Alerts: filepath.Join(t.TempDir(), "alerts.json"), Inputs: []sensor.Input{{Format: match.FormatEVE, Path: "unix:" + sock}},
		AlertWindow: 2 * time.Second, SightingsEvery: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAlert: func(line []byte) { alerts <- bytes.Clone(line) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Current()
	conn := dialSocket(t, sock)
	// Five matches in one window (of 2 s, aligned on the epoch).
	base := time.Now().Truncate(2 * time.Second).Add(500 * time.Millisecond)
	for i := range 5 {
		fmt.Fprintln(conn, eveDNS(base.Add(time.Duration(i)*time.Millisecond), "burst-c2.example.net"))
	}
	conn.Close()
	var got []alertLine
	deadline := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case line := <-alerts:
			got = append(got, parseAlerts(t, line)...)
		case <-deadline:
			t.Fatalf("alerts within 20 s: %+v; want the first and the summary", got)
		}
	}
	if got[0].HDN.Repeats != 0 || got[1].HDN.Repeats != 4 || got[1].HDN.ID != id {
		t.Errorf("alerts: %+v; want the first, then a summary of 4", got)
	}
	eventuallySightings := time.Now().Add(10 * time.Second)
	for {
		var sj api.SightingsJSON
		h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
		if sj.Total == 5 {
			break
		}
		if time.Now().After(eventuallySightings) {
			t.Fatalf("the hub counts %d sightings, want all 5 matches", sj.Total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-alerts:
		t.Errorf("an alert after the summary, at stop: %s", line)
	default:
	}
}

// TestAlertWindowIndependentOfReadingOrder: a --once run reads a large file
// in parallel batches, not in order; which matches share a window depends
// on their times only, so the alerts and their repeats are the same as in
// order: one first alert and one summary a window, the summary's repeats
// the window's other matches.
func TestAlertWindowIndependentOfReadingOrder(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "steady-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	start := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Hour)
	// 12,000 matches over an hour (a few MiB: several batches), and as
	// many other lines between them.
	var lines []string
	perWindow := map[string]int64{}
	for i := range 12_000 {
		at := start.Add(time.Duration(i) * 300 * time.Millisecond)
		lines = append(lines, eveDNS(at, "steady-c2.example.net"), eveDNS(at, fmt.Sprintf("benign-%d.example.org", i)))
		perWindow[at.Truncate(10*time.Minute).Format(time.RFC3339Nano)]++
	}
	path := writeFile(t, lines...)
	var out bytes.Buffer
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: h.Key(a, policy.Sensor), StateDir: t.TempDir(), Out: &out, Alerts: "-", Once: true,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: path}}, AlertWindow: 10 * time.Minute, Workers: 4,
		SyncTimeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := sensor.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	firsts, repeats := 0, map[string]int64{}
	for _, al := range parseAlerts(t, out.Bytes()) {
		if al.HDN.Repeats == 0 {
			firsts++
			continue
		}
		repeats[al.HDN.WindowStart] += al.HDN.Repeats
	}
	if firsts != len(perWindow) || len(repeats) != len(perWindow) {
		t.Errorf("%d first alerts and %d summaries, want one each for %d windows", firsts, len(repeats), len(perWindow))
	}
	for w, n := range perWindow {
		if repeats[w] != n-1 {
			t.Errorf("the window from %s: a summary of %d repeats, want %d", w, repeats[w], n-1)
		}
	}
}
