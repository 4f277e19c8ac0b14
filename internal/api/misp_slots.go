package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// searchSlots are the few MISP searches that may run at once (mispRoute's
// search). A search takes a slot only once its request body is read and
// gives it back as soon as its answer is computed, before the answer is
// written (bufferedResponse), so that a client that sends or reads slowly
// holds no slot; and no organisation may hold more than perOrg of them, so
// that one organisation's keys cannot keep every other one out.
type searchSlots struct {
	total, perOrg int

	mu    sync.Mutex
	used  int
	byOrg map[string]int
	freed chan struct{} // closed, and replaced, whenever a slot is given back
}

// newSearchSlots makes total slots, of which one organisation may hold
// half (at least one).
func newSearchSlots(total int) *searchSlots {
	return &searchSlots{total: total, perOrg: max(1, total/2), byOrg: map[string]int{}, freed: make(chan struct{})}
}

// acquire waits up to wait for a slot for org: a free slot while org holds
// fewer than perOrg. After wait it answers 503 when every slot is taken by
// others, 429 when org holds its share.
func (q *searchSlots) acquire(ctx context.Context, org string, wait time.Duration) (release func(), err error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		q.mu.Lock()
		if q.used < q.total && q.byOrg[org] < q.perOrg {
			q.used++
			q.byOrg[org]++
			q.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { q.release(org) }) }, nil
		}
		freed, own := q.freed, q.byOrg[org]
		q.mu.Unlock()
		select {
		case <-freed:
		case <-t.C:
			if own >= q.perOrg {
				return nil, mispErr(http.StatusTooManyRequests, "Too Many Requests",
					fmt.Sprintf("your organisation already runs %d MISP searches at once, the most one organisation may; wait for them to finish, then search again", own))
			}
			return nil, mispErr(http.StatusServiceUnavailable, "Service Unavailable", "the hub is busy with other searches; try again shortly")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *searchSlots) release(org string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used--
	if q.byOrg[org]--; q.byOrg[org] <= 0 {
		delete(q.byOrg, org)
	}
	close(q.freed)
	q.freed = make(chan struct{})
}

// inUse is the number of slots taken.
func (q *searchSlots) inUse() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

// bufferedResponse holds a search's answer in memory, so that the search's
// slot is given back before a slow client reads it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// writeTo sends the held answer to w.
func (b *bufferedResponse) writeTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
