package open_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hdnetwork/hdn/internal/store/open"
	"github.com/hdnetwork/hdn/internal/store/postgres"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db":         true,
		"postgresql://u@h/db":       true,
		"POSTGRES://u@h/db":         true,
		"":                          false,
		"/var/lib/hdn":              false,
		"host=localhost dbname=hdn": false,
		"mysql://u@h/db":            false,
	} {
		if got := open.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %t, want %t", dsn, got, want)
		}
	}
}

func TestOpenSQLiteWithoutURL(t *testing.T) {
	st, err := open.Open(t.Context(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(*sqlite.Store); !ok {
		t.Errorf("Open without a URL gave a %T, want *sqlite.Store", st)
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct{ dir, dsn string }{
		{"", ""},
		{t.TempDir(), "mysql://u@h/db"},
	} {
		if st, err := open.Open(t.Context(), tc.dir, tc.dsn); err == nil {
			st.Close()
			t.Errorf("Open(%q, %q) succeeded", tc.dir, tc.dsn)
		}
	}
}

func TestOpenPostgres(t *testing.T) {
	base := os.Getenv("HDN_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("HDN_TEST_POSTGRES_DSN not set: PostgreSQL store tests skipped")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "hdn_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	defer func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	}()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	// No data directory is needed with a URL.
	st, err := open.Open(context.Background(), "", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(*postgres.Store); !ok {
		t.Errorf("Open with a postgres URL gave a %T, want *postgres.Store", st)
	}
}
