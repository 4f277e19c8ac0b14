package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// countingSightings counts the store's AddSightings calls on a real store.
type countingSightings struct {
	store.Sightings
	calls atomic.Int32
}

func (c *countingSightings) AddSightings(ctx context.Context, ss []model.Sighting) error {
	c.calls.Add(1)
	return c.Sightings.AddSightings(ctx, ss)
}

// TestSightingWriterMerges: reports that arrive while the store's writer is
// busy go to the store together in one write, each request is answered
// once its sightings are stored, and a request naming an unknown indicator
// fails alone.
func TestSightingWriterMerges(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var orgs []string
	for i := range 3 {
		o, err := st.CreateOrg(ctx, model.Org{Name: fmt.Sprintf("org%d", i), Kind: policy.Member})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var subs []model.Submission
	for i := range 5 {
		subs = append(subs, model.Submission{Type: indicator.Domain, Value: fmt.Sprintf("d%d.example.org", i), TLP: policy.Amber,
			Audience: policy.NetworkAudience(), Source: orgs[0], SubmittedBy: orgs[0], Confidence: 50})
	}
	urs, err := ing.Put(ctx, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}

	counting := &countingSightings{Sightings: st}
	w := &sightingWriter{st: counting}

	// Hold the store's writer, as a batch of submissions would.
	hold, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback() // on a failure, before the store closes (a no-op after the rollbacks below)
	const requests = 40
	hour := time.Now().UTC().Truncate(time.Hour)
	errs := make([]error, requests)
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for r := range requests {
		wg.Go(func() {
			id := urs[r%len(urs)].ID
			if r == 7 {
				id = "no-such-indicator"
			}
			errs[r] = w.add(ctx, []model.Sighting{{IndicatorID: id, Org: orgs[1+r%2], Kind: model.Sighted, Count: int64(r + 1), Hour: hour}})
		})
		if r == 0 {
			// Request 0 writes alone, waiting for the writer; the
			// others, request 7 among them, queue behind it.
			waitWriting(t, &w.mergeQueue, deadline)
		}
	}
	waitQueued(t, &w.mergeQueue, requests-1, deadline)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var want [5][3]int64
	for r, err := range errs {
		if r == 7 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("request %d of an unknown indicator: %v, want not found", r, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("request %d: %v", r, err)
		}
		want[r%len(urs)][1+r%2] += int64(r + 1)
	}
	// The first request alone, the 39 others merged; the merged write
	// failed on the unknown indicator and was redone request by request.
	if got := counting.calls.Load(); got != 1+1+(requests-1) {
		t.Errorf("%d store writes, want %d (one, one merged that failed, then each alone)", got, 1+1+(requests-1))
	}
	for i, ur := range urs {
		counts, err := st.SightingCounts(ctx, ur.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			got[c.Org] += c.Count
		}
		for o := 1; o < 3; o++ {
			if got[orgs[o]] != want[i][o] {
				t.Errorf("indicator %d, org %d: %d sightings stored, want %d", i, o, got[orgs[o]], want[i][o])
			}
		}
	}

	// Without an unknown indicator the queued requests are one write.
	waitIdle(t, &w.mergeQueue, deadline)
	hold, err = st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	counting.calls.Store(0)
	for r := range requests {
		wg.Go(func() {
			errs[r] = w.add(ctx, []model.Sighting{{IndicatorID: urs[0].ID, Org: orgs[1], Kind: model.Sighted, Count: 1, Hour: hour}})
		})
		if r == 0 {
			waitWriting(t, &w.mergeQueue, deadline) // alone, as above
		}
	}
	waitQueued(t, &w.mergeQueue, requests-1, deadline)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("second round, request %d: %v", r, err)
		}
	}
	if got := counting.calls.Load(); got != 2 {
		t.Errorf("second round: %d store writes, want 2 (the first request, then the 39 others together)", got)
	}
	counts, err := st.SightingCounts(ctx, urs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range counts {
		if c.Org == orgs[1] {
			total += c.Count
		}
	}
	if total != want[0][1]+requests {
		t.Errorf("indicator 0, org 1: %d sightings, want %d", total, want[0][1]+requests)
	}
	// The last writer goes idle once it has answered.
	waitIdle(t, &w.mergeQueue, deadline)
}

