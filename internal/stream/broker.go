// Package stream moves committed changes from the store to the hub's
// subscribers. A Broker keeps the newest changes in memory, read once from
// the store whatever the number of subscribers, and wakes every subscriber
// when more arrive. Notifications travel over the bus (so that with NATS a
// change written through one hub replica wakes the streams of all), but they
// are only hints: the broker also polls, and subscribers always read the
// changes themselves by sequence number, so a lost notification delays a
// change and never loses it.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Topic is the bus topic of change notifications.
const Topic = "changes"

// ChangeSource is the part of the store a broker reads.
type ChangeSource interface {
	Changes(ctx context.Context, after int64, limit int) ([]model.Change, error)
	LastSeq(ctx context.Context) (int64, error)
}

// Options tune a broker.
type Options struct {
	// Window is how many of the newest changes are kept in memory
	// (default 65,536). Subscribers further behind read from the store.
	Window int
	// Poll is how often the store is checked without a notification
	// (default 2 s): the safety net under the bus.
	Poll   time.Duration
	Logger *slog.Logger
}

// Broker caches the newest changes and wakes subscribers.
type Broker struct {
	src  ChangeSource
	bus  bus.Bus
	opts Options
	log  *slog.Logger

	kick        chan struct{} // a notification arrived: read the store
	subscribers atomic.Int32
	numbering   *policy.Numbering // of the group member sets in the window

	mu     sync.RWMutex
	window []model.Change // ascending by Seq, contiguous in the change log
	floor  int64          // the window holds every change with Seq > floor
	head   int64          // newest Seq read
	wake   chan struct{}  // closed and replaced when head moves
}

// NewBroker makes a broker; Run starts it.
func NewBroker(src ChangeSource, b bus.Bus, opts Options) *Broker {
	if opts.Window <= 0 {
		opts.Window = 65536
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Broker{src: src, bus: b, opts: opts, log: opts.Logger, kick: make(chan struct{}, 1), wake: make(chan struct{}),
		numbering: policy.NewNumbering()}
}

// Start reads the current head, so that the window starts there; call it
// before serving subscribers.
func (b *Broker) Start(ctx context.Context) error {
	head, err := b.src.LastSeq(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.floor, b.head = head, head
	b.mu.Unlock()
	return nil
}

// Run follows the bus and the store until ctx ends.
func (b *Broker) Run(ctx context.Context) error {
	sub, err := b.bus.Subscribe(ctx, Topic)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started: not a failure
		}
		return err
	}
	defer sub.Close()
	poll := time.NewTicker(b.opts.Poll)
	defer poll.Stop()
	for {
		b.fill(ctx)
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-sub.C():
			if !ok {
				return errors.New("stream broker: bus subscription closed")
			}
		case <-b.kick:
		case <-poll.C:
		}
	}
}

// Notify tells every replica's broker that changes up to seq are committed.
func (b *Broker) Notify(ctx context.Context, seq int64) {
	select {
	case b.kick <- struct{}{}:
	default:
	}
	// Publish never waits long on the network; a bus that cannot carry the
	// notification now (ErrUnavailable) has logged why, once.
	if err := b.bus.Publish(ctx, Topic, []byte(strconv.FormatInt(seq, 10))); err != nil && !errors.Is(err, bus.ErrUnavailable) {
		b.log.Warn("publishing a change notification failed; streams catch up by polling", "err", err)
	}
}

// Attach and Detach count the subscribers: with none, the broker follows
// only the head of the change log and keeps no window (a subscriber that
// arrives later reads what it needs from the store).
func (b *Broker) Attach() { b.subscribers.Add(1) }

// Detach ends what Attach began.
func (b *Broker) Detach() { b.subscribers.Add(-1) }

