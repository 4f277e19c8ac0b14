package cli

import (
	"bytes"
	"encoding/json"
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
	code, out, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "sector-cert", "--kind", "coordinator")
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
	if code, _, _ := run(t, "admin", "org", "create", "--data", dir, "--name", "dup", "--kind", "member"); code != 0 {
		t.Fatal("first create failed")
	}
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "DUP", "--kind", "member"); code == 0 || !strings.Contains(stderr, "exists") {
		t.Fatalf("a duplicate name (case-insensitive) was accepted: %s", stderr)
	}
	if code, _, _ := run(t, "nonsense"); code != 2 {
		t.Fatalf("unknown command exit code %d, want 2", code)
	}
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "hdn ") {
		t.Fatal("version")
	}
}
