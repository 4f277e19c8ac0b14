package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func testAudit(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	at := now().Add(-time.Minute)
	entries := []model.AuditEntry{
		{At: at, Org: a.ID, Actor: "key-a1", Action: "indicator.create", Target: "x", Detail: "3 stored"},
		{At: at, Org: b.ID, Actor: "key-b1", Action: "key.revoke", Target: "key-b2"},
		{Org: a.ID, Actor: "key-a1", Action: "indicator.revoke", Target: "y"}, // At zero: the store sets it
		{At: at, Org: "", Actor: "cli", Action: "org.create", Target: "C"},
		{At: at, Org: a.ID, Actor: "key-a2", Action: "group.join", Target: "g"},
	}
	for _, en := range entries {
		if err := e.st.AppendAudit(e.ctx, en); err != nil {
			e.Fatalf("AppendAudit: %v", err)
		}
	}
	list := func(q store.AuditQuery) []model.AuditEntry {
		e.Helper()
		es, err := e.st.ListAudit(e.ctx, q)
		if err != nil {
			e.Fatalf("ListAudit(%+v): %v", q, err)
		}
		return es
	}
	all := list(store.AuditQuery{})
	if len(all) != len(entries) {
		e.Fatalf("ListAudit returned %d entries, want %d", len(all), len(entries))
	}
	var last int64
	for i, got := range all {
		want := entries[i]
		if got.Seq <= last {
			e.Errorf("entry %d: seq %d not after %d", i, got.Seq, last)
		}
		last = got.Seq
		if got.Org != want.Org || got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target || got.Detail != want.Detail {
			e.Errorf("entry %d: %+v, want %+v", i, got, want)
		}
		if !want.At.IsZero() && !got.At.Equal(want.At) || want.At.IsZero() && !recent(got.At) {
			e.Errorf("entry %d: at %v, want %v (now when not given)", i, got.At, want.At)
		}
	}
	if got := list(store.AuditQuery{Org: a.ID}); len(got) != 3 || got[0].Seq != all[0].Seq || got[1].Seq != all[2].Seq || got[2].Seq != all[4].Seq {
		e.Errorf("audit of A: %+v, want entries 1, 3, 5", got)
	}
	if got := list(store.AuditQuery{Org: b.ID}); len(got) != 1 || got[0].Action != "key.revoke" {
		e.Errorf("audit of B: %+v", got)
	}
	if got := list(store.AuditQuery{After: all[0].Seq, Limit: 2}); len(got) != 2 || got[0].Seq != all[1].Seq || got[1].Seq != all[2].Seq {
		e.Errorf("audit after the first, 2: %+v", got)
	}
	if got := list(store.AuditQuery{Org: a.ID, After: all[2].Seq}); len(got) != 1 || got[0].Seq != all[4].Seq {
		e.Errorf("audit of A after the third: %+v", got)
	}
}

// testConcurrentIngest runs ingests from several goroutines, half of them
// re-submitting what others submit, while a reader tails the change log;
// nothing may be lost or duplicated, and the tail must see every entry (an
// entry that becomes visible behind a reader's cursor would be lost to it).
func testConcurrentIngest(e *env) {
	const (
		writers  = 6
		ingests  = 6
		perPut   = 25
		distinct = 60
	)
	var sources []model.Org
	for i := range 3 {
		sources = append(sources, e.org("source "+strconv.Itoa(i), policy.Member, ""))
	}
	start := e.lastSeq()

	var (
		mu      sync.Mutex
		results []store.UpsertResult
		keys    = map[string]bool{} // source|value submitted
		wg      sync.WaitGroup
		errs    = make(chan error, writers+1)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := sources[w%len(sources)].ID
			for k := range ingests {
				subs := make([]model.Submission, perPut)
				for i := range subs {
					v := (w*7 + k*perPut + i) % distinct
					subs[i] = sub(src, indicator.Domain, "c"+strconv.Itoa(v)+".example")
				}
				ing, err := e.st.BeginIngest(e.ctx)
				if err != nil {
					errs <- err
					return
				}
				res, err := ing.Put(e.ctx, subs)
				if err != nil {
					ing.Rollback()
					errs <- err
					return
				}
				if err := ing.Commit(); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				results = append(results, res...)
				for _, s := range subs {
					keys[s.Source+"|"+s.Value] = true
				}
				mu.Unlock()
			}
		}()
	}

	// The tail follows the log while the writers write.
	done := make(chan struct{})
	var tail []model.Change
	tailDone := make(chan struct{})
	go func() {
		defer close(tailDone)
		after := start
		for {
			// Whether the writers had finished before this read: only then
			// does an empty read mean the tail has seen everything.
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			cs, err := e.st.Changes(e.ctx, after, 13)
			if err != nil {
				errs <- fmt.Errorf("tail: %w", err)
				return
			}
			for _, c := range cs {
				if c.Seq <= after {
					errs <- fmt.Errorf("tail: seq %d after %d", c.Seq, after)
					return
				}
				after = c.Seq
			}
			tail = append(tail, cs...)
			if len(cs) == 0 {
				if finished {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	wg.Wait()
	close(done)
	<-tailDone
	close(errs)
	for err := range errs {
		e.Fatal(err)
	}

	total := writers * ingests * perPut
	if len(results) != total {
		e.Fatalf("%d results, want %d", len(results), total)
	}
	created := map[string]bool{}
	seqs := map[int64]bool{}
	for _, r := range results {
		if seqs[r.Seq] {
			e.Errorf("seq %d given twice", r.Seq)
		}
		seqs[r.Seq] = true
		if r.Status == store.StatusCreated {
			if created[r.ID] {
				e.Errorf("indicator %s created twice", r.ID)
			}
			created[r.ID] = true
		}
	}
	if len(created) != len(keys) {
		e.Errorf("%d indicators created, want %d (one per source and value)", len(created), len(keys))
	}
	cs := e.changes(start, 50)
	if len(cs) != total {
		e.Errorf("%d change entries, want %d (one per upsert)", len(cs), total)
	}
	for _, c := range cs {
		if !seqs[c.Seq] {
			e.Errorf("change %d is no upsert's seq", c.Seq)
		}
	}
	if len(tail) != len(cs) {
		e.Errorf("the tail saw %d entries, the log holds %d: entries became visible behind the tail's cursor", len(tail), len(cs))
	}
	var listed int
	for _, o := range sources {
		listed += len(e.list(e.viewer(o.ID), store.Query{Limit: 1000}))
	}
	// Every source sees all (green, network): 3 views of the same set.
	if listed != 3*len(keys) {
		e.Errorf("sources list %d indicators in all, want %d", listed, 3*len(keys))
	}
}
