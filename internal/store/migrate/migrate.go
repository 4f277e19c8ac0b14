// Package migrate copies a hub's whole state from its embedded SQLite
// database to PostgreSQL (`hdn migrate`), when a hub outgrows one machine
// and is to run as several replicas.
//
// The copy is by table, not through the store.Store interface: the
// PostgreSQL schema is the SQLite store's after all its migrations (the same
// tables and columns, the same conventions), so copying rows keeps every id,
// time, key hash, change sequence number, paging number, cursor and counter
// exactly, including what no Store method returns. It is checked rather
// than assumed: a table or column of the SQLite database that PostgreSQL
// lacks stops the copy before anything is written, so a schema one store has
// and the other not yet is an error, never a silent loss.
//
// The whole copy is one PostgreSQL transaction into a database (or schema)
// that holds no hub data yet: it commits completely or not at all. The
// SQLite side is read in one read transaction (a consistent snapshot); stop
// the hub first, or what it writes after the snapshot stays behind.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver

	"github.com/hdnetwork/hdn/internal/store/postgres"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TableCount is how many rows of a table were copied.
type TableCount struct {
	Table string
	Rows  int64
}

// Report says what a migration copied.
type Report struct {
	Tables  []TableCount // in the order copied
	LastSeq int64        // the change sequence the PostgreSQL store continues from
}

// Rows is the number of rows copied in all.
func (r Report) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// notCopied are tables that describe a database rather than hold hub state.
var notCopied = map[string]bool{"schema_migrations": true}

// seeded are tables a new schema fills with their initial rows; they are
// replaced by the source's.
var seeded = map[string]bool{"meta": true, "auth_epoch": true}

// SQLiteToPostgres copies the hub state in the data directory dir (its
// hdn.db) into the PostgreSQL database dsn. Both schemas are first brought
// up to date by their stores' own migrations. The target must hold no hub
// data. log (nil: none) is told of each table.
func SQLiteToPostgres(ctx context.Context, dir, dsn string, log *slog.Logger) (Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, err := filepath.Abs(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		return Report{}, fmt.Errorf("migrate: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return Report{}, fmt.Errorf("migrate: no hub database in %s: %w", dir, err)
	}
	// Each store migrates its own schema to the newest this program knows.
	ss, err := sqlite.Open(ctx, dir)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: open the SQLite store in %s: %w", dir, err)
	}
	if err := ss.Close(); err != nil {
		return Report{}, fmt.Errorf("migrate: close the SQLite store: %w", err)
	}
	ps, err := postgres.Open(ctx, dsn)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: open the PostgreSQL store: %w", err)
	}
	if err := ps.Close(); err != nil {
		return Report{}, fmt.Errorf("migrate: close the PostgreSQL store: %w", err)
	}

	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return Report{}, fmt.Errorf("migrate: open %s: %w", path, err)
	}
	defer src.Close()
	dst, err := sql.Open("pgx", dsn)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: open PostgreSQL: %w", err)
	}
	defer dst.Close()

	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("migrate: begin reading %s: %w", path, err)
	}
	defer stx.Rollback() //nolint:errcheck // read only
	dtx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: begin writing PostgreSQL: %w", err)
	}
	defer dtx.Rollback() //nolint:errcheck // after Commit a no-op
	rep, err := copyAll(ctx, stx, dtx, log)
	if err != nil {
		return Report{}, err
	}
	if err := dtx.Commit(); err != nil {
		return Report{}, fmt.Errorf("migrate: commit to PostgreSQL: %w", err)
	}
	return rep, nil
}

// column is a target column: its name and PostgreSQL type.
type column struct {
	name, typ string
	identity  bool
}

