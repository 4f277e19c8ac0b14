// Package postgres is the hub's store on PostgreSQL, for when one machine is
// not enough: several hub replicas share one database. It implements
// store.Store and passes the conformance suite in package storetest, as the
// SQLite store does. Most of its methods are the SQLite store's too: both
// embed a *sqlstore.Store, which runs the queries they share through each
// store's transactions and SQL dialect (shared.go), so that both decide the
// same things the same way; this package keeps what PostgreSQL does its own
// way (docs/STORE.md).
//
// # Driver
//
// It talks to PostgreSQL through pgx v5 behind database/sql (pgx/v5/stdlib)
// rather than pgxpool directly. The store's methods are written against
// database/sql transactions in the same shape as the SQLite store's (read
// snapshots, write transactions, rows scanned into sql.Null* values), which
// lets the two share the code of most methods (package sqlstore); pgx
// still prepares and caches every statement per connection (its default
// query mode), so the extra layer costs little next to a round trip. What database/sql lacks,
// the store does itself: queries are written with ? and :name placeholders
// and rewritten to PostgreSQL's $n once per call (rebind), and Go booleans
// are sent as 0/1 because the schema keeps SQLite's integer flags.
//
// # Connection and schema
//
// Open takes a PostgreSQL URL or keyword/value DSN. Every parameter pgx does
// not know itself becomes a run-time parameter of each connection, so a DSN
// with search_path=hdn_prod puts every table, and every statement, in that
// schema (which must exist); without it PostgreSQL's default (public) holds.
// migrations/*.sql are applied in order at Open and recorded in
// schema_migrations, under a session advisory lock (pg_advisory_lock) keyed
// on the schema, so that replicas starting together migrate once: the first
// applies what is missing, the others wait and then find nothing to do. A
// schema newer than the program is refused.
//
// # Session settings
//
// A replica cut off from the database (a partition, a paused VM) while its
// transaction holds the change-log lock would otherwise keep every replica's
// writers waiting until PostgreSQL's TCP keepalive gives up on it, two hours
// and more by default. Every connection of the store therefore sets, once
// opened, the settings of sessionDefaults: the server ends a session idle in
// a transaction for 60 s, and one whose client stopped answering after about
// 60 s (TCP keepalive and user timeout), which rolls its transaction back
// and releases its locks; a lock is waited for at most 2 min, so that a
// writer behind a holder that is stuck for another reason fails with
// ErrLockTimeout, naming the holder, instead of waiting for ever. (A client
// stopped in the middle of sending a statement, its TCP connection up, is
// ended by no timeout: PostgreSQL does not cancel a statement while it waits
// for the rest of it. Then the error names the stuck session.) Each is set
// only where PostgreSQL's built-in default still holds (pg_settings.source
// is "default"): a value the DSN gives (a parameter or options=-c …), or the
// role, the database or postgresql.conf, wins. They are set with set_config
// after connecting rather than sent as startup parameters, which PgBouncer
// refuses. Migrations wait for their locks without a bound unless the
// operator set one (a replica starting while another migrates waits for it).
// No statement_timeout is set: a migration, offboarding a large organisation
// or a report over many rows may run long while its client waits for it.
//
// The schema is the SQLite store's after all its migrations, with the same
// conventions: times as BIGINT unix nanoseconds UTC, flags as INTEGER 0/1,
// lists of labels and tags as JSON text, optional references NULL.
//
// # Change sequence
//
// The change sequence must become visible strictly in order: a reader that
// has seen seq 7 must never later find a 6. PostgreSQL sequences do not give
// that with concurrent writers, since numbers are taken in one order and
// committed in another. The store therefore serialises the writers of the
// change log: every transaction that writes change entries (an ingest,
// Revoke, ExpireDue, SetGroupMember, RevokeOrg, SetQuarantine, ExpireNow,
// CompactChanges) first takes a transaction-level advisory lock
// (pg_advisory_xact_lock, keyed on the schema), held until it commits or
// rolls back, and only then reads the last sequence number and writes
// base+1, base+2, …. The next
// writer obtains the lock only after the previous one's commit is visible,
// so sequence numbers commit in order, across all replicas. The newest
// number lives in meta ('last_seq'), kept by a statement trigger on changes,
// so that it never goes down when compaction deletes entries, and readers
// (LastSeq, Changes) never wait for a writer. The lock is taken first thing
// in the transaction, before any row lock, so it cannot take part in a
// deadlock. The alternative, readers that never read past the oldest
// sequence number still in flight, would let writers run in parallel but
// needs every reader to know the in-flight set (pg_snapshot_xmin and a
// per-transaction record); the lock is simpler to get right, and an ingest
// stays fast because it does a whole batch in a few statements while it
// holds the lock: the upsert takes one array per column (INSERT … SELECT
// FROM unnest(…) ON CONFLICT … RETURNING: one plan, one round trip, any
// batch size), the change entries and the audience lists one statement
// each. STIX objects (written only inside an ingest) and audit entries
// (under their own lock) take their paging numbers under a lock too, for
// the same reason.
//
// Other writes (keys, users, sessions, sensors, feeds, webhooks, …) run at
// READ COMMITTED without the lock and rely on constraints, single-statement
// updates, and SELECT … FOR UPDATE where they read before they write. Every
// read method runs its queries in one REPEATABLE READ, READ ONLY
// transaction: one snapshot, as the SQLite store's WAL readers have.
//
// # Federation lock
//
// A federated apply (internal/api) reads the copies held, decides and
// writes in several transactions; WithFederationLock runs it under a
// session-level advisory lock (pg_advisory_lock, keyed on the schema) on a
// connection of its own, so that applies run one at a time across replicas
// and two deliveries of one indicator cannot both store a copy (fedlock.go
// says why a session lock). The unique index on fed_origins(origin_id)
// refuses a second copy of one origin indicator should one be written
// anyway.
//
// docs/POSTGRES.md says how to run the hub on PostgreSQL and what to size.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock classes (the first key of the two-key lock functions; the
// second is hashtext of the schema's name, so that hubs in different
// schemas of one database do not wait for each other).
const (
	lockClassMigrate = 0x68646e01 // session lock while migrating
	lockClassChanges = 0x68646e02 // transaction lock of change-log writers
	lockClassAudit   = 0x68646e03 // transaction lock of audit appends
	// lockClassFederation is the session lock of federated applies
	// (WithFederationLock, fedlock.go).
	lockClassFederation = 0x68646e04
)

