package hub_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
)

// TestUIMounted: the hub serves the web UI under /ui/ (/ leads there), with
// its security headers, and a page without a session leads to sign-in.
func TestUIMounted(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/": "/ui/", "/ui/": "/ui/signin"} {
		resp, err := noRedirect.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), want) {
			t.Errorf("GET %s: %d to %q, want a redirect to %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	r := h.Do("GET", "/ui/signin", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `id="signin-form"`) {
		t.Fatalf("sign-in page: %d %.300s", r.Status, r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: CSP %q, X-Frame-Options %q", csp, r.Header.Get("X-Frame-Options"))
	}
	// The API is unchanged beside it.
	if r := h.Do("GET", "/api/v1/me", "", nil); r.Status != 401 {
		t.Errorf("API without a key: %d", r.Status)
	}
}
