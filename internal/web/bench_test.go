package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// benchUIValue is the i-th generated indicator: a mix of domains, IPv4
// addresses, SHA-256 hashes and URLs, already canonical.
func benchUIValue(i int) (indicator.Type, string) {
	switch i % 4 {
	case 0:
		return indicator.Domain, fmt.Sprintf("host-%d.bench-ui.example.org", i)
	case 1:
		return indicator.IPv4, fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
	case 2:
		return indicator.SHA256, fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15+1)
	default:
		return indicator.URL, fmt.Sprintf("https://bench-ui.example.org/p/%d", i)
	}
}

// BenchmarkUIPages measures the server time of the main pages of the web
// UI (in process, through httptest: rendering included, no browser and no
// network) on a hub holding HDN_BENCH_UI_INDICATORS indicators (default
// 1,000,000), stored through the store's ingest to keep the set-up short.
// The pages are read as an analyst of another member organisation than
// the source (the sharing policy is applied to every row), the
// organisations page as the coordinator.
func BenchmarkUIPages(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("HDN_BENCH_UI_INDICATORS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("HDN_BENCH_UI_INDICATORS=%q is not a positive number", s)
		}
		n = v
	}
	e := newUIHandler(b)
	ctx := context.Background()
	src := e.h.Org("Hospital A", policy.Member, "")
	viewer := e.h.Org("Hospital B", policy.Member, "")
	coord := e.h.Org("Coordination centre", policy.Coordinator, "")
	for i := range 20 {
		e.h.Org(fmt.Sprintf("Member %02d", i), policy.Member, "")
	}

	t0 := time.Now()
	const batch = 10_000
	subs := make([]model.Submission, 0, batch)
	for start := 0; start < n; start += batch {
		ing, err := e.h.Store.BeginIngest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		subs = subs[:0]
		for i := start; i < min(start+batch, n); i++ {
			typ, v := benchUIValue(i)
			tlp := policy.Green
			if i%3 == 0 {
				tlp = policy.Amber
			}
			subs = append(subs, model.Submission{Type: typ, Value: v, TLP: tlp, Audience: policy.NetworkAudience(),
				Source: src.ID, SubmittedBy: src.ID, Confidence: 50, Labels: []string{"bench"}})
		}
		if _, err := ing.Put(ctx, subs); err != nil {
			_ = ing.Rollback()
			b.Fatal(err)
		}
		if err := ing.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("ingested %d indicators in %s", n, time.Since(t0).Round(time.Second))

	analyst := e.user(viewer, "analyst@hospital-b.example", policy.Analyst)
	coordinator := e.user(coord, "admin@coordination.example", policy.Admin)
	analystCookie := benchSignIn(b, e, analyst)
	coordCookie := benchSignIn(b, e, coordinator)

	// The indicator the value search and the page look at: one in the
	// middle of the set.
	_, value := benchUIValue(n / 2)
	key := e.h.Key(viewer, policy.ReadOnly)
	resp := e.h.Do("GET", "/api/v1/indicators?value="+url.QueryEscape(value), key, nil)
	var found struct {
		Indicators []struct {
			ID string `json:"id"`
		} `json:"indicators"`
	}
	resp.JSON(b, &found)
	if len(found.Indicators) != 1 {
		b.Fatalf("lookup of %s: %d indicators (status %d)", value, len(found.Indicators), resp.Status)
	}
	id := found.Indicators[0].ID

	pages := []struct {
		name, path string
		cookie     *http.Cookie
		want       string // must be in the page
	}{
		{"dashboard", "/ui/", analystCookie, `id="live-indicators"`},
		{"dashboard-coordinator", "/ui/", coordCookie, `id="live-indicators"`},
		{"search-by-value", "/ui/indicators?q=" + url.QueryEscape(value), analystCookie, `data-id="` + id + `"`},
		{"search-by-type", "/ui/indicators?type=domain", analystCookie, `<tr data-id=`},
		{"indicator", "/ui/indicators/" + id, analystCookie, `id="indicator"`},
		{"orgs", "/ui/orgs", coordCookie, `id="orgs"`},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", p.path, nil)
				req.AddCookie(p.cookie)
				rec := httptest.NewRecorder()
				e.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: status %d: %.500s", p.path, rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
				if !strings.Contains(rec.Body.String(), p.want) {
					b.Fatalf("%s: the page lacks %s", p.path, p.want)
				}
			}
			b.ReportMetric(float64(size), "page-bytes")
			b.ReportMetric(float64(n), "indicators")
		})
	}
}

// benchSignIn signs in through the UI's form, in process, and returns the
// session cookie.
func benchSignIn(b *testing.B, e *uiEnv, email string) *http.Cookie {
	b.Helper()
	form := url.Values{"email": {email}, "password": {uiPassword}}
	req := httptest.NewRequest("POST", "/ui/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+req.Host)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("sign in as %s: status %d: %.500s", email, rec.Code, rec.Body.String())
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "hdn_session" {
			return c
		}
	}
	b.Fatalf("sign in as %s: no session cookie", email)
	return nil
}