func copyAll(ctx context.Context, stx, dtx *sql.Tx, log *slog.Logger) (Report, error) {
	srcTables, err := sqliteTables(ctx, stx)
	if err != nil {
		return Report{}, err
	}
	dstTables, err := postgresTables(ctx, dtx)
	if err != nil {
		return Report{}, err
	}
	// Every source column must have a place in the target.
	for _, t := range sortedKeys(srcTables) {
		dcols, ok := dstTables[t]
		if !ok {
			return Report{}, fmt.Errorf("migrate: table %s of the SQLite database does not exist in PostgreSQL: this program's PostgreSQL schema lacks it, nothing was copied", t)
		}
		for _, c := range srcTables[t] {
			if !slices.ContainsFunc(dcols, func(d column) bool { return d.name == c }) {
				return Report{}, fmt.Errorf("migrate: column %s.%s of the SQLite database does not exist in PostgreSQL: nothing was copied", t, c)
			}
		}
	}
	for _, t := range sortedKeys(dstTables) {
		if _, ok := srcTables[t]; !ok {
			log.Warn("a PostgreSQL table has no SQLite counterpart; left empty", "table", t)
		}
	}
	// The target must hold no hub data.
	for _, t := range sortedKeys(dstTables) {
		if seeded[t] {
			continue
		}
		var any bool
		if err := dtx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+quote(t)+`)`).Scan(&any); err != nil {
			return Report{}, fmt.Errorf("migrate: look into PostgreSQL table %s: %w", t, err)
		}
		if any {
			return Report{}, fmt.Errorf("migrate: the PostgreSQL database already holds hub data (table %s is not empty): migrate into a new database or schema", t)
		}
	}
	for t := range seeded {
		if _, ok := dstTables[t]; ok {
			if _, err := dtx.ExecContext(ctx, `DELETE FROM `+quote(t)); err != nil {
				return Report{}, fmt.Errorf("migrate: clear PostgreSQL table %s: %w", t, err)
			}
		}
	}
	order, selfRefs, err := fkOrder(ctx, dtx, sortedKeys(srcTables))
	if err != nil {
		return Report{}, err
	}
	var rep Report
	for _, t := range order {
		n, err := copyTable(ctx, stx, dtx, t, srcTables[t], dstTables[t], selfRefs[t])
		if err != nil {
			return Report{}, err
		}
		log.Info("table copied", "table", t, "rows", n)
		rep.Tables = append(rep.Tables, TableCount{Table: t, Rows: n})
	}
	// Counters: SQLite's AUTOINCREMENT counters may be above the highest
	// row (deleted or compacted rows); PostgreSQL continues after both.
	counters := map[string]int64{}
	rows, err := stx.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: read SQLite's counters: %w", err)
	}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("migrate: read SQLite's counters: %w", err)
		}
		counters[name] = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("migrate: read SQLite's counters: %w", err)
	}
	for _, t := range order {
		for _, c := range dstTables[t] {
			if !c.identity {
				continue
			}
			_, err := dtx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2),
				GREATEST((SELECT COALESCE(MAX(`+quote(c.name)+`), 0) FROM `+quote(t)+`), $3::bigint, 1),
				GREATEST((SELECT COALESCE(MAX(`+quote(c.name)+`), 0) FROM `+quote(t)+`), $3::bigint) > 0)`,
				t, c.name, counters[t])
			if err != nil {
				return Report{}, fmt.Errorf("migrate: continue the numbering of %s.%s: %w", t, c.name, err)
			}
		}
	}
	// Every row arrived (before meta gets PostgreSQL's own last_seq).
	for _, tc := range rep.Tables {
		var n int64
		if err := dtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(tc.Table)).Scan(&n); err != nil {
			return Report{}, fmt.Errorf("migrate: count PostgreSQL table %s: %w", tc.Table, err)
		}
		if n != tc.Rows {
			return Report{}, fmt.Errorf("migrate: table %s has %d rows in PostgreSQL after copying %d", tc.Table, n, tc.Rows)
		}
	}
	// The change sequence continues after the newest number SQLite ever
	// handed out, so that no cursor a sensor or peer holds is reused.
	var maxSeq int64
	if err := stx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&maxSeq); err != nil {
		return Report{}, fmt.Errorf("migrate: read the change sequence: %w", err)
	}
	rep.LastSeq = max(maxSeq, counters["changes"])
	if _, err := dtx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('last_seq', $1)
		ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)`, rep.LastSeq); err != nil {
		return Report{}, fmt.Errorf("migrate: set the change sequence: %w", err)
	}
	return rep, nil
}

// sqliteTables lists the source's tables and their columns.
func sqliteTables(ctx context.Context, tx *sql.Tx) (map[string][]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read the SQLite schema: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, fmt.Errorf("migrate: read the SQLite schema: %w", err)
		}
		if !notCopied[t] {
			out[t] = append(out[t], c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read the SQLite schema: %w", err)
	}
	return out, nil
}

