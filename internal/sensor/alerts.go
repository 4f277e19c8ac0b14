package sensor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// alertSink writes alert lines to a file (appending) or standard output,
// one whole line per write, and tells the sensor of each alert so it can
// count it and report the sighting.
//
// A file moved away or deleted (logrotate's default, rename and create) is
// noticed within a second of the next write, and the path opened afresh,
// so no rotation needs copytruncate.
type alertSink struct {
	mu      sync.Mutex
	w       io.Writer
	f       *os.File // the alerts file; nil for standard output
	path    string
	checked time.Time // when the path was last compared with f
	log     *slog.Logger
}

// alertsReopenCheck is how often, at most, a write looks whether the
// alerts file was rotated.
const alertsReopenCheck = time.Second

func openAlertSink(path string, stdout io.Writer, log *slog.Logger) (*alertSink, error) {
	if path == "" || path == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return &alertSink{w: stdout}, nil
	}
	f, err := openAlertsFile(path)
	if err != nil {
		return nil, err
	}
	return &alertSink{w: f, f: f, path: path, checked: time.Now(), log: log}, nil
}

func openAlertsFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return f, nil
}

func (a *alertSink) write(lines []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f != nil && time.Since(a.checked) >= alertsReopenCheck {
		a.checked = time.Now()
		a.reopenIfMoved()
	}
	a.w.Write(lines)
}

// reopenIfMoved opens the path afresh when it no longer names the open
// file; the open one is kept when the path cannot be opened (a warning is
// logged, and the next check tries again).
func (a *alertSink) reopenIfMoved() {
	open, err := a.f.Stat()
	if err != nil {
		return
	}
	if cur, err := os.Stat(a.path); err == nil && os.SameFile(open, cur) {
		return
	}
	f, err := openAlertsFile(a.path)
	if err != nil {
		if a.log != nil {
			a.log.Warn("the alerts file was moved and cannot be opened again; writing on to the moved one", "err", err)
		}
		return
	}
	a.f.Close()
	a.f, a.w = f, f
}

// Close closes the alerts file.
func (a *alertSink) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f != nil {
		return a.f.Close()
	}
	return nil
}

// sink returns the writer the matcher of one input writes a batch of alert
// lines to; st counts the input's sightings.
func (a *alertSink) sink(s *Sensor, st *inputStat) io.Writer { return sinkWriter{a: a, s: s, st: st} }

type sinkWriter struct {
	a  *alertSink
	s  *Sensor
	st *inputStat
}

// alertFacts is what a sighting needs from an alert line.
type alertFacts struct {
	Timestamp string `json:"timestamp"`
	SrcIP     string `json:"src_ip"`
	DestIP    string `json:"dest_ip"`
	HDN       struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	} `json:"hdn"`
}

// Write takes a batch of alert lines from one input's matcher: each counts
// as a sighting, and is written unless the throttle holds it back.
func (w sinkWriter) Write(p []byte) (int, error) {
	th := w.s.throttle
	var out []byte // what is written, when the throttle held some back
	if th == nil {
		w.a.write(p)
	}
	for line := range bytes.Lines(p) {
		var f alertFacts
		parsed := json.Unmarshal(line, &f) == nil && f.HDN.ID != ""
		var at time.Time
		var host string
		if parsed {
			var err error
			if at, err = time.Parse("2006-01-02T15:04:05.999999-0700", f.Timestamp); err != nil {
				at = w.s.cfg.Now()
			}
			// The observing host is the address that is not the indicator.
			host = f.SrcIP
			if host == f.HDN.Value {
				host = f.DestIP
			}
			if w.s.sight.add(f.HDN.ID, at, host) {
				w.st.sightings.Add(1)
			}
		}
		if th != nil && parsed {
			write, ended := th.admit(f.HDN.ID, host, at, line)
			if ended != nil {
				out = append(out, ended...)
				for l := range bytes.Lines(ended) {
					w.s.written(l)
				}
			}
			if !write {
				w.s.counters.heldBack.Add(1)
				w.st.heldBack.Add(1)
				continue
			}
		}
		if th != nil {
			out = append(out, line...)
		}
		w.s.written(line)
	}
	if len(out) > 0 {
		w.a.write(out)
	}
	return len(p), nil
}

// written counts an alert line written and tells OnAlert of it.
func (s *Sensor) written(line []byte) {
	s.counters.alerts.Add(1)
	if s.cfg.OnAlert != nil {
		s.cfg.OnAlert(line)
	}
}

// flushThrottle writes the summary lines of the throttle's windows that
// ended (all: every window, as the sensor stops).
func (s *Sensor) flushThrottle(all bool) {
	if s.throttle == nil {
		return
	}
	lines := s.throttle.due(all)
	if len(lines) == 0 {
		return
	}
	s.alerts.write(lines)
	for line := range bytes.Lines(lines) {
		s.written(line)
	}
}
