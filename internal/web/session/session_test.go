package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

const (
	email    = "alice@hospital.example"
	password = "sailing-over-the-fjord"
)

// clock is a settable time for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	t   *testing.T
	st  *sqlite.Store
	m   *Manager
	clk *clock
	org model.Org
	u   model.User
}

// setup opens a real SQLite store with one member organisation and one
// analyst, and a Manager over it (Secure cookies, organisations checked).
func setup(t *testing.T, opts Options) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(ctx, model.Org{Name: "Hospital A", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, model.User{OrgID: org.ID, Email: email, Name: "Alice", Role: policy.Analyst, PasswordHash: h})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	opts.Now = clk.now
	opts.Secure = true
	opts.OrgUsable = func(ctx context.Context, orgID string) (bool, error) {
		o, err := st.Org(ctx, orgID)
		return err == nil && o.Usable(), err
	}
	return &fixture{t: t, st: st, m: New(st, opts), clk: clk, org: org, u: u}
}

// signIn signs in and returns the session cookie.
func (f *fixture) signIn(email, pw string) (*http.Cookie, error) {
	f.t.Helper()
	rec := httptest.NewRecorder()
	if _, err := f.m.SignIn(f.t.Context(), rec, email, pw); err != nil {
		if len(rec.Result().Cookies()) != 0 {
			f.t.Errorf("a failed sign-in set a cookie")
		}
		return nil, err
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		f.t.Fatalf("sign-in set %d cookies", len(cs))
	}
	return cs[0], nil
}

func (f *fixture) mustSignIn() *http.Cookie {
	f.t.Helper()
	c, err := f.signIn(email, password)
	if err != nil {
		f.t.Fatalf("SignIn: %v", err)
	}
	return c
}

func (f *fixture) load(c *http.Cookie) (model.Session, model.User, error) {
	r := httptest.NewRequest("GET", "/", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return f.m.Load(r)
}

func TestSignInCookieAndLoad(t *testing.T) {
	f := setup(t, Options{})
	rec := httptest.NewRecorder()
	u, err := f.m.SignIn(t.Context(), rec, "  ALICE@Hospital.Example ", password)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if u.ID != f.u.ID || !u.LastSignIn.Equal(f.clk.now()) {
		t.Errorf("SignIn returned %+v", u)
	}
	if stored, _ := f.st.UserByID(t.Context(), u.ID); !stored.LastSignIn.Equal(f.clk.now()) {
		t.Errorf("LastSignIn stored %v", stored.LastSignIn)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies", len(cs))
	}
	c := cs[0]
	if c.Name != "hdn_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
		c.MaxAge != int((12*time.Hour).Seconds()) || c.Domain != "" {
		t.Errorf("cookie %s: HttpOnly %t Secure %t SameSite %v Path %q MaxAge %d Domain %q", c.Name, c.HttpOnly, c.Secure, c.SameSite, c.Path, c.MaxAge, c.Domain)
	}
	raw := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie lacks %s", want)
		}
	}
	id, secret, ok := parseCookie(c.Value)
	if !ok {
		t.Fatalf("the cookie's value is not id.secret")
	}

	// The store keeps the secret's hash only.
	s, err := f.st.Session(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256([]byte(secret)); string(s.Hash) != string(h[:]) || strings.Contains(string(s.Hash), secret) {
		t.Error("the store does not keep the secret's SHA-256 hash")
	}
	if !s.Expires.Equal(f.clk.now().Add(12*time.Hour)) || s.UserID != u.ID || len(s.CSRF) != 43 {
		t.Errorf("stored session: expires %v, user %s, CSRF of %d characters", s.Expires, s.UserID, len(s.CSRF))
	}

	got, gu, err := f.load(c)
	if err != nil || got.ID != id || gu.ID != u.ID || got.CSRF != s.CSRF {
		t.Fatalf("Load: %s %s %v", got.ID, gu.ID, err)
	}

	// A second sign-in is another session with another CSRF token.
	c2 := f.mustSignIn()
	if s2, _, err := f.load(c2); err != nil || s2.ID == id || s2.CSRF == s.CSRF {
		t.Errorf("a second session: %v", err)
	}
}