// postgresTables lists the target's tables (in the DSN's schema) and their
// columns.
func postgresTables(ctx context.Context, tx *sql.Tx) (map[string][]column, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_identity = 'YES'
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read the PostgreSQL schema: %w", err)
	}
	defer rows.Close()
	out := map[string][]column{}
	for rows.Next() {
		var t string
		var c column
		if err := rows.Scan(&t, &c.name, &c.typ, &c.identity); err != nil {
			return nil, fmt.Errorf("migrate: read the PostgreSQL schema: %w", err)
		}
		if !notCopied[t] {
			out[t] = append(out[t], c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read the PostgreSQL schema: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("migrate: the PostgreSQL schema has no tables")
	}
	return out, nil
}

// selfRef is a column that refers to its own table (an organisation's
// partner): copied as NULL first, set once every row is there.
type selfRef struct {
	column string
	key    []string // the table's primary key
}

// fkOrder orders tables so that every table comes after those its foreign
// keys refer to.
func fkOrder(ctx context.Context, tx *sql.Tx, tables []string) ([]string, map[string][]selfRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text,
			(SELECT array_to_string(array_agg(a.attname ORDER BY a.attnum), ',') FROM pg_attribute a
			  WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))
		FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, nil, fmt.Errorf("migrate: read PostgreSQL's foreign keys: %w", err)
	}
	deps := map[string][]string{}
	selfCols := map[string][]string{}
	for rows.Next() {
		var from, to, cols string
		if err := rows.Scan(&from, &to, &cols); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("migrate: read PostgreSQL's foreign keys: %w", err)
		}
		from, to = unqualify(from), unqualify(to)
		if from == to {
			selfCols[from] = append(selfCols[from], strings.Split(cols, ",")...)
			continue
		}
		deps[from] = append(deps[from], to)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("migrate: read PostgreSQL's foreign keys: %w", err)
	}
	selfRefs := map[string][]selfRef{}
	for t, cols := range selfCols {
		key, err := primaryKey(ctx, tx, t)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range cols {
			selfRefs[t] = append(selfRefs[t], selfRef{column: c, key: key})
		}
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("migrate: the foreign keys of table %s form a cycle", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, d := range deps[t] {
			if slices.Contains(tables, d) {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, nil, err
		}
	}
	return order, selfRefs, nil
}

func primaryKey(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum`, quote(table))
	if err != nil {
		return nil, fmt.Errorf("migrate: read the primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var key []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("migrate: read the primary key of %s: %w", table, err)
		}
		key = append(key, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read the primary key of %s: %w", table, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("migrate: table %s refers to itself but has no primary key", table)
	}
	return key, nil
}

// copyTable copies every row of one table, in batches of multi-row
// INSERTs, converting values to what the target column takes.
func copyTable(ctx context.Context, stx, dtx *sql.Tx, table string, cols []string, dcols []column, self []selfRef) (int64, error) {
	types := make([]string, len(cols))
	for i, c := range cols {
		for _, d := range dcols {
			if d.name == c {
				types[i] = d.typ
			}
		}
	}
	selfIdx := map[int]bool{}
	for _, r := range self {
		selfIdx[slices.Index(cols, r.column)] = true
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quote(c)
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+quote(table))
	if err != nil {
		return 0, fmt.Errorf("migrate: read SQLite table %s: %w", table, err)
	}
	defer rows.Close()
	// PostgreSQL takes at most 65,535 parameters per statement.
	perBatch := min(1000, 60000/len(cols))
	head := `INSERT INTO ` + quote(table) + ` (` + strings.Join(quoted, ", ") + `) VALUES `
	// An identity column GENERATED ALWAYS would need OVERRIDING SYSTEM
	// VALUE; BY DEFAULT (the store's) takes the given value.
	var (
		batch  []any
		n      int64
		later  [][]any // self references: key values, then the column's value, per row
		insert = func() error {
			if len(batch) == 0 {
				return nil
			}
			var sb strings.Builder
			sb.WriteString(head)
			for r := 0; r < len(batch)/len(cols); r++ {
				if r > 0 {
					sb.WriteString(", ")
				}
				sb.WriteByte('(')
				for c := range cols {
					if c > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(&sb, "$%d", r*len(cols)+c+1)
				}
				sb.WriteByte(')')
			}
			if _, err := dtx.ExecContext(ctx, sb.String(), batch...); err != nil {
				return fmt.Errorf("migrate: write PostgreSQL table %s: %w", table, err)
			}
			batch = batch[:0]
			return nil
		}
	)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("migrate: read SQLite table %s: %w", table, err)
		}
		for i, v := range vals {
			cv, err := convert(v, types[i])
			if err != nil {
				return n, fmt.Errorf("migrate: table %s, column %s: %w", table, cols[i], err)
			}
			if selfIdx[i] && cv != nil {
				for _, r := range self {
					if r.column != cols[i] {
						continue
					}
					var rec []any
					for _, k := range r.key {
						kv, err := convert(vals[slices.Index(cols, k)], types[slices.Index(cols, k)])
						if err != nil {
							return n, fmt.Errorf("migrate: table %s, column %s: %w", table, k, err)
						}
						rec = append(rec, kv)
					}
					later = append(later, append(rec, r.column, cv))
				}
				cv = nil
			}
			batch = append(batch, cv)
		}
		n++
		if len(batch) >= perBatch*len(cols) {
			if err := insert(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("migrate: read SQLite table %s: %w", table, err)
	}
	if err := insert(); err != nil {
		return n, err
	}
	for _, rec := range later {
		for _, r := range self {
			k := len(r.key)
			if rec[k] != r.column {
				continue
			}
			where := make([]string, k)
			for i, c := range r.key {
				where[i] = fmt.Sprintf("%s = $%d", quote(c), i+2)
			}
			args := append([]any{rec[k+1]}, rec[:k]...)
			if _, err := dtx.ExecContext(ctx, `UPDATE `+quote(table)+` SET `+quote(r.column)+` = $1 WHERE `+strings.Join(where, " AND "), args...); err != nil {
				return n, fmt.Errorf("migrate: set %s.%s: %w", table, r.column, err)
			}
		}
	}
	return n, nil
}

// convert turns a value read from SQLite into what a PostgreSQL column of
// type typ takes.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return slices.Clone(x), nil
		case string:
			return []byte(x), nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "double precision", "real", "numeric":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	default:
		return nil, fmt.Errorf("PostgreSQL type %s is not one migrate knows", typ)
	}
	return nil, fmt.Errorf("a %T value (%v) does not fit PostgreSQL type %s", v, v, typ)
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// unqualify drops a schema from a regclass name ("hdn.orgs", `"orgs"`).
func unqualify(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.Trim(name, `"`)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
