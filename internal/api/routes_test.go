package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestWrongMethod: every route asked with a method it does not take answers
// 405 in the error envelope, with the methods it takes in Allow; a path
// that is no route answers 404.
func TestWrongMethod(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(New(Config{Store: st}))
	defer srv.Close()
	allowed := map[string][]string{}
	for _, rt := range New(Config{Store: st}).Routes() {
		allowed[rt.Pattern] = append(allowed[rt.Pattern], rt.Method)
	}
	do := func(method, path string) (*http.Response, Error) {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct{ Error Error }
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatalf("%s %s: not the error envelope: %v", method, path, err)
		}
		return resp, env.Error
	}
	for pattern, methods := range allowed {
		path := strings.NewReplacer("{id}", "x1", "{group}", "g1", "{org}", "o1", "{name}", "n1", "{key}", "k1", "{user}", "u1", "{peer}", "p1").Replace(pattern)
		if strings.Contains(path, "{") {
			path = strings.NewReplacer("{", "", "}", "").Replace(path) // any other parameter: a plain segment
		}
		resp, e := do("PATCH", path)
		if resp.StatusCode != http.StatusMethodNotAllowed || e.Code != CodeMethodNotAllowed {
			t.Errorf("PATCH %s: %d %q, want 405 %s", path, resp.StatusCode, e.Code, CodeMethodNotAllowed)
			continue
		}
		allow := resp.Header.Get("Allow")
		for _, m := range methods {
			if !strings.Contains(allow, m) {
				t.Errorf("PATCH %s: Allow %q lacks %s", path, allow, m)
			}
		}
	}
	if resp, e := do("GET", "/api/v1/no-such-route"); resp.StatusCode != http.StatusNotFound || e.Code != CodeNotFound || resp.Header.Get("Allow") != "" {
		t.Errorf("an unknown route: %d %q, Allow %q", resp.StatusCode, e.Code, resp.Header.Get("Allow"))
	}
	// A long path is quoted clipped, as valid text, in both answers.
	long := "/api/v1/" + strings.Repeat("é", 20_000)
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", long, http.StatusNotFound}, {"PATCH", "/api/v1/indicators" + strings.Repeat("/x", 10_000), http.StatusNotFound}, {"PATCH", "/api/v1/indicators", http.StatusMethodNotAllowed}} {
		resp, e := do(c.method, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s of a %d-byte path: %d, want %d", c.method, len(c.path), resp.StatusCode, c.status)
		}
		if len(e.Message) > 400 || !utf8.ValidString(e.Message) || strings.Contains(e.Message, "\ufffd") || strings.Contains(e.Message, "\uFFFD") || strings.ContainsRune(e.Message, utf8.RuneError) {
			t.Errorf("%s of a %d-byte path: message of %d bytes, valid %v: %.80q", c.method, len(c.path), len(e.Message), utf8.ValidString(e.Message), e.Message)
		}
	}
}

// TestClipTo: clipped text is at most the limit plus the mark and never ends
// in half a character.
func TestClipTo(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 64, "short"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"},  // é is 2 bytes: byte 3 is inside the second
		{"ééé", 4, "éé…"}, // a cut on a boundary
		{"€€", 2, "…"},    // nothing whole fits
	} {
		if got := clipTo(c.in, c.n); got != c.want {
			t.Errorf("clipTo(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
