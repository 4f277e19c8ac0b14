package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/score"
	"github.com/hdnetwork/hdn/internal/store"
)

// Broker is what the stream endpoint reads changes from (stream.Broker).
type Broker interface {
	Attach()
	Detach()
	Head() int64
	Wait() <-chan struct{}
	Read(ctx context.Context, after int64, max int) ([]model.Change, error)
	// Viewer numbers a viewer like the group member sets of the changes
	// Read returns (policy.Numbering).
	Viewer(v policy.Viewer) policy.Viewer
}

// Stream event types.
const (
	EventSnapshot    = "snapshot"     // an indicator of the initial snapshot
	EventSnapshotEnd = "snapshot-end" // the snapshot is complete
	EventReset       = "reset"        // the cursor is too old: drop local state; a fresh snapshot follows
	EventRemoved     = "removed"      // the caller may no longer see this indicator
	EventHeartbeat   = "heartbeat"
	// and the change kinds: created, updated, revoked, expired
)

// StreamEvent is the data of one server-sent event.
type StreamEvent struct {
	Kind      string         `json:"kind"`
	Cursor    string         `json:"cursor"`
	ID        string         `json:"id,omitempty"`
	Indicator *IndicatorJSON `json:"indicator,omitempty"`
}

const (
	streamBatch  = 500
	snapshotPage = 1000
)

// parseStreamCursor reads ?cursor= or the Last-Event-ID header (the query
// wins). ok is false when neither was given.
func parseStreamCursor(r *http.Request) (cursor int64, ok bool, err error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if perr != nil || n < 0 {
		return 0, false, badRequest("cursor %q must be the cursor of a stream event (a whole number)", clip(v))
	}
	return n, true, nil
}