// waitIdle waits until w has nothing to write and no writer.
func waitIdle[R any](t *testing.T, w *mergeQueue[R], deadline time.Time) {
	t.Helper()
	for {
		w.mu.Lock()
		busy, n := w.busy, len(w.pending)
		w.mu.Unlock()
		if !busy && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer is left busy=%v with %d pending", busy, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSightingWriterReportsOnce: a report sent again while its first
// sending waits in the same merged write (a client that timed out and
// retried) is stored once, and both requests are answered; reports with
// other keys, or none, are each stored.
func TestSightingWriterReportsOnce(t *testing.T) {
	ctx := t.Context()
	st, orgs, urs := seedStore(t, []string{"src", "sensor"}, "retried.example.org")
	sensor := orgs[1]
	w := &sightingWriter{st: st}
	hold, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback() // on a failure, before the store closes (a no-op after the rollback below)
	hour := time.Now().UTC().Truncate(time.Hour)
	// The first request writes (waiting for the held writer); the others
	// queue and go together: "a" three times, "b" twice, two without a key,
	// and another report under "a" (index 8), refused.
	keys := []string{"first", "a", "a", "b", "a", "", "b", "", "a"}
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for r, k := range keys {
		digest := "same"
		if r == 8 {
			digest = "another"
		}
		wg.Go(func() {
			errs[r] = w.add(ctx, []model.Sighting{{IndicatorID: urs[0].ID, Org: sensor.ID, Kind: model.Sighted, Count: 10, Hour: hour, Report: k, ReportDigest: digest}})
		})
		if r == 0 {
			waitWriting(t, &w.mergeQueue, time.Now().Add(30*time.Second))
		} else {
			waitQueued(t, &w.mergeQueue, r, time.Now().Add(30*time.Second)) // in this order
		}
	}
	waitQueued(t, &w.mergeQueue, len(keys)-1, time.Now().Add(30*time.Second))
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for r, err := range errs {
		var e *Error
		switch {
		case r == 8 && (!errors.As(err, &e) || e.Status != 422):
			t.Errorf("another report under a key of the batch: %v, want 422", err)
		case r != 8 && err != nil:
			t.Errorf("request %d (%q): %v", r, keys[r], err)
		}
	}
	counts, err := st.SightingCounts(ctx, urs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// first, a, b, and the two without a key: 5 reports of 10.
	if len(counts) != 1 || counts[0].Count != 50 {
		t.Errorf("counts %+v, want 50 from the sensor (five distinct reports of 10)", counts)
	}
	// Sent again later, each keyed report is recognised.
	for _, k := range []string{"first", "a", "b"} {
		if err := w.add(ctx, []model.Sighting{{IndicatorID: urs[0].ID, Org: sensor.ID, Kind: model.Sighted, Count: 10, Hour: hour, Report: k, ReportDigest: "same"}}); err != nil {
			t.Fatal(err)
		}
	}
	if counts, _ := st.SightingCounts(ctx, urs[0].ID); len(counts) != 1 || counts[0].Count != 50 {
		t.Errorf("after the keyed reports were sent again: counts %+v, want 50", counts)
	}
}

// waitWriting waits until the first request has left w's queue and writes
// (waiting for a held writer).
func waitWriting[R any](t *testing.T, w *mergeQueue[R], deadline time.Time) {
	t.Helper()
	for {
		w.mu.Lock()
		writing := w.busy && len(w.pending) == 0
		w.mu.Unlock()
		if writing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request did not start writing")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitQueued waits until n requests wait in w's queue.
func waitQueued[R any](t *testing.T, w *mergeQueue[R], n int, deadline time.Time) {
	t.Helper()
	for {
		w.mu.Lock()
		queued := len(w.pending)
		w.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBulkWritesQueueInTheAPI: while a batch of submissions is written and
// another waits, a sensor's sightings report waits for the one being
// written only, not for the one queued behind it.
func TestBulkWritesQueueInTheAPI(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.CreateOrg(ctx, model.Org{Name: "org", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: st})
	first, err := s.beginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urs, err := first.Put(ctx, []model.Submission{{Type: indicator.Domain, Value: "seen.example.org", TLP: policy.Amber,
		Audience: policy.NetworkAudience(), Source: o.ID, SubmittedBy: o.ID, Confidence: 50}})
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan store.Ingest, 1)
	go func() {
		ing, err := s.beginIngest(ctx)
		if err != nil {
			t.Error(err)
		}
		second <- ing
	}()
	time.Sleep(50 * time.Millisecond) // the second batch queues first
	sighted := make(chan error, 1)
	go func() {
		sighted <- s.sightings.add(ctx, []model.Sighting{{IndicatorID: urs[0].ID, Org: o.ID, Kind: model.Sighted, Count: 1, Hour: time.Now()}})
	}()
	time.Sleep(50 * time.Millisecond)
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sighted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		if ing := <-second; ing != nil {
			ing.Rollback() // so that the store can close
		}
		t.Fatal("the sightings report waited for the batch queued behind the one being written")
	}
	ing := <-second
	if ing == nil {
		return
	}
	if err := ing.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The slot is free again: another bulk write starts at once.
	again, err := s.beginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Rollback(); err != nil {
		t.Fatal(err)
	}
	counts, err := st.SightingCounts(ctx, urs[0].ID)
	if err != nil || len(counts) != 1 || counts[0].Count != 1 {
		t.Fatalf("sightings stored: %+v, %v", counts, err)
	}
}

// panickySightings panics on its second write, as a store bug would.
type panickySightings struct {
	store.Sightings
	calls atomic.Int32
}

func (p *panickySightings) AddSightings(ctx context.Context, ss []model.Sighting) error {
	if p.calls.Add(1) == 2 {
		panic("a store bug")
	}
	return p.Sightings.AddSightings(ctx, ss)
}

// TestSightingWriterSurvivesPanic: a write that panics in the writer's own
// goroutine (the requests merged behind a first one) answers its requests
// with an error instead of bringing the process down, and leaves the writer
// free for the next request.
func TestSightingWriterSurvivesPanic(t *testing.T) {
	ctx := t.Context()
	st, orgs, urs := seedStore(t, []string{"org"}, "panic.example.org")
	o := orgs[0]
	w := &sightingWriter{st: &panickySightings{Sightings: st}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	sighting := []model.Sighting{{IndicatorID: urs[0].ID, Org: o.ID, Kind: model.Sighted, Count: 1, Hour: time.Now().UTC().Truncate(time.Hour)}}

	hold, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	deadline := time.Now().Add(30 * time.Second)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Go(func() { errs[r] = w.add(ctx, sighting) })
		if r == 0 {
			waitWriting(t, &w.mergeQueue, deadline)
		}
	}
	waitQueued(t, &w.mergeQueue, 2, deadline)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if errs[0] != nil || errs[1] == nil || errs[2] == nil {
		t.Fatalf("the first write %v; the two merged into the panicking one %v, %v (want errors)", errs[0], errs[1], errs[2])
	}
	if err := w.add(ctx, sighting); err != nil {
		t.Fatalf("a write after the panic: %v", err)
	}
}

// seedStore opens a real SQLite store with organisations of the given
// names and one AMBER indicator to the network, from the first, for each
// value; it is closed when the test ends.
func seedStore(t *testing.T, orgNames []string, values ...string) (*sqlite.Store, []model.Org, []store.UpsertResult) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var orgs []model.Org
	for _, n := range orgNames {
		o, err := st.CreateOrg(ctx, model.Org{Name: n, Kind: policy.Member})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	var subs []model.Submission
	for _, v := range values {
		subs = append(subs, model.Submission{Type: indicator.Domain, Value: v, TLP: policy.Amber,
			Audience: policy.NetworkAudience(), Source: orgs[0].ID, SubmittedBy: orgs[0].ID, Confidence: 50})
	}
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Rollback()
	urs, err := ing.Put(ctx, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	return st, orgs, urs
}

// countingIngests counts the transactions of submissions begun on a real
// store.
type countingIngests struct {
	store.Store
	begun atomic.Int32
}

func (c *countingIngests) BeginIngest(ctx context.Context) (store.Ingest, error) {
	c.begun.Add(1)
	return c.Store.BeginIngest(ctx)
}

// bulkFixture is a server over a real store whose writer the test holds, so
// that requests queue in the API's bulkWriter.
type bulkFixture struct {
	st       *sqlite.Store
	counting *countingIngests
	s        *Server
	orgs     []model.Org
}

func newBulkFixture(t *testing.T) *bulkFixture {
	st, orgs, _ := seedStore(t, []string{"a", "b", "c"})
	counting := &countingIngests{Store: st}
	return &bulkFixture{st: st, counting: counting, s: New(Config{Store: counting}), orgs: orgs}
}

// submission is a domain from org o.
func (f *bulkFixture) submission(o int, value string) model.Submission {
	return model.Submission{Type: indicator.Domain, Value: value, TLP: policy.Amber, Audience: policy.NetworkAudience(),
		Source: f.orgs[o].ID, SubmittedBy: f.orgs[o].ID, Confidence: 50}
}

// queue holds the store's writer, starts the first request (which then
// waits for it) and queues the others behind it, then lets the writer go and
// waits for every request's answer.
func (f *bulkFixture) queue(t *testing.T, ctxs []context.Context, reqs [][]model.Submission) ([][]store.UpsertResult, []error) {
	t.Helper()
	hold, err := f.st.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback() // on a failure, before the store closes
	deadline := time.Now().Add(30 * time.Second)
	results, errs := make([][]store.UpsertResult, len(reqs)), make([]error, len(reqs))
	var wg sync.WaitGroup
	for r := range reqs {
		wg.Go(func() { results[r], errs[r] = f.s.submissions.add(ctxs[r], reqs[r]) })
		if r == 0 {
			waitWriting(t, &f.s.submissions.mergeQueue, deadline)
		} else {
			waitQueued(t, &f.s.submissions.mergeQueue, r, deadline) // in this order
		}
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	waitIdle(t, &f.s.submissions.mergeQueue, deadline)
	return results, errs
}

// TestBulkWriterCommitsTogether: submissions that arrive while one is
// written are committed together in the next transaction; each request gets
// its own results, in order, as if written alone: a value two requests
// carry is created by the first and updated by the second.
func TestBulkWriterCommitsTogether(t *testing.T) {
	f := newBulkFixture(t)
	const requests = 12
	ctxs := make([]context.Context, requests)
	reqs := make([][]model.Submission, requests)
	for r := range requests {
		ctxs[r] = t.Context()
		for i := range 30 {
			reqs[r] = append(reqs[r], f.submission(r%2, fmt.Sprintf("r%d-%d.example.org", r, i)))
		}
	}
	// Requests 4 and 6 are from the same organisation and share a value.
	reqs[6] = append(reqs[6], f.submission(0, "r4-0.example.org"))
	results, errs := f.queue(t, ctxs, reqs)
	// One write for the first request, one for the eleven queued behind it.
	if got := f.counting.begun.Load(); got != 2 {
		t.Errorf("%d transactions for %d requests, want 2 (the first alone, then the others together)", got, requests)
	}
	seqs := map[int64]bool{}
	for r := range requests {
		if errs[r] != nil {
			t.Fatalf("request %d: %v", r, errs[r])
		}
		if len(results[r]) != len(reqs[r]) {
			t.Fatalf("request %d: %d results for %d submissions", r, len(results[r]), len(reqs[r]))
		}
		for i, ur := range results[r] {
			want := store.StatusCreated
			if r == 6 && i == 30 {
				want = store.StatusUpdated
			}
			if ur.Status != want || ur.Seq == 0 || seqs[ur.Seq] {
				t.Errorf("request %d, submission %d: %+v, want %s with a sequence of its own", r, i, ur, want)
			}
			seqs[ur.Seq] = true
			got, err := f.st.Indicator(t.Context(), policy.Viewer{OrgID: f.orgs[0].ID, Kind: policy.Coordinator}, ur.ID)
			if err != nil || got.Value != reqs[r][i].Value || got.Source != reqs[r][i].Source {
				t.Errorf("request %d, submission %d: stored %+v, %v", r, i, got, err)
			}
		}
	}
	if results[6][30].ID != results[4][0].ID {
		t.Errorf("the shared value: updated %s, created %s", results[6][30].ID, results[4][0].ID)
	}
}

// TestBulkWriterIsolatesAFailure: when the merged transaction fails on one
// request's submission, every request is written again alone, so that only
// that one fails; a request whose client went away while it waited is not
// written.
func TestBulkWriterIsolatesAFailure(t *testing.T) {
	f := newBulkFixture(t)
	gone, cancel := context.WithCancel(t.Context())
	ctxs := []context.Context{t.Context(), t.Context(), t.Context(), gone, t.Context()}
	reqs := [][]model.Submission{
		{f.submission(0, "first.example.org")},
		{f.submission(1, "ok-1.example.org")},
		{f.submission(0, "bad-1.example.org"), f.submission(0, "bad-2.example.org")},
		{f.submission(2, "gone.example.org")},
		{f.submission(2, "ok-2.example.org")},
	}
	// A source the store does not know: its foreign key fails the write.
	reqs[2][1].Source, reqs[2][1].SubmittedBy = "no-such-org", "no-such-org"
	cancel()
	results, errs := f.queue(t, ctxs, reqs)
	// The first alone; the merged one of 1, 2 and 4 that failed; then 1, 2
	// and 4 alone.
	if got := f.counting.begun.Load(); got != 1+1+3 {
		t.Errorf("%d transactions, want 5", got)
	}
	if errs[2] == nil {
		t.Errorf("the request with an unknown source was acknowledged: %+v", results[2])
	}
	if !errors.Is(errs[3], context.Canceled) {
		t.Errorf("the request whose client went away: %v, want canceled", errs[3])
	}
	for _, r := range []int{0, 1, 4} {
		if errs[r] != nil || len(results[r]) != 1 || results[r][0].Status != store.StatusCreated {
			t.Errorf("request %d: %+v, %v; want it stored", r, results[r], errs[r])
		}
	}
	for _, v := range []string{"bad-1.example.org", "bad-2.example.org", "gone.example.org"} {
		got, err := f.st.ListIndicators(t.Context(), policy.Viewer{OrgID: f.orgs[0].ID, Kind: policy.Coordinator}, store.Query{Value: v})
		if err != nil || len(got) != 0 {
			t.Errorf("%s: stored %d (%v), want nothing", v, len(got), err)
		}
	}
}

// panickyIngests begins real transactions whose Put panics on a value, as a
// store bug would.
type panickyIngests struct {
	store.Store
	value string
}

type panickyIngest struct {
	store.Ingest
	value string
}

func (p *panickyIngests) BeginIngest(ctx context.Context) (store.Ingest, error) {
	ing, err := p.Store.BeginIngest(ctx)
	return &panickyIngest{Ingest: ing, value: p.value}, err
}

func (p *panickyIngest) Put(ctx context.Context, subs []model.Submission) ([]store.UpsertResult, error) {
	for _, s := range subs {
		if s.Value == p.value {
			panic("a store bug")
		}
	}
	return p.Ingest.Put(ctx, subs)
}

// TestBulkWriterSurvivesPanic: a merged write that panics in the writer's
// own goroutine answers its requests with an error instead of bringing the
// process down, and gives the ingest slot and the store's writer back.
func TestBulkWriterSurvivesPanic(t *testing.T) {
	f := newBulkFixture(t)
	f.s = New(Config{Store: &panickyIngests{Store: f.st, value: "panic.example.org"}, Logger: slog.New(slog.DiscardHandler)})
	ctxs := []context.Context{t.Context(), t.Context(), t.Context()}
	reqs := [][]model.Submission{
		{f.submission(0, "first.example.org")},
		{f.submission(1, "merged.example.org")},
		{f.submission(2, "panic.example.org")},
	}
	_, errs := f.queue(t, ctxs, reqs)
	if errs[0] != nil || errs[1] == nil || errs[2] == nil {
		t.Fatalf("the first write %v; the two merged into the panicking one %v, %v (want errors)", errs[0], errs[1], errs[2])
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.s.submissions.add(t.Context(), []model.Submission{f.submission(1, "after.example.org")})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a write after the panic: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write after the panic waits: the slot or the store's writer was not given back")
	}
}

// TestBulkWriterAnswersWhatItStored: a client that goes away while its
// submission is being written gets the write's answer, not its context's
// error, so that what is stored is answered as stored (its audit entry,
// notification and webhook events follow); one that goes away while still
// queued is not written.
func TestBulkWriterAnswersWhatItStored(t *testing.T) {
	f := newBulkFixture(t)
	v := policy.Viewer{OrgID: f.orgs[0].ID, Kind: policy.Coordinator}
	stored := func(value string) bool {
		inds, err := f.st.ListIndicators(t.Context(), v, store.Query{Value: value})
		if err != nil {
			t.Fatal(err)
		}
		return len(inds) == 1
	}
	for i := range 10 {
		hold, err := f.st.BeginIngest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		writing, queued := f.submission(0, fmt.Sprintf("writing-%d.example.org", i)), f.submission(1, fmt.Sprintf("queued-%d.example.org", i))
		done := make(chan error, 1)
		go func() { _, err := f.s.submissions.add(ctx, []model.Submission{writing}); done <- err }()
		waitWriting(t, &f.s.submissions.mergeQueue, deadline)
		gone, cancelQueued := context.WithCancel(t.Context())
		queuedDone := make(chan error, 1)
		go func() { _, err := f.s.submissions.add(gone, []model.Submission{queued}); queuedDone <- err }()
		waitQueued(t, &f.s.submissions.mergeQueue, 1, deadline)
		cancel() // the client of the write in progress goes away
		cancelQueued()
		if err := <-queuedDone; !errors.Is(err, context.Canceled) {
			t.Errorf("a queued request whose client went away: %v, want canceled", err)
		}
		if err := hold.Rollback(); err != nil {
			t.Fatal(err)
		}
		err = <-done
		waitIdle(t, &f.s.submissions.mergeQueue, deadline)
		if got := stored(writing.Value); (err == nil) != got {
			t.Errorf("round %d: answered %v, stored %v: an answer must say what was stored", i, err, got)
		}
		if stored(queued.Value) {
			t.Errorf("round %d: a request whose client went away while queued was written", i)
		}
	}
}

// lostCommitIngests begins real transactions whose Commit stores them and
// then fails, as when a PostgreSQL connection is cut after COMMIT went out.
type lostCommitIngests struct{ store.Store }

type lostCommitIngest struct{ store.Ingest }

func (l *lostCommitIngests) BeginIngest(ctx context.Context) (store.Ingest, error) {
	ing, err := l.Store.BeginIngest(ctx)
	return &lostCommitIngest{ing}, err
}

func (l *lostCommitIngest) Commit() error {
	if err := l.Ingest.Commit(); err != nil {
		return err
	}
	return errors.New("connection lost after COMMIT")
}

// TestBulkWriterDoesNotRewriteAnUnknownCommit: when a merged transaction's
// commit fails, it may have been stored; its requests are answered with the
// error, not written again one by one (which stored every indicator a second
// time, as an update, with a second change each).
func TestBulkWriterDoesNotRewriteAnUnknownCommit(t *testing.T) {
	f := newBulkFixture(t)
	f.s = New(Config{Store: &lostCommitIngests{Store: f.st}, Logger: slog.New(slog.DiscardHandler)})
	ctxs := []context.Context{t.Context(), t.Context(), t.Context()}
	reqs := [][]model.Submission{
		{f.submission(0, "first.example.org")},
		{f.submission(1, "merged-1.example.org")},
		{f.submission(2, "merged-2.example.org")},
	}
	before, err := f.st.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, errs := f.queue(t, ctxs, reqs)
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "connection lost after COMMIT") {
			t.Errorf("request %d: %v, want the commit's error", r, err)
		}
	}
	after, err := f.st.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got != 3 {
		t.Errorf("%d changes for 3 submissions, want 3: the merged write was written again", got)
	}
}
