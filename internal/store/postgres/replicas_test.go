package postgres_test

// Replicas of one hub writing the same database at once.

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/postgres"
)

// Two replicas add sightings of one organisation for the same indicators
// in the same hour, in opposite orders (two sensors of one hospital, each
// report from a map): the rows are written in one order, so neither
// deadlocks (it did: SQLSTATE 40P01).
func TestAddSightingsAcrossReplicas(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := context.Background()
	src, _ := a.CreateOrg(ctx, model.Org{Name: "src", Kind: policy.Member})
	org, _ := a.CreateOrg(ctx, model.Org{Name: "hosp", Kind: policy.Member})
	subs := make([]model.Submission, 50)
	for i := range subs {
		subs[i] = model.Submission{Type: indicator.Domain, TLP: policy.Green, Source: src.ID, Value: "s" + strconv.Itoa(i) + ".example"}
	}
	ing, err := a.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urs, err := ing.Put(ctx, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC()
	fwd := make([]model.Sighting, len(urs))
	for i, ur := range urs {
		fwd[i] = model.Sighting{IndicatorID: ur.ID, Org: org.ID, Kind: model.Sighted, Count: 1, Hour: hour}
	}
	rev := slices.Clone(fwd)
	slices.Reverse(rev)
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range []*postgres.Store{a, b} {
			ss := fwd
			if i == 1 {
				ss = rev
			}
			wg.Go(func() { errs[i] = st.AddSightings(ctx, ss) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, replica %d: %v", round, i, err)
			}
		}
	}
}

// A DSN (or ALTER ROLE/DATABASE) that sets a stricter
// default_transaction_isolation: the change log's writers set READ
// COMMITTED themselves, which their ordering needs (a fresh snapshot once
// the lock is granted); under REPEATABLE READ two replicas reused a seq.
func TestChangeWritersUnderRepeatableReadDefault(t *testing.T) {
	dsn := freshSchema(t)
	rr := dsn + "&default_transaction_isolation=repeatable%20read"
	a, b := open(t, rr), open(t, rr)
	ctx := context.Background()
	org, err := a.CreateOrg(ctx, model.Org{Name: "iso", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w, st := range []*postgres.Store{a, b} {
		wg.Go(func() {
			for i := range 30 {
				ing, err := st.BeginIngest(ctx)
				if err != nil {
					errs[w] = err
					return
				}
				if _, err := ing.Put(ctx, []model.Submission{{Type: indicator.Domain, TLP: policy.Green, Source: org.ID,
					Value: "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i) + ".example"}}); err != nil {
					ing.Rollback()
					errs[w] = err
					return
				}
				if err := ing.Commit(); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
}
