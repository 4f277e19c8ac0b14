package sensor

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
)

// DefaultHeartbeatEvery is how often a sensor tells the hub how it is.
const DefaultHeartbeatEvery = 60 * time.Second

// Version is the sensor's version in its heartbeats when Config.Version is
// empty; empty means the main module's version from the build information
// ("(devel)" for a build from a working tree).
var Version = ""

func buildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// inputStat is what the sensor counts of one input, updated by its reader
// and read by the heartbeat; atomics only, but for read.
type inputStat struct {
	lines     atomic.Int64 // lines read
	long      atomic.Int64 // lines longer than the follower's longest line, skipped (counted in lines too)
	sightings atomic.Int64 // matches counted as sightings for the hub
	heldBack  atomic.Int64 // alerts the throttle held back (--alert-window)
	gzipped   atomic.Bool  // the input is gzip-compressed and read decompressed (--once)
	offset    atomic.Int64 // offset in the file just after the last line read
	caughtUp  atomic.Int64 // unix nanos when the reader was last seen at the file's end
	lag       atomic.Int64 // nanoseconds behind the file's end at the last look
	errLog    atomic.Int64 // unix nanos when an error keeping it from its file was last logged
	// read is what the matcher counted of the input, written by runInput
	// when the input has ended and read after runInputs returned (the
	// summary of a --once run).
	read match.Stats
}

// file says whether the input is a file whose end can be looked at.
func fileInput(in Input) bool { return in.Path != "-" && !strings.HasPrefix(in.Path, "unix:") }

// sampleLag looks at every followed file's size: a reader at the end is
// caught up now; one behind it is as far behind as it is long since it
// was last caught up. Standard input and sockets are never behind (what a
// socket cannot take is dropped and counted).
func (s *Sensor) sampleLag(now time.Time) {
	for i, in := range s.cfg.Inputs {
		st := s.inputs[i]
		if !fileInput(in) {
			continue
		}
		fi, err := os.Stat(in.Path)
		if err != nil {
			// Not there (yet, or between a rotation and its successor):
			// nothing to read, nothing to be behind.
			st.caughtUp.Store(now.UnixNano())
			st.lag.Store(0)
			continue
		}
		if st.offset.Load() >= fi.Size() {
			st.caughtUp.Store(now.UnixNano())
			st.lag.Store(0)
			continue
		}
		st.lag.Store(max(0, now.UnixNano()-st.caughtUp.Load()))
	}
}

// errorRecord is the last error (or warning) the sensor logged.
type errorRecord struct {
	mu  sync.Mutex
	msg string
	at  time.Time
}

func (r *errorRecord) set(msg string, at time.Time) {
	r.mu.Lock()
	r.msg, r.at = msg, at
	r.mu.Unlock()
}

func (r *errorRecord) get() (string, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg, r.at
}

// recordingHandler passes records on to the sensor's handler and keeps
// the last one of level warn or above for the heartbeat: its message and
// its "err" attribute. Records below warn cost one comparison more.
type recordingHandler struct {
	inner slog.Handler
	rec   *errorRecord
	now   func() time.Time
	err   string // an "err" attribute added by With
}

func (h *recordingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h *recordingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		msg, errText := r.Message, h.err
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				errText = a.Value.String()
				return false
			}
			return true
		})
		if errText != "" {
			msg += ": " + errText
		}
		msg = clipText(msg, 1000)
		at := r.Time
		if at.IsZero() {
			at = h.now()
		}
		h.rec.set(msg, at)
	}
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.inner = h.inner.WithAttrs(as)
	for _, a := range as {
		if a.Key == "err" {
			n.err = a.Value.String()
		}
	}
	return &n
}

func (h *recordingHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.inner = h.inner.WithGroup(name)
	return &n
}

// clipText cuts s to at most n bytes, on a character boundary, marking the
// cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-len("…")], "") + "…"
}

// The hub's bounds of a heartbeat.
const (
	maxHeartbeatInputs = 64
	maxHeartbeatText   = 1000 // last_error and paths (the hub takes 1024 bytes)
	maxHeartbeatShort  = 128  // name and version
)

// heartbeatInput is one input in a heartbeat.
type heartbeatInput struct {
	Path       string  `json:"path"`
	Format     string  `json:"format"`
	Events     int64   `json:"events"`
	LagSeconds float64 `json:"lag_seconds"`
}

