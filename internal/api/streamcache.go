package api

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// The stream sends every change to every subscriber that may see it. What a
// subscriber receives of a change depends on the change, on whether it may
// see it (decided per subscriber, every time) and on its view of the
// indicator (indicatorView: the source shown or hidden, the federation block
// for peer hubs, expiry) — not on who it is beyond that. So the encoded event
// is cached per change and view, and a thousand subscribers reading the same
// change cost one rendering and one encoding per view instead of a thousand.
//
// The cache is sized like the broker's window (65,536 changes): under load,
// subscribers read the same change up to a minute apart (measured with
// `hdn bench load`, docs/BENCHMARKS.md), and a cache that forgets a change
// before the slowest reader reaches it renders it again for every reader
// behind. An event is rendered again after eventCacheTTL, so that a renamed
// organisation or group (whose names come from caches with a few seconds'
// time to live, orgCache and groupNames) reaches late readers of older
// changes within a minute.

const (
	eventCacheEntries = 65536    // changes kept, the newest
	eventCacheBytes   = 48 << 20 // and at most this much encoded data
	eventCacheTTL     = time.Minute
	groupNameTTL      = 5 * time.Second
	maxGroupNames     = 4096
)

// renderCaches are the Server's rendering caches; the zero value is ready.
type renderCaches struct {
	groups  groupNames
	events  eventCache
	sseBufs sync.Pool // the streams' write buffers (sseWriter)
}

// eventKey identifies one encoding of a change: its position (the cursor,
// which the event carries), the version of the indicator it carries (a
// change read from the store carries the indicator as it is now), its kind,
// and the view of the viewer (or removal, the same for everyone).
type eventKey struct {
	seq     int64
	indSeq  int64
	kind    model.ChangeKind
	removed bool
	view    indicatorView
}

type cachedEvent struct {
	key  eventKey
	born time.Time
	once sync.Once
	data []byte
	err  error
	kept bool // counted in eventCache.bytes
}

// eventCache holds the encoded events of the newest changes: a ring indexed
// by change sequence (the broker's changes are contiguous), each slot
// holding the encodings of one change, one per view. A change further
// behind than the ring is rendered and not kept. Concurrent readers of an
// event not yet cached wait for one rendering.
type eventCache struct {
	mu    sync.Mutex
	slots []eventSlot
	bytes int
}

type eventSlot struct {
	seq    int64
	events []*cachedEvent
}

// maxViewsPerChange bounds the encodings kept of one change (there are at
// most nine views: removal, and source hidden or not × federation or not ×
// expired or not).
const maxViewsPerChange = 9

