package sensor_test

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestLineMatchedDuringIndexSwapAlerts: a line being matched while a new
// indicator is swapped in and hunted for raises an alert, live or retro.
// The sensor's clock holds the worker inside the line's filing in the
// retro-hunt record (eventHour: a "lines" event has no time of its own, so
// the clock stamps it) while the indicator arrives and is hunted for. A
// worker that had loaded the index before filing its line matched it with
// the old index and filed it after the hunt: no alert at all.
func TestLineMatchedDuringIndexSwapAlerts(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka, sk := h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)

	var armed atomic.Bool
	blocked, release := make(chan struct{}, 1), make(chan struct{})
	now := func() time.Time {
		if armed.Load() {
			buf := make([]byte, 16<<10)
			n := runtime.Stack(buf, false)
			if bytes.Contains(buf[:n], []byte("eventHour")) && armed.CompareAndSwap(true, false) {
				blocked <- struct{}{}
				<-release
			}
		}
		return time.Now()
	}
	path := writeFile(t)
	var mu sync.Mutex
	var alerts []string
	s, got, _ := startSensor(t, sensor.Config{Hubs: []string{h.URL}, Key: sk, FromStart: true, Now: now, Workers: 1,
		Inputs:  []sensor.Input{{Format: match.FormatLines, Path: path}},
		OnAlert: func(l []byte) { mu.Lock(); alerts = append(alerts, string(l)); mu.Unlock() }})
	<-s.Current()
	eventually(t, 10*time.Second, "the input is read", func() bool { return s.Metrics().Lines > 0 })
	armed.Store(true)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("evil-race.example.com\n")
	f.Close()
	select {
	case <-blocked: // the worker is filing the line
	case <-time.After(10 * time.Second):
		t.Fatal("the line was not read")
	}
	postGreen(t, h, ka, "evil-race.example.com")
	eventually(t, 10*time.Second, "the indicator arrives", func() bool { return got.has("evil-race.example.com") })
	time.Sleep(300 * time.Millisecond) // the retro-hunt, which comes after the arrival, runs
	close(release)
	eventually(t, 10*time.Second, "an alert for evil-race.example.com, matched while it arrived", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts) > 0
	})
}

// TestRetroHuntSurvivesCrashAfterApply: the indicators a batch brings are
// recorded for the retro-hunt in the transaction that applies them, so a
// sensor killed after applying and before hunting hunts at its next start
// (the indicator is then held, so not new, and the cursor past it). Once
// hunted, it is not hunted again.
func TestRetroHuntSurvivesCrashAfterApply(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka, sk := h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)
	state := t.TempDir()
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: sk, StateDir: state,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now().UTC().Add(-2*time.Hour), "crash-retro.example.com"))}}}
	runOnce(t, cfg) // the query is in the retro record
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "crash-retro.example.com", "tlp": "green"}}}).JSON(t, &res)
	var ind api.IndicatorJSON
	h.Do("GET", "/api/v1/indicators/"+res.Results[0].ID, sk, nil).JSON(t, &ind)
	// What the sensor's apply loop commits before it hunts; then kill -9.
	st, err := sensor.OpenState(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Apply(t.Context(), []streamclient.Event{{Kind: "created", Cursor: ind.Seq, Indicator: &ind}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "benign.example.org"))}}
	for run, want := range []int{1, 0} {
		retro := 0
		for _, al := range runOnce(t, cfg) {
			if al.HDN.Retro && al.HDN.Value == "crash-retro.example.com" {
				retro++
			}
		}
		if retro != want {
			t.Errorf("run %d after a crash between applying and hunting: %d retro alerts, want %d", run+1, retro, want)
		}
	}
}
