package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestUploadBoundedByMaxItems: an uploaded file is one submission, bounded
// by the hub's --max-items like one through the API, though the UI sends it
// in parts: a file of more values is refused whole.
func TestUploadBoundedByMaxItems(t *testing.T) {
	e := newEnv(t, hub.Config{Limits: api.Limits{MaxItems: 10_000}})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()
	b.signIn(email, pw)
	upload := func(n int) page {
		t.Helper()
		var lines strings.Builder
		for i := range n {
			fmt.Fprintf(&lines, "ui%d.badhost-example.net\n", i)
		}
		return b.upload(csrfOf(t, b.get("/ui/submit")), "lines", "green", lines.String())
	}
	if p := upload(10_001); p.status != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "at most 10000") {
		t.Errorf("a file of 10,001 values with --max-items 10,000: %d", p.status)
	}
	if n := countAll(t, e.h, ka); n != 0 {
		t.Fatalf("the refused file stored %d", n)
	}
	if p := upload(100); p.status != 200 {
		t.Errorf("a file of 100 values: %d", p.status)
	}
	if n := countAll(t, e.h, ka); n != 100 {
		t.Errorf("the hub holds %d indicators, want 100", n)
	}
}

// TestUIRequestsRateLimited: a signed-in session's requests take tokens as
// an API key's do: a session loading pages in a loop is throttled.
func TestUIRequestsRateLimited(t *testing.T) {
	e := newEnv(t, hub.Config{Limits: api.Limits{RateLimit: 1, RateBurst: 5}})
	a := e.h.Org("Hospital A", policy.Member, "")
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()
	b.signIn(email, pw)
	ok, limited := 0, 0
	for range 40 {
		switch p := b.get("/ui/indicators"); p.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		}
	}
	if ok == 0 || limited == 0 {
		t.Errorf("40 searches at once with 1 request/s and a burst of 5: %d served, %d refused (429); want both", ok, limited)
	}
}

// TestUploadFormatAutomatic: an upload's format is told from the file unless
// the form names one; a named format the file does not look like is said so
// in the error (a CSV uploaded as a STIX bundle gave only a JSON decoder's
// message).
func TestUploadFormatAutomatic(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.h.Org("Hospital A", policy.Member, "")
	ka := e.h.Key(a, policy.Analyst)
	email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
	b := e.browser()
	b.signIn(email, pw)
	csv := "type,value\ndomain,auto-csv.badhost-example.net\nipv4,198.51.100.77\n"
	if p := b.upload(csrfOf(t, b.get("/ui/submit")), "auto", "green", csv); p.status != 200 {
		t.Fatalf("a CSV uploaded with the format automatic: %d %.300s", p.status, p.body)
	}
	if n := countAll(t, e.h, ka); n != 2 {
		t.Errorf("the hub holds %d indicators, want the CSV's 2", n)
	}
	p := b.upload(csrfOf(t, b.get("/ui/submit")), "stix", "green", csv)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "the file looks like csv") {
		t.Errorf("a CSV uploaded as a STIX bundle: %d, want 400 saying it looks like csv: %.600s", p.status, p.body)
	}
}
