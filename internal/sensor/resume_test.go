package sensor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// resumeIndicator is the indicator the tests of this file look for.
var resumeIndicator = api.IndicatorJSON{ID: "0195f3c0-7a00-7000-8000-00000000b001", Type: "domain", Value: "evil-restart.example.com", TLP: "amber", Labels: []string{"c2"}}

// alertValues collects the indicator values of the alerts a sensor writes.
type alertValues struct {
	mu     sync.Mutex
	values []string
}

func (a *alertValues) onAlert(line []byte) {
	var l alertLine
	if err := json.Unmarshal(line, &l); err != nil {
		panic(err)
	}
	a.mu.Lock()
	a.values = append(a.values, l.HDN.Value)
	a.mu.Unlock()
}

func (a *alertValues) count(value string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, v := range a.values {
		if v == value {
			n++
		}
	}
	return n
}

// appendTo appends lines to the file at path.
func appendTo(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// followOffline starts a sensor without a hub that follows input, and
// waits until it reads the input: it appends the line probe until the
// sensor has taken one (as an event or an unparsable line).
func followOffline(t *testing.T, state string, in sensor.Input, got *alertValues, probe string) (stop func()) {
	t.Helper()
	s, _, stop := startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{in}, OnAlert: got.onAlert})
	eventually(t, 30*time.Second, "the sensor reads "+in.Path, func() bool {
		if m := s.Metrics(); m.Events+m.ParseErrors > 0 {
			return true
		}
		appendTo(t, in.Path, probe)
		time.Sleep(100 * time.Millisecond)
		return false
	})
	return stop
}

// TestZeekFollowedFromItsEnd: a sensor that follows a Zeek TSV log from
// its end (SENSOR.md's zeek:/opt/zeek/logs/current/dns.log) reads the
// file's header first and matches the lines appended. It used to count
// every line unparsable until Zeek rotated the log: the column layout is in
// the "#fields" line at the file's start, which it never read.
func TestZeekFollowedFromItsEnd(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, resumeIndicator)
	path := filepath.Join(t.TempDir(), "dns.log")
	if err := os.WriteFile(path, []byte(zeekDNSLog("benign.example.org", "evil-restart.example.com")), 0o600); err != nil {
		t.Fatal(err)
	}
	zeekLine := func(name string) string {
		return "1521911721.000000\tCqKst53mF3det3eDV9\t10.47.1.100\t41772\t10.0.0.100\t53\tudp\t" + name
	}
	got := &alertValues{}
	stop := followOffline(t, state, sensor.Input{Format: match.FormatZeek, Path: path}, got, zeekLine("probe.example.org"))
	appendTo(t, path, zeekLine("evil-restart.example.com"))
	eventually(t, 30*time.Second, "an alert for the Zeek line appended", func() bool { return got.count(resumeIndicator.Value) > 0 })
	stop()
	if n := got.count(resumeIndicator.Value); n != 1 {
		t.Errorf("%d alerts, want 1: the line before the sensor started is not read (it follows from the end)", n)
	}
}

// TestRestartReadsWhatWasLoggedMeanwhile: a followed file is resumed where
// the sensor stopped in it, so a line Suricata logged while the sensor was
// down (an upgrade, a crash) is matched at the next start, and once; a
// file that replaced the one followed while the sensor was down (rotated)
// is read from its start. The sensor used to start again at the file's
// end: the line was never matched, nor retro-hunted.
func TestRestartReadsWhatWasLoggedMeanwhile(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, resumeIndicator)
	path := writeFile(t, eveDNS(time.Now(), "old.example.org"))
	in := sensor.Input{Format: match.FormatEVE, Path: path}
	probe := eveDNS(time.Now(), "probe.example.org")
	got := &alertValues{}

	stop := followOffline(t, state, in, got, probe)
	appendTo(t, path, eveDNS(time.Now(), "evil-restart.example.com"))
	eventually(t, 30*time.Second, "the first alert", func() bool { return got.count(resumeIndicator.Value) == 1 })
	stop()

	// Logged while the sensor is down.
	appendTo(t, path, eveDNS(time.Now(), "a.evil-restart.example.com"))
	s, _, stop := startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{in}, OnAlert: got.onAlert})
	eventually(t, 30*time.Second, "an alert for the line logged while the sensor was down", func() bool { return got.count(resumeIndicator.Value) == 2 })
	// Nothing read twice: the first alert's line is behind the stored
	// position.
	time.Sleep(500 * time.Millisecond)
	if n := got.count(resumeIndicator.Value); n != 2 {
		t.Errorf("%d alerts after the restart, want 2", n)
	}
	if m := s.Metrics(); m.Events != 1 {
		t.Errorf("the restarted sensor read %d events, want 1 (the line logged meanwhile)", m.Events)
	}
	stop()

	// Rotated while the sensor is down: the new file is read from its
	// start.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintln(eveDNS(time.Now(), "b.evil-restart.example.com"))), 0o600); err != nil {
		t.Fatal(err)
	}
	startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{in}, OnAlert: got.onAlert})
	eventually(t, 30*time.Second, "an alert for the first line of the file that replaced the followed one", func() bool { return got.count(resumeIndicator.Value) == 3 })
}

// TestRestartBeforeAnyLine: a sensor stopped before its followed file had
// a new line resumes where it started in it, and matches the line logged
// while it was down.
func TestRestartBeforeAnyLine(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, resumeIndicator)
	path := writeFile(t, eveDNS(time.Now(), "old.example.org"))
	in := sensor.Input{Format: match.FormatEVE, Path: path}
	got := &alertValues{}
	_, _, stop := startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{in}, OnAlert: got.onAlert})
	eventually(t, 30*time.Second, "the position where the sensor started is stored", func() bool {
		st, err := sensor.OpenState(state)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		p, ok, err := st.InputOffset(context.Background(), path)
		return err == nil && ok && p.Offset > 0
	})
	stop()
	appendTo(t, path, eveDNS(time.Now(), "evil-restart.example.com"))
	startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{in}, OnAlert: got.onAlert})
	eventually(t, 30*time.Second, "an alert for the line logged while the sensor was down", func() bool { return got.count(resumeIndicator.Value) == 1 })
}
