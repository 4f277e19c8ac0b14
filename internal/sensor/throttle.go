package sensor

import (
	"bytes"
	"strconv"
	"sync"
	"time"
)

// throttle keeps one host's repeated matches of one indicator from flooding
// the alerts: the first match of an (indicator, host) pair is written at
// once and opens a window; the pair's matches within the window (by the
// log's own time, so that a replayed day behaves as it did live) are
// counted, not written; once the window has passed, the last of them is
// written once, carrying how many matches it stands for ("repeats") and
// when the window opened ("window_start"). Sightings count every match,
// held back or not.
//
// A window ends for a followed run when it has been open for the window's
// length by the wall clock (Due, called periodically) or when a match of
// the pair comes after it by the log's time; every window ends when the
// sensor stops (Due with all).
type throttle struct {
	window time.Duration
	limit  int // open windows at most; beyond, alerts are written as they come
	now    func() time.Time

	mu   sync.Mutex
	open map[throttleKey]*heldBack
}

type throttleKey struct{ id, host string }

// heldBack is an open window.
type heldBack struct {
	start  time.Time // the log time of the alert that opened it
	opened time.Time // the wall clock then
	count  int64     // matches held back since
	last   []byte    // the last of them, with its newline
}

// maxOpenWindows bounds the throttle's memory (about a kilobyte a window
// with matches held back).
const maxOpenWindows = 100_000

func newThrottle(window time.Duration, now func() time.Time) *throttle {
	return &throttle{window: window, limit: maxOpenWindows, now: now, open: map[throttleKey]*heldBack{}}
}

// admit decides on one alert line of indicator id for host, stamped at (the
// log's time): write says whether to write it now; summary, when not nil,
// is the summary line of the pair's window that line ended, to be written
// before it. held counts a line held back.
func (t *throttle) admit(id, host string, at time.Time, line []byte) (write bool, summary []byte) {
	k := throttleKey{id, host}
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.open[k]
	if ok && at.Sub(w.start) < t.window && w.start.Sub(at) < t.window {
		w.count++
		w.last = append(w.last[:0], line...)
		return false, nil
	}
	if ok {
		summary = w.summary()
		w.start, w.opened, w.count, w.last = at, t.now(), 0, w.last[:0]
		return true, summary
	}
	if len(t.open) < t.limit {
		t.open[k] = &heldBack{start: at, opened: t.now()}
	}
	return true, nil
}

// due ends the windows open for the window's length by the wall clock, or
// every window with all, and returns the summary lines of those that held
// matches back.
func (t *throttle) due(all bool) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []byte
	now := t.now()
	for k, w := range t.open {
		if all || now.Sub(w.opened) >= t.window {
			out = append(out, w.summary()...)
			delete(t.open, k)
		}
	}
	return out
}

// summary is the window's last held-back line with "repeats" and
// "window_start" added to its "hdn" object, or nil when it held none back.
// An alert line ends with the "hdn" object ("}}\n", match.AppendAlert);
// a line that does not is returned as it is.
func (w *heldBack) summary() []byte {
	if w.count == 0 {
		return nil
	}
	line := w.last
	if !bytes.HasSuffix(line, []byte("}}\n")) {
		return bytes.Clone(line)
	}
	out := make([]byte, 0, len(line)+64)
	out = append(out, line[:len(line)-3]...)
	out = append(out, `,"repeats":`...)
	out = strconv.AppendInt(out, w.count, 10)
	out = append(out, `,"window_start":"`...)
	out = w.start.UTC().AppendFormat(out, time.RFC3339Nano)
	return append(out, "\"}}\n"...)
}
