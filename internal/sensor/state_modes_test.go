package sensor_test

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestStateOwnerOnly: the state directory holds TLP:AMBER indicators and
// what the organisation's traffic looked like; it is its owner's only —
// the directory and the retro-hunt directory 0700, the database with its
// WAL and shared-memory files and the retro-hunt files 0600 — also when
// the directory was created beforehand with 0755 and when files exist with
// wider modes. Before, a pre-created 0755 directory stayed so,
// indicators.db came out -rw-r--r-- and retro/ drwxr-x---.
func TestStateOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	check := func(t *testing.T, state string) {
		t.Helper()
		db := filepath.Join(state, "indicators.db")
		want := map[string]fs.FileMode{state: 0o700, filepath.Join(state, "retro"): 0o700, db: 0o600}
		for _, p := range []string{db + "-wal", db + "-shm"} {
			if _, err := os.Stat(p); err == nil {
				want[p] = 0o600
			}
		}
		entries, err := os.ReadDir(filepath.Join(state, "retro"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			want[filepath.Join(state, "retro", e.Name())] = 0o600
		}
		for p, mode := range want {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != mode {
				t.Errorf("%s: mode %#o, want %#o", p, got, mode)
			}
		}
	}
	// run starts a sensor on the state and checks the modes while it is
	// open (the WAL and shared-memory files exist then), then runs it.
	run := func(t *testing.T, state string) {
		t.Helper()
		ctx := context.Background()
		s, err := sensor.New(ctx, sensor.Config{StateDir: state, Once: true, Logger: slog.New(slog.DiscardHandler), Alerts: filepath.Join(t.TempDir(), "alerts.json"),
			Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "benign.example.org"))}}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, state)
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, state)
	}

	t.Run("pre-created directory", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(state, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(state, 0o755) // whatever the umask
		run(t, state)
	})

	t.Run("existing files with wider modes", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		run(t, state) // creates the database and the retro-hunt record
		// Another process holds the database open, so that its WAL and
		// shared-memory files exist; everything is made readable by all.
		holder, err := sensor.OpenState(state)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		if _, _, err := holder.Cursor(context.Background()); err != nil {
			t.Fatal(err)
		}
		filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.Chmod(p, 0o755)
			}
			return os.Chmod(p, 0o644)
		})
		if _, err := os.Stat(filepath.Join(state, "indicators.db-wal")); err != nil {
			t.Fatalf("no WAL file while the state is open: %v", err)
		}
		run(t, state)
	})
}
