package sensor

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// throttle keeps one host's repeated matches of one indicator from flooding
// the alerts. Time, the log's own (so that a replayed day behaves as it did
// live), is cut into windows of a fixed length aligned on the Unix epoch (a
// quarter of an hour starts at :00, :15, :30 and :45 UTC). The first match
// of an (indicator, host) pair in a window is written at once; the pair's
// further matches in that window are counted, not written, and once the
// window has ended the latest of them is written once, carrying how many
// matches it stands for ("repeats") and when the window began
// ("window_start"). Sightings count every match, held back or not.
//
// Which matches share a window depends only on their times, not on the
// order the sensor reads them in (a --once run reads a large file in
// parallel): the alerts a run writes and their repeats are the same every
// time; only which of a window's matches is written at once follows the
// reading order.
//
// A window ends for a followed run when it has been open for its length
// by the wall clock (due, called periodically) and for every run when the
// sensor stops (due with all).
type throttle struct {
	window time.Duration
	limit  int // open windows at most; beyond, the earliest end early
	now    func() time.Time

	mu   sync.Mutex
	open map[throttleKey]*heldBack
}

type throttleKey struct {
	id, host string
	start    int64 // the window's start, Unix nanoseconds
}

// heldBack is an open window of one pair.
type heldBack struct {
	opened time.Time // the wall clock when its first match came
	count  int64     // matches held back
	lastAt time.Time // the log time of the latest of them
	last   []byte    // that match's alert line, with its newline
}

// maxOpenWindows bounds the throttle's memory (about a kilobyte a window
// with matches held back); past it the earliest windows end early.
const maxOpenWindows = 100_000

func newThrottle(window time.Duration, now func() time.Time) *throttle {
	return &throttle{window: window, limit: maxOpenWindows, now: now, open: map[throttleKey]*heldBack{}}
}

// admit decides on one alert line of indicator id for host, stamped at (the
// log's time): whether to write it now, or hold it back. When the open
// windows are at their limit (a long --once replay keeps every window
// until it ends), the tenth with the earliest starts end to make room:
// their summaries are returned, to be written first.
func (t *throttle) admit(id, host string, at time.Time, line []byte) (write bool, ended []byte) {
	k := throttleKey{id, host, at.Truncate(t.window).UnixNano()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, ok := t.open[k]; ok {
		w.count++
		if w.count == 1 || !at.Before(w.lastAt) {
			w.lastAt, w.last = at, append(w.last[:0], line...)
		}
		return false, nil
	}
	if len(t.open) >= t.limit {
		keys := make([]throttleKey, 0, len(t.open))
		for k := range t.open {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		ended = t.end(keys[:max(len(keys)/10, 1)])
	}
	t.open[k] = &heldBack{opened: t.now()}
	return true, ended
}

// compareKeys orders windows by start, indicator and host.
func compareKeys(a, b throttleKey) int {
	return cmp.Or(cmp.Compare(a.start, b.start), strings.Compare(a.id, b.id), strings.Compare(a.host, b.host))
}

// end forgets the windows of keys (in order) and returns the summaries of
// those that held matches back. Call with t.mu held.
func (t *throttle) end(keys []throttleKey) []byte {
	var out []byte
	for _, k := range keys {
		out = append(out, t.open[k].summary(time.Unix(0, k.start))...)
		delete(t.open, k)
	}
	return out
}

// due ends the windows open for the window's length by the wall clock, or
// every window with all, and returns the summary lines of those that held
// matches back, by window, indicator and host.
func (t *throttle) due(all bool) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var ended []throttleKey
	for k, w := range t.open {
		if all || now.Sub(w.opened) >= t.window {
			ended = append(ended, k)
		}
	}
	slices.SortFunc(ended, compareKeys)
	return t.end(ended)
}

// summary is the window's latest held-back line with "repeats" and
// "window_start" added to its "hdn" object, or nil when it held none back.
// An alert line ends with the "hdn" object ("}}\n", match.AppendAlert);
// a line that does not is returned as it is.
func (w *heldBack) summary(start time.Time) []byte {
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
	out = start.UTC().AppendFormat(out, time.RFC3339Nano)
	return append(out, "\"}}\n"...)
}
