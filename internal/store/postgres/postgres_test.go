package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/postgres"
	"github.com/hdnetwork/hdn/internal/store/storetest"
)

// dsnEnv names the PostgreSQL server the tests use; every test works in a
// fresh schema of its own, dropped at its end.
const dsnEnv = "HDN_TEST_POSTGRES_DSN"

// freshSchema creates a schema with a unique name, drops it when tb ends,
// and returns a DSN whose connections use it.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(dsnEnv)
	if base == "" {
		tb.Skip("HDN_TEST_POSTGRES_DSN not set: PostgreSQL store tests skipped")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "hdn_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open %s: %v", dsnEnv, err)
	}
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", dsnEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return st
}

func TestConformance(t *testing.T) {
	if os.Getenv(dsnEnv) == "" {
		t.Skip("HDN_TEST_POSTGRES_DSN not set: PostgreSQL store tests skipped")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestOpenUsesTheSchemaOfTheDSN(t *testing.T) {
	dsn := freshSchema(t)
	st := open(t, dsn)
	u, _ := url.Parse(dsn)
	if got, want := st.Schema(), u.Query().Get("search_path"); got != want {
		t.Errorf("Schema() = %q, want %q", got, want)
	}
	db, err := sql.Open("pgx", os.Getenv(dsnEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'indicators'`,
		st.Schema()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("schema %s holds %d tables named indicators, want 1", st.Schema(), n)
	}
}

func TestOpenRefusesAMissingSchema(t *testing.T) {
	base := os.Getenv(dsnEnv)
	if base == "" {
		t.Skip("HDN_TEST_POSTGRES_DSN not set: PostgreSQL store tests skipped")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "hdn_test_no_such_schema")
	u.RawQuery = q.Encode()
	st, err := postgres.Open(t.Context(), u.String())
	if err == nil {
		st.Close()
		t.Fatal("Open with a search_path of a missing schema succeeded")
	}
	t.Logf("as expected: %v", err)
}

// Hub replicas starting together on a fresh schema must migrate it once and
// all succeed.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := freshSchema(t)
	const replicas = 6
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	versions := map[int]bool{}
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: Open: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
		v, err := stores[i].SchemaVersion(t.Context())
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		versions[v] = true
	}
	if len(versions) != 1 {
		t.Errorf("replicas see schema versions %v, want one", versions)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct {
		t.Errorf("schema_migrations holds %d rows for %d versions: a migration ran twice", rows, distinct)
	}
}

// Several replicas (stores) ingesting at once while readers follow the
// change log: every reader must see the sequence strictly increasing and
// never find an entry later below its cursor (the gap of a late commit).
func TestChangeSequenceInOrderAcrossReplicas(t *testing.T) {
	dsn := freshSchema(t)
	const writers, batches, perBatch = 3, 20, 25
	stores := make([]*postgres.Store, writers)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	ctx := t.Context()
	org, err := stores[0].CreateOrg(ctx, model.Org{Name: "seq", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var readerErr error
	var seen []int64
	var rwg sync.WaitGroup
	rwg.Go(func() {
		reader := stores[0]
		var after int64
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			cs, err := reader.Changes(ctx, after, 1000)
			if err != nil {
				readerErr = err
				return
			}
			for _, c := range cs {
				if c.Seq <= after {
					readerErr = fmt.Errorf("change %d after cursor %d", c.Seq, after)
					return
				}
				after = c.Seq
				seen = append(seen, c.Seq)
			}
			if finished && len(cs) == 0 {
				return
			}
		}
	})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				subs := make([]model.Submission, perBatch)
				for i := range subs {
					subs[i] = model.Submission{Type: indicator.Domain, TLP: policy.Green, Source: org.ID,
						Value: "w" + strconv.Itoa(w) + "-b" + strconv.Itoa(b) + "-" + strconv.Itoa(i) + ".example"}
				}
				ing, err := stores[w].BeginIngest(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := ing.Put(ctx, subs); err != nil {
					ing.Rollback()
					t.Error(err)
					return
				}
				if err := ing.Commit(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Another replica writes single changes meanwhile: revokes of what the
	// first writer stored so far.
	revoked := 0
	wg.Go(func() {
		other := stores[writers-1]
		for range batches {
			inds, err := other.ListIndicators(ctx, policy.Viewer{OrgID: org.ID, Kind: policy.Member},
				store.Query{Limit: 1, Desc: true})
			if err != nil {
				t.Error(err)
				return
			}
			if len(inds) == 0 || inds[0].Revoked {
				continue
			}
			if _, err := other.Revoke(ctx, inds[0].ID, time.Time{}); err != nil {
				t.Error(err)
				return
			}
			revoked++
		}
	})
	wg.Wait()
	close(done)
	rwg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	if want := writers*batches*perBatch + revoked; len(seen) != want {
		t.Errorf("reader saw %d changes, want %d (%d of them revokes)", len(seen), want, revoked)
	}
	last, err := stores[1].LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) > 0 && last != seen[len(seen)-1] {
		t.Errorf("LastSeq = %d, the reader's last change %d", last, seen[len(seen)-1])
	}
}

// A schema migrated by a newer program is refused, not used half-understood.
func TestOpenRefusesANewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if st, err := postgres.Open(t.Context(), dsn); err == nil {
		st.Close()
		t.Fatal("Open of a schema of version 9999 succeeded")
	} else {
		t.Logf("as expected: %v", err)
	}
}

// TestCompactChanges checks compaction on PostgreSQL as the SQLite store's
// test does: the floor answers ErrCursorGone, LastSeq and the next sequence
// number stay, and a lower compaction never lowers the floor.
func TestCompactChanges(t *testing.T) {
	st := open(t, freshSchema(t))
	ctx := t.Context()
	org, err := st.CreateOrg(ctx, model.Org{Name: "compact", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	put := func(prefix string, n int) {
		t.Helper()
		subs := make([]model.Submission, n)
		for i := range subs {
			subs[i] = model.Submission{Type: indicator.Domain, TLP: policy.Green, Source: org.ID,
				Value: prefix + strconv.Itoa(i) + ".example"}
		}
		ing, err := st.BeginIngest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer ing.Rollback()
		if _, err := ing.Put(ctx, subs); err != nil {
			t.Fatal(err)
		}
		if err := ing.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put("compact", 10)
	if deleted, err := st.CompactChanges(ctx, 4); err != nil || deleted != 4 {
		t.Fatalf("CompactChanges(4) = %d, %v; want 4", deleted, err)
	}
	if _, err := st.Changes(ctx, 3, 100); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("Changes(3) after compaction through 4: %v, want ErrCursorGone", err)
	}
	if cs, err := st.Changes(ctx, 4, 100); err != nil || len(cs) != 6 || cs[0].Seq != 5 {
		t.Errorf("Changes(4) = %d entries, %v; want 6 from seq 5", len(cs), err)
	}
	if deleted, err := st.CompactChanges(ctx, 1000); err != nil || deleted != 6 {
		t.Fatalf("CompactChanges(1000) = %d, %v; want 6", deleted, err)
	}
	if last, _ := st.LastSeq(ctx); last != 10 {
		t.Errorf("LastSeq after compaction %d, want 10", last)
	}
	put("after", 1)
	if cs, err := st.Changes(ctx, 10, 100); err != nil || len(cs) != 1 || cs[0].Seq != 11 {
		t.Errorf("after compaction the next change is %+v, %v; want seq 11", cs, err)
	}
	if _, err := st.CompactChanges(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Changes(ctx, 9, 100); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("Changes(9) after the floor 10: %v, want ErrCursorGone", err)
	}
}

// TestTouchKeysAcrossReplicas: two replicas recording the last use of the
// same keys at once must not deadlock (they updated the rows in map order,
// and PostgreSQL, whose writers run concurrently, aborted one of them).
func TestTouchKeysAcrossReplicas(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := context.Background()
	org, err := a.CreateOrg(ctx, model.Org{Name: "touch", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]time.Time{}
	for i := range 50 {
		id := fmt.Sprintf("touchkey%08d", i)
		if err := a.CreateKey(ctx, model.Key{ID: id, OrgID: org.ID, Role: policy.Analyst, Hash: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
		uses[id] = time.Now()
	}
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range []*postgres.Store{a, b} {
			wg.Go(func() { errs[i] = st.TouchKeys(ctx, uses) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, replica %d: %v", round, i, err)
			}
		}
	}
}

// TestFedOriginsUniqueMigration: the upgrade to one copy per origin
// indicator keeps, of two copies that replicas stored at once, the one the
// federated apply found, revokes the other (with its change) and then
// refuses a second copy.
func TestFedOriginsUniqueMigration(t *testing.T) {
	dsn := freshSchema(t)
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	tc := storetest.SeedTwinCopies(t, st)
	st.Close()
	// The schema as the version before the index left it, with a second
	// copy.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP INDEX fed_origins_origin; CREATE INDEX fed_origins_origin ON fed_origins(origin_id);
		DELETE FROM schema_migrations WHERE version >= (SELECT version FROM schema_migrations WHERE name = '0013_fed_origins_unique.sql')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO fed_origins (`+storetest.TwinColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, tc.ExtraRow()...); err != nil {
		t.Fatal(err)
	}
	tc.Check(t, open(t, dsn))
}
