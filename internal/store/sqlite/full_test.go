package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestSizeBound: a store opened with MaxBytes refuses a write that would
// grow the file past it with store.ErrFull and keeps nothing of it — no
// indicator, no change, no gap in the change sequence — while reads and
// small writes go on; reopened with room, it takes the same write.
func TestSizeBound(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir) // the schema, unbounded
	st.Close()
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	bound := fi.Size() + 512<<10
	st, err = sqlite.OpenWith(t.Context(), dir, sqlite.Options{MaxBytes: bound})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	o, err := st.CreateOrg(ctx, model.Org{Name: "hospital", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(b int) []model.Submission {
		subs := make([]model.Submission, 1000)
		for i := range subs {
			subs[i] = model.Submission{Type: indicator.Domain, Value: "batch" + strconv.Itoa(b) + "-" + strconv.Itoa(i) + ".full.example",
				TLP: policy.Green, Audience: policy.NetworkAudience(), Source: o.ID, Labels: []string{"phishing"},
				Description: "a description long enough to fill pages quickly"}
		}
		return subs
	}
	put := func(subs []model.Submission) error {
		ing, err := st.BeginIngest(ctx)
		if err != nil {
			return err
		}
		defer ing.Rollback()
		if _, err := ing.Put(ctx, subs); err != nil {
			return err
		}
		return ing.Commit()
	}
	stored := 0
	var fullErr error
	for b := range 100 {
		if err := put(batch(b)); err != nil {
			fullErr = err
			break
		}
		stored += 1000
	}
	if !errors.Is(fullErr, store.ErrFull) {
		t.Fatalf("after %d indicators in a file bounded to %d bytes: %v, want ErrFull", stored, bound, fullErr)
	}
	if stored == 0 {
		t.Fatalf("not one batch fitted in %d bytes", bound)
	}
	last, err := st.LastSeq(ctx)
	if err != nil || last != int64(stored) {
		t.Errorf("LastSeq %d, %v after %d stored: the refused batch left changes", last, err, stored)
	}
	v, err := st.Viewer(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	inds, err := st.ListIndicators(ctx, v, store.Query{Limit: 100000})
	if err != nil || len(inds) != stored {
		t.Errorf("%d indicators read, %v; want the %d stored", len(inds), err, stored)
	}
	// Small writes that fit in free pages may go on; whatever happens, the
	// answer is success or ErrFull, and reads work.
	if _, err := st.CreateOrg(ctx, model.Org{Name: "another", Kind: policy.Member}); err != nil && !errors.Is(err, store.ErrFull) {
		t.Errorf("a small write in a full store: %v, want success or ErrFull", err)
	}
	if _, err := st.Org(ctx, o.ID); err != nil {
		t.Errorf("a read in a full store: %v", err)
	}
	st.Close()

	st, err = sqlite.OpenWith(t.Context(), dir, sqlite.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := put(batch(stored / 1000)); err != nil {
		t.Fatalf("the refused batch with room: %v", err)
	}
	if last, err := st.LastSeq(ctx); err != nil || last != int64(stored+1000) {
		t.Errorf("LastSeq %d, %v; want %d: no gap", last, err, stored+1000)
	}
}

func TestOpenWithNegativeBound(t *testing.T) {
	if _, err := sqlite.OpenWith(t.Context(), t.TempDir(), sqlite.Options{MaxBytes: -1}); err == nil {
		t.Error("OpenWith accepted a negative bound")
	}
}
