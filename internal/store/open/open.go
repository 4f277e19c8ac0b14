// Package open chooses and opens the hub's store: PostgreSQL when a
// postgres:// or postgresql:// URL is given, otherwise the embedded SQLite
// database in the data directory. It is the one place that knows both
// implementations, so that the hub and the command line need neither.
package open

import (
	"context"
	"errors"
	"strings"

	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/postgres"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// IsPostgres says whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL).
func IsPostgres(dsn string) bool {
	lower := strings.ToLower(dsn)
	return strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://")
}

// Open opens PostgreSQL when dsn is a postgres:// or postgresql:// URL, and
// otherwise SQLite in dataDir. Any other non-empty dsn is an error rather
// than silently ignored.
func Open(ctx context.Context, dataDir, dsn string) (store.Store, error) {
	return OpenWith(ctx, dataDir, dsn, 0)
}

// OpenWith is Open with a bound on the SQLite database's size in bytes (0:
// none; sqlite.Options.MaxBytes). PostgreSQL takes no bound from the hub:
// its own tablespace and disk quotas do that, and a bound with a
// PostgreSQL URL is an error rather than silently ignored.
func OpenWith(ctx context.Context, dataDir, dsn string, maxBytes int64) (store.Store, error) {
	switch {
	case IsPostgres(dsn) && maxBytes != 0:
		return nil, errors.New("store: a size bound is for the embedded SQLite database; bound PostgreSQL with its own quotas")
	case IsPostgres(dsn):
		return postgres.Open(ctx, dsn)
	case dsn != "":
		return nil, errors.New("store: database URL must start with postgres:// or postgresql:// (empty: SQLite in the data directory)")
	case dataDir == "":
		return nil, errors.New("store: no data directory and no database URL")
	}
	return sqlite.OpenWith(ctx, dataDir, sqlite.Options{MaxBytes: maxBytes})
}