// fill reads new changes from the store into the window.
func (b *Broker) fill(ctx context.Context) {
	if b.subscribers.Load() == 0 {
		head, err := b.src.LastSeq(ctx)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Error("stream broker: reading the head failed", "err", err)
			}
			return
		}
		b.mu.Lock()
		if head != b.head {
			b.window, b.floor, b.head = nil, head, head
			close(b.wake)
			b.wake = make(chan struct{})
		}
		b.mu.Unlock()
		return
	}
	for {
		b.mu.RLock()
		head := b.head
		b.mu.RUnlock()
		chs, err := b.src.Changes(ctx, head, 1000)
		if errors.Is(err, store.ErrCursorGone) {
			// The log was compacted past what the broker read (it can
			// happen only when compaction keeps next to nothing): start
			// again at the head. Subscribers behind it read from the
			// store, which sends them a reset.
			b.restartAtHead(ctx)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				b.log.Error("stream broker: reading changes failed", "after", head, "err", err)
			}
			return
		}
		if len(chs) == 0 {
			return
		}
		// Every subscriber asks the policy about every change: a group
		// audience is looked up in a bit set built once here (numbered
		// like the subscribers, Numbering), not searched member by member
		// for each subscriber.
		for i := range chs {
			if ind := &chs[i].Indicator; ind.Audience.Kind == policy.Group {
				ind.GroupSet = b.numbering.Set(ind.GroupMembers)
			}
		}
		markRuns(chs)
		b.mu.Lock()
		b.window = b.trimmed(len(chs))
		b.window = append(b.window, chs...)
		b.head = chs[len(chs)-1].Seq
		close(b.wake)
		b.wake = make(chan struct{})
		b.mu.Unlock()
		if len(chs) < 1000 {
			return
		}
	}
}

// restartAtHead empties the window and moves it to the head of the log.
func (b *Broker) restartAtHead(ctx context.Context) {
	head, err := b.src.LastSeq(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Error("stream broker: reading the head failed", "err", err)
		}
		return
	}
	b.log.Warn("stream broker: the change log was compacted past the changes it was reading; it starts again at the head", "head", head)
	b.mu.Lock()
	b.window, b.floor, b.head = nil, head, head
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// trimmed returns the window ready to take n more changes without append
// growing it (growing copies the whole window, and did so on every trim).
// The window's array has room for twice Window changes; when the n do not
// fit, the newest Window changes move to a new array: subscribers may still
// be reading the old one, and the dropped changes can then be collected.
// Each change is so copied at most once. Call with b.mu held.
func (b *Broker) trimmed(n int) []model.Change {
	limit := 2 * b.opts.Window
	if len(b.window)+n <= cap(b.window) {
		return b.window
	}
	keep := min(len(b.window), b.opts.Window)
	if drop := len(b.window) - keep; drop > 0 {
		b.floor = b.window[drop-1].Seq
	}
	w := make([]model.Change, 0, max(limit, keep+n))
	return append(w, b.window[len(b.window)-keep:]...)
}

// markRuns sets each change's SameAhead: the changes of a bulk submission
// share their policy facts, so a subscriber that may see none of the first
// skips the rest of the run without asking the policy about each.
func markRuns(chs []model.Change) {
	for i := len(chs) - 2; i >= 0; i-- {
		a, b := &chs[i], &chs[i+1]
		ia, ib := a.Indicator.PolicyItem(), b.Indicator.PolicyItem()
		if policy.SameDecision(&ia, &ib) && sameBefore(a.Before, b.Before) {
			a.SameAhead = b.SameAhead + 1
		}
	}
}

// sameBefore says whether two changes' Before facts decide alike.
func sameBefore(a, b *policy.Item) bool {
	if a == nil || b == nil {
		return a == b
	}
	return policy.SameDecision(a, b)
}

// Viewer numbers v like the group member sets of the window, so that
// policy.CanSee tests its membership with a bit. A subscriber numbers its
// viewer once and uses it for every change it reads.
func (b *Broker) Viewer(v policy.Viewer) policy.Viewer { return b.numbering.Viewer(v) }

// Head is the newest change sequence the broker has read.
func (b *Broker) Head() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.head
}

// Wait returns a channel that is closed when changes after the current head
// arrive.
func (b *Broker) Wait() <-chan struct{} {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.wake
}

// Read returns up to max changes with Seq > after, from the window when it
// holds them and from the store otherwise. It returns store.ErrCursorGone
// (from the store) when the change log no longer reaches back to after.
func (b *Broker) Read(ctx context.Context, after int64, max int) ([]model.Change, error) {
	b.mu.RLock()
	if after >= b.floor {
		if after >= b.head {
			b.mu.RUnlock()
			return nil, nil
		}
		i := sort.Search(len(b.window), func(i int) bool { return b.window[i].Seq > after })
		end := min(i+max, len(b.window))
		out := b.window[i:end:end] // shared, read-only
		b.mu.RUnlock()
		return out, nil
	}
	b.mu.RUnlock()
	return b.src.Changes(ctx, after, max)
}
