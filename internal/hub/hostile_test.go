package hub_test

// The hostile-input suite (issue 13): malformed and malicious requests
// against every API the hub serves — the native API, the MISP-compatible API,
// TAXII 2.1 and the web UI. Each case must get exactly the expected 4xx, with
// a clear error in the shape of its API; nothing may be stored (every table
// of the store is compared before and after, apart from last-use times); and
// the hub must stay healthy and keep serving normal requests. SECURITY.md
// points here.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// minHostileCases is the least number of cases the suite must run.
const minHostileCases = 60

// errShape is the error body an API answers with.
type errShape int

const (
	shapeNative errShape = iota // {"error": {"code", "message"}}
	shapeTAXII                  // {"title", "description", "http_status"}
	shapeMISP                   // {"name", "message", "url"}
	shapeHTML                   // the web UI's error or form page
)

// hostileCase is one malformed or malicious request.
type hostileCase struct {
	name   string
	method string
	path   string // sent as written (no cleaning, no escaping)
	// auth is the Authorization header; "" sends none.
	auth string
	// hdr are further headers (Content-Type is set only from ctype).
	hdr   map[string]string
	ctype string
	body  func() io.Reader // nil: no body
	// status is the one status expected.
	status int
	shape  errShape
	// code is the native error code, or the TAXII title; want is a piece
	// of the message (native message, TAXII description, MISP message,
	// text of the UI page) that must be there.
	code string
	want string
	// ui marks a request made with the fixture's signed-in UI session.
	ui bool
	// item is, for a 422 of an atomic submission, a piece of the message of
	// the item that was refused (every other item must be not_stored).
	item string
}

// checkItems checks the per-item results of a refused atomic submission.
func checkItems(c hostileCase, b []byte) error {
	if c.status != http.StatusUnprocessableEntity {
		return nil
	}
	var out struct {
		Results []struct {
			Status string `json:"status"`
			Error  *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) == 0 {
		return fmt.Errorf("422 without results: %.300q", b)
	}
	refused := 0
	for _, r := range out.Results {
		switch r.Status {
		case "not_stored":
		case "rejected":
			if r.Error == nil || r.Error.Code == "" || !strings.Contains(r.Error.Message, c.item) {
				return fmt.Errorf("rejected item %+v, want a message saying %q", r.Error, c.item)
			}
			refused++
		default:
			return fmt.Errorf("an item of a refused atomic request is %q", r.Status)
		}
	}
	if refused == 0 {
		return fmt.Errorf("422 but no item rejected: %.300q", b)
	}
	return nil
}

// hostileFixture is a small network in a hub with the shipped warninglists.
type hostileFixture struct {
	h *hubtest.Hub
	// keys, as sent after "Bearer ".
	aAnalyst, aAdmin, aSensor, aReadonly, aExpired, aRevoked string
	bAnalyst, bAdmin, coordAdmin, health                     string
	// other organisations' objects.
	bKeyID, bUserID, bIndicator, bRedIndicator, bRedReport, bGroup, bStatus string
	aIndicator                                                              string
	usedEnrolToken                                                          string
	// the UI session of an analyst of hospital-a.
	cookie, csrf string
	logs         *errorLog
}

// errorLog keeps what the hub logs at error level: a request that fails with
// a 500 logs there, and so does a handler that hits an internal error.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, sb.String())
	l.mu.Unlock()
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }
func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.msgs
	l.msgs = nil
	return m
}

func bearer(k string) string { return "Bearer " + k }

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func keyID(t *testing.T, key string) string {
	t.Helper()
	id, _, err := auth.Parse(key)
	if err != nil {
		t.Fatalf("parse key: %v", err)
	}
	return id
}