// get returns the encoding of key, from render if it is not cached (or is
// older than eventCacheTTL). render says whether its result may be kept for
// other subscribers (false when a lookup failed, so that the failure's
// rendering is not served on).
func (c *eventCache) get(key eventKey, now time.Time, render func() ([]byte, bool, error)) ([]byte, error) {
	c.mu.Lock()
	if c.slots == nil {
		c.slots = make([]eventSlot, eventCacheEntries)
	}
	slot := &c.slots[uint64(key.seq)%eventCacheEntries]
	var e *cachedEvent
	cache := true
	switch {
	case slot.seq > key.seq:
		cache = false // further behind than the ring: not kept
	case slot.seq < key.seq:
		c.clear(slot)
		slot.seq = key.seq
	}
	if cache {
		for i, x := range slot.events {
			if x.key == key {
				// Subscribers' clocks are read at the start of their
				// batches: one may be a little behind the encoding's.
				if age := now.Sub(x.born); age < eventCacheTTL && age > -eventCacheTTL {
					e = x
				} else {
					c.drop(slot, i)
				}
				break
			}
		}
		if e == nil && len(slot.events) >= maxViewsPerChange {
			cache = false
		}
	}
	if e == nil {
		e = &cachedEvent{key: key, born: now}
		if cache {
			slot.events = append(slot.events, e)
		}
	}
	c.mu.Unlock()
	e.once.Do(func() {
		data, keep, err := render()
		e.data, e.err = data, err
		if !cache {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		slot := &c.slots[uint64(key.seq)%eventCacheEntries]
		i := slices.Index(slot.events, e)
		if i < 0 {
			return // already dropped
		}
		if err != nil || !keep || c.bytes+len(data) > eventCacheBytes {
			c.drop(slot, i) // served to whoever waits for it, and not kept
			return
		}
		e.kept = true
		c.bytes += len(data)
	})
	return e.data, e.err
}

// clear empties slot; c.mu is held.
func (c *eventCache) clear(slot *eventSlot) {
	for i := range slot.events {
		if slot.events[i].kept {
			c.bytes -= len(slot.events[i].data)
		}
		slot.events[i] = nil
	}
	slot.events = slot.events[:0]
}

// drop removes slot.events[i]; c.mu is held.
func (c *eventCache) drop(slot *eventSlot, i int) {
	if e := slot.events[i]; e.kept {
		c.bytes -= len(e.data)
		e.kept = false
	}
	last := len(slot.events) - 1
	slot.events[i] = slot.events[last]
	slot.events[last] = nil
	slot.events = slot.events[:last]
}

// len is the number of events cached (for tests).
func (c *eventCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.slots {
		n += len(c.slots[i].events)
	}
	return n
}

// changeData is the data line of the event that tells viewer v of change c:
// the indicator as v's view shows it, or its removal when removed. The
// caller has decided, for v, that v may see it (or must be told of its
// removal).
func (s *Server) changeData(ctx context.Context, v policy.Viewer, c *model.Change, removed bool, now time.Time) (kind string, data []byte, err error) {
	key := eventKey{seq: c.Seq, indSeq: c.Indicator.Seq, kind: c.Kind, removed: removed}
	kind = string(c.Kind)
	if removed {
		kind = EventRemoved
	} else {
		key.view = viewOf(v, &c.Indicator, now)
	}
	data, err = s.renderCache.events.get(key, now, func() ([]byte, bool, error) {
		// Other subscribers may wait for this rendering: it must not
		// fail because this subscriber went away.
		ctx := context.WithoutCancel(ctx)
		cur := strconv.FormatInt(c.Seq, 10)
		if removed {
			b, err := json.Marshal(StreamEvent{Kind: EventRemoved, Cursor: cur, ID: c.Indicator.ID})
			return b, true, err
		}
		ind := s.renderIndicatorView(ctx, key.view, &c.Indicator)
		b, err := json.Marshal(StreamEvent{Kind: kind, Cursor: cur, Indicator: &ind})
		// federationFor logged a failure and left the block out: send
		// that to this subscriber only.
		keep := !key.view.federation || ind.Federation != nil
		return b, keep, err
	})
	return kind, data, err
}

// groupNames caches the names of sharing groups for rendering audiences;
// groups are renamed rarely, hence a short time to live rather than
// invalidation (as orgCache).
type groupNames struct {
	mu   sync.Mutex
	byID map[string]groupName
}

type groupName struct {
	name string
	at   time.Time
}

type groupStore interface {
	Group(ctx context.Context, idOrName string) (model.Group, error)
}

// name is the name of group id, or id when it cannot be found.
func (c *groupNames) name(ctx context.Context, st groupStore, now func() time.Time, id string) string {
	t := now()
	c.mu.Lock()
	g, ok := c.byID[id]
	c.mu.Unlock()
	if age := t.Sub(g.at); ok && age < groupNameTTL && age > -groupNameTTL {
		return g.name
	}
	grp, err := st.Group(ctx, id)
	if err != nil {
		return id // not cached: found again next time
	}
	c.mu.Lock()
	if c.byID == nil || len(c.byID) >= maxGroupNames {
		c.byID = make(map[string]groupName)
	}
	c.byID[id] = groupName{name: grp.Name, at: t}
	c.mu.Unlock()
	return grp.Name
}
