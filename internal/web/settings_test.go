package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestSettingsPage: an admin adds a user (the password policy holds), makes
// a key (shown once) and an enrolment token, revokes the key and disables
// the user (who can no longer sign in); an analyst may not open the page,
// and a user of another organisation never sees this one's users or keys.
func TestSettingsPage(t *testing.T) {
	e := newEnv(t, hub.Config{SignalEvery: -1})
	a := e.h.Org("Hospital A", policy.Member, "")
	b := e.h.Org("Hospital B", policy.Member, "")
	admin := e.browser()
	admin.signIn(e.user(a, "admin@a.example", policy.Admin))
	p := admin.get("/ui/settings")
	if p.status != 200 {
		t.Fatalf("settings: %d %s", p.status, p.body)
	}
	csrf := csrfOf(t, p)
	// A weak first password is refused with the policy's reason.
	p = admin.post("/ui/settings/users", url.Values{"csrf": {csrf}, "email": {"soc@a.example"}, "role": {"analyst"}, "password": {"password"}})
	if !strings.Contains(text(p.mustID(t, "settings-error")), "12") {
		t.Errorf("a weak password: %s", text(p.mustID(t, "settings-error")))
	}
	pw := "a long enough pass phrase for the soc"
	p = admin.post("/ui/settings/users", url.Values{"csrf": {csrf}, "email": {"soc@a.example"}, "name": {"SOC"}, "role": {"analyst"}, "password": {pw}})
	if !strings.Contains(text(p.mustID(t, "users")), "soc@a.example") {
		t.Fatalf("the new user is not listed: %s", p.body)
	}
	soc := e.browser()
	soc.signIn("soc@a.example", pw)
	if p := soc.get("/ui/settings"); p.status != 403 {
		t.Errorf("an analyst opened the organisation page: %d", p.status)
	}
	// A key, shown once; an enrolment token.
	p = admin.post("/ui/settings/keys", url.Values{"csrf": {csrf}, "role": {"sensor"}, "name": {"edge"}})
	key := text(p.mustID(t, "new-key"))
	if !strings.HasPrefix(key, "hdn_") || e.h.Do("GET", "/api/v1/me", key, nil).Status != 200 {
		t.Fatalf("the new key %q does not work", key)
	}
	if again := admin.get("/ui/settings"); strings.Contains(again.body, key) {
		t.Errorf("the key is shown again")
	}
	p = admin.post("/ui/settings/enrolments", url.Values{"csrf": {csrf}})
	if tok := text(p.mustID(t, "new-token")); !strings.HasPrefix(tok, "hdn_") {
		t.Errorf("enrolment token %q", tok)
	}
	// Revoke the key; disable the user.
	kid := strings.SplitN(strings.TrimPrefix(key, "hdn_"), "_", 2)[0]
	admin.post("/ui/settings/keys/"+kid+"/revoke", url.Values{"csrf": {csrf}})
	if e.h.Do("GET", "/api/v1/me", key, nil).Status != 401 {
		t.Errorf("the revoked key still works")
	}
	users, err := e.h.Store.ListUsers(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == "soc@a.example" {
			admin.post("/ui/settings/users/"+u.ID+"/disable", url.Values{"csrf": {csrf}})
		}
	}
	if p := soc.get("/ui/"); p.status != 303 {
		t.Errorf("a disabled user's session still works: %d", p.status)
	}
	// Without the CSRF token nothing happens.
	if p := admin.post("/ui/settings/keys", url.Values{"role": {"admin"}}); p.status != 403 {
		t.Errorf("a key made without the CSRF token: %d", p.status)
	}
	// Another organisation's admin sees only its own.
	other := e.browser()
	other.signIn(e.user(b, "admin@b.example", policy.Admin))
	if p := other.get("/ui/settings"); strings.Contains(p.body, "soc@a.example") || strings.Contains(p.body, "admin@a.example") || strings.Contains(p.body, kid) {
		t.Errorf("another organisation's page shows A's users or keys")
	}
}
