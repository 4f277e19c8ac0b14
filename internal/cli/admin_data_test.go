package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// newHubData is a data directory holding a hub database, as a hub's first
// start leaves it.
func newHubData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAdminRefusesDataWithoutHubDatabase: an admin command given a data
// directory that holds no hub database (a mistyped --data) says so, naming
// the path and how a hub database is made, and creates nothing; `org
// create --init` makes one, for a new hub's first organisation.
func TestAdminRefusesDataWithoutHubDatabase(t *testing.T) {
	t.Setenv(dbEnv, "")
	empty := t.TempDir()
	for _, dir := range []string{filepath.Join(t.TempDir(), "var", "lib", "hdm"), empty} {
		for _, args := range [][]string{
			{"org", "create", "--name", "st-olav", "--kind", "member"},
			{"org", "list"},
			{"org", "suspend", "--name", "st-olav"},
			{"key", "create", "--org", "st-olav", "--role", "analyst"},
			{"key", "list"},
			{"key", "rotate", "--id", "k1"},
			{"enrol", "create", "--org", "st-olav"},
			{"coverage"},
			{"rescreen"},
			{"feed", "list"},
			{"webhook", "list"},
			{"peer", "list"},
			{"user", "list"},
			{"audit", "list"},
		} {
			code, out, stderr := run(t, append(append([]string{"admin"}, args...), "--data", dir)...)
			path := filepath.Join(dir, "hdn.db")
			if code != 1 || out != "" || !strings.Contains(stderr, "no hub database in "+dir) || !strings.Contains(stderr, path) ||
				!strings.Contains(stderr, "`hdn hub --data "+dir+"` creates one") {
				t.Errorf("%v on %s: exit %d, %q %q; want 1 and an error naming %s and hdn hub --data", args, dir, code, out, stderr, path)
			}
			if len(args) > 1 && args[0] == "org" && args[1] == "create" && !strings.Contains(stderr, "--init") {
				t.Errorf("org create on %s: %q does not offer --init", dir, stderr)
			}
		}
		if dir == empty {
			if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
				t.Errorf("the empty directory holds %v after the refused commands (%v)", ents, err)
			}
		} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the mistyped directory %s was created (%v)", dir, err)
		}
	}

	dir := filepath.Join(t.TempDir(), "data")
	code, out, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator")
	if code != 0 || !strings.Contains(out, `"sector-cert"`) {
		t.Fatalf("org create --init: %d %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "hdn.db")); err != nil {
		t.Fatalf("org create --init made no hub database: %v", err)
	}
	for _, args := range [][]string{
		{"org", "create", "--name", "st-olav", "--kind", "member"},
		{"org", "create", "--init", "--name", "hospital-b", "--kind", "member"}, // --init on a hub database: it is used
	} {
		if code, _, stderr := run(t, append(append([]string{"admin"}, args...), "--data", dir)...); code != 0 {
			t.Errorf("%v after --init: %d %s", args, code, stderr)
		}
	}
	code, out, _ = run(t, "admin", "org", "list", "--data", dir)
	if code != 0 || strings.Count(out, `"id"`) != 3 {
		t.Errorf("org list: %d %s", code, out)
	}
	// --init is for org create alone.
	if code, _, stderr := run(t, "admin", "org", "list", "--data", dir, "--init"); code != 2 || !strings.Contains(stderr, "-init") {
		t.Errorf("org list --init: %d %s", code, stderr)
	}
}

