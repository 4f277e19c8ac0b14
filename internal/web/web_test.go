package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
	"github.com/hdnetwork/hdn/internal/web"
	"github.com/hdnetwork/hdn/internal/web/session"
)

type env struct {
	t   *testing.T
	h   *hubtest.Hub
	srv *httptest.Server
}

func newEnv(t *testing.T, cfg hub.Config) *env {
	t.Helper()
	h := hubtest.Start(t, cfg)
	sm := session.New(h.Store, session.Options{})
	srv := httptest.NewServer(web.New(web.Config{API: h.Hub.API(), Sessions: sm, HubName: "test-hub"}))
	t.Cleanup(srv.Close)
	return &env{t: t, h: h, srv: srv}
}

// user creates a web user of org through the store.
func (e *env) user(org model.Org, email string, role policy.Role) (string, string) {
	e.t.Helper()
	pw := "correct horse battery staple " + email
	hash, err := session.HashPassword(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.h.Store.CreateUser(context.Background(), model.User{OrgID: org.ID, Email: email, Name: email, Role: role, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	return email, pw
}

type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, base: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	hdr    http.Header
	body   string
	doc    *html.Node
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, hdr: resp.Header, body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(strings.NewReader(p.body)); err != nil {
			b.t.Fatalf("parse %s: %v", req.URL, err)
		}
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

func (b *browser) signIn(email, pw string) {
	b.t.Helper()
	p := b.post("/ui/signin", url.Values{"email": {email}, "password": {pw}})
	if p.status != http.StatusSeeOther || p.hdr.Get("Location") != "/ui/" {
		b.t.Fatalf("sign in: %d %s\n%s", p.status, p.hdr.Get("Location"), p.body)
	}
}

// follow gets the page a redirect names.
func (b *browser) follow(p page) page {
	b.t.Helper()
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("want a redirect, got %d\n%s", p.status, p.body)
	}
	return b.get(p.hdr.Get("Location"))
}

// ---- HTML helpers ----

func walk(n *html.Node, f func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && f(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := walk(c, f); m != nil {
			return m
		}
	}
	return nil
}

func all(n *html.Node, f func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.ElementNode && f(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	if n != nil {
		rec(n)
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(n *html.Node, id string) *html.Node {
	return walk(n, func(m *html.Node) bool { return attr(m, "id") == id })
}

func text(n *html.Node) string {
	var sb strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return sb.String()
}

func (p page) mustID(t *testing.T, id string) *html.Node {
	t.Helper()
	n := byID(p.doc, id)
	if n == nil {
		t.Fatalf("no #%s in the page (%d):\n%s", id, p.status, p.body)
	}
	return n
}

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	n := walk(p.doc, func(m *html.Node) bool { return m.Data == "input" && attr(m, "name") == "csrf" })
	if n == nil || attr(n, "value") == "" {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return attr(n, "value")
}

// submit shares indicators through the API with a key of org.
func submit(t *testing.T, h *hubtest.Hub, key string, items ...map[string]any) []string {
	t.Helper()
	r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": items})
	if r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	var out struct {
		Results []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"results"`
	}
	r.JSON(t, &out)
	var ids []string
	for _, x := range out.Results {
		if x.ID == "" {
			t.Fatalf("not stored: %s", r.Body)
		}
		ids = append(ids, x.ID)
	}
	return ids
}

// ---- tests ----

func TestSignInRequired(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()

	for _, path := range []string{"/ui/", "/ui/indicators", "/ui/indicators/x", "/ui/reports", "/ui/submit", "/ui/orgs", "/ui/queue", "/ui/audit", "/ui/alerts", "/ui/coverage"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || p.hdr.Get("Location") != "/ui/signin" {
			t.Errorf("GET %s without a session: %d %q, want a redirect to /ui/signin", path, p.status, p.hdr.Get("Location"))
		}
	}
	if p := b.get("/"); p.status != http.StatusSeeOther || p.hdr.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d %q", p.status, p.hdr.Get("Location"))
	}
	if p := b.post("/ui/submit/single", url.Values{"value": {"x.example"}}); p.status != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d", p.status)
	}

	p := b.get("/ui/signin")
	for _, id := range []string{"signin-form", "email", "password", "signin"} {
		p.mustID(t, id)
	}
	p = b.post("/ui/signin", url.Values{"email": {email}, "password": {"wrong password"}})
	if p.status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", p.status)
	}
	p.mustID(t, "signin-error")

	b.signIn(email, pw)
	p = b.get("/ui/")
	if p.status != 200 {
		t.Fatalf("dashboard: %d\n%s", p.status, p.body)
	}
	if got := text(p.mustID(t, "org-name")); got != "Hospital A" {
		t.Errorf("header names %q", got)
	}
	if got := text(p.mustID(t, "user-email")); got != email {
		t.Errorf("header shows %q", got)
	}
	// Sign out with the form's token.
	tok := csrfOf(t, p)
	if p := b.post("/ui/signout", url.Values{"csrf": {tok}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}
	if p := b.get("/ui/"); p.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", p.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()
	check := func(what string, p page, noStore bool) {
		t.Helper()
		want := map[string]string{
			"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin", // see web.ReferrerPolicy

			"X-Frame-Options": "DENY",
		}
		if noStore {
			want["Cache-Control"] = "no-store"
		}
		for k, v := range want {
			if got := p.hdr.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got, v)
			}
		}
	}
	check("sign-in page", b.get("/ui/signin"), true)
	b.signIn(email, pw)
	for _, path := range []string{"/ui/", "/ui/indicators", "/ui/submit", "/ui/nothing-here"} {
		check(path, b.get(path), true)
	}
	for _, f := range []string{"hdn.css", "hdn.js"} {
		p := b.get("/ui/static/" + f)
		if p.status != 200 || len(p.body) < 100 {
			t.Errorf("static %s: %d", f, p.status)
		}
		check(f, p, false)
	}
	// No inline script or style in a page.
	p := b.get("/ui/")
	if strings.Contains(p.body, "<style") || strings.Contains(p.body, "style=") {
		t.Errorf("inline style in the dashboard")
	}
	for _, s := range all(p.doc, func(n *html.Node) bool { return n.Data == "script" }) {
		if attr(s, "src") == "" {
			t.Errorf("inline script in the dashboard")
		}
	}
}

func TestIndicatorsFlow(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	ids := submit(t, e.h, ka,
		map[string]any{"value": "c2.badhost-example.net", "tlp": "amber", "labels": []string{"c2"}, "confidence": 70},
		map[string]any{"value": "198.51.100.23", "tlp": "green"})
	b := e.browser()
	b.signIn(email, pw)

	// The dashboard lists the organisation's live indicators, newest first.
	p := b.get("/ui/")
	ul := p.mustID(t, "live-indicators")
	lis := all(ul, func(n *html.Node) bool { return n.Data == "li" })
	if len(lis) != 2 || attr(lis[0], "data-value") != "198.51.100.23" || attr(lis[1], "data-value") != "c2.badhost-example.net" || attr(lis[1], "data-id") != ids[0] {
		t.Fatalf("live indicators: %s", p.body)
	}
	for _, id := range []string{"sightings-chart", "top-sighted", "sensors", "no-feeds"} {
		p.mustID(t, id)
	}

	// Search finds a value as typed (defanged).
	p = b.get("/ui/indicators?q=" + url.QueryEscape("C2.badhost-example[.]net"))
	rows := all(p.mustID(t, "results"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })
	if len(rows) != 1 || attr(rows[0], "data-id") != ids[0] {
		t.Fatalf("search: %s", p.body)
	}
	if walk(rows[0], func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "/ui/indicators/"+ids[0] }) == nil {
		t.Errorf("the result does not link to the indicator")
	}
	// The TLP filter.
	p = b.get("/ui/indicators?tlp=green")
	rows = all(p.mustID(t, "results"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })
	if len(rows) != 1 || attr(rows[0], "data-id") != ids[1] {
		t.Errorf("tlp filter: %s", p.body)
	}

	// The indicator page: TLP label and score.
	p = b.get("/ui/indicators/" + ids[0])
	ind := p.mustID(t, "indicator")
	lbl := walk(ind, func(n *html.Node) bool { return n.Data == "span" && attr(n, "class") == "tlp tlp-amber" })
	if lbl == nil || text(lbl) != "TLP:AMBER" {
		t.Errorf("no amber label: %s", p.body)
	}
	if !strings.Contains(text(ind), "c2.badhost-example.net") || !strings.Contains(text(ind), "Hospital A") {
		t.Errorf("indicator: %s", text(ind))
	}
	score := p.mustID(t, "score")
	if !strings.Contains(text(score), "70") {
		t.Errorf("score: %s", text(score))
	}
	p.mustID(t, "sightings")
	p.mustID(t, "revoke")
	tok := csrfOf(t, p)

	// Revoking needs the right token and the same origin.
	if p := b.post("/ui/indicators/"+ids[0]+"/revoke", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("revoke without a token: %d", p.status)
	}
	if p := b.post("/ui/indicators/"+ids[0]+"/revoke", url.Values{"csrf": {tok + "x"}}); p.status != http.StatusForbidden {
		t.Errorf("revoke with a wrong token: %d", p.status)
	}
	req, _ := http.NewRequest("POST", b.base+"/ui/indicators/"+ids[0]+"/revoke", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if p := b.do(req); p.status != http.StatusForbidden {
		t.Errorf("revoke from another origin: %d", p.status)
	}
	var got struct {
		Revoked bool `json:"revoked"`
	}
	e.h.Do("GET", "/api/v1/indicators/"+ids[0], ka, nil).JSON(t, &got)
	if got.Revoked {
		t.Fatal("revoked by a refused request")
	}
	p = b.follow(b.post("/ui/indicators/"+ids[0]+"/revoke", url.Values{"csrf": {tok}}))
	if p.status != 200 || byID(p.doc, "revoke") != nil {
		t.Errorf("after revoking: %d %s", p.status, p.body)
	}
	e.h.Do("GET", "/api/v1/indicators/"+ids[0], ka, nil).JSON(t, &got)
	if !got.Revoked {
		t.Fatal("not revoked")
	}
	// It left the live list.
	p = b.get("/ui/")
	if strings.Contains(text(p.mustID(t, "live-indicators")), "c2.badhost-example.net") {
		t.Errorf("a revoked indicator is live on the dashboard")
	}

	// A single submission through the form.
	p = b.get("/ui/submit")
	tok = csrfOf(t, p)
	p = b.follow(b.post("/ui/submit/single", url.Values{"csrf": {tok}, "value": {"phish.badhost-example.org"}, "tlp": {"amber+strict"}, "labels": {"phishing"}}))
	lbl = walk(p.mustID(t, "indicator"), func(n *html.Node) bool { return n.Data == "span" && attr(n, "class") == "tlp tlp-amber-strict" })
	if lbl == nil || text(lbl) != "TLP:AMBER+STRICT" {
		t.Errorf("single submission: %s", p.body)
	}

	// A read-only user may not revoke: the API's 403 is shown.
	ro, ropw := e.user(a, "ro@hospital-a.example", policy.ReadOnly)
	b2 := e.browser()
	b2.signIn(ro, ropw)
	p = b2.get("/ui/indicators/" + ids[1])
	if byID(p.doc, "revoke") != nil {
		t.Errorf("a read-only user is offered the revoke form")
	}
	if p := b2.post("/ui/indicators/"+ids[1]+"/revoke", url.Values{"csrf": {csrfOf(t, p)}}); p.status != http.StatusForbidden {
		t.Errorf("read-only revoke: %d", p.status)
	}
}

func TestBulkPasteAndUpload(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, hub.Config{Warninglists: wl})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()
	b.signIn(email, pw)
	p := b.get("/ui/submit")
	for _, id := range []string{"single-form", "bulk-form", "bulk-text", "preview", "upload-form", "file", "upload-progress"} {
		p.mustID(t, id)
	}
	tok := csrfOf(t, p)
	txt := "The loader beacons to hxxps://update-check[.]badhost-example[.]net/gate.php and 185.220.101[.]45.\n" +
		"Resolver traffic to 8.8.8.8 is normal. See also evil-phish.duckdns.org and 44d88612fea8a8f36de82e1278abb02f.\n"
	p = b.post("/ui/submit/preview", url.Values{"csrf": {tok}, "text": {txt}, "tlp": {"green"}})
	if p.status != 200 {
		t.Fatalf("preview: %d %s", p.status, p.body)
	}
	rows := map[string]*html.Node{}
	for _, tr := range all(p.mustID(t, "preview-results"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-value") != "" }) {
		rows[attr(tr, "data-value")] = tr
	}
	for _, v := range []string{"https://update-check.badhost-example.net/gate.php", "185.220.101.45", "8.8.8.8", "evil-phish.duckdns.org", "44d88612fea8a8f36de82e1278abb02f"} {
		if rows[v] == nil {
			t.Fatalf("preview lacks %s: %s", v, p.body)
		}
	}
	keep := func(v string) *html.Node {
		return walk(rows[v], func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "keep" })
	}
	if _, checked := attrOK(keep("8.8.8.8"), "checked"); checked {
		t.Errorf("a refused value is ticked")
	}
	if _, checked := attrOK(keep("185.220.101.45"), "checked"); !checked {
		t.Errorf("a new value is not ticked")
	}
	wlCell := walk(rows["evil-phish.duckdns.org"], func(n *html.Node) bool { return attr(n, "class") == "warninglists" })
	if wlCell == nil || strings.TrimSpace(text(wlCell)) == "" {
		t.Errorf("the dynamic-DNS host shows no warninglist hit: %s", p.body)
	}
	if walk(rows["8.8.8.8"], func(n *html.Node) bool { return attr(n, "class") == "warninglists" && strings.TrimSpace(text(n)) != "" }) == nil {
		t.Errorf("the resolver shows no warninglist hit")
	}
	p.mustID(t, "share")
	// Nothing stored by the preview.
	if n := countAll(t, e.h, ka); n != 0 {
		t.Fatalf("the preview stored %d", n)
	}
	// Share, unticking the hash.
	form := url.Values{"csrf": {tok}, "text": {txt}, "tlp": {"green"}}
	for v := range rows {
		form.Add("candidate", v)
		if v != "44d88612fea8a8f36de82e1278abb02f" && v != "8.8.8.8" {
			form.Add("keep", v)
		}
	}
	p = b.post("/ui/submit/text", form)
	if p.status != 200 {
		t.Fatalf("share: %d %s", p.status, p.body)
	}
	res := p.mustID(t, "submit-results")
	stored := all(res, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })
	if len(stored) != 3 {
		t.Errorf("stored %d rows: %s", len(stored), p.body)
	}
	if n := countAll(t, e.h, ka); n != 3 {
		t.Errorf("the hub holds %d indicators, want 3", n)
	}

	// "Check only": what would be stored, and nothing stored.
	p = b.upload(tok, "lines", "amber", "# a list\nupload-one.badhost-example.net\n185.220.101.77\n10.1.2.3\n", "dry_run", "1")
	if p.status != 200 || !strings.Contains(p.body, "nothing stored: 2 of 3 values would be stored") {
		t.Fatalf("upload, check only: %d %s", p.status, p.body)
	}
	if n := countAll(t, e.h, ka); n != 3 {
		t.Errorf("after a check: the hub holds %d indicators, want still 3", n)
	}
	if p = b.upload(tok, "stix", "amber", `{"type":"bundle","id":"bundle--1","objects":[]}`, "dry_run", "1"); p.status != 400 || !strings.Contains(p.body, "cannot be checked") {
		t.Errorf("a STIX bundle, check only: %d %s", p.status, p.body)
	}

	// An upload of a list, multipart.
	p = b.upload(tok, "lines", "amber", "# a list\nupload-one.badhost-example.net\n185.220.101.77\n")
	if p.status != 200 {
		t.Fatalf("upload: %d %s", p.status, p.body)
	}
	if got := len(all(p.mustID(t, "submit-results"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })); got != 2 {
		t.Errorf("upload stored %d: %s", got, p.body)
	}
}

// upload posts a file to /ui/submit/upload as the page's form does
// (multipart, with the CSRF token, format and TLP).
func (b *browser) upload(csrf, format, tlp, content string, fields ...string) page {
	body := &strings.Builder{}
	const bnd = "XXboundaryXX"
	part := func(name, val string) {
		body.WriteString("--" + bnd + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + val + "\r\n")
	}
	part("csrf", csrf)
	part("format", format)
	part("tlp", tlp)
	for i := 0; i+1 < len(fields); i += 2 {
		part(fields[i], fields[i+1])
	}
	body.WriteString("--" + bnd + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"iocs.txt\"\r\nContent-Type: text/plain\r\n\r\n")
	body.WriteString(content + "\r\n--" + bnd + "--\r\n")
	req, _ := http.NewRequest("POST", b.base+"/ui/submit/upload", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+bnd)
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

func attrOK(n *html.Node, key string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func countAll(t *testing.T, h *hubtest.Hub, key string) int {
	t.Helper()
	var out struct {
		Indicators []any `json:"indicators"`
	}
	h.Do("GET", "/api/v1/indicators?limit=1000", key, nil).JSON(t, &out)
	return len(out.Indicators)
}

// TestPolicy: what the sharing policy hides from an organisation appears on
// no page it can reach.
func TestPolicy(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	bo := e.h.Org("Hospital B", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	// A report for A alone, with a red and an amber+strict indicator in it.
	r := e.h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "secret-campaign-title", "narrative": "x", "tlp": "red", "audience": map[string]any{"orgs": []string{"Hospital A"}}})
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	var rep struct {
		ID string `json:"id"`
	}
	r.JSON(t, &rep)
	hidden := submit(t, e.h, ka,
		map[string]any{"value": "red-secret.badhost-example.net", "tlp": "red", "audience": map[string]any{"orgs": []string{"Hospital A"}}, "report": rep.ID},
		map[string]any{"value": "strict-secret.badhost-example.net", "tlp": "amber+strict", "audience": map[string]any{"orgs": []string{"Hospital A"}}, "report": rep.ID},
	)
	shared := submit(t, e.h, ka, map[string]any{"value": "shared.badhost-example.net", "tlp": "green", "anonymous": true})
	secrets := []string{"red-secret.badhost-example.net", "strict-secret.badhost-example.net", "secret-campaign-title"}

	email, pw := e.user(bo, "bob@hospital-b.example", policy.Analyst)
	b := e.browser()
	b.signIn(email, pw)
	paths := []string{"/ui/", "/ui/indicators", "/ui/indicators?q=red-secret.badhost-example.net", "/ui/indicators?q=strict-secret.badhost-example.net",
		"/ui/indicators?report=" + rep.ID, "/ui/reports", "/ui/reports/" + rep.ID, "/ui/queue", "/ui/alerts", "/ui/audit",
		"/ui/export/csv", "/ui/export/list?value=red-secret.badhost-example.net"}
	for _, id := range hidden {
		paths = append(paths, "/ui/indicators/"+id)
	}
	for _, path := range paths {
		p := b.get(path)
		body := p.body
		// The search form echoes what B typed itself.
		if i := strings.Index(body, `<form id="search"`); i >= 0 {
			if j := strings.Index(body[i:], "</form>"); j >= 0 {
				body = body[:i] + body[i+j:]
			}
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s (%d) shows %q to Hospital B", path, p.status, s)
			}
		}
	}
	for _, id := range hidden {
		if p := b.get("/ui/indicators/" + id); p.status != http.StatusNotFound {
			t.Errorf("hidden indicator page: %d", p.status)
		}
	}
	// What B may see is there, and its anonymous source stays anonymous.
	p := b.get("/ui/")
	li := walk(p.mustID(t, "live-indicators"), func(n *html.Node) bool { return attr(n, "data-id") == shared[0] })
	if li == nil {
		t.Fatalf("the shared indicator is not on B's dashboard: %s", p.body)
	}
	p = b.get("/ui/indicators/" + shared[0])
	if strings.Contains(p.body, "Hospital A") || !strings.Contains(text(p.mustID(t, "indicator")), "anonymous") {
		t.Errorf("the anonymous source is not anonymous: %s", text(p.mustID(t, "indicator")))
	}
	// B may not revoke A's indicator: the API's refusal is the answer.
	if byID(p.doc, "revoke") != nil {
		t.Errorf("B is offered to revoke A's indicator")
	}
	if p2 := b.post("/ui/indicators/"+shared[0]+"/revoke", url.Values{"csrf": {csrfOf(t, p)}}); p2.status != http.StatusForbidden {
		t.Errorf("B revokes A's indicator: %d", p2.status)
	}
	// Coordinator pages are refused to a member.
	for _, path := range []string{"/ui/orgs", "/ui/coverage"} {
		if p := b.get(path); p.status != http.StatusForbidden {
			t.Errorf("%s for a member: %d", path, p.status)
		}
	}
	// A's own user sees its secrets.
	ea, pa := e.user(a, "ana@hospital-a.example", policy.Analyst)
	ba := e.browser()
	ba.signIn(ea, pa)
	if p := ba.get("/ui/reports/" + rep.ID); p.status != 200 || !strings.Contains(p.body, "red-secret.badhost-example.net") {
		t.Errorf("A's report page: %d %s", p.status, p.body)
	}
}

func TestCoordinatorPages(t *testing.T) {
	e := newEnv(t, hub.Config{})
	c := e.h.Org("Sector CERT", policy.Coordinator, "")
	sec := e.h.Org("SecureOps", policy.Partner, "")
	kp := e.h.Key(sec, policy.Admin)
	r := e.h.Do("POST", "/api/v1/orgs", kp, map[string]any{"name": "Care Home North", "kind": "customer"})
	if r.Status != 201 {
		t.Fatalf("create customer: %d %s", r.Status, r.Body)
	}
	// A peer hub that cannot be reached shows as unhealthy, without its key.
	po := e.h.Org("partner-hub", policy.PeerHub, "")
	peerKey := e.h.Key(po, policy.Analyst)
	if _, err := e.h.Store.CreatePeer(context.Background(), model.Peer{Name: "partner-hub", OrgID: po.ID, URL: "http://127.0.0.1:9", Key: peerKey, Pull: true}); err != nil {
		t.Fatal(err)
	}
	email, pw := e.user(c, "cert@cert.example", policy.Admin)
	b := e.browser()
	b.signIn(email, pw)
	p := b.get("/ui/")
	p.mustID(t, "feeds")
	peers := p.mustID(t, "peers")
	if text := text(peers); !strings.Contains(text, "partner-hub") || !strings.Contains(text, "pull") || strings.Contains(p.body, peerKey) {
		t.Errorf("peer table: %q", text)
	}
	if walk(peers, func(n *html.Node) bool { return attr(n, "class") == "bad" }) == nil {
		t.Errorf("an unreachable peer is not shown unhealthy: %q", text(peers))
	}
	if walk(p.mustID(t, "nav"), func(n *html.Node) bool { return attr(n, "href") == "/ui/orgs" }) == nil {
		t.Errorf("no organisations link for the coordinator")
	}
	p = b.get("/ui/orgs")
	orgs := p.mustID(t, "orgs")
	btn := walk(orgs, func(n *html.Node) bool { return n.Data == "button" && attr(n, "class") == "approve" })
	if btn == nil {
		t.Fatalf("no approve button: %s", p.body)
	}
	form := btn.Parent
	p = b.follow(b.post(attr(form, "action"), url.Values{"csrf": {csrfOf(t, p)}}))
	if walk(p.mustID(t, "orgs"), func(n *html.Node) bool { return n.Data == "button" && attr(n, "class") == "approve" }) != nil {
		t.Errorf("still pending after approval: %s", p.body)
	}
	for path, id := range map[string]string{"/ui/queue": "quarantined", "/ui/audit": "audit", "/ui/alerts": "alerts", "/ui/coverage": "protected"} {
		p := b.get(path)
		if p.status != 200 {
			t.Errorf("%s: %d %s", path, p.status, p.body)
			continue
		}
		p.mustID(t, id)
	}
	if p := b.get("/ui/queue"); byID(p.doc, "proposals") == nil {
		t.Errorf("no proposals table")
	}
	if p := b.get("/ui/audit"); !strings.Contains(p.body, "org.approve") && !strings.Contains(p.body, "approve") {
		t.Errorf("the audit log lacks the approval: %s", p.body)
	}
}

// TestStream: the dashboard's stream proxy sends new indicators as they are
// shared, resuming from a cursor (no snapshot).
func TestStream(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	submit(t, e.h, ka, map[string]any{"value": "old.badhost-example.net", "tlp": "green"})
	b := e.browser()
	b.signIn(email, pw)
	p := b.get("/ui/")
	cursor := attr(p.mustID(t, "live-indicators"), "data-cursor")
	if cursor == "" || cursor == "0" {
		t.Fatalf("no cursor: %s", p.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/ui/stream?cursor="+cursor, nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	submit(t, e.h, ka, map[string]any{"value": "new.badhost-example.net", "tlp": "green"})
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "old.badhost-example.net") {
			t.Fatalf("the stream sent a snapshot: %s", line)
		}
		if strings.HasPrefix(line, "data:") && strings.Contains(line, "new.badhost-example.net") {
			return
		}
	}
	t.Fatalf("no event for the new indicator: %v", sc.Err())
}

// TestQuarantine: a quarantined indicator shows its reason; the coordinator
// finds it in its queue and releases it through the form.
func TestQuarantine(t *testing.T) {
	e := newEnv(t, hub.Config{})
	c := e.h.Org("Sector CERT", policy.Coordinator, "")
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	id := submit(t, e.h, ka, map[string]any{"value": "benign-cdn.badhost-example.net", "tlp": "green"})[0]
	for _, name := range []string{"Hospital B", "Hospital C"} {
		k := e.h.Key(e.h.Org(name, policy.Member, ""), policy.Analyst)
		if r := e.h.Do("POST", "/api/v1/sightings", k, map[string]any{"sightings": []any{map[string]any{"indicator": id, "kind": "false-positive"}}}); r.Status != 200 {
			t.Fatalf("false positive: %d %s", r.Status, r.Body)
		}
	}
	ea, pa := e.user(a, "ana@hospital-a.example", policy.Analyst)
	ba := e.browser()
	ba.signIn(ea, pa)
	p := ba.get("/ui/indicators/" + id)
	if q := byID(p.doc, "quarantine"); q == nil || !strings.Contains(text(q), "false positive") {
		t.Fatalf("no quarantine reason: %s", p.body)
	}
	if byID(p.doc, "release") != nil {
		t.Errorf("the source is offered to release")
	}
	ec, pc := e.user(c, "cert@cert.example", policy.Admin)
	bc := e.browser()
	bc.signIn(ec, pc)
	p = bc.get("/ui/queue")
	if walk(p.mustID(t, "quarantined"), func(n *html.Node) bool { return attr(n, "data-id") == id }) == nil {
		t.Errorf("not in the coordinator's quarantine table: %s", p.body)
	}
	p = bc.get("/ui/indicators/" + id)
	p.mustID(t, "release")
	p = bc.follow(bc.post("/ui/indicators/"+id+"/release", url.Values{"csrf": {csrfOf(t, p)}}))
	if byID(p.doc, "quarantine") != nil {
		t.Errorf("still quarantined after release: %s", p.body)
	}
}

// TestStreamEndsWhenUserDisabled: a user's open UI stream ends when the user
// is disabled — also when that is done on the store directly, as
// `hdn admin user disable` does from another process.
func TestStreamEndsWhenUserDisabled(t *testing.T) {
	e := newEnv(t, hub.Config{StreamHeartbeat: time.Hour})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "leaver@hospital-a.example", policy.Analyst)
	submit(t, e.h, ka, map[string]any{"value": "first.badhost-example.net", "tlp": "green"})
	b := e.browser()
	b.signIn(email, pw)
	cursor := attr(b.get("/ui/").mustID(t, "live-indicators"), "data-cursor")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/ui/stream?cursor="+cursor, nil)
	resp, err := b.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		io.Copy(io.Discard, resp.Body)
		close(ended)
	}()
	u, err := e.h.Store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	if err := e.h.Store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("a disabled user's stream is still open after 10 s")
	}
}
