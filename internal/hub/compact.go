package hub

import (
	"context"
	"errors"
	"time"

	"github.com/hdnetwork/hdn/internal/store"
)

// DefaultChangeRetention is how long change-log entries are kept: a sensor
// or peer hub away longer than that takes a fresh snapshot when it returns
// (the stream sends it a reset), and the log does not grow for ever.
const DefaultChangeRetention = 30 * 24 * time.Hour

// compactEvery is how often the jobs replica compacts the change log.
const compactEvery = time.Hour

// compactLoop compacts the change log every compactEvery until ctx ends.
func (h *Hub) compactLoop(ctx context.Context) error {
	t := time.NewTicker(compactEvery)
	defer t.Stop()
	for {
		n, err := h.CompactChangesBefore(ctx, h.cfg.Now().Add(-h.cfg.ChangeRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			h.log.Error("compacting the change log failed", "err", err)
		case n > 0:
			h.log.Info("change log compacted", "entries", n, "retention", h.cfg.ChangeRetention.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// compactStep bounds the entries one compaction transaction deletes, so
// that a first compaction of a large log does not hold the writer for long
// (a variable for the tests).
var compactStep int64 = 50_000

// CompactChangesBefore deletes the change-log entries written at or before
// cutoff, and returns how many went. Change times grow with the sequence, so
// the last entry at or before cutoff is found by a binary search over the
// sequence (about 40 one-row reads at most), not by a scan; the entries go
// in transactions of at most compactStep (store.Indicators.CompactChanges).
func (h *Hub) CompactChangesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	last, err := h.st.LastSeq(ctx)
	if err != nil || last == 0 {
		return 0, err
	}
	// at reads the first entry with a sequence of at least seq: its
	// sequence, whether it was written at or before cutoff, and whether
	// seq was compacted already (then it counts as old).
	at := func(seq int64) (first int64, old, gone bool, err error) {
		chs, err := h.st.Changes(ctx, seq-1, 1)
		if errors.Is(err, store.ErrCursorGone) {
			return seq - 1, true, true, nil
		}
		if err != nil || len(chs) == 0 {
			return 0, false, false, err
		}
		return chs[0].Seq, !chs[0].At.After(cutoff), false, nil
	}
	// search finds the largest seq in [1, last] for which pred holds,
	// pred being true up to some point and false after it (0: none).
	search := func(pred func(seq int64) (bool, error)) (int64, error) {
		var found int64
		lo, hi := int64(1), last
		for lo <= hi {
			mid := lo + (hi-lo)/2
			ok, err := pred(mid)
			if err != nil {
				return 0, err
			}
			if ok {
				found, lo = mid, mid+1
			} else {
				hi = mid - 1
			}
		}
		return found, nil
	}
	// keep: the sequence of the last old entry; floor: the last entry
	// compacted already.
	var keep int64
	if _, err := search(func(seq int64) (bool, error) {
		first, old, _, err := at(seq)
		if old {
			keep = max(keep, first)
		}
		return old, err
	}); err != nil || keep == 0 {
		return 0, err
	}
	floor, err := search(func(seq int64) (bool, error) {
		_, _, gone, err := at(seq)
		return gone, err
	})
	if err != nil {
		return 0, err
	}
	var deleted int64
	for target := floor; target < keep; {
		target = min(target+compactStep, keep)
		n, err := h.st.CompactChanges(ctx, target)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
