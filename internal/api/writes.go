package api

// How requests reach the store's single writer: bulk writes one at a time
// (beginIngest), sightings merged (sightingWriter).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

const (
	// maxMergedSightings bounds one merged write: the rest waits for the
	// next.
	maxMergedSightings = 4 * maxSightings
	// sightingWriteTimeout bounds a merged write, which no request's
	// context does.
	sightingWriteTimeout = time.Minute
)

// sightingWriter merges the sightings of concurrent requests into one store
// write. Sensors report all the time, and each report was a write
// transaction of its own that queued behind the batches of submissions for
// the store's single writer; now the reports that arrive while one write
// waits go together in the next. A request is answered only once the write
// holding its sightings has committed, so an acknowledged sighting is
// stored exactly as before.
//
// There is no goroutine of its own: the first request finding the writer
// idle writes, and hands over to a new goroutine when more arrived
// meanwhile, which ends when nothing is left.
type sightingWriter struct {
	st  store.Sightings
	log *slog.Logger // nil: slog.Default()

	mu      sync.Mutex
	busy    bool
	pending []*sightingWrite
}

type sightingWrite struct {
	ss   []model.Sighting
	done chan error // buffered: the writer never waits for the request
}

// add stores ss, merged with the sightings of other requests, and returns
// when they are stored or ctx ends (they may then still be stored).
func (w *sightingWriter) add(ctx context.Context, ss []model.Sighting) error {
	req := &sightingWrite{ss: ss, done: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, req)
	lead := !w.busy
	w.busy = true
	w.mu.Unlock()
	if lead {
		w.run()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes what is pending, in one store call when it can, and goes on in
// another goroutine while more is pending.
func (w *sightingWriter) run() {
	w.mu.Lock()
	batch, n := w.pending, 0
	for i, req := range w.pending {
		if i > 0 && n+len(req.ss) > maxMergedSightings {
			batch = w.pending[:i]
			break
		}
		n += len(req.ss)
	}
	w.pending = append([]*sightingWrite(nil), w.pending[len(batch):]...)
	w.mu.Unlock()

	w.write(batch, n)

	w.mu.Lock()
	if len(w.pending) > 0 {
		go w.run()
	} else {
		w.busy = false
	}
	w.mu.Unlock()
}

// write stores the requests of batch (n sightings in all). The write is not
// tied to any one request's context: a client that goes away does not undo
// the others'.
func (w *sightingWriter) write(batch []*sightingWrite, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), sightingWriteTimeout)
	defer cancel()
	// A panic in the store must neither leave the writer busy for good
	// (every later report would wait) nor, in the writer's own goroutine,
	// bring the hub down: the requests not answered yet get an error.
	defer func() {
		if p := recover(); p != nil {
			log := w.log
			if log == nil {
				log = slog.Default()
			}
			log.Error("sightings: the write panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			for _, req := range batch {
				select {
				case req.done <- fmt.Errorf("sightings: the write failed: %v", p):
				default: // answered already
				}
			}
		}
	}()
	if len(batch) == 1 {
		batch[0].done <- w.st.AddSightings(ctx, batch[0].ss)
		return
	}
	// A report sent again while the first sending waits (a client that
	// timed out and retried) is merged once: the store adds a report's
	// sightings once per batch only if they come from one request.
	// Another report under the same key is refused, as the API refuses one
	// under a key stored before.
	all := make([]model.Sighting, 0, n)
	reports := map[[2]string]string{} // organisation and key -> digest
	refused := map[*sightingWrite]bool{}
	for _, req := range batch {
		if len(req.ss) > 0 && req.ss[0].Report != "" {
			k := [2]string{req.ss[0].Org, req.ss[0].Report}
			if digest, ok := reports[k]; ok {
				refused[req] = digest != req.ss[0].ReportDigest
				continue
			}
			reports[k] = req.ss[0].ReportDigest
		}
		all = append(all, req.ss...)
	}
	answer := func(req *sightingWrite, err error) {
		if refused[req] {
			err = errf(http.StatusUnprocessableEntity, CodeConflict, "Idempotency-Key %q is another report's, sent at the same time; a new report needs a new key", clip(req.ss[0].Report))
		}
		req.done <- err
	}
	err := w.st.AddSightings(ctx, all)
	if errors.Is(err, store.ErrNotFound) {
		// An indicator went away between a request's check and the
		// write: store each request alone, so that only the one that
		// names it fails.
		for _, req := range batch {
			if refused[req] {
				answer(req, nil)
				continue
			}
			req.done <- w.st.AddSightings(ctx, req.ss)
		}
		return
	}
	for _, req := range batch {
		answer(req, err)
	}
}

// beginIngest starts a bulk write (submissions, imports, federated batches)
// after the bulk writes before it. They would otherwise all queue at the
// store's single writer in arrival order, and a sensor's small report
// arriving behind twenty batches of a thousand indicators would wait for
// all of them; here it waits for at most the batch being written. Writing
// is no slower: the store writes one transaction at a time anyway.
func (s *Server) beginIngest(ctx context.Context) (store.Ingest, error) {
	select {
	case s.ingestSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ing, err := s.st.BeginIngest(ctx)
	if err != nil {
		<-s.ingestSlot
		return nil, err
	}
	return &slotIngest{Ingest: ing, release: sync.OnceFunc(func() { <-s.ingestSlot })}, nil
}

// slotIngest gives the ingest slot back when the write ends.
type slotIngest struct {
	store.Ingest
	release func()
}

func (i *slotIngest) Commit() error {
	defer i.release()
	return i.Ingest.Commit()
}

func (i *slotIngest) Rollback() error {
	defer i.release()
	return i.Ingest.Rollback()
}