// maxConns is the size of the connection pool of one Store.
const maxConns = 16

// sessionDefaults are set on every connection of the store where
// PostgreSQL's built-in default still holds (see the package doc and
// docs/POSTGRES.md, "Session settings"). Every transaction of the store is
// short and driven by the store itself, statement after statement, so a
// session idle in a transaction for a minute belongs to a client that is
// gone or frozen. The usual holders of the change-log lock keep it for
// seconds at most (an ingest is at most one request's 100,000 indicators,
// usually a merged batch of a few thousand; an expiry or compaction step is
// one bounded transaction); only offboarding an organisation with
// anonymisation or changing a sharing group's members touches all its
// indicators at once. A writer that waited 2 min for the lock fails with
// ErrLockTimeout rather than wait for ever. lockTimeout is longer than the
// minute in which a vanished holder is ended, so that such a holder costs
// the other writers a delay, not a failure.
var sessionDefaults = []struct{ name, value string }{
	{"idle_in_transaction_session_timeout", "60s"},
	{"lock_timeout", lockTimeout},
	{"tcp_keepalives_idle", "30"},     // seconds of silence before the first probe
	{"tcp_keepalives_interval", "10"}, // seconds between probes
	{"tcp_keepalives_count", "3"},     // unanswered probes before the connection is dropped
	{"tcp_user_timeout", "60s"},       // sent data unacknowledged for this long drops it too
}

// lockTimeout is the store's default lock_timeout.
const lockTimeout = "2min"

// ErrLockTimeout is returned, wrapped, by a write that waited longer than
// lock_timeout for the change-log or audit lock, and by WithFederationLock
// that waited that long for the federation lock: another transaction or
// federated apply, on this or another replica, held it that long.
var ErrLockTimeout = errors.New("postgres: a write lock was not granted within lock_timeout")