// streamIndicators serves GET /api/v1/stream: the snapshot of what the
// caller may see (unless it resumes with a cursor), then every change as it
// happens, filtered by the policy for this caller.
func (s *Server) streamIndicators(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "cursor", "min_score"); err != nil {
		return err
	}
	minScore, err := minScoreParam(r)
	if err != nil {
		return err
	}
	if s.broker == nil {
		return errf(http.StatusServiceUnavailable, "unavailable", "the stream is not enabled on this hub")
	}
	cursor, resume, err := parseStreamCursor(r)
	if err != nil {
		return err
	}
	if !s.streams.acquire() {
		return errf(http.StatusServiceUnavailable, "too_many_streams", "the hub serves its maximum number of streams; retry later")
	}
	defer s.streams.release()
	party := streamParty(p.Org)
	releaseOrg, ok, partyFull := s.orgStreams.acquire(p.Org.ID, party)
	if partyFull {
		return errPartyStreams(s.orgs.name(r.Context(), party), s.orgStreams.partyMax)
	}
	if !ok {
		return errOrgStreams(p.Org.Name, s.orgStreams.max)
	}
	defer releaseOrg()
	s.broker.Attach()
	defer s.broker.Detach()

	// The stream ends when its key or organisation may no longer read
	// (streamauth.go).
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	reg, unregister := s.streamReg.register(p, cancel)
	defer unregister()
	// The key (or user, or organisation) may have been revoked after it
	// was checked and before the stream was registered, with the watcher
	// looking at the registered streams in between: it would not look
	// again before the next change. So if anything changed since the key
	// was read, look now.
	if n, err := s.st.AuthEpoch(ctx); err != nil || n != p.epoch {
		if !s.streamStillValid(ctx, p, s.now()) {
			// Retryable: the next attempt authenticates afresh (a
			// revoked key then gets 401; a changed view, its new one).
			return errf(http.StatusServiceUnavailable, "unavailable", "the key or its organisation changed while the stream opened; retry")
		}
	}

	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) // a stream outlives the server's read timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: rc, window: s.streamWriteTimeout, bufs: &s.renderCache.sseBufs}
	if err := sw.flush(); err != nil {
		return nil
	}
	defer func() {
		if reg.resetOnEnd.Load() {
			// Its organisation's partner or customers changed: drop
			// everything and resume from 0, into a fresh snapshot.
			if sw.event(EventReset, 0, StreamEvent{Kind: EventReset, Cursor: "0"}) == nil {
				_ = sw.flush()
			}
		}
	}()
	if resume {
		// What this organisation may see changed since the cursor in a
		// way change entries do not carry (a customer moved to another
		// partner): what it holds must be dropped and taken again.
		floor, err := s.st.ViewFloor(ctx, p.Org.ID)
		if err != nil {
			return s.streamEnd(ctx, err)
		}
		if floor > 0 && cursor <= floor {
			if err := sw.event(EventReset, cursor, StreamEvent{Kind: EventReset, Cursor: strconv.FormatInt(cursor, 10)}); err != nil {
				return nil
			}
			resume = false
		}
	}
	if !resume {
		if cursor, err = s.streamSnapshot(ctx, sw, p, minScore); err != nil {
			return s.streamEnd(ctx, err)
		}
	}
	// Every change committed when the stream opened is sent before the
	// first heartbeat, which tells the subscriber that it is current (a
	// sensor run with --once then matches its logs and stops). The broker
	// may not have read the newest of them yet — it learns of changes by
	// notification or by polling — so those are read from the store.
	committed, err := s.st.LastSeq(ctx)
	if err != nil {
		return s.streamEnd(ctx, err)
	}
	heartbeat := time.NewTicker(s.streamHeartbeat)
	defer heartbeat.Stop()
	caughtUp := false
	// Numbered like the broker's group member sets: the policy tests a
	// group membership with one bit for every change read.
	viewer := s.broker.Viewer(p.Viewer)
	for {
		wait := s.broker.Wait()
		chs, err := s.broker.Read(ctx, cursor, streamBatch)
		if err == nil && len(chs) == 0 && cursor < committed {
			if chs, err = s.st.Changes(ctx, cursor, streamBatch); err == nil && len(chs) == 0 {
				committed = cursor // nothing past the cursor after all
			}
		}
		if errors.Is(err, store.ErrCursorGone) {
			if err := sw.event(EventReset, cursor, StreamEvent{Kind: EventReset, Cursor: strconv.FormatInt(cursor, 10)}); err != nil {
				return nil
			}
			if cursor, err = s.streamSnapshot(ctx, sw, p, minScore); err != nil {
				return s.streamEnd(ctx, err)
			}
			continue
		}
		if err != nil {
			return s.streamEnd(ctx, err)
		}
		now := s.now()
		for i := 0; i < len(chs); i++ {
			c := &chs[i]
			cursor = c.Seq
			// The decision is this subscriber's (as changeEvent); the
			// encoding is shared with every subscriber of the same view
			// (streamcache.go).
			removed := false
			if !policy.CanSee(viewer, c.Indicator.PolicyItem()) {
				if c.Before == nil || !policy.CanSee(viewer, *c.Before) {
					// Nor any of the changes after it with the same
					// facts (a bulk submission's run, stream.Broker).
					i = min(i+c.SameAhead, len(chs)-1)
					cursor = chs[i].Seq
					continue
				}
				removed = true
			}
			if minScore > 0 && c.Kind == model.Created {
				// A new indicator under the subscriber's minimum is not sent.
				sc, err := s.Scores(ctx, []model.Indicator{c.Indicator}, now)
				if err != nil {
					return s.streamEnd(ctx, err)
				}
				if sc[c.Indicator.ID].Score < minScore {
					continue
				}
			}
			kind, data, err := s.changeData(ctx, p.Viewer, c, removed, now)
			if err != nil {
				return s.streamEnd(ctx, err)
			}
			if err := sw.eventData(kind, c.Seq, data); err != nil {
				return nil
			}
		}
		if len(chs) > 0 {
			if err := sw.flush(); err != nil {
				return nil // cut off: the client resumes from its cursor
			}
			if len(chs) == streamBatch {
				continue
			}
		}
		if !caughtUp && cursor >= committed {
			// The first heartbeat comes as soon as the subscriber is
			// current, so that it knows it is (a sensor run with --once
			// waits for it).
			caughtUp = true
			if err := sw.event(EventHeartbeat, cursor, StreamEvent{Kind: EventHeartbeat, Cursor: strconv.FormatInt(cursor, 10)}); err != nil {
				return nil
			}
			if err := sw.flush(); err != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		case <-heartbeat.C:
			if err := sw.event(EventHeartbeat, cursor, StreamEvent{Kind: EventHeartbeat, Cursor: strconv.FormatInt(cursor, 10)}); err != nil {
				return nil
			}
			if err := sw.flush(); err != nil {
				return nil
			}
		}
	}
}

// streamEnd logs why a stream ended early; the response has started, so
// nothing more can be said to the client, which reconnects with its cursor.
func (s *Server) streamEnd(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		s.log.ErrorContext(ctx, "stream ended", "err", err)
	}
	return nil
}

// changeEvent decides what caller v is told of change c.
func (s *Server) changeEvent(ctx context.Context, v policy.Viewer, c *model.Change, now time.Time) (StreamEvent, bool) {
	cur := strconv.FormatInt(c.Seq, 10)
	if policy.CanSee(v, c.Indicator.PolicyItem()) {
		ind := s.renderIndicator(ctx, v, &c.Indicator)
		return StreamEvent{Kind: string(c.Kind), Cursor: cur, Indicator: &ind}, true
	}
	if c.Before != nil && policy.CanSee(v, *c.Before) {
		return StreamEvent{Kind: EventRemoved, Cursor: cur, ID: c.Indicator.ID}, true
	}
	return StreamEvent{}, false
}

