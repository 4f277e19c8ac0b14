package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub/hubtest"
)

// TestMigrateCommand: hdn migrate copies a data directory made by hdn admin
// into PostgreSQL (HDN_TEST_POSTGRES_DSN), and says what is wrong with its
// arguments.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"migrate", "--from", dir, "--to", "postgres://x/y"},
		{"migrate", "--from", "sqlite:" + dir, "--to", "mysql://x/y"},
		{"migrate", "--from", "sqlite:" + t.TempDir() + "/none", "--to", "postgres://127.0.0.1:1/x"},
	} {
		t.Setenv(dbEnv, "")
		if code, _, stderr := run(t, args...); code == 0 || !strings.Contains(stderr, "hdn migrate") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}

	dsn := hubtest.PostgresDSN(t)
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator"); code != 0 {
		t.Fatalf("admin org create: %s", stderr)
	}
	code, stdout, stderr := run(t, "migrate", "--from", "sqlite:"+dir, "--to", dsn)
	if code != 0 {
		t.Fatalf("hdn migrate: exit %d: %s", code, stderr)
	}
	var out struct {
		Tables map[string]int64 `json:"tables"`
		Rows   int64            `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if out.Tables["orgs"] != 1 || out.Rows < 1 {
		t.Errorf("hdn migrate said %s", stdout)
	}
	if code, stdout, stderr := run(t, "admin", "org", "list", "--db", dsn); code != 0 || !strings.Contains(stdout, "sector-cert") {
		t.Errorf("admin org list on PostgreSQL after the migration: exit %d, %s %s", code, stdout, stderr)
	}
}
