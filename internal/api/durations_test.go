package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// durationsFixture is a server on a fresh store with the coordinator's
// admin key.
type durationsFixture struct {
	t     *testing.T
	now   time.Time
	srv   *httptest.Server
	admin string
}

func newDurationsFixture(t *testing.T) *durationsFixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	srv := httptest.NewServer(New(Config{Store: st, Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	coord, err := st.CreateOrg(ctx, model.Org{Name: "sector-cert", Kind: policy.Coordinator})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrg(ctx, model.Org{Name: "secureops", Kind: policy.Partner}); err != nil {
		t.Fatal(err)
	}
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: coord.ID, Role: policy.Admin, Hash: hash, Created: now}); err != nil {
		t.Fatal(err)
	}
	return &durationsFixture{t: t, now: now, srv: srv, admin: plain}
}

// do sends a request with the admin key and decodes the JSON answer.
func (f *durationsFixture) do(method, path string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.admin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("%s %s: %d, not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func errorMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestAPIDurationsTakeDays: the durations a person gives the API — a key's
// expires_in, a rotation's grace, an enrolment token's expires_in, the
// coverage report's live and window — take days ("90d") as the command
// line's flags do, stay within their bounds, refuse negative ones, and say
// in their errors that "90d" or "2160h" are accepted.
func TestAPIDurationsTakeDays(t *testing.T) {
	f := newDurationsFixture(t)
	keys := "/api/v1/orgs/sector-cert/keys"
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2160h": 2160 * time.Hour, "1d12h": 36 * time.Hour} {
		status, out := f.do("POST", keys, map[string]any{"role": "readonly", "expires_in": in})
		if status != http.StatusCreated {
			t.Errorf("key with expires_in %q: %d %v", in, status, out)
			continue
		}
		if got, _ := time.Parse(time.RFC3339, out["expires_at"].(string)); !got.Equal(f.now.Add(want)) {
			t.Errorf("key with expires_in %q expires at %v, want %v", in, got, f.now.Add(want))
		}
	}
	for _, in := range []string{"-90d", "0d", "0", "1900d", "ninety days", "90 d", "1.5d", "d", "5d-3h"} {
		status, out := f.do("POST", keys, map[string]any{"role": "readonly", "expires_in": in})
		if msg := errorMessage(out); status != http.StatusBadRequest || !strings.Contains(msg, `"90d" or "2160h"`) {
			t.Errorf("key with expires_in %q: %d %q, want 400 saying \"90d\" or \"2160h\" are accepted", in, status, msg)
		}
	}

	rotate := func(grace string) (int, string) {
		t.Helper()
		status, out := f.do("POST", keys, map[string]any{"role": "readonly"})
		if status != http.StatusCreated {
			t.Fatalf("key: %d %v", status, out)
		}
		status, out = f.do("POST", keys+"/"+out["id"].(string)+"/rotate", map[string]any{"grace": grace})
		return status, errorMessage(out)
	}
	if status, msg := rotate("7d"); status != http.StatusCreated {
		t.Errorf("rotate with grace 7d: %d %q", status, msg)
	}
	for _, in := range []string{"31d", "-1d", "a week"} {
		if status, msg := rotate(in); status != http.StatusBadRequest || !strings.Contains(msg, `"7d"`) {
			t.Errorf("rotate with grace %q: %d %q, want 400 saying 7d is accepted", in, status, msg)
		}
	}

	enrol := "/api/v1/orgs/sector-cert/enrolments"
	if status, out := f.do("POST", enrol, map[string]any{"expires_in": "1d"}); status != http.StatusCreated {
		t.Errorf("enrolment with expires_in 1d: %d %v", status, out)
	}
	for _, in := range []string{"2d", "-1d", "30s"} {
		if status, out := f.do("POST", enrol, map[string]any{"expires_in": in}); status != http.StatusBadRequest {
			t.Errorf("enrolment with expires_in %q: %d %v, want 400", in, status, out)
		}
	}

	for _, q := range []string{"window=90d", "window=2160h", "live=1d&window=1d12h"} {
		if status, out := f.do("GET", "/api/v1/coverage?"+q, nil); status != http.StatusOK {
			t.Errorf("coverage?%s: %d %v", q, status, out)
		}
	}
	for _, q := range []string{"window=-90d", "window=0d", "live=soon", "window=90%20d"} {
		status, out := f.do("GET", "/api/v1/coverage?"+q, nil)
		if msg := errorMessage(out); status != http.StatusBadRequest || !strings.Contains(msg, `"90d" or "2160h"`) {
			t.Errorf("coverage?%s: %d %q, want 400 saying \"90d\" or \"2160h\" are accepted", q, status, msg)
		}
	}
}

// TestAPIOrgCreateTrimsNames: an organisation's name and its partner's are
// taken without the spaces around them, and a name taken without regard to
// case is refused in words.
func TestAPIOrgCreateTrimsNames(t *testing.T) {
	f := newDurationsFixture(t)
	status, out := f.do("POST", "/api/v1/orgs", map[string]any{"name": "  care-north ", "kind": "customer", "partner": " secureops  "})
	if status != http.StatusCreated || out["name"] != "care-north" {
		t.Fatalf("a customer named with spaces around its and its partner's names: %d %v", status, out)
	}
	status, out = f.do("POST", "/api/v1/orgs", map[string]any{"name": " CARE-NORTH", "kind": "member"})
	if msg := errorMessage(out); status != http.StatusConflict || !strings.Contains(msg, "already exists (names are compared without regard to case)") {
		t.Errorf("a taken name: %d %q", status, msg)
	}
}