func TestSignInRefused(t *testing.T) {
	f := setup(t, Options{})
	for _, try := range []struct{ email, pw string }{
		{email, "sailing-over-the-fjorD"},
		{email, ""},
		{"nobody@hospital.example", password},
		{"", ""},
	} {
		if _, err := f.signIn(try.email, try.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("SignIn(%q): %v, want ErrBadCredentials", try.email, err)
		}
	}
	// The same message for an unknown address and a wrong password.
	_, e1 := f.signIn("nobody@hospital.example", password)
	_, e2 := f.signIn(email, "wrong password here")
	if e1.Error() != e2.Error() {
		t.Errorf("unknown user %q and wrong password %q differ", e1, e2)
	}
}

func TestLoadRefusesBadCookies(t *testing.T) {
	f := setup(t, Options{})
	c := f.mustSignIn()
	id, secret, _ := parseCookie(c.Value)
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-2] == 'A' {
			b[len(b)-2] = 'B'
		} else {
			b[len(b)-2] = 'A'
		}
		return string(b)
	}
	for name, v := range map[string]string{
		"wrong secret":  id + "." + flip(secret),
		"wrong id":      flip(id) + "." + secret,
		"other secret":  id + "." + token(32),
		"no separator":  id + secret,
		"short secret":  id + "." + secret[:40],
		"empty":         "",
		"bad alphabet":  id + "." + strings.Repeat("!", len(secret)),
		"swapped parts": secret + "." + id,
	} {
		if _, _, err := f.load(&http.Cookie{Name: "hdn_session", Value: v}); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: %v, want ErrNoSession", name, err)
		}
	}
	if _, _, err := f.load(nil); !errors.Is(err, ErrNoSession) {
		t.Errorf("no cookie: %v, want ErrNoSession", err)
	}
	if _, _, err := f.load(&http.Cookie{Name: "other", Value: c.Value}); !errors.Is(err, ErrNoSession) {
		t.Errorf("another cookie's name: %v, want ErrNoSession", err)
	}
	// A wrong secret does not end the real session.
	if _, _, err := f.load(c); err != nil {
		t.Errorf("the real cookie after tampering: %v", err)
	}
}

func TestLifetimeAndIdle(t *testing.T) {
	f := setup(t, Options{Lifetime: time.Hour, Idle: 30 * time.Minute})
	c := f.mustSignIn()
	id, _, _ := parseCookie(c.Value)
	created := f.clk.now()

	// LastSeen is written at most once a minute.
	f.clk.add(30 * time.Second)
	if s, _, err := f.load(c); err != nil || !s.LastSeen.Equal(created) {
		t.Fatalf("Load after 30 s: last seen %v, %v", s.LastSeen, err)
	}
	if s, _ := f.st.Session(t.Context(), id); !s.LastSeen.Equal(created) {
		t.Errorf("LastSeen written after 30 s")
	}
	f.clk.add(31 * time.Second)
	if _, _, err := f.load(c); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.st.Session(t.Context(), id); !s.LastSeen.Equal(created.Add(61 * time.Second)) {
		t.Errorf("LastSeen %v after 61 s", s.LastSeen)
	}

	// In use every 20 minutes, it lives its lifetime and not longer.
	for f.clk.now().Before(created.Add(59 * time.Minute)) {
		f.clk.add(19 * time.Minute)
		if f.clk.now().Before(created.Add(time.Hour)) {
			if _, _, err := f.load(c); err != nil {
				t.Fatalf("Load at %v: %v", f.clk.now().Sub(created), err)
			}
		}
	}
	f.clk.t = created.Add(time.Hour)
	if _, _, err := f.load(c); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load of an expired session: %v", err)
	}
	if _, err := f.st.Session(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session is kept: %v", err)
	}

	// Idle for the idle timeout, it ends.
	c = f.mustSignIn()
	id, _, _ = parseCookie(c.Value)
	f.clk.add(29 * time.Minute)
	if _, _, err := f.load(c); err != nil {
		t.Fatalf("Load after 29 idle minutes: %v", err)
	}
	f.clk.add(30 * time.Minute)
	if _, _, err := f.load(c); !errors.Is(err, ErrNoSession) || !strings.Contains(err.Error(), "idle") {
		t.Errorf("Load of an idle session: %v", err)
	}
	if _, err := f.st.Session(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an idle session is kept: %v", err)
	}
}

