// Package sqlite is the hub's embedded store: one SQLite database file,
// hdn.db, in the data directory, through the pure-Go driver
// modernc.org/sqlite, so that the hub needs nothing but Go. It implements
// store.Store and passes the conformance suite in package storetest. The
// methods whose queries the PostgreSQL store shares live in package
// sqlstore, which the Store embeds and runs through this package's
// transactions and SQL dialect (shared.go); this package keeps what SQLite
// does its own way (docs/STORE.md).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: a transaction that
// Commit has acknowledged is on disk (the WAL is synced at every commit), so
// a change sequence number handed to a sensor or peer is never taken back by
// a power loss. With synchronous=NORMAL a power loss could lose the last
// acknowledged transactions, though never corrupt the file. Measured on a
// 2-core VM: FULL costs about 6% on ingests of 5,000 indicators and about
// 0.2 ms on each small write transaction (an audit entry: 0.25 ms against
// 0.05 ms), so callers should not write per request what they can batch
// (the keys' last use, say: the API gathers it and writes it in one
// transaction every 30 s, store.Keys.TouchKeys).
//
// # Concurrency
//
// SQLite allows one writer at a time. The store has one write connection
// (its own *sql.DB with a single connection), and a channel used as a mutex
// serialises write transactions inside the process; write transactions begin
// IMMEDIATE, so a second process on the same file (`hdn admin` while the hub
// runs) waits for the lock (busy_timeout, 10 s) instead of failing half-way.
// Reads go through a separate pool of read-only connections and never wait
// for the writer: WAL gives every read transaction a consistent snapshot,
// and every read method runs its queries in one read transaction.
//
// An Ingest holds the write lock from BeginIngest to Commit or Rollback: a
// goroutine that holds an Ingest must not call another writing method of the
// same Store, or it waits for itself. If a Put fails, the ingest is spoilt:
// later Puts fail and Commit rolls back and reports the failure.
//
// # Bulk ingest
//
// The writer is the one thing an ingest cannot spread over cores, so a Put
// keeps its work small: it upserts up to 256 submissions per prepared
// statement; a run of submissions that differ only in type and value (what
// one bulk request usually is) goes through a uniform statement that binds
// the shared columns once and three values a row, instead of 21 (binding,
// in the pure-Go driver, cost about as much as the insert); it writes the
// change entries of a whole Put with one statement over a JSONB array
// (jsonb.go), and its explicit audiences likewise. Nothing of this changes
// what a transaction holds or when it becomes visible.
//
// # Change sequence
//
// The writer assigns change sequence numbers itself while it holds the
// database's write lock (from the AUTOINCREMENT counter of the changes
// table), so an upsert, its change entry and the indicator's seq are written
// by the same statements without extra round trips, and sequence numbers
// become visible strictly in order, across processes too. CompactChanges
// drops old entries and records the floor below which Changes answers
// store.ErrCursorGone.
//
// A change that alters who may see an indicator records the policy facts
// from before (model.Change.Before): an update of TLP or audience, learnt
// from the upsert itself (it copies the old facts into prev_* columns and
// returns them), and a change of a group's members, which writes an
// "updated" change for every indicator shared with the group.
//
// # Schema
//
// migrations/*.sql, applied in order at Open and recorded in
// schema_migrations; a database with a newer schema than the program knows
// is refused. Times are int64 unix nanoseconds UTC (clamped to the years
// 1678–2262), lists of labels and tags JSON arrays, optional references NULL.
// Indicators have a public UUID (version 7, so that new ids append to their
// index) and an internal integer key n that the audience lists and the
// change log use. The unique index (value, type, source) makes a
// re-submission by the same source an update and serves lookups by value,
// with or without type; (seq) serves paging; partial indexes on valid_until
// and audience_group serve expiry and changes of a group's members.
//
// A re-submission overwrites what the submission says (TLP, audience,
// labels, tags, description, confidence, submitter, anonymity, report),
// keeps valid_from and valid_until unless given, clears the expired flag
// when valid_until moves later, re-activates a revoked indicator (its source
// vouches for it again), and keeps first_seen and created.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// FileName is the name of the database file in the data directory.
const FileName = "hdn.db"

