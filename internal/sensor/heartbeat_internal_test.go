package sensor

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
)

func TestSampleLag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(p, bytes.Repeat([]byte("0123456789\n"), 10), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Sensor{cfg: Config{Inputs: []Input{{Format: match.FormatEVE, Path: p}, {Format: match.FormatEVE, Path: "unix:/nowhere"},
		{Format: match.FormatLines, Path: filepath.Join(t.TempDir(), "not-yet")}}}}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for range s.cfg.Inputs {
		st := &inputStat{}
		st.caughtUp.Store(t0.UnixNano())
		s.inputs = append(s.inputs, st)
	}
	lags := func() []time.Duration {
		var out []time.Duration
		for _, st := range s.inputs {
			out = append(out, time.Duration(st.lag.Load()))
		}
		return out
	}
	s.inputs[0].offset.Store(44) // 4 of 10 lines read
	s.sampleLag(t0.Add(5 * time.Second))
	if l := lags(); l[0] != 5*time.Second || l[1] != 0 || l[2] != 0 {
		t.Fatalf("behind since the start: %v", l)
	}
	s.inputs[0].offset.Store(110) // at the end
	s.sampleLag(t0.Add(6 * time.Second))
	if l := lags(); l[0] != 0 {
		t.Fatalf("at the end: %v", l)
	}
	// The file grows and the reader does not follow: behind since it was
	// last at the end.
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("more\n")
	f.Close()
	s.sampleLag(t0.Add(9 * time.Second))
	if l := lags(); l[0] != 3*time.Second {
		t.Fatalf("behind again: %v", l)
	}
}

func TestRecordingHandler(t *testing.T) {
	var out bytes.Buffer
	rec := &errorRecord{}
	log := slog.New(&recordingHandler{inner: slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}), rec: rec, now: time.Now})
	log.Info("fine")
	if msg, at := rec.get(); msg != "" || !at.IsZero() {
		t.Fatalf("an info record was kept: %q", msg)
	}
	log.Warn("sending sightings failed", "err", errors.New("hub answered 503"), "n", 3)
	if msg, at := rec.get(); msg != "sending sightings failed: hub answered 503" || time.Since(at) > time.Minute {
		t.Fatalf("kept %q at %v", msg, at)
	}
	if out.Len() != 0 {
		t.Fatalf("a warning passed an error-level handler: %s", out.String())
	}
	log.With("err", "disk full").WithGroup("g").Error("writing failed")
	if msg, _ := rec.get(); msg != "writing failed: disk full" {
		t.Fatalf("kept %q", msg)
	}
	if !strings.Contains(out.String(), "writing failed") {
		t.Fatalf("the error did not reach the handler: %q", out.String())
	}
}
