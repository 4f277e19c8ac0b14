package api

// How requests reach the store's single writer: bulk writes one at a time
// (beginIngest), submissions committed together (bulkWriter), sightings
// merged (sightingWriter).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
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

	mergeQueue[*sightingWrite]
}

type sightingWrite struct {
	ss   []model.Sighting
	done chan error // buffered: the writer never waits for the request
}

// add stores ss, merged with the sightings of other requests, and returns
// when they are stored or ctx ends (they may then still be stored).
func (w *sightingWriter) add(ctx context.Context, ss []model.Sighting) error {
	req := &sightingWrite{ss: ss, done: make(chan error, 1)}
	if w.enqueue(req) {
		w.drain(w.take, w.write)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take says how many of the pending requests the next write takes: as
// many as fit in maxMergedSightings, at least one.
func (w *sightingWriter) take(pending []*sightingWrite) int {
	return takeUpTo(pending, maxMergedSightings, func(req *sightingWrite) int { return len(req.ss) })
}

// write stores the requests of batch. The write is not tied to any one
// request's context: a client that goes away does not undo the others'.
func (w *sightingWriter) write(batch []*sightingWrite) {
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
	n := 0
	for _, req := range batch {
		n += len(req.ss)
	}
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

const (
	// maxMergedIndicators bounds one merged bulk write: the requests after
	// it wait for the next (a request larger than that is written alone).
	// A sightings report waits for at most one merged write, so the bound
	// is also what a sensor's report may wait for: in the load profile
	// 10,000 gave no more submissions than 4,000 and made reports wait half
	// as long again (docs/BENCHMARKS.md, "Group commit").
	maxMergedIndicators = 4000
	// bulkWriteTimeout bounds a merged bulk write, which no request's
	// context does.
	bulkWriteTimeout = 2 * time.Minute
)

// bulkWriter commits the submissions of concurrent requests together: the
// requests that arrive while one write runs go into the next one, a single
// transaction (group commit). A commit writes every page the transaction
// dirtied (the change log's, the new rows', the indexes' inner pages) and
// much of that is shared between batches, so four batches of a thousand
// cost less in one transaction than in four (docs/BENCHMARKS.md, "Group
// commit"). Imports and federated batches are not merged: they write more
// than submissions in their transactions. A request is answered
// only once the transaction holding it has committed, so an acknowledged
// indicator is stored exactly as before. When a merged write fails before
// its commit, each of its requests is written again alone, so that only the
// one at fault fails; when its commit fails, it may have been stored, and
// every request gets the error (commitFailed).
//
// Like sightingWriter it has no goroutine of its own: the first request
// finding it idle writes, and hands over to a new goroutine when more
// arrived meanwhile.
type bulkWriter struct {
	s *Server

	mergeQueue[*bulkWrite]
}

type bulkWrite struct {
	ctx   context.Context // the request's: one gone before its write starts is not written
	subs  []model.Submission
	done  chan bulkWritten // buffered: the writer never waits for the request
	taken atomic.Bool      // a write has it: its outcome, not the request's context, is the answer
}

type bulkWritten struct {
	results []store.UpsertResult // one per submission, in order
	err     error
}

// add stores subs, in a transaction with other requests' submissions, and
// returns their results once committed. When ctx ends while they wait in
// the queue, it returns ctx's error and they are not written; once a write
// has them, it waits for that write (bounded by bulkWriteTimeout), so that
// what is stored is always answered as stored — its audit entry, change
// notification and webhook events follow.
func (w *bulkWriter) add(ctx context.Context, subs []model.Submission) ([]store.UpsertResult, error) {
	req := &bulkWrite{ctx: ctx, subs: subs, done: make(chan bulkWritten, 1)}
	if w.enqueue(req) {
		w.drain(w.take, w.write)
	}
	select {
	case res := <-req.done:
		return res.results, res.err
	case <-ctx.Done():
		if req.taken.Load() {
			res := <-req.done
			return res.results, res.err
		}
		return nil, ctx.Err()
	}
}

// take says how many of the pending requests the next write takes: as
// many as fit in maxMergedIndicators, at least one.
func (w *bulkWriter) take(pending []*bulkWrite) int {
	return takeUpTo(pending, maxMergedIndicators, func(req *bulkWrite) int { return len(req.subs) })
}

// write stores the requests of batch in one transaction, or each alone when
// that fails before its commit. The write is not tied to any one request's context: a client
// that goes away does not undo the others'.
func (w *bulkWriter) write(taken []*bulkWrite) {
	// A request whose client has gone before its write starts is not
	// written.
	var batch []*bulkWrite
	for _, req := range taken {
		// Marked before its context is looked at: a request that sees its
		// context end after this waits for the write's answer.
		req.taken.Store(true)
		if err := req.ctx.Err(); err != nil {
			req.done <- bulkWritten{err: err}
			continue
		}
		batch = append(batch, req)
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), bulkWriteTimeout)
	defer cancel()
	// A panic in the store must neither leave the writer busy for good nor,
	// in the writer's own goroutine, bring the hub down: the requests not
	// answered yet get an error. (The ingest slot and the store's writer
	// are given back by writeTogether's deferred rollback.)
	defer func() {
		if p := recover(); p != nil {
			w.s.log.Error("submissions: the write panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			for _, req := range batch {
				select {
				case req.done <- bulkWritten{err: fmt.Errorf("submissions: the write failed: %v", p)}:
				default: // answered already
				}
			}
		}
	}()
	if len(batch) > 1 {
		results, err := w.writeTogether(ctx, batch)
		var cf commitFailed
		switch {
		case err == nil:
			for i, req := range batch {
				req.done <- bulkWritten{results: results[i]}
			}
			return
		case errors.As(err, &cf):
			// The commit failed, or its answer was lost (a PostgreSQL
			// connection cut after COMMIT went out): the transaction may
			// have been stored, and writing each request again would
			// store it twice (updated where it was created, its changes
			// streamed again). Every request gets the error; a client
			// that retries is answered "updated" at worst.
			for _, req := range batch {
				req.done <- bulkWritten{err: cf.err}
			}
			return
		}
	}
	for _, req := range batch {
		results, err := w.writeTogether(ctx, []*bulkWrite{req})
		if err != nil {
			req.done <- bulkWritten{err: err}
			continue
		}
		req.done <- bulkWritten{results: results[0]}
	}
}

// writeTogether stores the submissions of reqs in one transaction and
// returns each request's results.
func (w *bulkWriter) writeTogether(ctx context.Context, reqs []*bulkWrite) ([][]store.UpsertResult, error) {
	ing, err := w.s.beginIngest(ctx)
	if err != nil {
		return nil, err
	}
	// Gives the slot and the store's writer back whatever happens, a panic
	// included (nothing after a Commit).
	defer ing.Rollback()
	out := make([][]store.UpsertResult, len(reqs))
	for i, req := range reqs {
		out[i] = make([]store.UpsertResult, 0, len(req.subs))
		for start := 0; start < len(req.subs); start += putChunk {
			urs, err := ing.Put(ctx, req.subs[start:min(start+putChunk, len(req.subs))])
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], urs...)
		}
	}
	if err := ing.Commit(); err != nil {
		return nil, commitFailed{err}
	}
	return out, nil
}