func newHostileFixture(t *testing.T, dsn string) *hostileFixture {
	t.Helper()
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	logs := &errorLog{}
	// The production rate limits, set explicitly (a test hub has none
	// unless told): the suite sends well under a key's burst, and its
	// sign-ins and enrolments under an address's.
	limits := api.Limits{RateLimit: api.DefaultRateLimit, RateBurst: api.DefaultRateBurst,
		AnonRateLimit: api.DefaultAnonRateLimit, AnonRateBurst: api.DefaultAnonRateBurst, MaxStreamsPerOrg: api.DefaultMaxStreamsPerOrg}
	h := hubtest.Start(t, hub.Config{DB: dsn, Warninglists: wl, SignalEvery: -1, FeedCheck: -1, FederationCheck: -1, Limits: limits, Logger: slog.New(logs)})
	f := &hostileFixture{h: h, logs: logs}
	ctx := context.Background()

	coord := h.Org("cert", policy.Coordinator, "")
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	h.Org("mssp", policy.Partner, "")
	h.Org("clinic", policy.Customer, "mssp")

	f.aAnalyst, f.aAdmin = h.Key(a, policy.Analyst), h.Key(a, policy.Admin)
	f.aSensor, f.aReadonly = h.Key(a, policy.Sensor), h.Key(a, policy.ReadOnly)
	f.bAnalyst, f.bAdmin = h.Key(b, policy.Analyst), h.Key(b, policy.Admin)
	f.coordAdmin = h.Key(coord, policy.Admin)
	f.health = h.Key(coord, policy.ReadOnly)
	f.bKeyID = keyID(t, f.bAnalyst)

	plain, id, hash := auth.NewKey()
	now := time.Now().UTC()
	if err := h.Store.CreateKey(ctx, model.Key{ID: id, OrgID: a.ID, Role: policy.Analyst, Hash: hash, Created: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.aExpired = plain
	f.aRevoked = h.Key(a, policy.Analyst)
	if err := h.Store.RevokeKey(ctx, keyID(t, f.aRevoked)); err != nil {
		t.Fatal(err)
	}

	// Users: one of each hospital; hospital-a's signs in to the UI.
	pwA := "a long pass phrase for the hostile suite A"
	hashA, err := session.HashPassword(pwA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.CreateUser(ctx, model.User{OrgID: a.ID, Email: "ana@hospital-a.example", Name: "Ana", Role: policy.Analyst, PasswordHash: hashA}); err != nil {
		t.Fatal(err)
	}
	ub, err := h.Store.CreateUser(ctx, model.User{OrgID: b.ID, Email: "bob@hospital-b.example", Name: "Bob", Role: policy.Analyst, PasswordHash: hashA})
	if err != nil {
		t.Fatal(err)
	}
	f.bUserID = ub.ID

	// Indicators: one of each hospital for the network, and a red one of
	// hospital-b that hospital-a must not even learn of.
	res := submit(t, h, f.aAnalyst, map[string]any{"type": "domain", "value": "a-phish.hostile-fixture.net", "tlp": "green"})
	if res[0].ID == "" {
		t.Fatalf("fixture indicator of a: %+v", res[0])
	}
	f.aIndicator = res[0].ID
	res = submit(t, h, f.bAnalyst,
		map[string]any{"type": "domain", "value": "b-phish.hostile-fixture.net", "tlp": "green"},
		map[string]any{"type": "domain", "value": "b-secret.hostile-fixture.net", "tlp": "red", "audience": map[string]any{"orgs": []string{"hospital-b"}}})
	if res[0].ID == "" || res[1].ID == "" {
		t.Fatalf("fixture indicators of b: %+v", res)
	}
	f.bIndicator, f.bRedIndicator = res[0].ID, res[1].ID
	r := h.Do("POST", "/api/v1/reports", f.bAnalyst, map[string]any{"title": "b's red report", "tlp": "red", "audience": map[string]any{"orgs": []string{"hospital-b"}}})
	if r.Status != 201 {
		t.Fatalf("fixture report: %d %s", r.Status, r.Body)
	}
	var rep struct{ ID string }
	r.JSON(t, &rep)
	f.bRedReport = rep.ID
	r = h.Do("POST", "/api/v1/groups", f.bAnalyst, map[string]any{"name": "b-only", "members": []string{"hospital-b"}})
	if r.Status != 201 {
		t.Fatalf("fixture group: %d %s", r.Status, r.Body)
	}
	var g struct{ ID string }
	r.JSON(t, &g)
	f.bGroup = g.ID

	// A TAXII status of hospital-b, which hospital-a must not read.
	r = h.DoWith("POST", "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793/objects/", map[string]string{"Authorization": bearer(f.bAnalyst), "Content-Type": "application/taxii+json;version=2.1"},
		[]byte(`{"objects": [{"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern": "[domain-name:value = 'b-taxii.hostile-fixture.net']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}]}`))
	if r.Status != 202 {
		t.Fatalf("fixture TAXII post: %d %s", r.Status, r.Body)
	}
	var st struct{ ID string }
	r.JSON(t, &st)
	f.bStatus = st.ID

	// An enrolment token, used once.
	r = h.Do("POST", "/api/v1/orgs/hospital-a/enrolments", f.aAdmin, map[string]any{})
	if r.Status != 201 {
		t.Fatalf("fixture enrolment: %d %s", r.Status, r.Body)
	}
	var tok struct{ Token string }
	r.JSON(t, &tok)
	f.usedEnrolToken = tok.Token
	if r := h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": tok.Token, "name": "sensor-1"}); r.Status != 200 {
		t.Fatalf("fixture enrol: %d %s", r.Status, r.Body)
	}

	// The UI session: sign in, then read the CSRF token from a form.
	status, hdr, _, err := f.do(hostileCase{method: "POST", path: "/ui/signin", ctype: "application/x-www-form-urlencoded", hdr: map[string]string{"Origin": h.URL},
		body: textBody(url.Values{"email": {"ana@hospital-a.example"}, "password": {pwA}}.Encode())})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "hdn_session" {
			f.cookie = c.Name + "=" + c.Value
		}
	}
	if f.cookie == "" {
		t.Fatalf("UI sign-in: %d, no session cookie", status)
	}
	r = h.DoWith("GET", "/ui/submit", map[string]string{"Cookie": f.cookie}, nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(r.Body)
	if r.Status != 200 || m == nil {
		t.Fatalf("UI submit page: %d, no CSRF token", r.Status)
	}
	f.csrf = string(m[1])
	if msgs := logs.take(); len(msgs) > 0 {
		t.Fatalf("the fixture logged errors: %q", msgs)
	}
	return f
}

// storeState fingerprints every table of the store (SQLite, or PostgreSQL's
// schema of the test): its rows, apart from
// the times a request may touch without storing anything (a key's or a
// session's last use, a user's last sign-in), what the hub's own jobs
// take and renew in the background (job leases) and the count of failed
// sign-ins.
func storeState(t *testing.T, db *sql.DB, postgres bool) map[string]string {
	t.Helper()
	volatile := map[string]bool{"keys.last_used": true, "sessions.last_seen": true, "users.last_sign_in": true, "leases.expires": true}
	list := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if postgres {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	}
	rows, err := db.Query(list)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, tb := range tables {
		switch tb {
		case "leases":
			continue // the hub's jobs take and renew their leases in the background
		case "signin_failures", "signin_limits":
			continue // the brute-force limit counts a failed sign-in, as it must (keys, not addresses)
		}
		rs, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		var lines []string
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for i, c := range cols {
				if volatile[tb+"."+c] {
					continue
				}
				fmt.Fprintf(&sb, "%s=%v;", c, vals[i])
			}
			lines = append(lines, sb.String())
		}
		rs.Close()
		sort.Strings(lines)
		sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[tb] = fmt.Sprintf("%d rows %s", len(lines), hex.EncodeToString(sum[:8]))
	}
	return out
}

// genReader yields n bytes of b without holding them.
type genReader struct {
	b byte
	n int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	for i := range p {
		p[i] = g.b
	}
	g.n -= int64(len(p))
	return len(p), nil
}

// huge is a JSON document of about 100 MB whose middle is generated as it
// is read: prefix, 100 MB of fill, suffix.
func huge(prefix string, fill byte, suffix string) func() io.Reader {
	return func() io.Reader {
		return io.MultiReader(strings.NewReader(prefix), &genReader{b: fill, n: 100 << 20}, strings.NewReader(suffix))
	}
}

func textBody(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }

func jsonBody(v any) func() io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return func() io.Reader { return bytes.NewReader(b) }
}

// do sends a case's request with its path exactly as written (as the URL's
// opaque part, which the client puts on the request line untouched: no
// cleaning, no re-escaping), and follows no redirect.
func (f *hostileFixture) do(c hostileCase) (int, http.Header, []byte, error) {
	hdr := http.Header{}
	if c.auth != "" {
		hdr.Set("Authorization", c.auth)
	}
	if c.ctype != "" {
		hdr.Set("Content-Type", c.ctype)
	}
	if c.ui {
		hdr.Set("Cookie", f.cookie)
	}
	for k, v := range c.hdr {
		hdr.Set(k, v)
	}
	var body io.Reader
	if c.body != nil {
		body = c.body()
	}
	req, err := http.NewRequest(c.method, f.h.URL+"/", body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.URL.Opaque = c.path // written on the request line as it is
	req.Header = hdr
	client := &http.Client{Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, resp.Header, b, err
}

// checkShape checks the error body of a case.
func checkShape(c hostileCase, status int, hdr http.Header, b []byte) error {
	switch c.shape {
	case shapeNative:
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error == nil {
			return fmt.Errorf("not the native error envelope: %.300q", b)
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			return fmt.Errorf("Content-Type %q", hdr.Get("Content-Type"))
		}
		if e.Error.Code != c.code {
			return fmt.Errorf("code %q, want %q (message %q)", e.Error.Code, c.code, e.Error.Message)
		}
		if len(e.Error.Message) < 10 || !strings.Contains(e.Error.Message, c.want) {
			return fmt.Errorf("message %q, want one saying %q", e.Error.Message, c.want)
		}
	case shapeTAXII:
		var e struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			HTTPStatus  string `json:"http_status"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("not a TAXII error message: %.300q", b)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/taxii+json;version=2.1" {
			return fmt.Errorf("Content-Type %q", ct)
		}
		if e.HTTPStatus != fmt.Sprint(status) || (c.code != "" && e.Title != c.code) || e.Title == "" {
			return fmt.Errorf("title %q, http_status %q; want %q, %d", e.Title, e.HTTPStatus, c.code, status)
		}
		if len(e.Description) < 10 || !strings.Contains(e.Description, c.want) {
			return fmt.Errorf("description %q, want one saying %q", e.Description, c.want)
		}
		if status == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
			return fmt.Errorf("401 without WWW-Authenticate: Basic")
		}
	case shapeMISP:
		var e struct {
			Name    string `json:"name"`
			Message string `json:"message"`
			URL     string `json:"url"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("not a MISP error: %.300q", b)
		}
		if e.Name == "" || e.URL == "" || len(e.Message) < 10 || !strings.Contains(e.Message, c.want) {
			return fmt.Errorf("MISP error %+v, want a message saying %q", e, c.want)
		}
	case shapeHTML:
		if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			return fmt.Errorf("Content-Type %q, want an HTML page: %.300q", hdr.Get("Content-Type"), b)
		}
		if !strings.Contains(string(b), c.want) {
			return fmt.Errorf("the page does not say %q: %.600q", c.want, b)
		}
		if hdr.Get("Content-Security-Policy") == "" {
			return fmt.Errorf("UI page without a Content-Security-Policy")
		}
	}
	// A page never reflects a script unescaped; JSON may carry it as a
	// string, but is never sniffed as HTML.
	for _, bad := range []string{"<script>alert(1)</script>", "<img src=x onerror=alert(1)>"} {
		if c.shape == shapeHTML && bytes.Contains(b, []byte(bad)) {
			return fmt.Errorf("the page reflects %q unescaped", bad)
		}
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		return fmt.Errorf("no X-Content-Type-Options: nosniff")
	}
	return checkItems(c, b)
}