func TestSignOut(t *testing.T) {
	f := setup(t, Options{})
	c := f.mustSignIn()
	other := f.mustSignIn()
	id, _, _ := parseCookie(c.Value)
	r := httptest.NewRequest("POST", "/signout", nil)
	r.AddCookie(c)
	rec := httptest.NewRecorder()
	if err := f.m.SignOut(t.Context(), rec, r); err != nil {
		t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "hdn_session" || cs[0].Value != "" || cs[0].MaxAge >= 0 || !cs[0].HttpOnly || !cs[0].Secure {
		t.Errorf("sign-out cookie: %+v", cs)
	}
	if _, _, err := f.load(c); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load after sign-out: %v", err)
	}
	if _, err := f.st.Session(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session is kept after sign-out: %v", err)
	}
	if _, _, err := f.load(other); err != nil {
		t.Errorf("another session of the user ended: %v", err)
	}
	// Signing out without a session, or twice, only clears the cookie.
	for _, c := range []*http.Cookie{nil, c, {Name: "hdn_session", Value: "junk"}} {
		r := httptest.NewRequest("POST", "/signout", nil)
		if c != nil {
			r.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		if err := f.m.SignOut(t.Context(), rec, r); err != nil || len(rec.Result().Cookies()) != 1 {
			t.Errorf("SignOut without a live session: %v", err)
		}
	}
}

func TestDisabledUserAndUnusableOrg(t *testing.T) {
	f := setup(t, Options{})
	ctx := t.Context()
	c1, c2 := f.mustSignIn(), f.mustSignIn()
	id1, _, _ := parseCookie(c1.Value)
	u := f.u
	u.Disabled = true
	if err := f.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*http.Cookie{c1, c2} {
		if _, _, err := f.load(c); !errors.Is(err, ErrNoSession) {
			t.Errorf("Load of a disabled user's session: %v", err)
		}
	}
	if _, err := f.st.Session(ctx, id1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a disabled user's session is kept: %v", err)
	}
	if _, err := f.signIn(email, password); !errors.Is(err, ErrDisabled) {
		t.Errorf("SignIn of a disabled user: %v, want ErrDisabled", err)
	}
	if _, err := f.signIn(email, "wrong password here"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("SignIn of a disabled user with a wrong password: %v, want ErrBadCredentials", err)
	}
	u.Disabled = false
	if err := f.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	c := f.mustSignIn()

	// A suspended organisation's users may neither sign in nor go on.
	if err := f.st.SetOrgStatus(ctx, f.org.ID, model.OrgSuspended); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.load(c); !errors.Is(err, ErrNoSession) {
		t.Errorf("Load of a suspended organisation's user: %v", err)
	}
	if _, err := f.signIn(email, password); !errors.Is(err, ErrDisabled) {
		t.Errorf("SignIn of a suspended organisation's user: %v, want ErrDisabled", err)
	}
	if err := f.st.SetOrgStatus(ctx, f.org.ID, model.OrgActive); err != nil {
		t.Fatal(err)
	}
	f.mustSignIn()
}

func TestLockout(t *testing.T) {
	f := setup(t, Options{})
	for i := range MaxFailures {
		if _, err := f.signIn(email, fmt.Sprintf("wrong password %d", i)); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		if i < MaxFailures-1 {
			f.clk.add(time.Minute) // the lock starts at the last failure
		}
	}
	_, err := f.signIn(email, password)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "15 minutes") {
		t.Fatalf("the right password after %d failures: %v, want ErrLocked", MaxFailures, err)
	}
	// The address in another case is the same address; others are free.
	if _, err := f.signIn(strings.ToUpper(email), password); !errors.Is(err, ErrLocked) {
		t.Errorf("the address in capitals: %v, want ErrLocked", err)
	}
	f.clk.add(LockFor - time.Second)
	if _, err := f.signIn(email, password); !errors.Is(err, ErrLocked) {
		t.Errorf("just before the lock ends: %v, want ErrLocked", err)
	}
	f.clk.add(time.Second)
	f.mustSignIn()

	// A success forgets earlier failures; failures spread over more than
	// the window do not lock.
	for range 2 {
		for i := range MaxFailures - 1 {
			f.signIn(email, fmt.Sprintf("wrong password %d", i))
		}
		f.mustSignIn()
	}
	for i := range 2 * MaxFailures {
		f.signIn(email, fmt.Sprintf("wrong password %d", i))
		f.clk.add(FailWindow/(MaxFailures-1) + time.Second)
	}
	f.mustSignIn()

	// Unknown addresses are locked the same way.
	for range MaxFailures {
		f.signIn("nobody@hospital.example", password)
	}
	if _, err := f.signIn("nobody@hospital.example", password); !errors.Is(err, ErrLocked) {
		t.Errorf("an unknown address after %d failures: %v, want ErrLocked", MaxFailures, err)
	}
}