// commitFailed is an error of a Commit, after which it is not known whether
// the transaction was stored.
type commitFailed struct{ err error }

func (c commitFailed) Error() string { return c.err.Error() }
func (c commitFailed) Unwrap() error { return c.err }

// mergeQueue is the queue of a writer that merges concurrent requests into
// one store write. It has no goroutine of its own: the request that finds
// it idle (enqueue says so) drains it, writing what is pending in batches,
// and hands over to a new goroutine when more arrived meanwhile, which ends
// when nothing is left.
type mergeQueue[R any] struct {
	mu      sync.Mutex
	busy    bool
	pending []R
}

// takeUpTo says how many of the first pending requests fit in max items
// together (size gives a request's), at least one.
func takeUpTo[R any](pending []R, max int, size func(R) int) int {
	n := 0
	for i, req := range pending {
		if i > 0 && n+size(req) > max {
			return i
		}
		n += size(req)
	}
	return len(pending)
}

// enqueue adds a request and says whether the caller must drain the queue.
func (q *mergeQueue[R]) enqueue(req R) (lead bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, req)
	lead = !q.busy
	q.busy = true
	return lead
}

// drain writes the first take(pending) requests in one write, then goes on
// in another goroutine while more are pending.
func (q *mergeQueue[R]) drain(take func(pending []R) int, write func(batch []R)) {
	q.mu.Lock()
	n := take(q.pending)
	batch := q.pending[:n:n]
	q.pending = append([]R(nil), q.pending[n:]...)
	q.mu.Unlock()

	write(batch)

	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) > 0 {
		go q.drain(take, write)
	} else {
		q.busy = false
	}
}