// streamSnapshot sends every live indicator the caller may see, oldest change
// first, and returns the cursor to follow changes from. Indicators that stop
// being live while the snapshot is read arrive as revoked or expired, so a
// client never keeps one the snapshot already gave it.
func (s *Server) streamSnapshot(ctx context.Context, sw *sseWriter, p *Principal, minScore int) (int64, error) {
	// Where the snapshot begins: the store's newest change, which every
	// page sees committed (this replica's broker may not have read it yet,
	// and starting from its head would send what the pages sent again).
	start, err := s.st.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	after := int64(0)
	for {
		inds, err := s.st.ListIndicators(ctx, p.Viewer, store.Query{After: after, Limit: snapshotPage, IncludeRevoked: true})
		if err != nil {
			return 0, err
		}
		now := s.now()
		var scores map[string]score.Result
		if minScore > 0 {
			if scores, err = s.Scores(ctx, inds, now); err != nil {
				return 0, err
			}
		}
		for i := range inds {
			ind := &inds[i]
			after = ind.Seq
			if !policy.CanSee(p.Viewer, ind.PolicyItem()) {
				continue
			}
			if minScore > 0 && ind.Live(now) && scores[ind.ID].Score < minScore {
				continue // under the subscriber's minimum
			}
			kind := EventSnapshot
			if !ind.Live(now) {
				if ind.Seq <= start {
					continue // gone before the snapshot began
				}
				kind = string(model.Expired)
				if ind.Revoked {
					kind = string(model.Revoked)
				}
			}
			// An indicator that changed while the snapshot was read (its
			// seq past start) carries start as its cursor: a subscriber
			// cut off after it resumes from start and is told of every
			// change since, a narrowing of one already sent included.
			// (The listing is in seq order, so everything at or before
			// start was sent before it.)
			cur := min(ind.Seq, start)
			j := s.renderIndicator(ctx, p.Viewer, ind)
			if err := sw.event(kind, cur, StreamEvent{Kind: kind, Cursor: strconv.FormatInt(cur, 10), Indicator: &j}); err != nil {
				return 0, err
			}
		}
		if err := sw.flush(); err != nil {
			return 0, err
		}
		if len(inds) < snapshotPage {
			break
		}
	}
	// Changes follow from where the snapshot began, not from the newest
	// indicator it listed: its pages are read one after another, and an
	// indicator a page already sent may have been narrowed since (it is
	// then missing from the later pages, and its change, older than what
	// they list, would be skipped: the subscriber would keep what it may
	// no longer see). What changed while the snapshot was read arrives
	// again; applying a change twice changes nothing.
	cursor := start
	if err := sw.event(EventSnapshotEnd, cursor, StreamEvent{Kind: EventSnapshotEnd, Cursor: strconv.FormatInt(cursor, 10)}); err != nil {
		return 0, err
	}
	return cursor, sw.flush()
}

// sseWriter writes server-sent events.
type sseWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	window time.Duration
	buf    []byte
	bufs   *sync.Pool // of *[]byte, for buf; nil: buf is kept
	// deadline is the write deadline last set: moved again only when it
	// would move by more than deadlineSlack, not for every event.
	deadline time.Time
}

const deadlineSlack = time.Second

func (sw *sseWriter) event(name string, id int64, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return sw.eventData(name, id, b)
}

// Events gather in a buffer until a flush: one write to the connection per
// sseBufSize instead of one per event. The buffers come from a pool
// (renderCaches.sseBufs), so that a subscriber holds none between batches.
const sseBufSize = 32 << 10

// eventData writes an event whose data is already encoded. Events gather in
// the writer's buffer and go to the connection when it is full or at flush.
func (sw *sseWriter) eventData(name string, id int64, b []byte) error {
	if sw.buf == nil && sw.bufs != nil {
		if b, ok := sw.bufs.Get().(*[]byte); ok {
			sw.buf = (*b)[:0]
		}
	}
	sw.buf = append(sw.buf, "id: "...)
	sw.buf = strconv.AppendInt(sw.buf, id, 10)
	sw.buf = append(sw.buf, "\nevent: "...)
	sw.buf = append(sw.buf, name...)
	sw.buf = append(sw.buf, "\ndata: "...)
	sw.buf = append(sw.buf, b...)
	sw.buf = append(sw.buf, "\n\n"...)
	if len(sw.buf) < sseBufSize {
		return nil
	}
	return sw.write()
}

// write sends the gathered events to the connection's buffer.
func (sw *sseWriter) write() error {
	if len(sw.buf) == 0 {
		return nil
	}
	if d := time.Now().Add(sw.window); d.Sub(sw.deadline) > deadlineSlack {
		sw.rc.SetWriteDeadline(d)
		sw.deadline = d
	}
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	return err
}

// flush sends what is buffered; a client that does not take it within the
// write window is cut off (it resumes from its cursor), so a slow subscriber
// never holds anything but its own connection.
func (sw *sseWriter) flush() error {
	err := sw.write()
	if sw.bufs != nil && sw.buf != nil {
		if b := sw.buf; cap(b) <= 2*sseBufSize {
			sw.bufs.Put(&b)
		}
		sw.buf = nil
	}
	if err != nil {
		return err
	}
	sw.deadline = time.Now().Add(sw.window)
	sw.rc.SetWriteDeadline(sw.deadline)
	return sw.rc.Flush()
}

// limiter bounds concurrent streams.
type limiter struct{ slots chan struct{} }

func newLimiter(n int) *limiter { return &limiter{slots: make(chan struct{}, n)} }

func (l *limiter) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l *limiter) release() { <-l.slots }

func (l *limiter) active() int { return len(l.slots) }
