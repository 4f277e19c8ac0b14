package sensor_test

import (
	"bytes"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestSocketEndlessLineBounded: a unix-socket EVE input holds at most the
// follower's longest line (1 MiB) of an unfinished line: a longer one is
// dropped to its newline and counted read and unparsable, and the next
// line is matched. It used to keep the whole unfinished line, and look
// through all of it again at every read.
func TestSocketEndlessLineBounded(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, resumeIndicator)
	sock := filepath.Join(t.TempDir(), "eve.sock")
	got := &alertValues{}
	s, _, _ := startSensor(t, sensor.Config{StateDir: state, Inputs: []sensor.Input{{Format: match.FormatEVE, Path: "unix:" + sock}}, OnAlert: got.onAlert})
	conn := dialSocket(t, sock)
	defer conn.Close()
	const size = 24 << 20
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range size >> 20 {
		if _, err := conn.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	// The socket's buffer holds some hundred KiB at most: the sensor has
	// read nearly all of the line by now, and holds what it keeps of it.
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > size/2 {
		t.Errorf("the heap is %d MiB while a line of %d MiB is unfinished: the sensor keeps it", ms.HeapAlloc>>20, size>>20)
	}
	if _, err := conn.Write([]byte("\n" + eveDNS(time.Now(), "evil-restart.example.com") + "\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "an alert for the line after the endless one", func() bool { return got.count(resumeIndicator.Value) == 1 })
	if m := s.Metrics(); m.Lines != 2 || m.ParseErrors != 1 || m.Events != 1 {
		t.Errorf("lines %d, parse errors %d, events %d; want 2, 1 (the endless line), 1", m.Lines, m.ParseErrors, m.Events)
	}
}
