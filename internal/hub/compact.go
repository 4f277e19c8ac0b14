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

// CompactChangesBefore deletes the change-log entries written at or before
// cutoff, and returns how many went. Change times grow with the sequence, so
// the last entry at or before cutoff is found by a binary search over the
// sequence (about 40 one-row reads at most), not by a scan
// (store.Indicators.CompactChanges does the deleting).
func (h *Hub) CompactChangesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	last, err := h.st.LastSeq(ctx)
	if err != nil || last == 0 {
		return 0, err
	}
	// at reads the first entry with a sequence of at least seq: its
	// sequence and whether it was written at or before cutoff. An entry
	// already compacted counts as old.
	at := func(seq int64) (int64, bool, error) {
		chs, err := h.st.Changes(ctx, seq-1, 1)
		if errors.Is(err, store.ErrCursorGone) {
			return seq - 1, true, nil
		}
		if err != nil || len(chs) == 0 {
			return 0, false, err
		}
		return chs[0].Seq, !chs[0].At.After(cutoff), nil
	}
	// The largest seq in [1, last] whose entry is old; keep is its
	// sequence (0: none is).
	var keep int64
	lo, hi := int64(1), last
	for lo <= hi {
		mid := lo + (hi-lo)/2
		seq, old, err := at(mid)
		if err != nil {
			return 0, err
		}
		if old {
			keep = max(keep, seq)
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	if keep == 0 {
		return 0, nil
	}
	return h.st.CompactChanges(ctx, keep)
}