func (f *hostileFixture) cases(t *testing.T) []hostileCase {
	const (
		ind  = "/api/v1/indicators"
		tx   = "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793/objects/"
		txCT = "application/taxii+json;version=2.1"
		js   = "application/json"
		form = "application/x-www-form-urlencoded"
	)
	aA, aAd := bearer(f.aAnalyst), bearer(f.aAdmin)
	tenMB := strings.Repeat("x", 10<<20)
	deep := strings.Repeat("[", 100_000)
	deepObj := strings.Repeat(`{"a":`, 100_000)
	item := func(fields string) func() io.Reader {
		return textBody(`{"indicators": [{` + fields + `}]}`)
	}
	uiPost := func(name, path string, v url.Values, hdr map[string]string, status int, want string) hostileCase {
		h := map[string]string{"Origin": f.h.URL}
		for k, x := range hdr {
			h[k] = x
		}
		if h["Origin"] == "" {
			delete(h, "Origin")
		}
		return hostileCase{name: name, method: "POST", path: path, ctype: form, hdr: h, body: textBody(v.Encode()), status: status, shape: shapeHTML, want: want, ui: true}
	}
	csrf := func(v url.Values) url.Values { v.Set("csrf", f.csrf); return v }
	stixInd := func(pattern string) string {
		return `{"type": "indicator", "spec_version": "2.1", "id": "indicator--0b1f8b3c-6a43-4d3a-9a0e-4c6f1f9e2a11", "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern": ` + quoteJSON(pattern) + `, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}`
	}

	cs := []hostileCase{
		// ---- authentication, on every API ----
		{name: "native: no key", method: "GET", path: ind, status: 401, code: "unauthorized", want: "API key"},
		{name: "native: malformed Authorization header", method: "GET", path: ind, auth: "Bearer", status: 401, code: "unauthorized", want: "API key"},
		{name: "native: Bearer with garbage and NUL", method: "GET", path: ind, auth: "Bearer hdn_' OR 1=1--_x", status: 401, code: "unauthorized", want: "API key"},
		{name: "native: Basic auth with garbage", method: "GET", path: ind, auth: "Basic !!!not-base64!!!", status: 401, code: "unauthorized", want: "API key"},
		{name: "native: Basic auth with the key (native API takes Bearer only)", method: "GET", path: ind, auth: basic("x", f.aAnalyst), status: 401, code: "unauthorized", want: "API key"},
		{name: "native: expired key", method: "GET", path: ind, auth: bearer(f.aExpired), status: 401, code: "unauthorized", want: "API key"},
		{name: "native: revoked key", method: "POST", path: ind, auth: bearer(f.aRevoked), ctype: js, body: item(`"value": "x.hostile-fixture.net"`), status: 401, code: "unauthorized", want: "API key"},
		{name: "native: a key with a wrong secret", method: "GET", path: ind, auth: bearer(f.aAnalyst[:len(f.aAnalyst)-3] + "zzz"), status: 401, code: "unauthorized", want: "API key"},
		{name: "native: a 60 KB Authorization header", method: "GET", path: ind, auth: "Bearer " + strings.Repeat("A", 60<<10), status: 401, code: "unauthorized", want: "API key"},
		{name: "TAXII: no key", method: "GET", path: "/taxii2/", status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "TAXII: Basic auth with garbage", method: "GET", path: "/taxii2/hdn/collections/", auth: "Basic %%%", status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "TAXII: Basic auth without a colon", method: "GET", path: "/taxii2/hdn/collections/", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(f.aAnalyst)), status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "TAXII: expired key in Basic auth", method: "GET", path: tx, auth: basic("ana", f.aExpired), status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "TAXII: revoked key posting", method: "POST", path: tx, auth: bearer(f.aRevoked), ctype: txCT, body: textBody(`{"objects": []}`), status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "MISP: no key", method: "POST", path: "/events/restSearch", ctype: js, body: textBody(`{}`), status: 403, shape: shapeMISP, want: "Authentication failed"},
		{name: "MISP: revoked key", method: "POST", path: "/events/add", auth: f.aRevoked, ctype: js, body: textBody(`{"Event": {"info": "x"}}`), status: 403, shape: shapeMISP, want: "Authentication failed"},
		{name: "MISP: expired key", method: "GET", path: "/servers/getVersion", auth: f.aExpired, status: 403, shape: shapeMISP, want: "Authentication failed"},
		{name: "MISP: SQL in the key", method: "GET", path: "/servers/getVersion", auth: "' OR 1=1--", status: 403, shape: shapeMISP, want: "Authentication failed"},

		// ---- roles ----
		{name: "native: a sensor key submitting", method: "POST", path: ind, auth: bearer(f.aSensor), ctype: js, body: item(`"value": "x.hostile-fixture.net"`), status: 403, code: "forbidden", want: "sensor"},
		{name: "native: a readonly key revoking", method: "POST", path: ind + "/" + f.aIndicator + "/revoke", auth: bearer(f.aReadonly), status: 403, code: "forbidden", want: "readonly"},
		{name: "native: a sensor key importing text", method: "POST", path: "/api/v1/import/text", auth: bearer(f.aSensor), ctype: js, body: jsonBody(map[string]any{"text": "evil.hostile-fixture.net"}), status: 403, code: "forbidden", want: "sensor"},
		{name: "native: an analyst creating keys", method: "POST", path: "/api/v1/orgs/hospital-a/keys", auth: aA, ctype: js, body: jsonBody(map[string]any{"role": "admin"}), status: 403, code: "forbidden", want: "admin"},
		{name: "native: a member's admin creating an organisation", method: "POST", path: "/api/v1/orgs", auth: aAd, ctype: js, body: jsonBody(map[string]any{"name": "evil-corp", "kind": "coordinator"}), status: 403, code: "forbidden", want: "coordinator"},
		{name: "TAXII: a sensor key posting", method: "POST", path: tx, auth: bearer(f.aSensor), ctype: txCT, body: textBody(`{"objects": []}`), status: 403, shape: shapeTAXII, code: "Forbidden", want: "sensor"},
		{name: "MISP: a sensor key adding an event", method: "POST", path: "/events/add", auth: f.aSensor, ctype: js, body: textBody(`{"Event": {"info": "x"}}`), status: 403, shape: shapeMISP, want: "permission"},

		// ---- another organisation's objects ----
		{name: "native: revoking another organisation's indicator", method: "POST", path: ind + "/" + f.bIndicator + "/revoke", auth: aA, status: 403, code: "forbidden", want: "source"},
		{name: "native: reading a red indicator of another organisation", method: "GET", path: ind + "/" + f.bRedIndicator, auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: sighting a red indicator of another organisation", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: js, body: jsonBody(map[string]any{"sightings": []any{map[string]any{"indicator": f.aIndicator}, map[string]any{"indicator": f.bRedIndicator}}}), status: 404, code: "not_found", want: "sightings[1]"},
		{name: "native: reading a red report of another organisation", method: "GET", path: "/api/v1/reports/" + f.bRedReport, auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: listing another organisation's keys", method: "GET", path: "/api/v1/orgs/hospital-b/keys", auth: aAd, status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: revoking another organisation's key", method: "POST", path: "/api/v1/orgs/hospital-b/keys/" + f.bKeyID + "/revoke", auth: aAd, status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: revoking another organisation's key through one's own", method: "POST", path: "/api/v1/orgs/hospital-a/keys/" + f.bKeyID + "/revoke", auth: aAd, status: 404, code: "not_found", want: "not found"},
		{name: "native: disabling another organisation's user", method: "POST", path: "/api/v1/orgs/hospital-b/users/" + f.bUserID + "/disable", auth: aAd, status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: disabling another organisation's user through one's own", method: "POST", path: "/api/v1/orgs/hospital-a/users/" + f.bUserID + "/disable", auth: aAd, status: 404, code: "not_found", want: "not found"},
		{name: "native: adding a user to another organisation", method: "POST", path: "/api/v1/orgs/hospital-b/users", auth: aAd, ctype: js, body: jsonBody(map[string]any{"email": "mole@evil.example", "role": "admin", "password": "a long pass phrase for the mole"}), status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: rotating another organisation's key", method: "POST", path: "/api/v1/orgs/hospital-b/keys/" + f.bKeyID + "/rotate", auth: aAd, status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: rotating another organisation's key through one's own", method: "POST", path: "/api/v1/orgs/hospital-a/keys/" + f.bKeyID + "/rotate", auth: aAd, status: 404, code: "not_found", want: "not found"},
		{name: "native: a member pushing federated indicators", method: "POST", path: "/api/v1/federation/indicators", auth: aA, ctype: js, body: textBody(`{"items": []}`), status: 403, code: "forbidden", want: "peer hub"},
		{name: "native: a member asking which indicators a peer hub may see", method: "POST", path: "/api/v1/federation/visible", auth: aA, ctype: js, body: jsonBody(map[string]any{"ids": []string{f.bRedIndicator}}), status: 403, code: "forbidden", want: "peer hub"},
		{name: "native: a member listing what a peer hub delivered", method: "GET", path: "/api/v1/federation/held", auth: aA, status: 403, code: "forbidden", want: "peer hub"},
		{name: "native: an enrolment token for another organisation", method: "POST", path: "/api/v1/orgs/hospital-b/enrolments", auth: aAd, ctype: js, body: textBody(`{}`), status: 403, code: "forbidden", want: "hospital-b"},
		{name: "native: managing another partner's customer", method: "POST", path: "/api/v1/orgs/clinic/suspend", auth: aAd, status: 404, code: "not_found", want: "not found"},
		{name: "native: joining another organisation's group", method: "PUT", path: "/api/v1/groups/" + f.bGroup + "/members/hospital-a", auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "TAXII: revoking another organisation's indicator", method: "DELETE", path: tx + "indicator--" + f.bIndicator + "/", auth: aA, status: 403, shape: shapeTAXII, code: "Forbidden", want: ""},
		{name: "TAXII: reading another organisation's red indicator", method: "GET", path: tx + "indicator--" + f.bRedIndicator + "/", auth: aA, status: 404, shape: shapeTAXII, code: "Not Found", want: ""},
		{name: "TAXII: SQL as a status id", method: "GET", path: "/taxii2/hdn/status/'%20OR%201=1--/", auth: aA, status: 404, shape: shapeTAXII, code: "Not Found", want: "not found"},
		{name: "TAXII: reading another organisation's status", method: "GET", path: "/taxii2/hdn/status/" + f.bStatus + "/", auth: aA, status: 404, shape: shapeTAXII, code: "Not Found", want: "not found"},
		{name: "MISP: viewing another organisation's red event", method: "GET", path: "/events/view/" + f.bRedReport, auth: f.aAnalyst, status: 404, shape: shapeMISP, want: ""},
		{name: "MISP: sighting another organisation's red attribute", method: "POST", path: "/sightings/add", auth: f.aAnalyst, ctype: js, body: jsonBody(map[string]any{"uuid": f.bRedIndicator}), status: 404, shape: shapeMISP, want: ""},

		// ---- enrolment ----
		{name: "native: an enrolment token used twice", method: "POST", path: "/api/v1/enrol", ctype: js, body: jsonBody(map[string]any{"token": f.usedEnrolToken, "name": "sensor-2"}), status: 401, code: "invalid_token", want: "enrolment token"},
		{name: "native: an API key as an enrolment token", method: "POST", path: "/api/v1/enrol", ctype: js, body: jsonBody(map[string]any{"token": f.aAdmin, "name": "sensor-3"}), status: 401, code: "invalid_token", want: "enrolment token"},
		{name: "native: enrolment with SQL in the token", method: "POST", path: "/api/v1/enrol", ctype: js, body: jsonBody(map[string]any{"token": "hdn_' OR 1=1--_x", "name": "s"}), status: 401, code: "invalid_token", want: "enrolment token"},
		{name: "native: enrolment with an unknown field", method: "POST", path: "/api/v1/enrol", ctype: js, body: jsonBody(map[string]any{"token": f.usedEnrolToken, "name": "s", "role": "admin"}), status: 400, code: "malformed_json", want: `"role"`},

		// ---- malformed bodies: native ----
		{name: "native: truncated JSON", method: "POST", path: ind, auth: aA, ctype: js, body: textBody(`{"indicators": [{"value": "x.hostile-fixture.net"`), status: 400, code: "malformed_json", want: "ends before"},
		{name: "native: 100,000 nested arrays", method: "POST", path: ind, auth: aA, ctype: js, body: textBody(`{"indicators": ` + deep), status: 400, code: "malformed_json", want: "JSON"},
		{name: "native: 100,000 nested objects in a report", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: textBody(`{"title": ` + deepObj), status: 400, code: "malformed_json", want: "JSON"},
		{name: "native: a 10 MB value (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "` + tenMB + `"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "longer"},
		{name: "native: a 10 MB report title (over the 1 MiB of a small endpoint)", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: jsonBody(map[string]any{"title": tenMB}), status: 413, code: "payload_too_large", want: "limit"},
		{name: "native: a 100 KiB report title", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: jsonBody(map[string]any{"title": strings.Repeat("x", 100<<10)}), status: 400, code: "invalid_value", want: "title"},
		{name: "native: a 100 MB body", method: "POST", path: ind, auth: aA, ctype: js, body: huge(`{"indicators": [{"value": "`, 'a', `"}]}`), status: 413, code: "payload_too_large", want: "limit"},
		{name: "native: a 100 MB STIX bundle", method: "POST", path: "/api/v1/import/stix", auth: aA, ctype: js, body: huge(`{"type": "bundle", "objects": [`, ' ', `]}`), status: 413, code: "payload_too_large", want: "limit"},
		{name: "native: a 100 MB free text", method: "POST", path: "/api/v1/import/text", auth: aA, ctype: js, body: huge(`{"text": "`, 'a', `"}`), status: 413, code: "payload_too_large", want: "limit"},
		{name: "native: invalid UTF-8 in a report", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: textBody("{\"title\": \"bad \xc3\x28 title\"}"), status: 400, code: "malformed_json", want: "UTF-8"},
		{name: "native: a NUL in a value", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "evil\u0000.hostile-fixture.net"`), status: 400, code: "malformed_json", want: "NUL character"},
		{name: "native: a NUL in a description", method: "POST", path: ind, auth: aA, ctype: js, body: item(`"value": "x.hostile-fixture.net", "description": "a\u0000b"`), status: 400, code: "malformed_json", want: "NUL character"},
		{name: "native: a NUL in a report title", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: textBody(`{"title": "t\u0000"}`), status: 400, code: "malformed_json", want: "NUL character"},
		{name: "native: a NUL in a group member", method: "POST", path: "/api/v1/groups", auth: aA, ctype: js, body: textBody(`{"name": "g", "members": ["hospital-b\u0000"]}`), status: 400, code: "malformed_json", want: "NUL character"},
		{name: "native: a NUL in a user's e-mail", method: "POST", path: "/api/v1/orgs/hospital-a/users", auth: aAd, ctype: js, body: textBody(`{"email": "x\u0000@hospital-a.example", "role": "analyst", "password": "a long pass phrase for the NUL user"}`), status: 400, code: "malformed_json", want: "NUL character"},
		{name: "MISP: a NUL in an event", method: "POST", path: "/events/add", auth: f.aAnalyst, ctype: js, body: textBody(`{"Event": {"info": "x\u0000"}}`), status: 400, shape: shapeMISP, want: "NUL character"},
		{name: "TAXII: a NUL in an object", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody(`{"objects": [` + strings.Replace(stixInd("[domain-name:value = 'x.hostile-fixture.net']"), `"pattern_type"`, `"description": "\u0000", "pattern_type"`, 1) + `]}`), status: 400, shape: shapeTAXII, code: "Bad Request", want: "NUL character"},
		{name: "native: a 3,000-byte URL (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"type": "url", "value": "https://x.hostile-fixture.net/` + strings.Repeat("a", 3000) + `"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "longer than 2048 bytes"},
		{name: "native: a raw NUL byte in the body", method: "POST", path: ind, auth: aA, ctype: js, body: textBody("{\"indicators\": [{\"value\": \"a\x00b\"}]}"), status: 400, code: "malformed_json", want: "JSON"},
		{name: "native: text/plain", method: "POST", path: ind, auth: aA, ctype: "text/plain", body: item(`"value": "x.hostile-fixture.net"`), status: 415, code: "unsupported_media_type", want: "application/json"},
		{name: "native: no Content-Type", method: "POST", path: "/api/v1/reports", auth: aA, body: textBody(`{"title": "t"}`), status: 415, code: "unsupported_media_type", want: "application/json"},
		{name: "native: a malformed Content-Type", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: "application/json; charset", body: textBody(`{"sightings": []}`), status: 415, code: "unsupported_media_type", want: "application/json"},
		{name: "native: form-encoded import", method: "POST", path: "/api/v1/import/text", auth: aA, ctype: form, body: textBody("text=evil.hostile-fixture.net"), status: 415, code: "unsupported_media_type", want: "application/json"},
		{name: "native: an unknown top-level field", method: "POST", path: ind, auth: aA, ctype: js, body: textBody(`{"indicators": [], "admin": true}`), status: 400, code: "malformed_json", want: `"admin"`},
		{name: "native: an unknown field in a report", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: textBody(`{"title": "t", "source": "hospital-b"}`), status: 400, code: "malformed_json", want: `"source"`},
		{name: "native: a number for the report title", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: textBody(`{"title": 42}`), status: 400, code: "malformed_json", want: "title"},
		{name: "native: sightings as an object", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: js, body: textBody(`{"sightings": {"indicator": "x"}}`), status: 400, code: "malformed_json", want: "sightings"},
		{name: "native: a negative sighting count", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: js, body: jsonBody(map[string]any{"sightings": []any{map[string]any{"indicator": f.aIndicator, "count": -5}}}), status: 400, code: "invalid_value", want: "count"},
		{name: "native: a fractional sighting count", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: js, body: textBody(`{"sightings": [{"indicator": "` + f.aIndicator + `", "count": 1.5}]}`), status: 400, code: "malformed_json", want: "whole number"},
		{name: "native: a huge sighting count", method: "POST", path: "/api/v1/sightings", auth: aA, ctype: js, body: textBody(`{"sightings": [{"indicator": "` + f.aIndicator + `", "count": 99999999999999999999}]}`), status: 400, code: "malformed_json", want: "whole number in range"},
		{name: "native: an empty free text", method: "POST", path: "/api/v1/import/text", auth: aA, ctype: js, body: jsonBody(map[string]any{"text": ""}), status: 400, code: "invalid_value", want: "text"},
		{name: "native: a STIX object instead of a bundle", method: "POST", path: "/api/v1/import/stix", auth: aA, ctype: js, body: textBody(stixInd("[domain-name:value = 'x.hostile-fixture.net']")), status: 400, code: "bad_request", want: "bundle"},
		{name: "native: a STIX bundle with objects not an array", method: "POST", path: "/api/v1/import/stix", auth: aA, ctype: js, body: textBody(`{"type": "bundle", "objects": "all"}`), status: 400, code: "malformed_json", want: "objects"},
		{name: "native: a STIX bundle, red without an audience", method: "POST", path: "/api/v1/import/stix?tlp=red", auth: aA, ctype: js, body: textBody(`{"type": "bundle", "objects": []}`), status: 400, code: "bad_request", want: "red"},

		// ---- values the hub must refuse (atomic: nothing stored) ----
		{name: "native: tlp red without an audience list", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "x.hostile-fixture.net", "tlp": "red"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "tlp red needs an explicit list"},
		{name: "native: a report red to the network", method: "POST", path: "/api/v1/reports", auth: aA, ctype: js, body: jsonBody(map[string]any{"title": "t", "tlp": "red"}), status: 400, code: "invalid_value", want: "red"},
		{name: "native: a public suffix", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"type": "domain", "value": "co.uk"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "public suffix"},
		{name: "native: 0.0.0.0/0", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "0.0.0.0/0"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "/0"},
		{name: "native: a /7 CIDR", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"type": "cidr", "value": "2.0.0.0/7"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "/7"},
		{name: "native: an IPv6 /3", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"type": "cidr", "value": "2000::/3"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "/3"},
		{name: "native: an RFC 1918 address (warninglist)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "10.1.2.3"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: loopback (warninglist)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "127.0.0.1"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: a public resolver (warninglist)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "8.8.8.8"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: a top site (warninglist)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "login.microsoft.com"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: the empty-file hash (warninglist)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "d41d8cd98f00b204e9800998ecf8427e"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: a warninglist override by a member", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "8.8.4.4", "override_warninglists": true`), status: 422, code: "rejected_items", want: "nothing was stored", item: "coordinator"},
		{name: "native: a wrong JSON type in an item (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": ["x"], "confidence": "high"`), status: 422, code: "rejected_items", want: "nothing was stored", item: "must be a string"},
		{name: "native: template and script metacharacters (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "{{.}}<script>alert(1)</script>"`), status: 422, code: "rejected_items", want: "nothing was stored", item: ""},
		{name: "native: one good, one bad item (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: textBody(`{"indicators": [{"value": "good.hostile-fixture.net"}, {"value": "192.168.1.1"}]}`), status: 422, code: "rejected_items", want: "nothing was stored", item: "warninglist"},
		{name: "native: an audience naming an unknown organisation (atomic)", method: "POST", path: ind + "?atomic=true", auth: aA, ctype: js, body: item(`"value": "x.hostile-fixture.net", "tlp": "red", "audience": {"orgs": ["' OR 1=1--"]}`), status: 422, code: "rejected_items", want: "nothing was stored", item: "does not exist"},

		// ---- query parameters ----
		{name: "native: a negative limit", method: "GET", path: ind + "?limit=-1", auth: aA, status: 400, code: "bad_request", want: "limit"},
		{name: "native: a huge limit", method: "GET", path: ind + "?limit=99999999999999999999", auth: aA, status: 400, code: "bad_request", want: "from 1 to 10000"},
		{name: "native: a negative cursor", method: "GET", path: ind + "?cursor=-5", auth: aA, status: 400, code: "bad_request", want: "cursor"},
		{name: "native: SQL in the cursor", method: "GET", path: ind + "?cursor=1%27%20OR%201%3D1--", auth: aA, status: 400, code: "bad_request", want: "cursor"},
		{name: "native: an unknown parameter", method: "GET", path: ind + "?debug=1", auth: aA, status: 400, code: "bad_request", want: "debug"},
		{name: "native: a stream cursor that is no number", method: "GET", path: "/api/v1/stream?cursor=%7B%7B.%7D%7D", auth: aA, status: 400, code: "bad_request", want: "cursor"},
		{name: "native: a stream with an unknown parameter", method: "GET", path: "/api/v1/stream?startup=true", auth: aA, status: 400, code: "bad_request", want: "startup"},
		{name: "native: reports with a huge limit", method: "GET", path: "/api/v1/reports?limit=1e99", auth: aA, status: 400, code: "bad_request", want: "limit"},
		{name: "native: audit with a negative cursor", method: "GET", path: "/api/v1/audit?cursor=-1", auth: aAd, status: 400, code: "bad_request", want: "cursor"},
		{name: "native: an export in an unknown format", method: "GET", path: "/api/v1/export/%7B%7B.%7D%7D", auth: aA, status: 404, code: "not_found", want: "unknown export format"},

		// ---- paths ----
		{name: "native: dot-dot in the path", method: "GET", path: "/api/v1/indicators/../orgs", auth: aA, status: 400, code: "bad_request", want: "clean form"},
		{name: "native: encoded dot-dot in the path", method: "GET", path: "/api/v1/indicators/%2e%2e/orgs", auth: aA, status: 400, code: "bad_request", want: "clean form"},
		{name: "native: a double slash", method: "POST", path: "/api/v1//indicators", auth: aA, ctype: js, body: item(`"value": "x.hostile-fixture.net"`), status: 400, code: "bad_request", want: "clean form"},
		{name: "native: a dot segment", method: "POST", path: "/api/v1/./indicators", auth: aA, ctype: js, body: item(`"value": "x.hostile-fixture.net"`), status: 400, code: "bad_request", want: "clean form"},
		{name: "native: a 10,000-character path", method: "GET", path: "/api/v1/indicators/" + strings.Repeat("a", 10000), auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: SQL in an id", method: "GET", path: "/api/v1/indicators/'%20OR%201=1--", auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: SQL in an organisation", method: "GET", path: "/api/v1/orgs/x'%20OR%20'1'='1/keys", auth: aAd, status: 404, code: "not_found", want: "not found"},
		{name: "native: a template in an id", method: "GET", path: "/api/v1/reports/%7B%7B.%7D%7D", auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: a script in an id", method: "POST", path: "/api/v1/indicators/%3Cscript%3Ealert(1)%3C%2Fscript%3E/revoke", auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: an id of invalid UTF-8", method: "GET", path: "/api/v1/indicators/%ff", auth: aA, status: 400, code: "bad_request", want: "not text"},
		{name: "native: a NUL in an id", method: "GET", path: "/api/v1/reports/%00", auth: aA, status: 400, code: "bad_request", want: "not text"},
		{name: "native: invalid UTF-8 in an organisation", method: "GET", path: "/api/v1/orgs/%ff/keys", auth: aAd, status: 400, code: "bad_request", want: "not text"},
		{name: "native: invalid UTF-8 in a query parameter", method: "GET", path: ind + "?tag=%ff", auth: aA, status: 400, code: "bad_request", want: `"tag"`},
		{name: "native: a NUL in a query parameter", method: "GET", path: ind + "?source=x%00", auth: aA, status: 400, code: "bad_request", want: `"source"`},
		{name: "native: a key of invalid UTF-8", method: "GET", path: ind, auth: "Bearer hdn_\xff\xfe" + strings.Repeat("a", 14) + "_" + strings.Repeat("b", 52), status: 401, code: "unauthorized", want: "API key"},
		{name: "native: an unknown route", method: "GET", path: "/api/v1/admin", auth: aA, status: 404, code: "not_found", want: "not found"},
		{name: "native: a wrong method", method: "DELETE", path: ind, auth: aA, status: 405, code: "method_not_allowed", want: "takes POST or GET"},
		{name: "native: a wrong method on a route with a parameter", method: "PUT", path: "/api/v1/indicators/some-id/revoke", status: 405, code: "method_not_allowed", want: "takes POST"},

		// ---- TAXII ----
		{name: "TAXII: JSON instead of TAXII media type", method: "POST", path: tx, auth: aA, ctype: js, body: textBody(`{"objects": []}`), status: 415, shape: shapeTAXII, code: "Unsupported Media Type", want: "taxii"},
		{name: "TAXII: no Content-Type", method: "POST", path: tx, auth: aA, body: textBody(`{"objects": []}`), status: 415, shape: shapeTAXII, code: "Unsupported Media Type", want: "taxii"},
		{name: "TAXII: truncated envelope", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody(`{"objects": [` + stixInd("[domain-name:value = 'x.hostile-fixture.net']")), status: 400, shape: shapeTAXII, code: "Bad Request", want: "envelope"},
		{name: "TAXII: 100,000 nested arrays", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody(`{"objects": ` + deep), status: 400, shape: shapeTAXII, code: "Bad Request", want: "envelope"},
		{name: "TAXII: an envelope without objects", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody(`{"more": false}`), status: 400, shape: shapeTAXII, code: "Bad Request", want: "objects"},
		{name: "TAXII: objects of the wrong type", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody(`{"objects": {"0": {}}}`), status: 400, shape: shapeTAXII, code: "Bad Request", want: `field "objects" must be an array`},
		{name: "TAXII: invalid UTF-8", method: "POST", path: tx, auth: aA, ctype: txCT, body: textBody("{\"objects\": [\"\xff\"]}"), status: 400, shape: shapeTAXII, code: "Bad Request", want: "UTF-8"},
		{name: "TAXII: a 100 MB envelope", method: "POST", path: tx, auth: aA, ctype: txCT, body: huge(`{"objects": [`, ' ', `]}`), status: 413, shape: shapeTAXII, code: "Payload Too Large", want: "max_content_length"},
		{name: "TAXII: a negative limit", method: "GET", path: tx + "?limit=-1", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "limit"},
		{name: "TAXII: a huge next", method: "GET", path: tx + "?next=99999999999999999999999", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "next"},
		{name: "TAXII: a malformed added_after", method: "GET", path: "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793/manifest/?added_after=%27%20OR%201=1--", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "added_after"},
		{name: "TAXII: a malformed match[version]", method: "GET", path: tx + "?match%5Bversion%5D=%7B%7B.%7D%7D", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "match[version]"},
		{name: "TAXII: an unknown collection", method: "GET", path: "/taxii2/hdn/collections/'%20OR%201=1--/objects/", auth: aA, status: 404, shape: shapeTAXII, code: "Not Found", want: ""},
		{name: "TAXII: a NUL in match[id]", method: "GET", path: tx + "?match%5Bid%5D=x%00", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "match[id]"},
		{name: "TAXII: a NUL in the Basic password", method: "GET", path: tx, auth: basic("ana", "hdn_"+strings.Repeat("a", 15)+"\x00_"+strings.Repeat("b", 52)), status: 401, shape: shapeTAXII, code: "Unauthorized", want: "API key"},
		{name: "MISP: an event id of invalid UTF-8", method: "GET", path: "/events/view/%ff", auth: f.aAnalyst, status: 400, shape: shapeMISP, want: "not text"},
		{name: "TAXII: dot-dot in the path", method: "GET", path: "/taxii2/hdn/collections/../status/x/", auth: aA, status: 400, shape: shapeTAXII, code: "Bad Request", want: "clean form"},
		{name: "TAXII: a double slash", method: "POST", path: "/taxii2/hdn//collections/", auth: aA, ctype: txCT, body: textBody(`{"objects": []}`), status: 400, shape: shapeTAXII, code: "Bad Request", want: "clean form"},
		{name: "MISP: dot-dot in the path", method: "POST", path: "/events/view/../add", auth: f.aAnalyst, ctype: js, body: textBody(`{"Event": {"info": "x"}}`), status: 400, shape: shapeMISP, want: "clean form"},
		{name: "TAXII: Accept of another type", method: "GET", path: "/taxii2/hdn/collections/", auth: aA, hdr: map[string]string{"Accept": "text/html"}, status: 406, shape: shapeTAXII, code: "Not Acceptable", want: "taxii"},
		{name: "TAXII: a wrong method", method: "PUT", path: tx, auth: aA, status: 405, shape: shapeTAXII, code: "Method Not Allowed", want: "PUT"},
		{name: "TAXII: deleting a TLP object", method: "DELETE", path: tx + "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82/", auth: aA, status: 403, shape: shapeTAXII, code: "Forbidden", want: ""},

		// ---- MISP ----
		{name: "MISP: truncated JSON", method: "POST", path: "/events/restSearch", auth: f.aAnalyst, ctype: js, body: textBody(`{"value": "x`), status: 400, shape: shapeMISP, want: "JSON"},
		{name: "MISP: 100,000 nested arrays", method: "POST", path: "/attributes/restSearch", auth: f.aAnalyst, ctype: js, body: textBody(deep), status: 400, shape: shapeMISP, want: "JSON"},
		{name: "MISP: a 100 MB event", method: "POST", path: "/events/add", auth: f.aAnalyst, ctype: js, body: huge(`{"Event": {"info": "`, 'a', `"}}`), status: 413, shape: shapeMISP, want: "limit"},
		{name: "MISP: an event without info", method: "POST", path: "/events/add", auth: f.aAnalyst, ctype: js, body: textBody(`{"Event": {"Attribute": [{"type": "domain", "value": "x.hostile-fixture.net"}]}}`), status: 400, shape: shapeMISP, want: "info"},
		{name: "MISP: an event that is not JSON", method: "POST", path: "/events/add", auth: f.aAnalyst, ctype: js, body: textBody(`<Event><info>x</info></Event>`), status: 400, shape: shapeMISP, want: "JSON"},
		{name: "MISP: invalid UTF-8", method: "POST", path: "/events/add", auth: f.aAnalyst, ctype: js, body: textBody("{\"Event\": {\"info\": \"\xfe\"}}"), status: 400, shape: shapeMISP, want: "UTF-8"},
		{name: "MISP: a negative limit", method: "POST", path: "/attributes/restSearch", auth: f.aAnalyst, ctype: js, body: textBody(`{"limit": -1}`), status: 400, shape: shapeMISP, want: "limit"},
		{name: "MISP: a wrong type for to_ids", method: "POST", path: "/attributes/restSearch", auth: f.aAnalyst, ctype: js, body: textBody(`{"to_ids": "maybe"}`), status: 400, shape: shapeMISP, want: "to_ids"},
		{name: "MISP: an unknown event id", method: "GET", path: "/events/view/1%27%20OR%201=1--", auth: f.aAnalyst, status: 404, shape: shapeMISP, want: ""},
		{name: "MISP: a wrong method", method: "DELETE", path: "/events/add", auth: f.aAnalyst, status: 405, shape: shapeMISP, want: "POST"},
		{name: "MISP: an unknown endpoint", method: "GET", path: "/users/admin/delete/1", auth: f.aAnalyst, status: 404, shape: shapeMISP, want: "not found"},
		{name: "MISP: tagging another organisation's attribute", method: "POST", path: "/tags/attachTagToObject", auth: f.aAnalyst, ctype: js, body: jsonBody(map[string]any{"uuid": f.bIndicator, "tag": "tlp:clear"}), status: 403, shape: shapeMISP, want: ""},

		// ---- web UI ----
		{name: "UI: sign-in without Origin", method: "POST", path: "/ui/signin", ctype: form, body: textBody(url.Values{"email": {"ana@hospital-a.example"}, "password": {"x"}}.Encode()), status: 403, shape: shapeHTML, want: "did not come from this site"},
		{name: "UI: sign-in from another site", method: "POST", path: "/ui/signin", ctype: form, hdr: map[string]string{"Origin": "https://evil.example"}, body: textBody(url.Values{"email": {"ana@hospital-a.example"}, "password": {"x"}}.Encode()), status: 403, shape: shapeHTML, want: "did not come from this site"},
		{name: "UI: sign-in with SQL in the e-mail", method: "POST", path: "/ui/signin", ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: textBody(url.Values{"email": {"' OR 1=1--"}, "password": {"' OR 1=1--"}}.Encode()), status: 401, shape: shapeHTML, want: "Wrong e-mail address or password"},
		{name: "UI: sign-in with a script and NUL in the e-mail", method: "POST", path: "/ui/signin", ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: textBody(url.Values{"email": {"<script>alert(1)</script>\x00"}, "password": {"x"}}.Encode()), status: 401, shape: shapeHTML, want: "Wrong e-mail address or password"},
		{name: "UI: sign-in with a 100 MB form", method: "POST", path: "/ui/signin", ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: huge("email=ana%40hospital-a.example&password=", 'a', ""), status: 413, shape: shapeHTML, want: "too large"},
		{name: "UI: sign-in with a broken form encoding", method: "POST", path: "/ui/signin", ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: textBody("email=%zz&password=%"), status: 400, shape: shapeHTML, want: "could not be read"},
		uiPost("UI: a form without the CSRF token", "/ui/submit/single", url.Values{"value": {"x.hostile-fixture.net"}}, nil, 403, "security token"),
		uiPost("UI: a form with a wrong CSRF token", "/ui/submit/single", url.Values{"value": {"x.hostile-fixture.net"}, "csrf": {"AAAA"}}, nil, 403, "security token"),
		uiPost("UI: a form with the token, from another site", "/ui/submit/single", csrf(url.Values{"value": {"x.hostile-fixture.net"}}), map[string]string{"Origin": "https://evil.example"}, 403, "did not come from this site"),
		uiPost("UI: a form with the token, no Origin", "/ui/submit/single", csrf(url.Values{"value": {"x.hostile-fixture.net"}}), map[string]string{"Origin": ""}, 403, "did not come from this site"),
		{name: "UI: the CSRF token in the URL", method: "POST", path: "/ui/submit/single?csrf=" + url.QueryEscape(f.csrf), ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: textBody("value=x.hostile-fixture.net"), status: 403, shape: shapeHTML, want: "security token", ui: true},
		uiPost("UI: revoking another organisation's indicator", "/ui/indicators/"+f.bIndicator+"/revoke", csrf(url.Values{}), nil, 403, "hospital-b"),
		uiPost("UI: revoking another organisation's key", "/ui/settings/keys/"+f.bKeyID+"/revoke", csrf(url.Values{}), nil, 403, "admin"),
		uiPost("UI: adding a key as an analyst", "/ui/settings/keys", csrf(url.Values{"role": {"admin"}, "name": {"mine"}}), nil, 403, "admin"),
		uiPost("UI: a 10 MB free text", "/ui/submit/text", csrf(url.Values{"text": {tenMB}}), nil, 413, "The form is too large: at most 8 MiB"),
		uiPost("UI: an empty free text", "/ui/submit/text", csrf(url.Values{"text": {""}}), nil, 400, "text"),
		{name: "UI: a 100 MB upload", method: "POST", path: "/ui/submit/upload", ctype: "multipart/form-data; boundary=XyZ", hdr: map[string]string{"Origin": f.h.URL}, ui: true,
			body: func() io.Reader {
				return io.MultiReader(strings.NewReader("--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"+f.csrf+"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\nContent-Type: text/csv\r\n\r\n"),
					&genReader{b: 'a', n: 100 << 20}, strings.NewReader("\r\n--XyZ--\r\n"))
			}, status: 413, shape: shapeHTML, want: "too large"},
		{name: "UI: an indicator id of invalid UTF-8", method: "GET", path: "/ui/indicators/%ff", status: 400, shape: shapeHTML, want: "not text", ui: true},
		uiPost("UI: a NUL in a form field", "/ui/submit/single", csrf(url.Values{"value": {"x.hostile-fixture.net"}, "description": {"a\x00b"}}), nil, 400, "not text"),
		uiPost("UI: invalid UTF-8 in a form field", "/ui/settings/keys", csrf(url.Values{"role": {"analyst"}, "name": {"k\xff"}}), nil, 400, "not text"),
		{name: "UI: a POST without a session", method: "POST", path: "/ui/submit/single", ctype: form, hdr: map[string]string{"Origin": f.h.URL}, body: textBody("value=x.hostile-fixture.net"), status: 401, shape: shapeHTML, want: "not signed in"},
		{name: "UI: a forged session cookie", method: "POST", path: "/ui/submit/single", ctype: form, hdr: map[string]string{"Origin": f.h.URL, "Cookie": "hdn_session=' OR 1=1--.AAAA"}, body: textBody("value=x.hostile-fixture.net"), status: 401, shape: shapeHTML, want: "not signed in"},
		{name: "UI: a script in a page path", method: "GET", path: "/ui/%3Cscript%3Ealert(1)%3C%2Fscript%3E", status: 404, shape: shapeHTML, want: "No such page", ui: true},
		{name: "UI: a script in an indicator id", method: "GET", path: "/ui/indicators/%3Cimg%20src=x%20onerror=alert(1)%3E", status: 404, shape: shapeHTML, want: "", ui: true},
	}
	return cs
}

// gistOf is the gist of an answer for the verbose log: the text of a page
// is cut down to its message.
func gistOf(hdr http.Header, b []byte) string {
	if strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		if m := regexp.MustCompile(`(?s)<(p|div)[^>]*(error|message)[^>]*>(.*?)</`).FindSubmatch(b); m != nil {
			return "page: " + strings.TrimSpace(string(m[3]))
		}
		return "page"
	}
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestHostileInput runs the suite.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile-input suite sends several 100 MB bodies; skipped in -short mode")
	}
	testHostileInput(t, "")
}

// TestHostileInputPostgres runs the suite on PostgreSQL, which refuses bytes
// SQLite keeps (a NUL, invalid UTF-8, index entries over 2.7 KB): each must
// be refused before it reaches the store, with the same answer as on SQLite.
func TestHostileInputPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile-input suite sends several 100 MB bodies; skipped in -short mode")
	}
	testHostileInput(t, hubtest.PostgresDSN(t))
}