// busyTimeoutMS is how long a connection waits for a lock another process
// holds before it gives up with SQLITE_BUSY.
const busyTimeoutMS = 10000

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	// The methods whose queries both SQL stores share.
	*sqlstore.Store

	path string
	wdb  *sql.DB // the one write connection
	rdb  *sql.DB // read-only connections

	// wlock is held (a value sent) for every write transaction of this
	// process; a channel rather than a sync.Mutex so that waiting for it
	// honours the caller's context.
	wlock chan struct{}

	// fedLock is held (a value sent) while a federated apply runs
	// (WithFederationLock).
	fedLock chan struct{}

	// The writer's prepared statements, prepared at Open (the write
	// connection is busy inside a transaction later): upserts by number of
	// rows and shape, the others take a whole batch as one JSONB array.
	upserts        map[upsertKey]*sql.Stmt
	changeInsert   *sql.Stmt
	audienceInsert *sql.Stmt

	// The checkpointer: its connection, the signal that a write committed,
	// and its end.
	cdb      *sql.DB
	kick     chan struct{}
	quit     chan struct{}
	ckptDone chan struct{}
	closed   sync.Once

	// reads holds prepared read statements by SQL text (*sql.Stmt on rdb,
	// prepared on each connection once).
	reads sync.Map
}

var _ store.Store = (*Store)(nil)

// ownerOnly makes the database file (created empty when absent) and its WAL
// and shared-memory files readable by their owner only: they hold key
// hashes, the audit log and feed credentials. SQLite gives the WAL and
// shared-memory files it creates the database file's mode.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	f.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(path+suffix, fi.Mode().Perm()&0o600); err != nil {
			return fmt.Errorf("sqlite: make %s owner-only: %w", path+suffix, err)
		}
	}
	return nil
}

// Options tune a Store.
type Options struct {
	// MaxBytes bounds the database file (0: no bound, only the disk's).
	// A write that would grow it past the bound is refused whole with
	// store.ErrFull, as when the disk is full; reads, and writes that fit
	// (in pages freed by deletions), go on. The bound is a number of pages
	// (SQLite's max_page_count): it is rounded down to the page size, and
	// a file already larger keeps its size. The WAL file is not counted.
	MaxBytes int64
}

// Open opens (creating if needed) the database hdn.db in dir, creating dir
// with mode 0700 when it is missing, and brings its schema up to date.
// Several Stores, in one process or several, may open the same directory.
// The database files are made owner-only (0600).
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenWith(ctx, dir, Options{})
}