// setSessionDefaults sets sessionDefaults on a new connection where nobody
// set them: one statement, once per connection.
func setSessionDefaults(ctx context.Context, conn *pgx.Conn) error {
	names := make([]string, len(sessionDefaults))
	values := make([]string, len(sessionDefaults))
	for i, d := range sessionDefaults {
		names[i], values[i] = d.name, d.value
	}
	if _, err := conn.Exec(ctx, `SELECT set_config(d.name, d.value, false)
		FROM unnest($1::text[], $2::text[]) AS d(name, value)
		JOIN pg_settings s ON s.name = d.name
		WHERE s.source = 'default'`, names, values); err != nil {
		return fmt.Errorf("postgres: session settings: %w", err)
	}
	return nil
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	// The methods whose queries both SQL stores share.
	*sqlstore.Store

	db     *DB
	schema string

	// fedLock is held (a value sent) by the goroutine of this process
	// that waits for or holds the federation lock (WithFederationLock); a
	// channel so that waiting honours the caller's context.
	fedLock chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects to the database dsn names and brings its schema up to date.
// dsn is a URL (postgres://user@host:5432/db?sslmode=disable&search_path=hdn)
// or a keyword/value string; see the package doc for search_path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(setSessionDefaults))
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	s := &Store{db: &DB{sqlDB}, fedLock: make(chan struct{}, 1)}
	s.Store = sqlstore.New(dialect, sharedDB{s})
	if err := sqlDB.QueryRowContext(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&s.schema); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	if s.schema == "" {
		sqlDB.Close()
		return nil, fmt.Errorf("postgres: %s:%d/%s: no schema of search_path %q exists: create it first",
			cfg.Host, cfg.Port, cfg.Database, cfg.RuntimeParams["search_path"])
	}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Schema is the schema the store's tables are in.
func (s *Store) Schema() string { return s.schema }

// Close closes the connection pool. The store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.DB.Close(); err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// migrate applies the migrations the schema lacks, each in its own
// transaction, while holding the schema's migration lock on one connection.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close()
	// Migrations wait for their locks as long as it takes (a replica that
	// starts while another migrates waits for it; a migration's DDL waits
	// for the transactions of running replicas), unless the operator set a
	// lock_timeout: the store's own is lifted on this connection while it
	// migrates and set again afterwards.
	var ours bool
	if err := conn.QueryRowContext(ctx, `SELECT source = 'session' FROM pg_settings WHERE name = 'lock_timeout'`).Scan(&ours); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if ours {
		if _, err := conn.ExecContext(ctx, `SELECT set_config('lock_timeout', '0', false)`); err != nil {
			return fmt.Errorf("postgres: migrate: lift lock_timeout: %w", err)
		}
		defer func() {
			if _, rerr := conn.ExecContext(context.Background(), `SELECT set_config('lock_timeout', $1, false)`, lockTimeout); rerr != nil && err == nil {
				err = fmt.Errorf("postgres: migrate: set lock_timeout again: %w", rerr)
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, lockClassMigrate); err != nil {
		return fmt.Errorf("postgres: migrate schema %s: take the migration lock: %w", s.schema, err)
	}
	defer func() {
		// A background context: the lock must go even when ctx has ended
		// (closing the connection would release it too).
		if _, uerr := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, lockClassMigrate); uerr != nil && err == nil {
			err = fmt.Errorf("postgres: migrate schema %s: release the migration lock: %w", s.schema, uerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: migrate schema %s: %w", s.schema, err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate schema %s: %w", s.schema, err)
	}
	if latest := ms[len(ms)-1].Version; current > latest {
		return fmt.Errorf("postgres: schema %s has version %d, newer than this program's %d: use a newer hdn", s.schema, current, latest)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: migration %s in schema %s: %w", m.Name, s.schema, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
			m.Version, m.Name, sqlstore.NowNano()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("postgres: migration %s: commit: %w", m.Name, err)
		}
	}
	return nil
}

// SchemaVersion is the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// write runs fn in a write transaction (READ COMMITTED) and commits when fn
// returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *Tx) error) error {
	return s.writeLocked(ctx, 0, fn)
}

