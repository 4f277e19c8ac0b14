package web_test

// Browser tests: the web UI in a real headless Chromium, driven through the
// DevTools protocol (chromedp). They need a Chromium binary: /usr/bin/chromium
// (Debian's package "chromium") or the one HDN_TEST_CHROMIUM names; without
// it they skip and say so. HDN_TEST_CHROMIUM pointing at a missing file skips
// too (it is not silently replaced by /usr/bin/chromium).
//
// Timeouts are generous, for shared machines; no test asserts a timing.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/web"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// defaultChromium is where Debian's package "chromium" puts the browser.
const defaultChromium = "/usr/bin/chromium"

// uiStepTimeout bounds one browser step (a navigation, a wait for an element).
const uiStepTimeout = 90 * time.Second

// uiPassword is every test user's password (long enough, not common).
const uiPassword = "tulip orbit canyon 42"

// chromiumPath returns the Chromium the tests drive, or skips the test:
// HDN_TEST_CHROMIUM when it is set (and must then name a file), else
// /usr/bin/chromium.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HDN_TEST_CHROMIUM"); p != "" {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			t.Skipf("browser test skipped: HDN_TEST_CHROMIUM=%s is not a browser binary (%v); point it at a Chromium binary, or unset it to use %s (Debian's chromium: apt-get install chromium)", p, err, defaultChromium)
		}
		return p
	}
	if _, err := os.Stat(defaultChromium); err != nil {
		t.Skipf("browser test skipped: no Chromium at %s; install Debian's chromium (apt-get install chromium) or set HDN_TEST_CHROMIUM to a Chromium binary", defaultChromium)
	}
	return defaultChromium
}

// uiEnv is a real hub with the web UI served around it.
type uiEnv struct {
	t       testing.TB
	h       *hubtest.Hub
	handler http.Handler
	srv     *httptest.Server // nil for in-process use (benchmarks)
	URL     string
}

// newUIHandler starts a hub and returns it with the UI's handler.
func newUIHandler(t testing.TB) *uiEnv {
	t.Helper()
	h := hubtest.Start(t, hub.Config{})
	st := h.Store
	mgr := session.New(st, session.Options{
		OrgUsable: func(ctx context.Context, orgID string) (bool, error) {
			o, err := st.Org(ctx, orgID)
			if err != nil {
				return false, err
			}
			return o.Usable(), nil
		},
	})
	handler := web.New(web.Config{
		API:      h.Hub.API(),
		Sessions: mgr,
		HubName:  "hdn test hub",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return &uiEnv{t: t, h: h, handler: handler}
}

// startUI starts a hub and serves its UI on a loopback port.
func startUI(t testing.TB) *uiEnv {
	t.Helper()
	e := newUIHandler(t)
	e.srv = httptest.NewServer(e.handler)
	e.URL = e.srv.URL
	t.Cleanup(func() {
		// Open event streams end with their connections.
		e.srv.CloseClientConnections()
		e.srv.Close()
	})
	return e
}

// user creates a user of org with the test password and returns its e-mail.
func (e *uiEnv) user(org model.Org, email string, role policy.Role) string {
	e.t.Helper()
	hash, err := session.HashPassword(uiPassword)
	if err != nil {
		e.t.Fatalf("hash password: %v", err)
	}
	if _, err := e.h.Store.CreateUser(context.Background(), model.User{OrgID: org.ID, Email: email, Name: email, Role: role, PasswordHash: hash}); err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return email
}

// submit shares indicators through the API with key and returns their ids
// by value.
func (e *uiEnv) submit(key string, items ...map[string]any) map[string]string {
	e.t.Helper()
	resp := e.h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": items})
	if resp.Status != http.StatusOK && resp.Status != http.StatusCreated && resp.Status != http.StatusMultiStatus {
		e.t.Fatalf("submit: status %d: %s", resp.Status, resp.Body)
	}
	var out struct {
		Results []struct {
			ID, Value, Status string
		} `json:"results"`
	}
	resp.JSON(e.t, &out)
	ids := map[string]string{}
	for _, r := range out.Results {
		if r.ID == "" {
			e.t.Fatalf("submit: %s not stored (%s): %s", r.Value, r.Status, resp.Body)
		}
		ids[r.Value] = r.ID
	}
	return ids
}

// indicator reads an indicator as the organisation of key.
func (e *uiEnv) indicator(key, id string) (ind struct {
	Value   string `json:"value"`
	Revoked bool   `json:"revoked"`
}, status int) {
	e.t.Helper()
	resp := e.h.Do("GET", "/api/v1/indicators/"+url.PathEscape(id), key, nil)
	if resp.Status == http.StatusOK {
		resp.JSON(e.t, &ind)
	}
	return ind, resp.Status
}

// chromium is one headless Chromium for a test.
type chromium struct {
	t   testing.TB
	ctx context.Context // the browser's first tab; children share the process
}

func newChromium(t testing.TB) *chromium {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	start, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }() // starts the browser without a deadline bound to it
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start %s: %v", path, err)
		}
	case <-start.Done():
		t.Fatalf("start %s: not started within 2 minutes", path)
	}
	return &chromium{t: t, ctx: ctx}
}

