package postgres

import (
	"database/sql"
	"slices"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		want  string
		wargs []any
	}{
		{"positional", `SELECT a FROM t WHERE b = ? AND c = ?`, []any{"x", 2}, `SELECT a FROM t WHERE b = $1 AND c = $2`, []any{"x", 2}},
		{"numbered", `UPDATE t SET a = GREATEST(a, ?2) WHERE id = ?1`, []any{"id", int64(5)}, `UPDATE t SET a = GREATEST(a, $2) WHERE id = $1`, []any{"id", int64(5)}},
		{"named and casts", `SELECT :base::bigint + 1 FROM t WHERE x IN (SELECT jsonb_array_elements_text(:ids::jsonb)) AND y = :base`,
			[]any{sql.Named("base", int64(7)), sql.Named("ids", `["a"]`)},
			`SELECT $1::bigint + 1 FROM t WHERE x IN (SELECT jsonb_array_elements_text($2::jsonb)) AND y = $1`, []any{int64(7), `["a"]`}},
		{"quoted text left alone", `SELECT 'a?b:c' FROM "we?ird" WHERE k = ? AND e = 'taxii:added_after'`, []any{1},
			`SELECT 'a?b:c' FROM "we?ird" WHERE k = $1 AND e = 'taxii:added_after'`, []any{1}},
		{"booleans as integers", `UPDATE t SET f = ? WHERE g = ?`, []any{true, false}, `UPDATE t SET f = $1 WHERE g = $2`, []any{int64(1), int64(0)}},
		{"no placeholders", `SELECT 1`, nil, `SELECT 1`, []any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, args, err := rebind(tc.query, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("rebind(%q)\n got %q\nwant %q", tc.query, got, tc.want)
			}
			if !slices.Equal(args, tc.wargs) {
				t.Errorf("args %v, want %v", args, tc.wargs)
			}
		})
	}
}

func TestRebindErrors(t *testing.T) {
	for _, tc := range []struct {
		query string
		args  []any
	}{
		{`SELECT ? , ?`, []any{1}},
		{`SELECT :missing`, []any{sql.Named("other", 1)}},
		{`SELECT ?, 'unterminated`, []any{1}},
		{`SELECT ?3`, []any{1, 2}},
	} {
		if got, _, err := rebind(tc.query, tc.args); err == nil {
			t.Errorf("rebind(%q, %v) = %q, want an error", tc.query, tc.args, got)
		}
	}
}
