package postgres

import (
	"context"
	"database/sql"

	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// dialect is PostgreSQL's part of the queries the two SQL stores share
// (package sqlstore).
var dialect = sqlstore.Dialect{
	Name:             "postgres",
	MapErr:           mapErr,
	False:            "FALSE",
	Greatest:         "GREATEST",
	Least:            "LEAST",
	ForUpdate:        " FOR UPDATE",
	InsertIgnore:     "INSERT INTO",
	OnConflictIgnore: " ON CONFLICT DO NOTHING",
	TextArray:        func(p string) string { return "SELECT jsonb_array_elements_text(" + p + "::jsonb)" },
	IntArray:         func(p string) string { return "SELECT jsonb_array_elements_text(" + p + "::jsonb)::bigint" },
	CountIf:          func(cond string) string { return "count(*) FILTER (WHERE " + cond + ")" },
}

// sharedDB runs the shared queries through the store's pool, as the store's
// own methods do.
type sharedDB struct{ s *Store }

var _ sqlstore.DB = sharedDB{}

// Write runs fn in a write transaction; one that appends to a log holds
// the log's advisory lock (see the package doc).
func (d sharedDB) Write(ctx context.Context, log sqlstore.Log, fn func(tx sqlstore.Tx) error) error {
	var lockClass int64
	switch log {
	case sqlstore.ChangeLog:
		lockClass = lockClassChanges
	case sqlstore.AuditLog:
		lockClass = lockClassAudit
	}
	return d.s.writeLocked(ctx, lockClass, func(tx *Tx) error { return fn(tx) })
}

func (d sharedDB) Read(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	return d.s.read(ctx, func(tx *Tx) error { return fn(tx) })
}

// ReadQuery runs query in tx; pgx prepares and caches it per connection.
func (d sharedDB) ReadQuery(ctx context.Context, tx sqlstore.Tx, query string, args ...any) (*sql.Rows, error) {
	return tx.QueryContext(ctx, query, args...)
}

func (d sharedDB) Prepare(ctx context.Context, tx sqlstore.Tx, query string) (sqlstore.Stmt, error) {
	st, err := tx.(*Tx).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (d sharedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.s.db.QueryContext(ctx, query, args...)
}

func (d sharedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.s.db.QueryRowContext(ctx, query, args...)
}

func (d sharedDB) LastSeq(ctx context.Context, tx sqlstore.Tx) (int64, error) {
	return lastSeq(ctx, tx.(*Tx))
}