// tab opens a tab in a browser context of its own: its own cookies, so
// each user of a test signs in separately.
func (b *chromium) tab() *chromeTab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	return &chromeTab{t: b.t, ctx: ctx}
}

// chromeTab is one browser tab, in its own browser context.
type chromeTab struct {
	t   testing.TB
	ctx context.Context
}

// do runs steps with the step timeout; a failure ends the test with what
// the page showed.
func (tb *chromeTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v\n%s", what, err, tb.describe())
	}
}

// tabRun runs one action that returns a value, with the step timeout.
func tabRun[T any](tb *chromeTab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v\n%s", what, err, tb.describe())
	}
	return v
}

// load runs steps that load a page (a navigation, a click that submits a
// form) and returns the document's response.
func (tb *chromeTab) load(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.t.Fatalf("%s: %v\n%s", what, err, tb.describe())
	}
	return resp
}

// open navigates to a path of the UI and returns the response.
func (tb *chromeTab) open(base, path string) *network.Response {
	tb.t.Helper()
	return tb.load("open "+path, chromedp.Navigate(base+path))
}

// describe is the tab's address and the start of its text, for failures.
func (tb *chromeTab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return "page: " + s
}

// html is the document's full outer HTML as the browser has it now.
func (tb *chromeTab) html() string {
	tb.t.Helper()
	return tabRun(tb, "read the page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// text is an element's text.
func (tb *chromeTab) text(sel string) string {
	tb.t.Helper()
	return tabRun(tb, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// count is the number of elements matching a CSS selector now.
func (tb *chromeTab) count(sel string) int {
	tb.t.Helper()
	return tabRun(tb, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// signIn signs in through the form and waits for the dashboard.
func (tb *chromeTab) signIn(base, email string) {
	tb.t.Helper()
	tb.open(base, "/ui/signin")
	resp := tb.load("sign in as "+email,
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), uiPassword),
		chromedp.Click(chromedp.CSS("#signin")),
	)
	if resp.Status != http.StatusOK {
		tb.t.Fatalf("sign in as %s: status %d\n%s", email, resp.Status, tb.describe())
	}
	tb.do("dashboard after sign-in", chromedp.WaitVisible(chromedp.CSS("#live-indicators")))
}

// respHeader reads a response header case-insensitively.
func respHeader(r *network.Response, name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// TestBrowserShareLiveSearchRevoke is the analyst's way through the UI:
// sign in, paste a report, preview, share; another organisation's open
// dashboard shows the new indicator live; search; the indicator page;
// revoke; the other organisation sees it go.
func TestBrowserShareLiveSearchRevoke(t *testing.T) {
	b := newChromium(t)
	e := startUI(t)
	orgA := e.h.Org("Hospital A", policy.Member, "")
	orgB := e.h.Org("Hospital B", policy.Member, "")
	alice := e.user(orgA, "alice@hospital-a.example", policy.Analyst)
	bob := e.user(orgB, "bob@hospital-b.example", policy.Analyst)

	// a. Sign in: a wrong password is refused on the page, the right one
	// lands on the dashboard.
	a := b.tab()
	a.open(e.URL, "/ui/")
	a.do("redirect to sign-in", chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	resp := a.load("wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), alice),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password at all"),
		chromedp.Click(chromedp.CSS("#signin")),
	)
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", resp.Status)
	}
	a.do("sign-in error", chromedp.WaitVisible(chromedp.CSS("#signin-error")))
	if msg := a.text("#signin-error"); !strings.Contains(strings.ToLower(msg), "wrong") {
		t.Errorf("#signin-error = %q, want the wrong-password message", msg)
	}
	if n := a.count("#live-indicators"); n != 0 {
		t.Fatal("a wrong password showed the dashboard")
	}
	a.signIn(e.URL, alice)
	if who := a.text("#user-email"); who != alice {
		t.Errorf("header names %q, want %q", who, alice)
	}

	// c (set-up). Bob, of another organisation, has his dashboard open.
	bt := b.tab()
	bt.signIn(e.URL, bob)

	// b. Bulk paste: a short report with two defanged indicators.
	const (
		domain = "ui-test-c2.evil-example.org"
		ip     = "198.51.100.77"
	)
	report := "Incident 2026-11-27, ransomware precursor.\n" +
		"The loader resolved ui-test-c2[.]evil-example[.]org\n" +
		"and beaconed to 198.51.100[.]77 every 60 s.\n"
	a.open(e.URL, "/ui/submit")
	a.do("paste the report",
		chromedp.WaitVisible(chromedp.CSS("#bulk-form")),
		chromedp.SetValue(chromedp.CSS("#bulk-text"), report),
	)
	resp = a.load("preview", chromedp.Click(chromedp.CSS("#preview")))
	if resp.Status != http.StatusOK {
		t.Fatalf("preview: status %d\n%s", resp.Status, a.describe())
	}
	a.do("preview results", chromedp.WaitVisible(chromedp.CSS("#preview-results")))
	preview := tabRun(a, "preview table", chromedp.OuterHTML(chromedp.CSS("#preview-results")))
	for _, v := range []string{domain, ip} {
		if !strings.Contains(preview, `data-value="`+v+`"`) {
			t.Errorf("#preview-results does not list %s:\n%s", v, preview)
		}
	}
	resp = a.load("share", chromedp.Click(chromedp.CSS("#share")))
	if resp.Status != http.StatusOK {
		t.Fatalf("share: status %d\n%s", resp.Status, a.describe())
	}
	a.do("submit results", chromedp.WaitVisible(chromedp.CSS("#submit-results")))
	results := tabRun(a, "submit results", chromedp.OuterHTML(chromedp.CSS("#submit-results")))
	var domainID string
	for _, v := range []string{domain, ip} {
		id := tabRun(a, "id of "+v, chromedp.Evaluate[string](fmt.Sprintf(
			`(function(){var r=document.querySelector('#submit-results tr[data-value=%q]');return r?(r.getAttribute('data-id')||''):''})()`, v)))
		if id == "" {
			t.Fatalf("#submit-results has no stored row for %s:\n%s", v, results)
		}
		if v == domain {
			domainID = id
		}
	}

	// A file upload (one value per line), through hdn.js's upload with a
	// progress bar (XHR with the X-CSRF-Token header).
	const uploaded = "ui-test-upload.evil-example.org"
	file := filepath.Join(t.TempDir(), "iocs.txt")
	if err := os.WriteFile(file, []byte("# from the ui test\n"+uploaded+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.open(e.URL, "/ui/submit")
	a.do("upload a file",
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
		chromedp.SetValue(chromedp.CSS(`#upload-form select[name="format"]`), "lines"),
		chromedp.Click(chromedp.CSS("#upload")),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#submit-results tr[data-value=%q][data-id]`, uploaded))),
	)

	// c. Bob's open dashboard gets it through the event stream, without
	// a reload.
	bt.do("the new indicator appears live on the other organisation's dashboard",
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-value=%q]`, domain))))
	if got := tabRun(bt, "live item id", chromedp.Evaluate[string](fmt.Sprintf(
		`document.querySelector('#live-indicators li[data-value=%q]').getAttribute('data-id')`, domain))); got != domainID {
		t.Errorf("live item data-id = %q, want %q", got, domainID)
	}

	// d. Bob searches for it and opens its page.
	bt.open(e.URL, "/ui/indicators")
	bt.do("search form",
		chromedp.WaitVisible(chromedp.CSS("#search")),
		chromedp.SetValue(chromedp.CSS(`#search input[name="q"]`), "ui-test-c2[.]evil-example[.]org"),
	)
	resp = bt.load("search", chromedp.Submit(chromedp.CSS(`#search input[name="q"]`)))
	if resp.Status != http.StatusOK {
		t.Fatalf("search: status %d\n%s", resp.Status, bt.describe())
	}
	bt.do("search results", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#results tr[data-id=%q]`, domainID))))
	if n := bt.count("#results tr[data-id]"); n != 1 {
		t.Errorf("#results has %d rows for one value, want 1", n)
	}
	resp = bt.load("open the indicator page", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results tr[data-id=%q] a`, domainID))))
	if resp.Status != http.StatusOK {
		t.Fatalf("indicator page: status %d\n%s", resp.Status, bt.describe())
	}
	bt.do("indicator page", chromedp.WaitVisible(chromedp.CSS("#indicator")))
	if v := bt.text("#indicator .value"); v != domain {
		t.Errorf("#indicator shows %q, want %q", v, domain)
	}
	if l := bt.text("#indicator span.tlp.tlp-amber"); l != "TLP:AMBER" {
		t.Errorf("TLP label %q, want TLP:AMBER", l)
	}
	bt.do("score and sightings", chromedp.WaitVisible(chromedp.CSS("#score")), chromedp.WaitVisible(chromedp.CSS("#sightings")))
	if n := bt.count("#revoke-form"); n != 0 {
		t.Errorf("a member that is not the source is offered #revoke-form")
	}

	// Bob goes back to his dashboard and keeps it open.
	bt.open(e.URL, "/ui/")
	bt.do("dashboard lists the indicator",
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-id=%q]`, domainID))))

	// e. Alice, the source, revokes it from its page.
	a.open(e.URL, "/ui/indicators/"+domainID)
	a.do("indicator page (source)", chromedp.WaitVisible(chromedp.CSS("#revoke-form")))
	resp = a.load("revoke", chromedp.Click(chromedp.CSS("#revoke")))
	if resp.Status != http.StatusOK {
		t.Fatalf("revoke: status %d\n%s", resp.Status, a.describe())
	}
	a.do("revoked", chromedp.WaitVisible(chromedp.CSS("#indicator")))
	if s := a.text("#indicator"); !strings.Contains(s, "revoked") {
		t.Errorf("after revoking, #indicator does not say revoked:\n%s", s)
	}
	if n := a.count("#revoke-form"); n != 0 {
		t.Error("a revoked indicator still offers #revoke-form")
	}

	// Bob's open dashboard drops it live; its page says revoked.
	bt.do("the revoked indicator leaves the other organisation's live list",
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-id=%q]`, domainID))))
	bt.open(e.URL, "/ui/indicators/"+domainID)
	bt.do("indicator page after revocation", chromedp.WaitVisible(chromedp.CSS("#indicator")))
	if s := bt.text("#indicator"); !strings.Contains(s, "revoked") {
		t.Errorf("the other organisation's indicator page does not say revoked:\n%s", s)
	}
	bt.open(e.URL, "/ui/")
	bt.do("dashboard", chromedp.WaitVisible(chromedp.CSS("#live-indicators")))
	if n := bt.count(fmt.Sprintf(`#live-indicators li[data-id=%q]`, domainID)); n != 0 {
		t.Error("a reloaded dashboard still lists the revoked indicator")
	}
	if n := bt.count(fmt.Sprintf(`#live-indicators li[data-value=%q]`, ip)); n != 1 {
		t.Errorf("the dashboard lists the other shared value %d times, want 1", n)
	}

	// Sign-out (the header's form) ends the session.
	if resp := a.load("sign out", chromedp.Click(chromedp.CSS("#signout"))); resp.Status != http.StatusOK {
		t.Errorf("sign out: status %d", resp.Status)
	}
	a.do("sign-in page after sign-out", chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	a.open(e.URL, "/ui/")
	a.do("signed out", chromedp.WaitVisible(chromedp.CSS("#signin-form")))
}

// TestBrowserPolicyHidesValues: an organisation outside the audience of an
// amber+strict and of a red indicator never gets their values in any page
// it browses, live or reloaded, searched for by value, or asked for by id.
func TestBrowserPolicyHidesValues(t *testing.T) {
	b := newChromium(t)
	e := startUI(t)
	orgA := e.h.Org("Hospital A", policy.Member, "")
	orgB := e.h.Org("Hospital B", policy.Member, "")
	orgC := e.h.Org("Hospital C", policy.Member, "")
	keyA := e.h.Key(orgA, policy.Analyst)
	bob := e.user(orgB, "bob@hospital-b.example", policy.Analyst)
	carol := e.user(orgC, "carol@hospital-c.example", policy.Analyst)

	const (
		strict = "strict-secret.policy-test.example"
		red    = "red-secret.policy-test.example"
		marker = "marker.policy-test.example"
	)

	// Carol (outside the audience) and Bob (inside) have their dashboards
	// open while Hospital A shares.
	c := b.tab()
	c.signIn(e.URL, carol)
	bt := b.tab()
	bt.signIn(e.URL, bob)

	hidden := e.submit(keyA,
		map[string]any{"type": "domain", "value": strict, "tlp": "amber+strict", "audience": map[string]any{"orgs": []string{"Hospital B"}}},
		map[string]any{"type": "domain", "value": red, "tlp": "red", "audience": map[string]any{"orgs": []string{"Hospital B"}}},
	)
	// The marker follows the hidden ones in the change sequence: once it
	// is on Carol's live list, the stream has passed them.
	e.submit(keyA, map[string]any{"type": "domain", "value": marker, "tlp": "green"})

	// Bob, in the audience, sees both: the test is not vacuous.
	bt.do("the audience sees the strict indicator live",
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-value=%q]`, strict))),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-value=%q]`, red))),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-value=%q]`, marker))),
	)
	bt.open(e.URL, "/ui/indicators/"+hidden[strict])
	if l := bt.text("#indicator span.tlp.tlp-amber-strict"); l != "TLP:AMBER+STRICT" {
		t.Errorf("the audience's page shows TLP label %q, want TLP:AMBER+STRICT", l)
	}

	// noSecret checks that a page holds neither hidden value, nor (unless
	// Carol gave it herself) a hidden indicator's id.
	noSecret := func(where, html string, givenIDs ...string) {
		t.Helper()
		for _, v := range []string{strict, red} {
			if strings.Contains(html, v) {
				t.Errorf("%s: the page's HTML holds %s, which Hospital C may not see", where, v)
			}
		}
		for _, id := range hidden {
			if strings.Contains(html, id) && !slices.Contains(givenIDs, id) {
				t.Errorf("%s: the page's HTML holds the id %s of an indicator Hospital C may not see", where, id)
			}
		}
	}

	c.do("the marker arrives on the outsider's live list",
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#live-indicators li[data-value=%q]`, marker))))
	noSecret("live dashboard", c.html())

	c.open(e.URL, "/ui/")
	c.do("dashboard", chromedp.WaitVisible(chromedp.CSS("#live-indicators")), chromedp.WaitReady(chromedp.CSS("#sightings-chart")))
	noSecret("reloaded dashboard", c.html())

	for _, path := range []string{"/ui/indicators", "/ui/indicators?type=domain", "/ui/indicators?tlp=amber%2Bstrict", "/ui/indicators?tlp=red", "/ui/reports"} {
		c.open(e.URL, path)
		c.do(path, chromedp.WaitReady(chromedp.CSS("main")))
		noSecret(path, c.html())
	}

	// Searching for the value itself: the search box echoes what Carol
	// typed (she knows it); nothing else may hold it.
	for _, v := range []string{strict, red} {
		c.open(e.URL, "/ui/indicators")
		c.do("search form", chromedp.WaitVisible(chromedp.CSS("#search")),
			chromedp.SetValue(chromedp.CSS(`#search input[name="q"]`), v))
		c.load("search for "+v, chromedp.Submit(chromedp.CSS(`#search input[name="q"]`)))
		c.do("results", chromedp.WaitReady(chromedp.CSS("#results")))
		if n := c.count("#results tr[data-id]"); n != 0 {
			t.Errorf("searching for %s: #results has %d rows", v, n)
		}
		withoutEcho := tabRun(c, "page without the search box", chromedp.Evaluate[string](
			`(function(){var d=document.documentElement.cloneNode(true);d.querySelectorAll('#search input[name="q"]').forEach(function(i){i.removeAttribute('value');i.value=''});return d.outerHTML})()`))
		noSecret("search for "+v, withoutEcho)
	}

	// The indicator pages by id: not found, and nothing of them shown.
	for v, id := range hidden {
		resp := c.open(e.URL, "/ui/indicators/"+id)
		if resp.Status != http.StatusNotFound {
			t.Errorf("the page of the hidden %s: status %d, want 404", v, resp.Status)
		}
		noSecret("the page of "+v, c.html(), id)
	}

	// With a plain client as Carol: exports by value give nothing, and
	// revoking by id (with a valid token) is refused as not found.
	hc := uiSignInHTTP(t, e, carol)
	for _, v := range []string{strict, red} {
		status, body := uiGet(t, hc, e.URL+"/ui/export/csv?type=domain&value="+url.QueryEscape(v))
		if status == http.StatusOK && strings.Contains(body, v) {
			t.Errorf("the CSV export by value for %s holds it", v)
		}
	}
	_, page := uiGet(t, hc, e.URL+"/ui/")
	token := uiCSRFToken(t, page)
	for v, id := range hidden {
		status, body := uiPost(t, hc, e.URL, "/ui/indicators/"+id+"/revoke", url.Values{"csrf": {token}})
		if status != http.StatusNotFound {
			t.Errorf("Hospital C revoking the hidden %s: status %d, want 404", v, status)
		}
		noSecret("the answer to revoking "+v, body, id)
	}
	keyB := e.h.Key(orgB, policy.ReadOnly)
	for v, id := range hidden {
		if ind, st := e.indicator(keyB, id); st != http.StatusOK || ind.Revoked {
			t.Errorf("%s after Hospital C's attempts: status %d, revoked %v", v, st, ind.Revoked)
		}
	}
}

