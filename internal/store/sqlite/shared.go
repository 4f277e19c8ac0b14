package sqlite

import (
	"context"
	"database/sql"

	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// dialect is SQLite's part of the queries the two SQL stores share
// (package sqlstore).
var dialect = sqlstore.Dialect{
	Name:             "sqlite",
	MapErr:           mapErr,
	False:            "0",
	Greatest:         "max",
	Least:            "min",
	ForUpdate:        "",
	InsertIgnore:     "INSERT OR IGNORE INTO",
	OnConflictIgnore: "",
	TextArray:        jsonEach,
	IntArray:         jsonEach,
	CountIf:          func(cond string) string { return "sum(" + cond + ")" },
}

func jsonEach(p string) string { return "SELECT value FROM json_each(" + p + ")" }

// sharedDB runs the shared queries on the store's connections, as the
// store's own methods do.
type sharedDB struct{ s *Store }

var _ sqlstore.DB = sharedDB{}

// Write runs fn as the one writer; with one writer at a time, every log
// is written in order.
func (d sharedDB) Write(ctx context.Context, _ sqlstore.Log, fn func(tx sqlstore.Tx) error) error {
	return d.s.write(ctx, func(tx *sql.Tx) error { return fn(tx) })
}

func (d sharedDB) Read(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	return d.s.read(ctx, func(tx *sql.Tx) error { return fn(tx) })
}

// ReadQuery runs query with the read statement prepared for it (readStmt).
func (d sharedDB) ReadQuery(ctx context.Context, tx sqlstore.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := d.s.readStmt(ctx, tx.(*sql.Tx), query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (d sharedDB) Prepare(ctx context.Context, tx sqlstore.Tx, query string) (sqlstore.Stmt, error) {
	st, err := tx.(*sql.Tx).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (d sharedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.s.rdb.QueryContext(ctx, query, args...)
}

func (d sharedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.s.rdb.QueryRowContext(ctx, query, args...)
}

func (d sharedDB) LastSeq(ctx context.Context, tx sqlstore.Tx) (int64, error) {
	return lastSeq(ctx, tx.(*sql.Tx))
}
