package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"

	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/store/storetest"
)

func open(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st := open(t, t.TempDir())
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return st
	})
}

// seed makes an organisation and n indicators of it, and returns the
// organisation's viewer.
func seed(t *testing.T, st store.Store, name string, n int) policy.Viewer {
	t.Helper()
	ctx := t.Context()
	o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	subs := make([]model.Submission, n)
	for i := range subs {
		subs[i] = model.Submission{Type: indicator.Domain, Value: name + "-" + strconv.Itoa(i) + ".example",
			TLP: policy.Green, Audience: policy.NetworkAudience(), Source: o.ID, Labels: []string{"malware"}}
	}
	ingest(t, st, subs)
	v, err := st.Viewer(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ingest(t *testing.T, st store.Store, subs []model.Submission) []store.UpsertResult {
	t.Helper()
	ing, err := st.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Rollback()
	res, err := ing.Put(t.Context(), subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	return res
}

func count(t *testing.T, st store.Store, v policy.Viewer) int {
	t.Helper()
	inds, err := st.ListIndicators(t.Context(), v, store.Query{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(inds)
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "hub")
	st := open(t, dir)
	defer st.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", fi.Mode().Perm())
	}
	if st.Path() != filepath.Join(dir, sqlite.FileName) {
		t.Errorf("Path() = %s", st.Path())
	}
	if _, err := os.Stat(filepath.Join(dir, "hdn.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	v := seed(t, st, "reopen", 20)
	last, err := st.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		st = open(t, dir)
		if n := count(t, st, v); n != 20 {
			t.Errorf("after reopening: %d indicators, want 20", n)
		}
		if got, _ := st.LastSeq(t.Context()); got != last {
			t.Errorf("after reopening: LastSeq %d, want %d", got, last)
		}
		if _, err := st.Org(t.Context(), "reopen"); err != nil {
			t.Errorf("after reopening: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, dir)
	var applied, versions int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&applied, &versions); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if applied != len(files) || versions != len(files) {
		t.Errorf("schema_migrations holds %d rows (%d versions), want one per migration file (%d)", applied, versions, len(files))
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
}

func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir).Close()
	if _, err := rawDB(t, dir).Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), dir)
	if err == nil {
		st.Close()
		t.Fatal("Open accepted a database with a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

// TestSecondStoreOnTheSameDirectory is `hdn admin` while the hub runs: a
// second Store (here in the same process, with its own connections) sees
// what the first committed and can write, waiting while the first holds the
// write lock.
func TestSecondStoreOnTheSameDirectory(t *testing.T) {
	dir := t.TempDir()
	hub := open(t, dir)
	defer hub.Close()
	v := seed(t, hub, "hub", 10)
	admin := open(t, dir)
	defer admin.Close()
	if n := count(t, admin, v); n != 10 {
		t.Errorf("the second store sees %d indicators, want 10", n)
	}
	if _, err := admin.CreateOrg(t.Context(), model.Org{Name: "added by admin", Kind: policy.Member}); err != nil {
		t.Fatalf("the second store cannot write: %v", err)
	}
	if _, err := hub.Org(t.Context(), "added by admin"); err != nil {
		t.Errorf("the first store does not see the second's write: %v", err)
	}

	// The hub holds the write lock; the admin's write waits, then succeeds.
	ing, err := hub.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ing.Put(t.Context(), []model.Submission{{Type: indicator.Domain, Value: "late.example",
		TLP: policy.Green, Source: v.OrgID}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- admin.AppendAudit(t.Context(), model.AuditEntry{Actor: "cli", Action: "org.create"})
	}()
	select {
	case err := <-done:
		t.Fatalf("the admin's write did not wait for the hub's transaction: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the admin's write failed after waiting: %v", err)
	}
	if n := count(t, admin, v); n != 11 {
		t.Errorf("the second store sees %d indicators, want 11", n)
	}
	// The change sequence stays one sequence across both.
	res := ingest(t, admin, []model.Submission{{Type: indicator.Domain, Value: "admin.example", TLP: policy.Green, Source: v.OrgID}})
	last, _ := hub.LastSeq(t.Context())
	if res[0].Seq != last || last != 12 {
		t.Errorf("seq of the admin's ingest %d, hub's LastSeq %d; want both 12", res[0].Seq, last)
	}
}

func TestCompactChanges(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	ctx := t.Context()
	seed(t, st, "compact", 10)
	deleted, err := st.CompactChanges(ctx, 4)
	if err != nil || deleted != 4 {
		t.Fatalf("CompactChanges(4) = %d, %v; want 4", deleted, err)
	}
	for _, after := range []int64{0, 3} {
		if _, err := st.Changes(ctx, after, 100); !errors.Is(err, store.ErrCursorGone) {
			t.Errorf("Changes(%d) after compaction through 4: %v, want ErrCursorGone", after, err)
		}
	}
	cs, err := st.Changes(ctx, 4, 100)
	if err != nil || len(cs) != 6 || cs[0].Seq != 5 {
		t.Errorf("Changes(4) = %d entries, %v; want 6 from seq 5", len(cs), err)
	}
	// Compacting past the end compacts to the end: the next seq is still new.
	if deleted, err := st.CompactChanges(ctx, 1000); err != nil || deleted != 6 {
		t.Fatalf("CompactChanges(1000) = %d, %v; want 6", deleted, err)
	}
	if cs, err := st.Changes(ctx, 10, 100); err != nil || len(cs) != 0 {
		t.Errorf("Changes(10) after compacting all: %d, %v; want none, no error", len(cs), err)
	}
	if last, _ := st.LastSeq(ctx); last != 10 {
		t.Errorf("LastSeq after compaction %d, want 10", last)
	}
	seed(t, st, "after", 1)
	cs, err = st.Changes(ctx, 10, 100)
	if err != nil || len(cs) != 1 || cs[0].Seq != 11 {
		t.Errorf("after compaction the next change is %+v, %v; want seq 11", cs, err)
	}
	// A lower compaction never lowers the floor.
	if _, err := st.CompactChanges(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Changes(ctx, 9, 100); !errors.Is(err, store.ErrCursorGone) {
		t.Errorf("Changes(9) after the floor 10: %v, want ErrCursorGone", err)
	}
}

func TestListsAndTimesRoundTrip(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	v := seed(t, st, "roundtrip", 0)
	odd := []string{`quote " inside`, `back\slash`, "naïve ünïcode", "", "comma,and,commas", `","`, "tab\there", "<html>&amp;"}
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	res := ingest(t, st, []model.Submission{{Type: indicator.Domain, Value: "odd.example", TLP: policy.Green,
		Source: v.OrgID, Labels: odd, Tags: []string{"plain"}, ValidUntil: far}})
	got, err := st.IndicatorByID(t.Context(), res[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Labels, odd) || !slices.Equal(got.Tags, []string{"plain"}) {
		t.Errorf("labels %q tags %q, want %q and [plain]", got.Labels, got.Tags, odd)
	}
	if got.ValidUntil.Year() != 2262 || !got.Live(time.Now()) {
		t.Errorf("valid until 9999 came back as %v (live %t), want clamped to 2262, live", got.ValidUntil, got.Live(time.Now()))
	}
	for _, l := range odd {
		inds, err := st.ListIndicators(t.Context(), v, store.Query{Label: l})
		if err != nil || len(inds) != 1 {
			t.Errorf("label filter %q: %d, %v; want the indicator", l, len(inds), err)
		}
	}
}

// TestFilesOwnerOnly: the database files are created owner-only, and a
// database file left readable by others is made owner-only when opened.
func TestFilesOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, sqlite.FileName)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s%s: mode %v, want 0600", sqlite.FileName, suffix, fi.Mode().Perm())
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after reopening a 0644 file: %v, %v", fi.Mode().Perm(), err)
	}
}

// TestQuarantinedValuesMigration: the upgrade to quarantine held per value
// holds the values of the hub's own quarantined indicators, and the signal
// job's HoldQuarantinedValues then quarantines the other sources' live
// indicators of them, which a quarantine before the upgrade left live.
func TestQuarantinedValuesMigration(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	ctx := t.Context()
	var orgs []model.Org
	for _, name := range []string{"src", "other"} {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: policy.Member})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	sub := func(src string) model.Submission {
		return model.Submission{Type: indicator.Domain, Value: "ehr.hospital-a.example", TLP: policy.Green, Audience: policy.NetworkAudience(), Source: src}
	}
	res := ingest(t, st, []model.Submission{sub(orgs[0].ID), sub(orgs[1].ID)})
	const reason = "reported a false positive by 2 organisations; quarantined until the coordinator decides"
	if _, err := st.SetQuarantine(ctx, res[0].ID, true, reason, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// The database as the version before the hold left it (the later
	// migrations are applied again).
	if _, err := rawDB(t, dir).Exec(`DROP TABLE quarantined_values;
		DELETE FROM schema_migrations WHERE version >= (SELECT version FROM schema_migrations WHERE name = '0022_quarantined_values.sql')`); err != nil {
		t.Fatal(err)
	}
	st = open(t, dir)
	defer st.Close()
	held, err := st.HoldQuarantinedValues(ctx, time.Now())
	if err != nil || len(held) != 1 || held[0].ID != res[1].ID || !held[0].Quarantined || held[0].QuarantineReason != reason {
		t.Fatalf("HoldQuarantinedValues after the upgrade: %+v, %v; want the other source's indicator quarantined", held, err)
	}
	if again, err := st.HoldQuarantinedValues(ctx, time.Now()); err != nil || len(again) != 0 {
		t.Errorf("HoldQuarantinedValues again: %+v, %v", again, err)
	}
}

// TestFedOriginsUniqueMigration: the upgrade to one copy per origin
// indicator keeps, of two copies an older hub stored, the one the federated
// apply found, revokes the other (with its change) and then refuses a
// second copy.
func TestFedOriginsUniqueMigration(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	tc := storetest.SeedTwinCopies(t, st)
	st.Close()
	// The database as the version before the index left it, with a
	// second copy.
	db := rawDB(t, dir)
	if _, err := db.Exec(`DROP INDEX fed_origins_origin; CREATE INDEX fed_origins_origin ON fed_origins(origin_id);
		DELETE FROM schema_migrations WHERE version >= (SELECT version FROM schema_migrations WHERE name = '0023_fed_origins_unique.sql')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO fed_origins (`+storetest.TwinColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tc.ExtraRow()...); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st = open(t, dir)
	defer st.Close()
	tc.Check(t, st)
}