// TestLockoutConcurrent: guesses in parallel cannot pass the limit.
func TestLockoutConcurrent(t *testing.T) {
	f := setup(t, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[error]int{}
	for i := range 20 {
		wg.Go(func() {
			_, err := f.m.SignIn(t.Context(), httptest.NewRecorder(), email, fmt.Sprintf("guess number %d", i))
			mu.Lock()
			counts[err]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[ErrBadCredentials] > MaxFailures || counts[ErrLocked] < 20-MaxFailures || len(counts) != 2 {
		t.Errorf("20 parallel guesses: %v", counts)
	}
}

// TestLockoutAcrossReplicas: two hub replicas over one database count the
// same failures, so guesses spread over them are refused at the same limit.
func TestLockoutAcrossReplicas(t *testing.T) {
	f := setup(t, Options{})
	other := New(f.st, Options{Now: f.clk.now})
	for i := range MaxFailures {
		m := f.m
		if i%2 == 1 {
			m = other
		}
		if _, err := m.SignIn(t.Context(), httptest.NewRecorder(), email, fmt.Sprintf("guess %d", i)); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	for name, m := range map[string]*Manager{"the first replica": f.m, "the second replica": other} {
		if _, err := m.SignIn(t.Context(), httptest.NewRecorder(), email, password); !errors.Is(err, ErrLocked) {
			t.Errorf("%s after %d guesses spread over two: %v, want ErrLocked", name, MaxFailures, err)
		}
	}
}

// TestLockoutSurvivesRestart: a hub restarted on its database still refuses
// a locked address, and still counts the failures before the restart.
func TestLockoutSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	open := func() (*sqlite.Store, *Manager) {
		st, err := sqlite.Open(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return st, New(st, Options{Now: clk.now})
	}
	st, m := open()
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.CreateOrg(t.Context(), model.Org{Name: "Hospital A", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(t.Context(), model.User{OrgID: org.ID, Email: email, Role: policy.Analyst, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	guess := func(m *Manager, addr string, n int) {
		t.Helper()
		for i := range n {
			if _, err := m.SignIn(t.Context(), httptest.NewRecorder(), addr, fmt.Sprintf("guess %d", i)); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("guess %d for %s: %v", i+1, addr, err)
			}
		}
	}
	guess(m, email, MaxFailures)
	guess(m, "bob@hospital.example", MaxFailures-1)
	st.Close()

	st, m = open()
	defer st.Close()
	if _, err := m.SignIn(t.Context(), httptest.NewRecorder(), email, password); !errors.Is(err, ErrLocked) {
		t.Errorf("a locked address after a restart: %v, want ErrLocked", err)
	}
	guess(m, "bob@hospital.example", 1)
	if _, err := m.SignIn(t.Context(), httptest.NewRecorder(), "bob@hospital.example", "one more"); !errors.Is(err, ErrLocked) {
		t.Errorf("%d failures before a restart and one after: %v, want ErrLocked", MaxFailures-1, err)
	}
	// The database keeps no address, only its key.
	raw, err := os.ReadFile(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if wal, err := os.ReadFile(filepath.Join(dir, sqlite.FileName+"-wal")); err == nil {
		raw = append(raw, wal...)
	}
	if bytes.Contains(raw, []byte("bob@hospital.example")) {
		t.Errorf("the database holds an address that was only tried")
	}
}

func TestCSRF(t *testing.T) {
	f := setup(t, Options{})
	c := f.mustSignIn()
	s, _, err := f.load(c)
	if err != nil {
		t.Fatal(err)
	}
	form := func(tok string) *http.Request {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	header := func(tok string) *http.Request {
		r := httptest.NewRequest("POST", "/x", nil)
		r.Header.Set("X-CSRF-Token", tok)
		return r
	}
	if err := CheckCSRF(form(s.CSRF), s); err != nil {
		t.Errorf("the right token in the form: %v", err)
	}
	if err := CheckCSRF(header(s.CSRF), s); err != nil {
		t.Errorf("the right token in the header: %v", err)
	}
	other := f.mustSignIn()
	os, _, _ := f.load(other)
	inURL := httptest.NewRequest("POST", "/x?csrf="+url.QueryEscape(s.CSRF), nil)
	for name, r := range map[string]*http.Request{
		"wrong form token":        form(token(32)),
		"wrong header token":      header(token(32)),
		"another session's token": header(os.CSRF),
		"a truncated token":       header(s.CSRF[:20]),
		"no token":                httptest.NewRequest("POST", "/x", nil),
		"empty form token":        form(""),
		"the token in the URL":    inURL,
	} {
		if err := CheckCSRF(r, s); !errors.Is(err, ErrCSRF) {
			t.Errorf("%s: %v, want ErrCSRF", name, err)
		}
	}
	if err := CheckCSRF(header(""), model.Session{}); !errors.Is(err, ErrCSRF) {
		t.Errorf("a session without a token: %v", err)
	}
}

func TestRequireSameOrigin(t *testing.T) {
	req := func(method string, hdr ...string) *http.Request {
		r := httptest.NewRequest(method, "https://hub.example.org/x", nil)
		for i := 0; i < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	for name, r := range map[string]*http.Request{
		"GET without headers":  req("GET"),
		"HEAD cross-site":      req("HEAD", "Origin", "https://evil.example"),
		"POST same origin":     req("POST", "Origin", "https://hub.example.org"),
		"POST same, capitals":  req("POST", "Origin", "https://HUB.example.org"),
		"DELETE same referer":  req("DELETE", "Referer", "https://hub.example.org/indicators?x=1"),
		"PUT origin over refr": req("PUT", "Origin", "https://hub.example.org", "Referer", "https://evil.example/"),
	} {
		if err := RequireSameOrigin(r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, r := range map[string]*http.Request{
		"POST other origin":      req("POST", "Origin", "https://evil.example"),
		"POST other port":        req("POST", "Origin", "https://hub.example.org:8443"),
		"POST lookalike":         req("POST", "Origin", "https://hub.example.org.evil.example"),
		"POST null origin":       req("POST", "Origin", "null"),
		"POST other referer":     req("POST", "Referer", "https://evil.example/hub.example.org"),
		"POST neither":           req("POST"),
		"PATCH bad scheme":       req("PATCH", "Origin", "file://hub.example.org"),
		"POST cross, same refer": req("POST", "Origin", "https://evil.example", "Referer", "https://hub.example.org/"),
	} {
		if err := RequireSameOrigin(r); !errors.Is(err, ErrCSRF) {
			t.Errorf("%s: %v, want ErrCSRF", name, err)
		}
	}
}

// TestSessionInFullDatabase: with the database at its size bound, a
// signed-in user's session goes on, and a new sign-in does not fail as bad
// credentials. (Under the bound, recording a session's use updates a row in
// place and still succeeds; on a full disk, where the WAL cannot grow, it
// fails with ErrFull, and Load then goes on without recording it.)
func TestSessionInFullDatabase(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.CreateOrg(t.Context(), model.Org{Name: "Hospital A", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(t.Context(), model.User{OrgID: org.ID, Email: email, Role: policy.Analyst, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if st, err = sqlite.OpenWith(t.Context(), dir, sqlite.Options{MaxBytes: fi.Size() + 64<<10}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &fixture{t: t, st: st, clk: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	f.m = New(st, Options{Now: f.clk.now})
	c := f.mustSignIn()
	for i := 0; ; i++ {
		_, err := st.CreateOrg(t.Context(), model.Org{Name: fmt.Sprintf("filler %d %s", i, strings.Repeat("x", 200)), Kind: policy.Member})
		if errors.Is(err, store.ErrFull) {
			break
		}
		if err != nil || i > 100_000 {
			t.Fatalf("filling the database: %v after %d", err, i)
		}
	}
	f.clk.add(2 * touchEvery)
	if _, u, err := f.load(c); err != nil || u.Email != email {
		t.Errorf("a session in a full database: %v", err)
	}
	// A sign-in writes little (its rows may still fit in pages with room):
	// it succeeds or fails with the store's ErrFull, never as bad
	// credentials.
	if _, err := f.signIn(email, password); err != nil && (errors.Is(err, ErrBadCredentials) || !errors.Is(err, store.ErrFull)) {
		t.Errorf("a sign-in in a full database: %v; want success or the store's ErrFull", err)
	}
}

// TestSignInRehashes: a password hash made with other parameters than
// today's is made again at the next sign-in, with the password just
// checked; the user's other sessions go on, and the new hash works.
func TestSignInRehashes(t *testing.T) {
	f := setup(t, Options{})
	ctx := t.Context()
	other := f.mustSignIn()
	old, err := hashWith(Params{Memory: hashParams.Memory / 2, Time: hashParams.Time, Threads: hashParams.Threads}, password)
	if err != nil {
		t.Fatal(err)
	}
	// Stored directly, as a hash of an older release would be (UpdateUser
	// would end the sessions).
	if err := f.st.RehashPassword(ctx, f.u.ID, f.u.PasswordHash, old); err != nil {
		t.Fatal(err)
	}
	if !NeedsRehash(old) {
		t.Fatal("the older hash does not need a rehash")
	}
	// A failed sign-in changes nothing.
	if _, err := f.signIn(email, "not the password at all"); err == nil {
		t.Fatal("a wrong password signed in")
	}
	if u, _ := f.st.UserByID(ctx, f.u.ID); u.PasswordHash != old {
		t.Fatal("a failed sign-in rehashed the password")
	}
	f.mustSignIn()
	u, err := f.st.UserByID(ctx, f.u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash == old || NeedsRehash(u.PasswordHash) {
		t.Fatalf("after the sign-in the hash is %q: not made again with today's parameters", u.PasswordHash)
	}
	if ok, err := CheckPassword(u.PasswordHash, password); !ok || err != nil {
		t.Fatalf("the new hash does not match the password: %v, %v", ok, err)
	}
	if _, _, err := f.load(other); err != nil {
		t.Errorf("the session from before the rehash: %v (want it kept)", err)
	}
	f.mustSignIn()
}
