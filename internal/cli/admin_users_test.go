package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// TestAdminUsers adds, lists, disables, enables and re-passwords web UI
// users on a data directory; the password comes from a file or standard
// input, never argv, and neither it nor its hash is ever printed or
// audited.
func TestAdminUsers(t *testing.T) {
	dir := t.TempDir() + "/data"
	const pw1, pw2, pw3 = "sailing-over-the-fjord", "a-second-long-secret", "third-pass-phrase-here"
	pwFile := func(pw string) string {
		f := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	var printed strings.Builder
	ok := func(args ...string) string {
		t.Helper()
		code, out, stderr := run(t, append([]string{"admin"}, append(args, "--data", dir)...)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
		printed.WriteString(out)
		return out
	}
	fails := func(want string, args ...string) {
		t.Helper()
		code, out, stderr := run(t, append([]string{"admin"}, append(args, "--data", dir)...)...)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("%v: %d %q, want an error saying %q", args, code, stderr, want)
		}
		printed.WriteString(out + stderr)
	}
	ok("org", "create", "--init", "--name", "Hospital A", "--kind", "member")
	ok("org", "create", "--name", "Hospital B", "--kind", "member")

	var added struct {
		ID, Org, Email, Name, Role string
		Disabled                   bool
	}
	out := ok("user", "add", "--org", "Hospital A", "--email", "Alice@Hospital.example", "--name", "Alice", "--role", "analyst", "--password-file", pwFile(pw1))
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.ID == "" || added.Org != "Hospital A" ||
		added.Email != "alice@hospital.example" || added.Role != "analyst" || added.Disabled {
		t.Fatalf("user add printed %q (%v)", out, err)
	}
	userStdin = strings.NewReader(pw2 + "\r\n")
	t.Cleanup(func() { userStdin = os.Stdin })
	ok("user", "add", "--org", "Hospital B", "--email", "bob@hospital.example", "--role", "readonly", "--password-stdin")

	fails("at least 12", "user", "add", "--org", "Hospital A", "--email", "c@hospital.example", "--role", "admin", "--password-file", pwFile("short"))
	fails("common", "user", "add", "--org", "Hospital A", "--email", "c@hospital.example", "--role", "admin", "--password-file", pwFile("Password1234"))
	fails("e-mail", "user", "add", "--org", "Hospital A", "--email", "carol.longname@hospital.example", "--role", "admin", "--password-file", pwFile("carol.longname@hospital.example"))
	fails("exists", "user", "add", "--org", "Hospital B", "--email", "ALICE@hospital.example", "--role", "admin", "--password-file", pwFile(pw3))
	fails("sensor", "user", "add", "--org", "Hospital A", "--email", "s@hospital.example", "--role", "sensor", "--password-file", pwFile(pw3))
	fails("no-such-org", "user", "add", "--org", "no-such-org", "--email", "d@hospital.example", "--role", "admin", "--password-file", pwFile(pw3))
	fails("--password-file FILE or --password-stdin", "user", "add", "--org", "Hospital A", "--email", "d@hospital.example", "--role", "admin")
	fails("not both", "user", "add", "--org", "Hospital A", "--email", "d@hospital.example", "--role", "admin", "--password-file", pwFile(pw3), "--password-stdin")
	if code, _, _ := run(t, "admin", "user", "add", "--data", dir, "--org", "Hospital A", "--email", "d@hospital.example", "--role", "admin", "--password", pw3); code != 2 {
		t.Errorf("--password on the command line: exit %d, want 2 (no such flag)", code)
	}

	list := func(args ...string) []map[string]any {
		t.Helper()
		var us []map[string]any
		out := ok(append([]string{"user", "list"}, args...)...)
		if err := json.Unmarshal([]byte(out), &us); err != nil {
			t.Fatalf("user list printed %q: %v", out, err)
		}
		return us
	}
	if us := list(); len(us) != 2 || us[0]["email"] != "alice@hospital.example" || us[1]["email"] != "bob@hospital.example" || us[1]["org"] != "Hospital B" {
		t.Errorf("user list: %v", us)
	}
	if us := list("--org", "Hospital B"); len(us) != 1 || us[0]["email"] != "bob@hospital.example" {
		t.Errorf("user list --org: %v", us)
	}

	// Disable and enable, change the password.
	if out := ok("user", "disable", "--email", "alice@HOSPITAL.example"); !strings.Contains(out, `"disabled": true`) {
		t.Errorf("user disable printed %s", out)
	}
	if us := list("--org", "Hospital A"); len(us) != 1 || us[0]["disabled"] != true {
		t.Errorf("a disabled user: %v", us)
	}
	ok("user", "enable", "--email", "alice@hospital.example")
	fails("not found", "user", "disable", "--email", "nobody@hospital.example")
	fails("at least 12", "user", "passwd", "--email", "alice@hospital.example", "--password-file", pwFile("short"))
	ok("user", "passwd", "--email", "alice@hospital.example", "--password-file", pwFile(pw3))

	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByEmail(t.Context(), "alice@hospital.example")
	if err != nil || u.Disabled {
		t.Fatalf("alice: %+v, %v", u, err)
	}
	if ok, err := session.CheckPassword(u.PasswordHash, pw3); !ok || err != nil {
		t.Errorf("the new password does not match: %t, %v", ok, err)
	}
	if ok, _ := session.CheckPassword(u.PasswordHash, pw1); ok {
		t.Error("the old password still matches")
	}
	b, _ := st.UserByEmail(t.Context(), "bob@hospital.example")
	if ok, err := session.CheckPassword(b.PasswordHash, pw2); !ok || err != nil {
		t.Errorf("the password from standard input (CRLF) does not match: %t, %v", ok, err)
	}

	// Every action is audited.
	audit := ok("audit", "list")
	for _, action := range []string{"user.add", "user.disable", "user.enable", "user.passwd"} {
		if !strings.Contains(audit, `"`+action+`"`) {
			t.Errorf("no %s in the audit log", action)
		}
	}
	all := printed.String()
	for _, secret := range []string{pw1, pw2, pw3, "argon2", u.PasswordHash, "password_hash"} {
		if strings.Contains(all, secret) {
			t.Errorf("a password or hash was printed (%.8s…)", secret)
		}
	}
}