func uiGet(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// uiPost posts a form from the UI's own origin.
func uiPost(t *testing.T, c *http.Client, base, path string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var uiCSRFInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// uiCSRFToken is the token of a page's forms.
func uiCSRFToken(t *testing.T, page string) string {
	t.Helper()
	m := uiCSRFInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	return m[1]
}

// uiSignInHTTP signs in with a plain HTTP client (a cookie jar) and returns
// the client.
func uiSignInHTTP(t *testing.T, e *uiEnv, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 2 * time.Minute}
	req, _ := http.NewRequest("POST", e.URL+"/ui/signin", strings.NewReader(url.Values{"email": {email}, "password": {uiPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/" {
		t.Fatalf("sign in: status %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return c
}

// TestBrowserSecurity: the security headers of the pages, and a form post
// without the CSRF token refused (in the browser and by a plain client).
func TestBrowserSecurity(t *testing.T) {
	b := newChromium(t)
	e := startUI(t)
	orgA := e.h.Org("Hospital A", policy.Member, "")
	keyA := e.h.Key(orgA, policy.Analyst)
	alice := e.user(orgA, "alice@hospital-a.example", policy.Analyst)
	ids := e.submit(keyA,
		map[string]any{"type": "domain", "value": "csrf-one.security-test.example", "tlp": "amber"},
		map[string]any{"type": "domain", "value": "csrf-two.security-test.example", "tlp": "amber"})

	a := b.tab()
	for _, path := range []string{"/ui/signin"} {
		resp := a.open(e.URL, path)
		checkRespHeaders(t, path, resp)
	}
	a.signIn(e.URL, alice)
	for _, path := range []string{"/ui/", "/ui/indicators", "/ui/indicators/" + ids["csrf-one.security-test.example"], "/ui/submit", "/ui/no-such-page"} {
		resp := a.open(e.URL, path)
		checkRespHeaders(t, path, resp)
	}

	// In the browser: the revoke form with its token taken out.
	id := ids["csrf-one.security-test.example"]
	a.open(e.URL, "/ui/indicators/"+id)
	a.do("revoke form", chromedp.WaitVisible(chromedp.CSS("#revoke-form")))
	a.do("remove the CSRF token", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#revoke-form input[name="csrf"]').forEach(function(i){i.remove()})`))
	resp := a.load("revoke without the token", chromedp.Click(chromedp.CSS("#revoke")))
	if resp.Status != http.StatusForbidden {
		t.Errorf("a form post without the CSRF token: status %d, want 403", resp.Status)
	}
	if ind, st := e.indicator(keyA, id); st != http.StatusOK || ind.Revoked {
		t.Errorf("after a post without the token: status %d, revoked %v; want it untouched", st, ind.Revoked)
	}
	// A wrong token is refused too.
	a.open(e.URL, "/ui/indicators/"+id)
	a.do("forge the CSRF token", chromedp.WaitVisible(chromedp.CSS("#revoke-form")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#revoke-form input[name="csrf"]').value='AAAA'+document.querySelector('#revoke-form input[name="csrf"]').value.slice(4)`))
	resp = a.load("revoke with a wrong token", chromedp.Click(chromedp.CSS("#revoke")))
	if resp.Status != http.StatusForbidden {
		t.Errorf("a form post with a wrong CSRF token: status %d, want 403", resp.Status)
	}
	if ind, _ := e.indicator(keyA, id); ind.Revoked {
		t.Error("a post with a wrong token revoked the indicator")
	}

	// A plain client with a valid session and the right Origin, but no
	// token.
	c := uiSignInHTTP(t, e, alice)
	id2 := ids["csrf-two.security-test.example"]
	post := func(form url.Values, origin string) int {
		req, _ := http.NewRequest("POST", e.URL+"/ui/indicators/"+id2+"/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		checkUIHeaders(t, "POST revoke", resp.Header)
		return resp.StatusCode
	}
	if st := post(url.Values{}, e.URL); st != http.StatusForbidden {
		t.Errorf("POST without a token: status %d, want 403", st)
	}
	if st := post(url.Values{"csrf": {"not-the-token"}}, e.URL); st != http.StatusForbidden {
		t.Errorf("POST with a wrong token: status %d, want 403", st)
	}
	if st := post(url.Values{}, "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("POST from another origin: status %d, want 403", st)
	}
	if ind, _ := e.indicator(keyA, id2); ind.Revoked {
		t.Error("a refused post revoked the indicator")
	}
	// Sign-out without the token is refused as well.
	req, _ := http.NewRequest("POST", e.URL+"/ui/signout", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.URL)
	if resp, err := c.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out without a token: status %d, want 403", resp.StatusCode)
		}
	}
}

func checkRespHeaders(t *testing.T, path string, resp *network.Response) {
	t.Helper()
	if got := respHeader(resp, "Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy %q, want %q", path, got, web.ContentSecurityPolicy)
	}
	if got := respHeader(resp, "X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q, want DENY", path, got)
	}
	if got := respHeader(resp, "X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", path, got)
	}
	// Not "no-referrer": under it browsers send "Origin: null" with form
	// posts, which the same-origin check refuses.
	if got := respHeader(resp, "Referrer-Policy"); got != web.ReferrerPolicy || got == "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q, want %q", path, got, web.ReferrerPolicy)
	}
}

func checkUIHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy %q", what, got)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q, want DENY", what, got)
	}
}
