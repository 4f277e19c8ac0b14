package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/stream"
)

// TestBrokerWindowAndStore writes changes into a real store and checks that
// a reader paging through the broker gets every change exactly once and in
// order, whether the broker serves it from its (small, trimmed) window or
// from the store, and that without subscribers it follows only the head.
func TestBrokerWindowAndStore(t *testing.T) {
	ctx := t.Context()
	st, org, br := startBroker(t, stream.Options{Window: 10, Poll: 20 * time.Millisecond})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go br.Run(rctx)

	write := func(from, n int) int64 {
		seq := writeDomains(t, st, org.ID, "b", from, n)
		br.Notify(ctx, seq)
		return seq
	}
	waitHead := func(seq int64) {
		deadline := time.Now().Add(10 * time.Second)
		for br.Head() < seq {
			if time.Now().After(deadline) {
				t.Fatalf("broker head %d, want %d", br.Head(), seq)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Nobody subscribed: the head follows the store.
	waitHead(write(0, 25))

	br.Attach()
	defer br.Detach()
	last := int64(0)
	for batch := range 7 {
		waitHead(write(25+batch*9, 9))
	}
	seen := map[string]bool{}
	for {
		chs, err := br.Read(ctx, last, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) == 0 {
			break
		}
		for _, c := range chs {
			if c.Seq <= last {
				t.Fatalf("change %d after %d: out of order or repeated", c.Seq, last)
			}
			last = c.Seq
			if seen[c.Indicator.Value] {
				t.Fatalf("%s twice", c.Indicator.Value)
			}
			seen[c.Indicator.Value] = true
		}
	}
	if len(seen) != 25+63 {
		t.Fatalf("read %d changes through the broker, want %d", len(seen), 25+63)
	}
}

// TestBrokerWindowGroupSets: a change shared with a group reaches
// subscribers from the window with its members as a set numbered like the
// subscribers (Broker.Viewer), exactly the members the store gave.
func TestBrokerWindowGroupSets(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var members []string
	for i := range 20 {
		o, err := st.CreateOrg(ctx, model.Org{Name: fmt.Sprintf("m%02d", i), Kind: policy.Member})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, o.ID)
	}
	big, err := st.CreateGroup(ctx, model.Group{Name: "big", Owner: members[0], Members: members})
	if err != nil {
		t.Fatal(err)
	}
	small, err := st.CreateGroup(ctx, model.Group{Name: "small", Owner: members[0], Members: members[:3]})
	if err != nil {
		t.Fatal(err)
	}
	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	br := stream.NewBroker(st, b, stream.Options{Poll: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go br.Run(rctx)
	br.Attach()
	defer br.Detach()
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ing.Put(ctx, []model.Submission{
		{Type: indicator.Domain, Value: "big.example.org", TLP: policy.Amber, Audience: policy.Audience{Kind: policy.Group, Group: big.ID},
			Source: members[0], SubmittedBy: members[0], Confidence: 50},
		{Type: indicator.Domain, Value: "small.example.org", TLP: policy.Amber, Audience: policy.Audience{Kind: policy.Group, Group: small.ID},
			Source: members[0], SubmittedBy: members[0], Confidence: 50},
	}); err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	seq, _ := st.LastSeq(ctx)
	br.Notify(ctx, seq)
	deadline := time.Now().Add(10 * time.Second)
	for br.Head() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("broker head %d, want %d", br.Head(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
	chs, err := br.Read(ctx, 0, 10)
	if err != nil || len(chs) != 2 {
		t.Fatalf("Read: %d changes, %v", len(chs), err)
	}
	bigInd, smallInd := chs[0].Indicator, chs[1].Indicator
	for _, c := range []struct {
		ind     model.Indicator
		members []string
	}{{bigInd, members}, {smallInd, members[:3]}} {
		if c.ind.GroupSet.Len() != len(c.members) || len(c.ind.GroupMembers) != len(c.members) {
			t.Fatalf("%s: set of %d, members %d; want %d", c.ind.Value, c.ind.GroupSet.Len(), len(c.ind.GroupMembers), len(c.members))
		}
		for _, m := range c.members {
			if !c.ind.GroupSet.Contains(m) {
				t.Errorf("%s: member %s missing from the set", c.ind.Value, m)
			}
		}
	}
	// A subscriber numbered by the broker is decided by the set, and the
	// same as by the member list.
	outsider := br.Viewer(policy.Viewer{OrgID: "not-a-member", Kind: policy.Member})
	last := br.Viewer(policy.Viewer{OrgID: members[19], Kind: policy.Member})
	third := br.Viewer(policy.Viewer{OrgID: members[2], Kind: policy.Member})
	if policy.CanSee(outsider, bigInd.PolicyItem()) || !policy.CanSee(last, bigInd.PolicyItem()) ||
		policy.CanSee(last, smallInd.PolicyItem()) || !policy.CanSee(third, smallInd.PolicyItem()) {
		t.Error("the policy decides otherwise with the set")
	}
}

// TestBrokerCompactedPastItsHead: the change log is compacted past what
// the broker has read (changes written without a notification, then
// compacted, before the broker polled). The broker starts again at the
// head of the log instead of failing to read on every notification, and a
// subscriber behind it is told its cursor is gone (the stream then sends a
// reset).
func TestBrokerCompactedPastItsHead(t *testing.T) {
	ctx := t.Context()
	st, org, br := startBroker(t, stream.Options{Poll: time.Hour})
	br.Attach()
	defer br.Detach()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go br.Run(rctx)
	write := func(from, n int) int64 { return writeDomains(t, st, org.ID, "k", from, n) }
	waitHead := func(seq int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for br.Head() != seq {
			if time.Now().After(deadline) {
				t.Fatalf("broker head %d, want %d", br.Head(), seq)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := write(0, 5)
	br.Notify(ctx, first)
	waitHead(first)
	last := write(5, 5) // no notification: the broker does not read them
	if _, err := st.CompactChanges(ctx, last); err != nil {
		t.Fatal(err)
	}
	br.Notify(ctx, last)
	waitHead(last)
	if _, err := br.Read(ctx, first, 10); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("reading after %d, compacted away: %v, want ErrCursorGone", first, err)
	}
	if chs, err := br.Read(ctx, last, 10); err != nil || len(chs) != 0 {
		t.Errorf("reading after the head: %d changes, %v; want none", len(chs), err)
	}
	more := write(10, 3)
	br.Notify(ctx, more)
	waitHead(more)
	if chs, err := br.Read(ctx, last, 10); err != nil || len(chs) != 3 {
		t.Errorf("reading the changes after the restart: %d, %v; want 3", len(chs), err)
	}
}

// writeDomains stores n green domains of org (prefix<i>.example.org from
// i = from) in one ingest and returns the change sequence's head.
func writeDomains(t *testing.T, st *sqlite.Store, org, prefix string, from, n int) int64 {
	t.Helper()
	ctx := t.Context()
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Rollback() // a no-op after Commit
	var subs []model.Submission
	for i := from; i < from+n; i++ {
		subs = append(subs, model.Submission{Type: indicator.Domain, Value: fmt.Sprintf("%s%d.example.org", prefix, i), TLP: policy.Green,
			Audience: policy.NetworkAudience(), Source: org, SubmittedBy: org, Confidence: 50})
	}
	if _, err := ing.Put(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	seq, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// startBroker makes a broker over a real SQLite store holding one member
// organisation, started (not run), all closed when the test ends.
func startBroker(t *testing.T, opts stream.Options) (*sqlite.Store, model.Org, *stream.Broker) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(ctx, model.Org{Name: "a", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	b := bus.NewLocal(bus.LocalOptions{})
	t.Cleanup(func() { b.Close() })
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	br := stream.NewBroker(st, b, opts)
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return st, org, br
}
