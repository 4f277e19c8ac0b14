package hub_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestCompactChangesBefore: the change log keeps what was written after the
// cutoff and nothing before it; a subscriber with a cursor in the compacted
// part is sent a reset (and a fresh snapshot); compacting again changes
// nothing.
func TestCompactChangesBefore(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	key := h.Key(h.Org("hospital-a", policy.Member, ""), policy.Analyst)
	ctx := context.Background()
	post := func(prefix string, n int) {
		t.Helper()
		var its []map[string]any
		for i := range n {
			its = append(its, map[string]any{"value": fmt.Sprintf("%s-%d.compact.example.org", prefix, i), "tlp": "green"})
		}
		for _, r := range submit(t, h, key, its...) {
			if r.Status != "created" {
				t.Fatalf("submit %s: %+v", r.Value, r)
			}
		}
	}
	if n, err := h.Hub.CompactChangesBefore(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("compacting an empty log: %d, %v", n, err)
	}
	post("old", 5)
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)
	post("new", 3)

	if n, err := h.Hub.CompactChangesBefore(ctx, cutoff.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("a cutoff before every change: %d, %v; want nothing deleted", n, err)
	}
	n, err := h.Hub.CompactChangesBefore(ctx, cutoff)
	if err != nil || n != 5 {
		t.Fatalf("CompactChangesBefore: %d, %v; want the 5 changes before the cutoff", n, err)
	}
	if _, err := h.Store.Changes(ctx, 0, 100); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("reading from the start after compaction: %v, want ErrCursorGone", err)
	}
	chs, err := h.Store.Changes(ctx, 5, 100)
	if err != nil || len(chs) != 3 || chs[0].Seq != 6 {
		t.Errorf("the changes after the cutoff: %d, %v; want 3 from seq 6", len(chs), err)
	}
	if n, err := h.Hub.CompactChangesBefore(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("compacting again: %d, %v; want nothing", n, err)
	}
	// In steps of 2 entries a transaction: the same outcome.
	defer hub.SetCompactStep(2)()
	post("more", 7)
	time.Sleep(20 * time.Millisecond)
	cutoff2 := time.Now()
	time.Sleep(20 * time.Millisecond)
	post("newest", 1)
	if n, err := h.Hub.CompactChangesBefore(ctx, cutoff2); err != nil || n != 3+7 {
		t.Fatalf("compacting in steps: %d, %v; want the 10 entries between the cutoffs", n, err)
	}
	if chs, err := h.Store.Changes(ctx, 15, 100); err != nil || len(chs) != 1 || chs[0].Seq != 16 {
		t.Errorf("after compacting in steps: %d, %v; want only seq 16", len(chs), err)
	}
	if _, err := h.Store.Changes(ctx, 14, 100); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("reading from seq 14 after compacting through 15: %v, want ErrCursorGone", err)
	}

	// A subscriber that was at cursor 2 starts again from a snapshot.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var kinds []string
	errDone := errors.New("done")
	c := streamclient.New(streamclient.Config{URLs: []string{h.URL}, Key: key, Cursor: 2, Resume: true})
	err = c.Run(sctx, func(ev streamclient.Event) error {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == api.EventSnapshotEnd {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) || len(kinds) != 18 || kinds[0] != api.EventReset {
		t.Errorf("a subscriber behind the compaction got %v (%v); want a reset, 16 snapshot events and snapshot-end", kinds, err)
	}
}
