package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// rebind rewrites a query written with SQLite-style placeholders into
// PostgreSQL's numbered ones, and the arguments to match:
//
//   - ? is the next positional argument, ?N the N-th (1-based);
//   - :name is the sql.Named argument of that name;
//   - :: (a cast) and anything inside '…' or "…" are left alone.
//
// Positional arguments come first in args, named ones after them. Go
// booleans become 0/1, since the schema keeps flags as integers.
func rebind(query string, args []any) (string, []any, error) {
	var positional []any
	var names map[string]int // name -> $n
	out := make([]any, 0, len(args))
	for _, a := range args {
		if na, ok := a.(sql.NamedArg); ok {
			if names == nil {
				names = map[string]int{}
			}
			out = append(out, pgValue(na.Value))
			names[na.Name] = len(out)
			continue
		}
		out = append(out, pgValue(a))
		positional = append(positional, a)
	}
	if !strings.ContainsAny(query, "?:") {
		return query, out, nil
	}
	var b strings.Builder
	b.Grow(len(query) + len(query)/8)
	next := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch c {
		case '\'', '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				return "", nil, fmt.Errorf("rebind: unterminated %c in %q", c, abbreviate(query))
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := 0
			if j > i+1 {
				n, _ = strconv.Atoi(query[i+1 : j])
			} else {
				next++
				n = next
			}
			if n < 1 || n > len(positional) {
				return "", nil, fmt.Errorf("rebind: placeholder %d of %d arguments in %q", n, len(positional), abbreviate(query))
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		case ':':
			if i+1 < len(query) && query[i+1] == ':' {
				b.WriteString("::")
				i++
				continue
			}
			j := i + 1
			for j < len(query) && (query[j] == '_' || query[j] >= 'a' && query[j] <= 'z' || query[j] >= 'A' && query[j] <= 'Z' || query[j] >= '0' && query[j] <= '9') {
				j++
			}
			if j == i+1 {
				b.WriteByte(c)
				continue
			}
			n, ok := names[query[i+1:j]]
			if !ok {
				return "", nil, fmt.Errorf("rebind: no argument named %q for %q", query[i+1:j], abbreviate(query))
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), out, nil
}

func pgValue(v any) any {
	if x, ok := v.(bool); ok {
		return sqlstore.BoolInt(x)
	}
	return v
}

func abbreviate(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 120 {
		return q[:120] + "…"
	}
	return q
}

// DB is the connection pool, with queries rebound (see rebind).
type DB struct{ *sql.DB }

// Tx is a transaction, with queries rebound (see rebind).
type Tx struct{ *sql.Tx }

// Stmt is a statement prepared in a Tx; its arguments are positional.
type Stmt struct{ *sql.Stmt }

func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, a, err := rebind(query, args)
	if err != nil {
		return nil, err
	}
	return db.DB.QueryContext(ctx, q, a...)
}

// QueryRowContext runs a query of at most one row. A query that cannot be
// rebound is a programming error and panics.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	q, a, err := rebind(query, args)
	if err != nil {
		panic(err)
	}
	return db.DB.QueryRowContext(ctx, q, a...)
}

func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q, a, err := rebind(query, args)
	if err != nil {
		return nil, err
	}
	return tx.Tx.ExecContext(ctx, q, a...)
}

func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, a, err := rebind(query, args)
	if err != nil {
		return nil, err
	}
	return tx.Tx.QueryContext(ctx, q, a...)
}

// QueryRowContext runs a query of at most one row. A query that cannot be
// rebound is a programming error and panics.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	q, a, err := rebind(query, args)
	if err != nil {
		panic(err)
	}
	return tx.Tx.QueryRowContext(ctx, q, a...)
}

func (tx *Tx) PrepareContext(ctx context.Context, query string) (*Stmt, error) {
	n := strings.Count(query, "?")
	placeholders := make([]any, n)
	for i := range placeholders {
		placeholders[i] = 0
	}
	q, _, err := rebind(query, placeholders)
	if err != nil {
		return nil, err
	}
	st, err := tx.Tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &Stmt{st}, nil
}

func pgValues(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = pgValue(a)
	}
	return out
}

func (st *Stmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return st.Stmt.ExecContext(ctx, pgValues(args)...)
}

func (st *Stmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return st.Stmt.QueryRowContext(ctx, pgValues(args)...)
}