// heartbeat is the body of POST /api/v1/sensors/heartbeat; the hub refuses
// unknown fields, so it holds exactly these.
type heartbeat struct {
	Name            string           `json:"name"`
	Version         string           `json:"version"`
	Started         string           `json:"started"`
	Inputs          []heartbeatInput `json:"inputs"`
	EventsPerSecond float64          `json:"events_per_second"`
	LagSeconds      float64          `json:"lag_seconds"`
	Indicators      int64            `json:"indicators"`
	Patterns        int              `json:"patterns"`
	LastError       string           `json:"last_error"`
	LastErrorAt     string           `json:"last_error_at,omitempty"`
}

// beats keeps what the rate of events is computed from.
type beats struct {
	mu        sync.Mutex
	lastLines int64
	lastAt    time.Time
	failing   bool
}

// heartbeatNow gathers the figures of a heartbeat; the rate of events is
// over the time since the previous one (since the start for the first).
func (s *Sensor) heartbeatNow(now time.Time) heartbeat {
	s.sampleLag(now)
	hb := heartbeat{Name: clipText(s.cfg.Name, maxHeartbeatShort), Version: clipText(s.cfg.Version, maxHeartbeatShort),
		Started: s.started.UTC().Format(time.RFC3339), Inputs: []heartbeatInput{}, Indicators: s.counters.indicators.Load()}
	var lines int64
	for i, in := range s.cfg.Inputs {
		st := s.inputs[i]
		n := st.lines.Load()
		lag := time.Duration(st.lag.Load()).Seconds()
		if len(hb.Inputs) < maxHeartbeatInputs { // all count in the totals
			hb.Inputs = append(hb.Inputs, heartbeatInput{Path: clipText(in.Path, maxHeartbeatText), Format: string(in.Format), Events: n, LagSeconds: lag})
		}
		lines += n
		hb.LagSeconds = max(hb.LagSeconds, lag)
	}
	hb.Patterns, _ = s.matcher.Load().Patterns()
	s.beats.mu.Lock()
	if d := now.Sub(s.beats.lastAt).Seconds(); d > 0 {
		hb.EventsPerSecond = float64(lines-s.beats.lastLines) / d
	}
	s.beats.lastLines, s.beats.lastAt = lines, now
	s.beats.mu.Unlock()
	if msg, at := s.lastErr.get(); msg != "" {
		hb.LastError, hb.LastErrorAt = clipText(redact(msg, s.cfg.Key), maxHeartbeatText), at.UTC().Format(time.RFC3339)
	}
	return hb
}

// sendHeartbeat sends one heartbeat. A failure is logged, at warn the first
// time in a row and at debug after, and the next heartbeat tries again.
func (s *Sensor) sendHeartbeat(ctx context.Context) error {
	hb := s.heartbeatNow(s.cfg.Now())
	err := s.hub.postJSON(ctx, "/api/v1/sensors/heartbeat", hb, nil)
	s.beats.mu.Lock()
	first := !s.beats.failing
	s.beats.failing = err != nil
	s.beats.mu.Unlock()
	switch {
	case err == nil:
		if !first {
			s.log.Info("heartbeats reach the hub again")
		}
	case ctx.Err() != nil:
	case first:
		s.log.Warn("sending a heartbeat failed; trying again at the next", "err", redact(err.Error(), s.cfg.Key), "every", s.cfg.HeartbeatEvery)
	default:
		s.log.Debug("sending a heartbeat failed", "err", redact(err.Error(), s.cfg.Key))
	}
	return err
}

// heartbeatLoop sends a heartbeat once the sensor is connected (its copy
// is current, or one interval passed) and then every HeartbeatEvery, and
// looks at the inputs' lag every second in between.
func (s *Sensor) heartbeatLoop(ctx context.Context) {
	tick := min(time.Second, s.cfg.HeartbeatEvery)
	t := time.NewTicker(tick)
	defer t.Stop()
	first := time.NewTimer(s.cfg.HeartbeatEvery)
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-s.current:
	case <-first.C:
	}
	s.sendHeartbeat(ctx)
	next := s.cfg.Now().Add(s.cfg.HeartbeatEvery)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		if now.Before(next) {
			s.sampleLag(now)
			continue
		}
		s.sendHeartbeat(ctx)
		next = now.Add(s.cfg.HeartbeatEvery)
	}
}
