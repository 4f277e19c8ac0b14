package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hdnetwork/hdn/internal/store/migrate"
	"github.com/hdnetwork/hdn/internal/store/open"
)

// runMigrate is `hdn migrate --from sqlite:DIR --to postgres://…`: the
// whole state of a hub's data directory copied into PostgreSQL.
func runMigrate(e *env) error {
	fs := e.flags("hdn migrate")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hdn migrate --from sqlite:DIR --to postgres://… (or %s)\n\n"+
			"Copies a hub's whole state from its SQLite data directory into an empty PostgreSQL database\n"+
			"(or schema: search_path=… in the URL), in one transaction. Stop the hub first.\n\nflags:\n", dbEnv)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "the source: sqlite:DIR, the hub's data directory")
	to := fs.String("to", "", "the target PostgreSQL URL (postgres://…; or "+dbEnv+" in the environment)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := e.parse(fs); err != nil {
		return err
	}
	dir, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || dir == "" {
		return errors.New("hdn migrate: --from must be sqlite:DIR (the hub's data directory)")
	}
	dsn := dbURL(*to)
	if !open.IsPostgres(dsn) {
		return fmt.Errorf("hdn migrate: --to (or %s) must be a postgres:// or postgresql:// URL", dbEnv)
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	rep, err := migrate.SQLiteToPostgres(e.ctx, dir, dsn, log)
	if err != nil {
		return fmt.Errorf("hdn migrate: %w", err)
	}
	tables := map[string]int64{}
	for _, t := range rep.Tables {
		tables[t.Table] = t.Rows
	}
	return printJSON(e.stdout, map[string]any{"from": *from, "tables": tables, "rows": rep.Rows(), "last_seq": rep.LastSeq})
}
