// Package sqlstore holds what the hub's two SQL stores, SQLite (package
// sqlite) and PostgreSQL (package postgres), have in common: the encoding
// of times, lists and ids, and every store method whose queries are the
// same in both databases but for a few fragments. Each store embeds a
// *Store, which implements those methods once, and gives it two things:
//
//   - a DB, which runs transactions and queries the way that store does
//     (SQLite: one serialised writer and a pool of read-only snapshot
//     connections; PostgreSQL: READ COMMITTED writers, advisory locks for
//     the transactions that append to the change log or the audit log,
//     REPEATABLE READ readers, placeholders rewritten to $n);
//   - a Dialect: its name (every error message starts with it), how its
//     constraint violations become store errors, and the SQL fragments that
//     differ (JSON arrays, GREATEST, FOR UPDATE, …).
//
// Queries here are written in SQLite's syntax with ? and :name placeholders,
// which the PostgreSQL store rewrites (see package postgres); what differs
// in PostgreSQL goes through the Dialect, and a query whose semantics are
// the same but whose text is not is written in the form both accept.
//
// What is particular to one database stays in its package: opening,
// durability and locking, applying migrations (Migrations only reads the
// files), the bulk ingest (the upserts, change entries and audience lists
// of a Put, and BeginIngest, Commit and Rollback), ListIndicators (index
// hints and JSON containment differ), LastSeq and ExpireDue (how each
// assigns and keeps change sequence numbers), and leases. The shared
// pieces that code uses (Querier, the visibility conditions,
// CheckSubmission, PutBefores, PutSTIXObjects, PutOrigins) are exported
// for it. docs/STORE.md describes the layout and how to add a method.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/hdnetwork/hdn/internal/store"
)

// Tx is a transaction as the shared queries use it: *sql.Tx in the SQLite
// store, the placeholder-rewriting *postgres.Tx in the PostgreSQL store.
type Tx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Stmt is a statement prepared in a transaction (DB.Prepare).
type Stmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
	Close() error
}

// Log names the numbered log a write transaction appends to. Entries of a
// log must become visible in the order of their numbers, so the PostgreSQL
// store serialises the transactions that append to one (SQLite has one
// writer anyway).
type Log int

// The logs.
const (
	NoLog     Log = iota // appends to no log
	ChangeLog            // writes change entries (model.Change)
	AuditLog             // appends to the audit log
)

// DB runs the shared queries against one store's database. The Tx handed to
// fn, and the one Prepare and ReadQuery take, is always the DB's own.
type DB interface {
	// Write runs fn in a write transaction and commits when fn returns nil.
	Write(ctx context.Context, log Log, fn func(tx Tx) error) error
	// Read runs fn in a read-only transaction: every query of fn sees the
	// same snapshot.
	Read(ctx context.Context, fn func(tx Tx) error) error
	// ReadQuery runs a query in a transaction of Read; the SQLite store
	// prepares each such query once per connection.
	ReadQuery(ctx context.Context, tx Tx, query string, args ...any) (*sql.Rows, error)
	// Prepare prepares a statement in tx, for a loop of executions.
	Prepare(ctx context.Context, tx Tx, query string) (Stmt, error)
	// QueryContext and QueryRowContext run one query outside a transaction.
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// LastSeq reads the newest change sequence number inside a write
	// transaction of the ChangeLog.
	LastSeq(ctx context.Context, tx Tx) (int64, error)
}

// Dialect is what differs in the text of the shared queries, and how the
// database's errors read.
type Dialect struct {
	// Name begins every error message of the store: "sqlite", "postgres".
	Name string
	// MapErr turns a taken unique key into store.ErrConflict, a missing
	// referenced row or sql.ErrNoRows into store.ErrNotFound, and returns
	// other errors unchanged.
	MapErr func(error) error
	// False is a condition that never holds.
	False string
	// Greatest and Least name the scalar functions of the largest and the
	// smallest of their arguments.
	Greatest, Least string
	// ForUpdate ends a SELECT of a row that the transaction then updates:
	// a row lock where writers run concurrently, nothing in SQLite.
	ForUpdate string
	// InsertIgnore begins, and OnConflictIgnore ends, an INSERT that skips
	// rows whose unique key is taken.
	InsertIgnore, OnConflictIgnore string
	// TextArray and IntArray are SELECTs of the elements of the JSON array
	// of strings or integers bound to the placeholder p ("?" or ":name"):
	// the set of an IN (…).
	TextArray, IntArray func(p string) string
	// CountIf is an aggregate that counts the rows of a group where the
	// condition cond holds.
	CountIf func(cond string) string
}

// Store implements the shared store methods for one database. The SQLite
// and PostgreSQL stores embed it.
type Store struct {
	d  Dialect
	db DB
}

// New returns the shared part of a store on db.
func New(d Dialect, db DB) *Store {
	return &Store{d: d, db: db}
}

func (s *Store) write(ctx context.Context, fn func(tx Tx) error) error {
	return s.db.Write(ctx, NoLog, fn)
}

func (s *Store) writeChanges(ctx context.Context, fn func(tx Tx) error) error {
	return s.db.Write(ctx, ChangeLog, fn)
}

func (s *Store) read(ctx context.Context, fn func(tx Tx) error) error {
	return s.db.Read(ctx, fn)
}

func (s *Store) mapErr(err error) error { return s.d.MapErr(err) }

func (s *Store) lastSeq(ctx context.Context, tx Tx) (int64, error) { return s.db.LastSeq(ctx, tx) }

// Limits of a page of a listing.
const (
	defaultLimit = 100
	maxLimit     = 10000
)

// PageLimit is the number of rows a listing asked for n returns: 0 (or
// less) is defaultLimit, and no more than maxLimit.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// byIDOrName ends a lookup of one row by id or by name (case-insensitive),
// preferring the id; its arguments are the id, the folded name and the id.
const byIDOrName = `WHERE id = ? OR name_key = ? ORDER BY id = ? DESC LIMIT 1`

// first returns the first of the rows a lookup found, store.ErrNotFound
// when it found none, with the error saying what was looked for: "sqlite:
// feed \"x\": not found".
func first[T any](s *Store, what, key string, rows []T, err error) (T, error) {
	if err == nil && len(rows) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %s %q: %w", s.d.Name, what, key, err)
	}
	return rows[0], nil
}

// updateRow runs one statement that changes the row of a noun ("feed",
// "webhook", "peer") with this id: store.ErrNotFound when it changed none,
// the error saying what was done: "sqlite: feed "x": set enabled: …".
func (s *Store) updateRow(ctx context.Context, noun, id, what, text string, args ...any) error {
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, text, args...)
		if err != nil {
			return s.mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %s %q: %s: %w", s.d.Name, noun, id, what, err)
	}
	return nil
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs one query outside a transaction and scans every row it
// returns; an error says what was being read: "sqlite: list keys: …".
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	out, err := queryRows(ctx, s, scan, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	return out, nil
}

// queryRows is queryAll for callers that say themselves what was being
// read (first, or a listing's own message).
func queryRows[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// sortedSet returns xs sorted without duplicates (nil for none).
func sortedSet(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return slices.Compact(xs)
}