// TestAdminOrgCreateTrimsName: spaces around a name are dropped, and a name
// of spaces only is refused.
func TestAdminOrgCreateTrimsName(t *testing.T) {
	dir := newHubData(t)
	code, out, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "  st-olav ", "--kind", "member")
	var org struct{ Name string }
	if err := json.Unmarshal([]byte(out), &org); code != 0 || err != nil || org.Name != "st-olav" {
		t.Fatalf("org create --name '  st-olav ': %d %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "secureops", "--kind", "partner"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr = run(t, "admin", "org", "create", "--data", dir, "--name", " care-north", "--kind", "customer", "--partner", "secureops ")
	if code != 0 || !strings.Contains(out, `"name": "care-north"`) || !strings.Contains(out, `"partner": "secureops"`) {
		t.Errorf("a customer with spaces around its and its partner's names: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "   ", "--kind", "member"); code != 1 || !strings.Contains(stderr, "--name is empty") {
		t.Errorf("a name of spaces: %d %s", code, stderr)
	}
}

// TestDurationFlagsTakeDays: every duration flag of the command line takes
// days ("90d", "1d12h") as well as Go's durations, and refuses a negative
// one or nonsense saying that "90d" or "2160h" are accepted. (-h after the
// flag: the flag is parsed, then only the help is printed.)
func TestDurationFlagsTakeDays(t *testing.T) {
	for _, tc := range []struct {
		cmd  []string
		flag string
	}{
		{[]string{"admin", "coverage"}, "--window"},
		{[]string{"admin", "coverage"}, "--live"},
		{[]string{"admin", "enrol", "create"}, "--expires"},
		{[]string{"admin", "key", "rotate"}, "--grace"},
		{[]string{"admin", "feed", "add"}, "--interval"},
		{[]string{"hub"}, "--change-retention"},
		{[]string{"hub"}, "--write-timeout"},
		{[]string{"hub"}, "--stream-write-timeout"},
		{[]string{"sensor"}, "--heartbeat"},
		{[]string{"sensor"}, "--sightings-every"},
		{[]string{"bench", "load"}, "--duration"},
		{[]string{"bench", "load"}, "--drain"},
	} {
		for _, v := range []string{"1d", "1d12h", "36h"} {
			if code, _, stderr := run(t, append(tc.cmd, tc.flag, v, "-h")...); code != 0 {
				t.Errorf("%v %s %s: exit %d, %s", tc.cmd, tc.flag, v, code, firstLine(stderr))
			}
		}
		for v, want := range map[string]string{"-1d": "negative", "ninety": `"90d" or "2160h"`} {
			if code, _, stderr := run(t, append(tc.cmd, tc.flag, v)...); code != 2 || !strings.Contains(firstLine(stderr), want) {
				t.Errorf("%v %s %s: exit %d, %s; want 2 and an error saying %s", tc.cmd, tc.flag, v, code, firstLine(stderr), want)
			}
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestAdminCoverageWindowInDays: `hdn admin coverage --window 90d` works as
// GET /api/v1/coverage?window=90d does.
func TestAdminCoverageWindowInDays(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	h.Org("sector-cert", policy.Coordinator, "")
	code, out, stderr := run(t, "admin", "coverage", "--data", h.DataDir, "--window", "90d", "--live", "1d")
	var rep struct {
		LiveWithin    string `json:"live_within"`
		SharingWindow string `json:"sharing_window"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.SharingWindow != "2160h0m0s" || rep.LiveWithin != "24h0m0s" {
		t.Fatalf("coverage --window 90d --live 1d: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "admin", "coverage", "--data", h.DataDir, "--window", "0d"); code != 1 || !strings.Contains(stderr, "positive") {
		t.Errorf("coverage --window 0d: %d %s", code, stderr)
	}
}

// TestHelpTexts: the help of import shows its FILE argument; the help of
// export lists the formats, says where each format's flags are and lists
// the detection formats' flags; admin's help names TAXII feeds; feed add's
// --tlp states each kind's default once.
func TestHelpTexts(t *testing.T) {
	code, _, stderr := run(t, "import", "--help")
	if code != 0 || !strings.Contains(stderr, "usage: hdn import --hub URL [flags] FILE|-") || !strings.Contains(stderr, "-full") {
		t.Errorf("import --help: %d %s", code, stderr)
	}
	code, _, stderr = run(t, "export", "--help")
	for _, want := range []string{"rpz", "suricata-dataset", "misp-feed", "hdn export FORMAT --help", "-out", "-rpz-action", "-since"} {
		if code != 0 || !strings.Contains(stderr, want) {
			t.Errorf("export --help: %d, lacks %q:\n%s", code, want, stderr)
		}
	}
	if code, _, stderr := run(t, "export", "misp-feed", "--help"); code != 0 || !strings.Contains(stderr, "DIR") {
		t.Errorf("export misp-feed --help: %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "export"); code != 2 || !strings.Contains(stderr, "formats:") {
		t.Errorf("export without a format: %d %s", code, stderr)
	}
	_, _, stderr = run(t, "admin", "--help")
	if !strings.Contains(stderr, "feed") || !strings.Contains(stderr, "TAXII") {
		t.Errorf("admin --help does not name TAXII feeds:\n%s", stderr)
	}
	_, _, stderr = run(t, "admin", "feed", "add", "--help")
	_, tlp, _ := strings.Cut(stderr, "-tlp string\n")
	tlp = firstLine(tlp)
	if !strings.Contains(tlp, "default clear") || !strings.Contains(tlp, "default amber") || strings.Contains(tlp, `(default "`) {
		t.Errorf("feed add --tlp: %q", tlp)
	}
}
