package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"hdn"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir() + "/data"
	code, out, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator")
	if code != 0 {
		t.Fatalf("org create: %d %s", code, stderr)
	}
	var org struct{ ID, Name, Kind string }
	if err := json.Unmarshal([]byte(out), &org); err != nil || org.ID == "" || org.Name != "sector-cert" || org.Kind != "coordinator" {
		t.Fatalf("org create printed %q (%v)", out, err)
	}
	if code, _, _ := run(t, "admin", "org", "create", "--data", dir, "--name", "secureops", "--kind", "partner"); code != 0 {
		t.Fatal("partner create failed")
	}
	code, out, _ = run(t, "admin", "org", "create", "--data", dir, "--name", "care-north", "--kind", "customer", "--partner", "secureops")
	if code != 0 || !strings.Contains(out, `"partner": "secureops"`) {
		t.Fatalf("customer create: %d %s", code, out)
	}
	code, out, _ = run(t, "admin", "key", "create", "--data", dir, "--org", "sector-cert", "--role", "admin", "--expires", "720h")
	var key struct{ Key, ID, Org, Role string }
	if err := json.Unmarshal([]byte(out), &key); code != 0 || err != nil || !strings.HasPrefix(key.Key, "hdn_") || key.Org != "sector-cert" || key.Role != "admin" {
		t.Fatalf("key create: %d %q", code, out)
	}
	code, out, _ = run(t, "admin", "key", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, key.ID) || strings.Contains(out, key.Key) {
		t.Fatalf("key list must show the id and never the key: %s", out)
	}
	if code, _, _ := run(t, "admin", "key", "revoke", "--data", dir, "--id", key.ID); code != 0 {
		t.Fatal("key revoke failed")
	}
	_, out, _ = run(t, "admin", "key", "list", "--data", dir, "--org", "sector-cert")
	var keys []struct {
		ID      string `json:"id"`
		Revoked bool   `json:"revoked"`
	}
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 1 || !keys[0].Revoked {
		t.Fatalf("after revoke: %s", out)
	}
	_, out, _ = run(t, "admin", "org", "list", "--data", dir)
	if strings.Count(out, `"id"`) != 3 {
		t.Fatalf("org list: %s", out)
	}
	_, out, _ = run(t, "admin", "audit", "list", "--data", dir)
	for _, want := range []string{"org.create", "key.create", "key.revoke"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list lacks %s", want)
		}
	}
}

func TestAdminErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "st-olav", "--kind", "member"); code != 0 {
		t.Fatalf("first create failed: %s", stderr)
	}
	for _, args := range [][]string{
		{"admin", "org", "create", "--data", dir, "--name", "x", "--kind", "hospital"},
		{"admin", "org", "create", "--data", dir, "--name", "x", "--kind", "customer"},
		{"admin", "org", "create", "--data", dir, "--name", "x", "--kind", "customer", "--partner", "nobody"},
		{"admin", "org", "create", "--data", dir, "--kind", "member"},
		{"admin", "key", "create", "--data", dir, "--org", "nobody", "--role", "admin"},
		{"admin", "key", "create", "--data", dir, "--org", "x", "--role", "root"},
		{"admin", "key", "revoke", "--data", dir, "--id", "nope"},
		{"admin", "org", "list"},
	} {
		if code, _, _ := run(t, args...); code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
	// A taken name is said so in words, not as the database's error.
	for _, name := range []string{"ST-OLAV", "  st-olav "} {
		code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", name, "--kind", "member")
		if want := "hdn: an organisation named st-olav already exists (names are compared without regard to case)\n"; code != 1 || stderr != want {
			t.Errorf("org create --name %q when st-olav exists: exit %d, %q; want 1, %q", name, code, stderr, want)
		}
	}
	if code, _, _ := run(t, "nonsense"); code != 2 {
		t.Fatalf("unknown command exit code %d, want 2", code)
	}
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "hdn ") {
		t.Fatal("version")
	}
}

func TestMatchOffline(t *testing.T) {
	dir := t.TempDir()
	iocs := dir + "/iocs.txt"
	logs := dir + "/eve.json"
	alerts := dir + "/alerts.json"
	if err := os.WriteFile(iocs, []byte("# phishing\nevil[.]example.com\n198.51.100.0/24\ninvoice.pdf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := `{"timestamp":"2026-11-27T08:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","rrname":"WWW.Evil.Example.COM."}}
{"timestamp":"2026-11-27T08:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.1","src_port":1234,"dest_ip":"198.51.100.77","dest_port":443,"proto":"TCP"}
{"timestamp":"2026-11-27T08:00:02.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","rrname":"notevil.example.com"}}
`
	if err := os.WriteFile(logs, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "match", "--iocs", iocs, "--input", "eve:"+logs, "--alerts", alerts)
	if code != 0 {
		t.Fatalf("hdn match: %d %s", code, stderr)
	}
	if !strings.Contains(stderr, "2 indicators, 1 not usable") {
		t.Errorf("summary does not report the IOC file: %s", stderr)
	}
	b, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for line := range bytes.Lines(b) {
		var a struct {
			EventType string `json:"event_type"`
			HDN       struct{ Value, Field string }
		}
		if err := json.Unmarshal(line, &a); err != nil || a.EventType != "alert" {
			t.Fatalf("alert line %q: %v", line, err)
		}
		values = append(values, a.HDN.Value)
	}
	if len(values) != 2 || !slices.Contains(values, "evil.example.com") || !slices.Contains(values, "198.51.100.0/24") {
		t.Fatalf("alerts for %v, want evil.example.com and 198.51.100.0/24", values)
	}
	if code, _, _ := run(t, "match", "--iocs", dir+"/missing.txt", "--input", "eve:"+logs); code == 0 {
		t.Fatal("a missing IOC file was accepted")
	}
	if code, _, _ := run(t, "match", "--iocs", iocs, "--input", "pcap:"+logs); code == 0 {
		t.Fatal("an unknown input kind was accepted")
	}
}

// TestHubNATSFromEnvironment: HDN_NATS gives the NATS URL when --nats is
// not set (a malformed one: the hub says so and stops).
func TestHubNATSFromEnvironment(t *testing.T) {
	// A hub starts while its NATS server is down (internal/hub's
	// TestReplicasStartWhileNATSDown), so a malformed URL shows that the
	// variable is read.
	t.Setenv("HDN_NATS", "nats://[::1")
	code, _, stderr := run(t, "hub", "--data", t.TempDir(), "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "NATS") {
		t.Errorf("hdn hub with HDN_NATS naming no valid URL: exit %d, %q; want an error about NATS", code, stderr)
	}
}

// TestHubMaxDBSize: --max-db-size takes sizes in both kinds of units, and
// refuses nonsense, a bound too small for the schema, and a bound with a
// PostgreSQL URL, before the hub starts.
func TestHubMaxDBSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "50GB": 50_000_000_000, "40GiB": 40 << 30, "2 MiB": 2 << 20, "1048576": 1 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "-5GB", "10", "512KiB", "99999999999EB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
	dir := t.TempDir()
	for args, want := range map[string]string{
		"--data " + dir + " --max-db-size lots":               "--max-db-size",
		"--max-db-size 10GB --db postgres://u@127.0.0.1:1/no": "PostgreSQL",
	} {
		code, _, stderr := run(t, append([]string{"hub"}, strings.Fields(args)...)...)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("hdn hub %s: exit %d, %q; want an error naming %s", args, code, stderr, want)
		}
	}
}