// writeChanges runs fn in a write transaction that holds the change-log
// lock from its start (see the package doc): every transaction that writes
// change entries goes through it.
func (s *Store) writeChanges(ctx context.Context, fn func(tx *Tx) error) error {
	return s.writeLocked(ctx, lockClassChanges, fn)
}

func (s *Store) writeLocked(ctx context.Context, lockClass int64, fn func(tx *Tx) error) error {
	tx, err := s.begin(ctx, lockClass)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return full(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", full(mapErr(err)))
	}
	return nil
}

// begin starts a write transaction, taking the advisory lock of lockClass
// first unless it is 0. It is READ COMMITTED whatever the session's default
// (a DSN, a role or a database may set another): a writer of the change
// log must read meta.last_seq in a snapshot taken after its lock was
// granted, which REPEATABLE READ, taking its snapshot at the lock's
// statement, would not give.
func (s *Store) begin(ctx context.Context, lockClass int64) (*Tx, error) {
	sqlTx, err := s.db.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	tx := &Tx{sqlTx}
	if lockClass != 0 {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))`, lockClass); err != nil {
			_ = tx.Rollback()
			return nil, s.lockError(ctx, lockClass, err)
		}
	}
	return tx, nil
}

// lockError is the error of a failed wait for the advisory lock of
// lockClass: ErrLockTimeout, naming the holder, when lock_timeout ran out.
func (s *Store) lockError(ctx context.Context, lockClass int64, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgLockNotAvailable {
		return fmt.Errorf("%w: the %s lock of schema %s%s (%w)",
			ErrLockTimeout, lockName(lockClass), s.schema, s.lockHolder(ctx, lockClass), err)
	}
	return fmt.Errorf("postgres: take the %s lock of schema %s: %w", lockName(lockClass), s.schema, err)
}

// lockHolder says, for the error of a writer that waited out lock_timeout,
// which session holds the advisory lock of lockClass, so that an operator
// can tell a stuck one and end it: a session in the middle of a statement
// whose client stopped sending (its state active, waiting for ClientRead) is
// ended by none of PostgreSQL's timeouts while its TCP connection stays up
// (docs/POSTGRES.md, "Session settings").
func (s *Store) lockHolder(ctx context.Context, lockClass int64) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var (
		pid                 int64
		client, state, wait string
		secs                int64
	)
	err := s.db.DB.QueryRowContext(ctx, `SELECT a.pid, COALESCE(host(a.client_addr), 'local'), COALESCE(a.state, '?'),
			COALESCE(a.wait_event, 'nothing'), COALESCE(EXTRACT(epoch FROM now() - a.state_change)::bigint, 0)
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid = $1 AND l.objid = hashtext(current_schema())::oid`, lockClass).Scan(&pid, &client, &state, &wait, &secs)
	if err != nil {
		return "; a transaction on this or another replica has held it that long"
	}
	return fmt.Sprintf(", held by backend %d (client %s, %s for %d s, waiting for %s); a session stuck that long can be ended with pg_terminate_backend(%d)",
		pid, client, state, secs, wait, pid)
}

// lockName names an advisory lock class in errors.
func lockName(lockClass int64) string {
	switch lockClass {
	case lockClassChanges:
		return "change-log"
	case lockClassAudit:
		return "audit-log"
	case lockClassFederation:
		return "federation"
	}
	return fmt.Sprintf("%#x", lockClass)
}

// read runs fn in a read-only transaction: every query of fn sees the same
// snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.db.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("postgres: begin read: %w", err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // a read transaction has nothing to keep
	return fn(&Tx{sqlTx})
}

// PostgreSQL error codes the store maps (Appendix A of its manual).
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgDiskFull            = "53100"
	pgLockNotAvailable    = "55P03" // lock_timeout ran out
)

// full marks an error of a full disk (disk_full) as store.ErrFull; others
// are returned unchanged.
func full(err error) error {
	var pe *pgconn.PgError
	if err != nil && errors.As(err, &pe) && pe.Code == pgDiskFull && !errors.Is(err, store.ErrFull) {
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w (%v)", store.ErrConflict, err)
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: a referenced organisation, group or report does not exist (%v)", store.ErrNotFound, err)
		}
	}
	return err
}
