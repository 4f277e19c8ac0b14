package api

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Open streams are re-checked whenever who may authenticate, or what an
// organisation sees, changes: a key revoked, an organisation suspended,
// offboarded or moved to another partner. Changes made through this
// server's API re-check at once; changes made elsewhere (`hdn admin` on the
// data directory, another replica) move the store's authentication epoch,
// which WatchAuth polls every second. A stream whose key or organisation
// may no longer read, or whose organisation now sees something else, is
// closed; a client that still may reconnects and resumes from its cursor
// with its new view.

type openStream struct {
	p       *Principal
	cancel  context.CancelFunc
	expires time.Time // when its key expires (zero: never); guarded by streamRegistry.mu
	// resetOnEnd is set, before cancel, when the stream ends because its
	// organisation's partner or customers changed (a customer moved): the
	// stream then sends "reset" from cursor 0, so that the subscriber
	// drops what it holds and resumes into a fresh snapshot (the view
	// floor, store.Onboarding.ViewFloor) instead of from a cursor that
	// events of the old view may have moved past the floor.
	resetOnEnd atomic.Bool
}

type streamRegistry struct {
	mu   sync.Mutex
	open map[*openStream]struct{}
	kick chan struct{}
}

func newStreamRegistry() *streamRegistry {
	return &streamRegistry{open: map[*openStream]struct{}{}, kick: make(chan struct{}, 1)}
}

// register adds a stream; the returned function removes it.
func (sr *streamRegistry) register(p *Principal, cancel context.CancelFunc) (*openStream, func()) {
	expires := p.Key.ExpiresAt
	if !p.SessionEnds.IsZero() && (expires.IsZero() || p.SessionEnds.Before(expires)) {
		expires = p.SessionEnds
	}
	os := &openStream{p: p, cancel: cancel, expires: expires}
	sr.mu.Lock()
	sr.open[os] = struct{}{}
	sr.mu.Unlock()
	return os, func() {
		sr.mu.Lock()
		delete(sr.open, os)
		sr.mu.Unlock()
	}
}

func (sr *streamRegistry) snapshot() []*openStream {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	out := make([]*openStream, 0, len(sr.open))
	for os := range sr.open {
		out = append(out, os)
	}
	return out
}

// recheckStreams asks WatchAuth to re-check the open streams now.
func (s *Server) recheckStreams() {
	select {
	case s.streamReg.kick <- struct{}{}:
	default:
	}
}

// WatchAuth re-checks open streams when the authentication epoch moves
// (polled every interval) or recheckStreams asks, until ctx ends.
func (s *Server) WatchAuth(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last, err := s.st.AuthEpoch(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("streams: reading the authentication epoch", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.streamReg.kick:
		case <-t.C:
			n, err := s.st.AuthEpoch(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("streams: reading the authentication epoch", "err", err)
				}
				continue
			}
			if n == last && !s.streamReg.expiryDue(s.now()) {
				continue // a key rotated out (its grace over) is due too
			}
			last = n
		}
		s.checkStreams(ctx)
	}
}

// checkStreams closes the streams that may no longer go on as they are.
func (s *Server) checkStreams(ctx context.Context) {
	now := s.now()
	for _, os := range s.streamReg.snapshot() {
		if ok, moved := s.streamCheck(ctx, os.p, now); !ok {
			if moved {
				os.resetOnEnd.Store(true)
			}
			os.cancel()
			continue
		}
		switch {
		case os.p.Sessions != nil:
			// The session's end moves each time it is used.
			if ends, ok := os.p.Sessions.SessionEnds(ctx, os.p.Session, now); ok {
				s.streamReg.setExpiry(os, ends)
			}
		case !strings.HasPrefix(os.p.Key.ID, "user:"):
			// The key's expiry may have moved (a rotation).
			if k, err := s.st.KeyByID(ctx, os.p.Key.ID); err == nil {
				s.streamReg.setExpiry(os, k.ExpiresAt)
			}
		}
	}
}

func (s *Server) streamStillValid(ctx context.Context, p *Principal, now time.Time) bool {
	ok, _ := s.streamCheck(ctx, p, now)
	return ok
}

// streamCheck is streamStillValid, and says too whether what failed is
// only the organisation's partner or customers (a customer moved).
func (s *Server) streamCheck(ctx context.Context, p *Principal, now time.Time) (ok, moved bool) {
	if uid, isUser := strings.CutPrefix(p.Key.ID, "user:"); isUser {
		// A web UI user's stream: the user must still be enabled, and
		// the session it was opened in go on.
		u, err := s.st.UserByID(ctx, uid)
		if err != nil || u.Disabled {
			return err != nil && ctx.Err() != nil, false
		}
		if p.Sessions != nil {
			if _, going := p.Sessions.SessionEnds(ctx, p.Session, now); !going {
				return false, false
			}
		}
	} else {
		k, err := s.st.KeyByID(ctx, p.Key.ID)
		if err != nil || !k.Usable(now) {
			return err != nil && ctx.Err() != nil, false // a failed read while stopping is not a reason
		}
	}
	o, err := s.st.Org(ctx, p.Org.ID)
	if err != nil || !o.Usable() {
		return false, false
	}
	v, err := s.st.Viewer(ctx, o.ID)
	if err != nil {
		return false, false
	}
	if reflect.DeepEqual(v, p.Viewer) {
		return true, false
	}
	return false, v.Partner != p.Viewer.Partner || !slices.Equal(v.Customers, p.Viewer.Customers)
}

// expiryDue says whether the key of an open stream has expired since the
// streams were last checked.
func (sr *streamRegistry) expiryDue(now time.Time) bool {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for os := range sr.open {
		if !os.expires.IsZero() && !now.Before(os.expires) {
			return true
		}
	}
	return false
}

// setExpiry records when an open stream's key expires, as last read.
func (sr *streamRegistry) setExpiry(os *openStream, at time.Time) {
	sr.mu.Lock()
	os.expires = at
	sr.mu.Unlock()
}