// pageSize reads the page size of the database file at path from its
// header (SQLite's file format, offset 16), or gives SQLite's default for
// a new file.
func pageSize(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 4096
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return 4096
	}
	switch v := binary.BigEndian.Uint16(h[16:18]); v {
	case 1:
		return 65536
	default:
		return int64(v)
	}
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("sqlite: the size bound %d is negative", opts.MaxBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := ownerOnly(abs); err != nil {
		return nil, err
	}
	s := &Store{
		path:     abs,
		wlock:    make(chan struct{}, 1),
		fedLock:  make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		ckptDone: make(chan struct{}),
		upserts:  map[upsertKey]*sql.Stmt{},
	}
	s.Store = sqlstore.New(dialect, sharedDB{s})
	// The pragmas run on every new connection. journal_mode=WAL is a
	// property of the file; the others are per connection.
	common := []string{
		"busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")",
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"temp_store(MEMORY)",
	}
	writer := append(common,
		"cache_size(-65536)",
		"wal_autocheckpoint("+strconv.Itoa(walBackstopPages)+")",
		"journal_size_limit(67108864)",
	)
	if opts.MaxBytes > 0 {
		writer = append(writer, "max_page_count("+strconv.FormatInt(max(1, opts.MaxBytes/pageSize(abs)), 10)+")")
	}
	s.wdb, err = openDB(dsn(abs, writer, "immediate"), 1)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.wdb.Close()
		return nil, err
	}
	if err := s.prepareWriter(ctx); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	s.rdb, err = openDB(dsn(abs, append(common, "cache_size(-16384)", "query_only(1)"), ""), max(4, 2*runtime.GOMAXPROCS(0)))
	if err == nil {
		s.cdb, err = openDB(dsn(abs, common, ""), 1)
	}
	if err == nil {
		err = s.rdb.PingContext(ctx)
	}
	if err != nil {
		for _, db := range []*sql.DB{s.wdb, s.rdb, s.cdb} {
			if db != nil {
				db.Close()
			}
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	go s.checkpointer()
	return s, nil
}

// openDB opens a pool of at most conns connections that stay open.
func openDB(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// dsn builds a modernc.org/sqlite data source name for path.
func dsn(path string, pragmas []string, txlock string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if txlock != "" {
		q.Set("_txlock", txlock)
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. The store must not be used afterwards.
func (s *Store) Close() error {
	var errs []error
	s.closed.Do(func() {
		close(s.quit)
		<-s.ckptDone
		errs = append(errs, s.rdb.Close(), s.cdb.Close())
		// PRAGMA optimize is cheap and keeps the planner's statistics
		// current for long-lived databases. Closing the last connection
		// checkpoints the WAL into the database file.
		_, _ = s.wdb.Exec("PRAGMA optimize")
		errs = append(errs, s.wdb.Close())
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Checkpoints copy the WAL back into the database file. SQLite does that by
// default in the connection that commits, whenever the WAL holds 1000 pages;
// an ingest dirties thousands of random pages of the value index, so that
// would be nearly every ingest, and it makes them take a tenth longer.
// Instead a goroutine with its own connection checkpoints after commits, at
// most every checkpointInterval, on another core; its checkpoints are
// PASSIVE: they never block the writer or readers. A busy writer never finds
// the WAL completely copied, though, and the WAL can only start over when it
// does: so the writer still checkpoints itself (as SQLite does) once the WAL
// reaches walBackstopPages, which is cheap because the goroutine has copied
// most of it, and the WAL then starts over instead of growing without end.
const (
	checkpointInterval = 200 * time.Millisecond
	walBackstopPages   = 4096 // 16 MiB of 4 KiB pages
)

// committed tells the checkpointer that the WAL has grown.
func (s *Store) committed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		// A failed passive checkpoint needs no handling: the next one, or
		// the writer's backstop, does the work.
		_, _ = s.cdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-s.quit:
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// migrate applies the migrations the database lacks, all in one IMMEDIATE
// transaction, so that two processes opening a new directory at once do not
// both apply them. A database whose schema is newer than this program knows
// is refused rather than used half-understood.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name    TEXT NOT NULL,
			applied INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if latest := ms[len(ms)-1].Version; current > latest {
			return fmt.Errorf("sqlite: database %s has schema version %d, newer than this program's %d: use a newer hdn", s.path, current, latest)
		}
		for _, m := range ms {
			if m.Version <= current {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
				m.Version, m.Name, sqlstore.NowNano()); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

// lockWrite takes the process's write lock, or gives up when ctx ends.
func (s *Store) lockWrite(ctx context.Context) error {
	select {
	case s.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWrite() { <-s.wlock }

// WithFederationLock runs fn while no other WithFederationLock of this
// process does (store.Federation). A lock of the process is enough: the
// hub is the one process that applies federated deliveries to a SQLite
// database (several replicas need PostgreSQL; `hdn admin` applies none).
// It cannot be the write lock, which fn's own writes take in turn: fn
// reads and decides between them.
func (s *Store) WithFederationLock(ctx context.Context, fn func() error) error {
	select {
	case s.fedLock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: federation lock: %w", ctx.Err())
	}
	defer func() { <-s.fedLock }()
	return fn()
}

// write runs fn in a write transaction and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return full(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", full(err))
	}
	s.committed()
	return nil
}

// read runs fn in a read transaction: every query of fn sees the same
// snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a read transaction has nothing to keep
	return fn(tx)
}

// readStmt returns the read statement for query, prepared once and then
// reused, bound to tx.
func (s *Store) readStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.reads.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return tx.StmtContext(ctx, st), nil
}

// sqliteCode is the extended result code of an SQLite error, 0 for others.
func sqliteCode(err error) int {
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// full marks an error of a full database (SQLITE_FULL: the disk, or the
// page limit of Options.MaxBytes) as store.ErrFull; others are returned
// unchanged.
func full(err error) error {
	if err != nil && sqliteCode(err)&0xff == sqlite3.SQLITE_FULL && !errors.Is(err, store.ErrFull) {
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	}
	return err
}

// mapErr turns constraint violations into the store's errors: a taken
// unique key into store.ErrConflict, a missing referenced row into
// store.ErrNotFound, sql.ErrNoRows into store.ErrNotFound. Other errors are
// returned unchanged.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w (%v)", store.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: a referenced organisation, group or report does not exist (%v)", store.ErrNotFound, err)
	}
	return err
}
