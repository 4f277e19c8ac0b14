package api

import (
	"context"
	"sync"
	"time"
)

// KeyUseEvery is how often the keys' last use is written to the store: a
// key's last_used is at most this late, and a request costs no write.
const KeyUseEvery = 30 * time.Second

// keyUses gathers the last use of each key between two writes. It holds
// only keys that authenticated, so its size is bounded by the keys in use.
type keyUses struct {
	mu      sync.Mutex
	pending map[string]time.Time
}

// note records that key id was used at at.
func (k *keyUses) note(id string, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pending == nil {
		k.pending = map[string]time.Time{}
	}
	if at.After(k.pending[id]) {
		k.pending[id] = at
	}
}

// take returns what was noted and starts afresh.
func (k *keyUses) take() map[string]time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.pending
	k.pending = nil
	return out
}

// putBack returns uses that could not be written, unless newer ones were
// noted meanwhile.
func (k *keyUses) putBack(uses map[string]time.Time) {
	for id, at := range uses {
		k.note(id, at)
	}
}

// FlushKeyUses writes the keys' last use noted since the last flush. What
// the store refuses (a full database, say) is kept for the next flush.
func (s *Server) FlushKeyUses(ctx context.Context) error {
	uses := s.keyUses.take()
	if len(uses) == 0 {
		return nil
	}
	if err := s.st.TouchKeys(ctx, uses); err != nil {
		s.keyUses.putBack(uses)
		return err
	}
	return nil
}

// RecordKeyUses flushes the keys' last use every interval until ctx ends,
// and once more then, so that a hub that stops loses none.
func (s *Server) RecordKeyUses(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.FlushKeyUses(final); err != nil {
				s.log.Warn("recording the keys' last use at stop", "err", err)
			}
			return
		case <-t.C:
			if err := s.FlushKeyUses(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("recording the keys' last use; kept for the next try", "err", err)
			}
		}
	}
}