func testHostileInput(t *testing.T, dsn string) {
	f := newHostileFixture(t, dsn)
	var db *sql.DB
	var err error
	if dsn == "" {
		path := f.h.Store.(interface{ Path() string }).Path()
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pg := dsn != ""

	cases := f.cases(t)
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
	}
	ran := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := storeState(t, db, pg)
			status, hdr, body, err := f.do(c)
			ran++
			if err != nil {
				t.Fatalf("%s %.120s: %v", c.method, c.path, err)
			}
			if testing.Verbose() {
				t.Logf("%d %s", status, gistOf(hdr, body))
			}
			if status != c.status {
				t.Errorf("%s %.120s: status %d, want %d: %.400s", c.method, c.path, status, c.status, body)
			} else if err := checkShape(c, status, hdr, body); err != nil {
				t.Errorf("%s %.120s: %v", c.method, c.path, err)
			}
			after := storeState(t, db, pg)
			for tb, v := range after {
				if before[tb] != v {
					t.Errorf("%s %.120s stored something: table %s was %s, is %s", c.method, c.path, tb, before[tb], v)
				}
			}
			if msgs := f.logs.take(); len(msgs) > 0 {
				t.Errorf("%s %.120s: the hub logged errors: %q", c.method, c.path, msgs)
			}
			if !f.h.Healthy() {
				t.Fatalf("the hub is unhealthy after %s", c.name)
			}
			if r := f.h.Do("GET", "/api/v1/me", f.health, nil); r.Status != 200 {
				t.Fatalf("a normal request after %s: %d %s", c.name, r.Status, r.Body)
			}
		})
	}
	if ran < minHostileCases {
		t.Fatalf("only %d hostile cases ran, want at least %d", ran, minHostileCases)
	}
	t.Logf("%d hostile cases ran", ran)

	// After all of it, the hub still takes a normal submission, serves it on
	// every API, and the suite's refused values are nowhere.
	res := submit(t, f.h, f.aAnalyst, map[string]any{"value": "after-the-storm.hostile-fixture.net", "tlp": "green"})
	if res[0].Status != "created" {
		t.Fatalf("a normal submission after the suite: %+v", res[0])
	}
	if r := f.h.DoWith("GET", "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793/objects/indicator--"+res[0].ID+"/", map[string]string{"Authorization": basic("x", f.bAnalyst)}, nil); r.Status != 200 {
		t.Fatalf("TAXII read after the suite: %d %s", r.Status, r.Body)
	}
	if r := f.h.DoWith("POST", "/attributes/restSearch", map[string]string{"Authorization": f.bAnalyst}, map[string]any{"value": "after-the-storm.hostile-fixture.net"}); r.Status != 200 || !bytes.Contains(r.Body, []byte("after-the-storm")) {
		t.Fatalf("MISP search after the suite: %d %.300s", r.Status, r.Body)
	}
	if r := f.h.Do("GET", "/api/v1/indicators?source=no-such-organisation", f.aAnalyst, nil); r.Status != 200 || !bytes.Contains(r.Body, []byte(`"indicators":[]`)) {
		t.Fatalf("filtering by an unknown source: %d %.300s, want 200 and no indicators", r.Status, r.Body)
	}
	var lr listResp
	f.h.Do("GET", "/api/v1/indicators?include_revoked=true&limit=1000", f.coordAdmin, nil).JSON(t, &lr)
	for _, i := range lr.Indicators {
		for _, bad := range []string{"10.1.2.3", "127.0.0.1", "8.8.8.8", "8.8.4.4", "co.uk", "login.microsoft.com", "good.hostile-fixture.net", "x.hostile-fixture.net", "evil.hostile-fixture.net"} {
			if i.Value == bad {
				t.Errorf("a refused value is stored: %+v", i)
			}
		}
		if i.Revoked {
			t.Errorf("an indicator was revoked by the suite: %+v", i)
		}
	}
}
