package api

import (
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

// TestMISPSearchBounds: when every search slot is taken a search waits, then
// gets 503; when its own organisation holds its share of the slots, 429; a
// search that outlives its deadline gets a 400 asking to narrow it; other
// MISP endpoints are not bounded by the slots.
func TestMISPSearchBounds(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.CreateOrg(t.Context(), model.Org{Name: "hospital-a", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(t.Context(), model.Key{ID: id, OrgID: org.ID, Role: policy.Analyst, Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: st})
	s.mispSearchWait = 50 * time.Millisecond
	call := func(path, body string) (int, string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", plain)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.MISP().ServeHTTP(w, req)
		var e struct{ Message string }
		json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e.Message
	}
	// Every slot taken, by two other organisations.
	take := func(org string, n int) (releases []func()) {
		for range n {
			release, err := s.mispSearches.acquire(t.Context(), org, time.Millisecond)
			if err != nil {
				t.Fatalf("taking a slot for %s: %v", org, err)
			}
			releases = append(releases, release)
		}
		return releases
	}
	held := append(take("other-1", mispSearchSlots/2), take("other-2", mispSearchSlots/2)...)
	if code, msg := call("/attributes/restSearch", `{"value": "x.example.org"}`); code != http.StatusServiceUnavailable || !strings.Contains(msg, "busy") {
		t.Errorf("search with every slot taken: %d %q", code, msg)
	}
	if code, _ := call("/attributes/describeTypes", ""); code == http.StatusServiceUnavailable {
		t.Errorf("describeTypes waited for a search slot")
	}
	for _, release := range held {
		release()
	}
	// The organisation's own share taken: the others' slots are not its.
	held = take(org.ID, mispSearchSlots/2)
	if code, msg := call("/attributes/restSearch", `{"value": "x.example.org"}`); code != http.StatusTooManyRequests || !strings.Contains(msg, "wait for them to finish") {
		t.Errorf("search with the organisation's share taken: %d %q", code, msg)
	}
	for _, release := range held {
		release()
	}
	// A deadline already past.
	s.mispSearchTimeout = time.Nanosecond
	if code, msg := call("/events/restSearch", `{}`); code != http.StatusBadRequest || !strings.Contains(msg, "narrow it") {
		t.Errorf("search past its deadline: %d %q", code, msg)
	}
	s.mispSearchTimeout = time.Minute
	if code, msg := call("/attributes/restSearch", `{"value": "x.example.org"}`); code != http.StatusOK {
		t.Errorf("search with slots free: %d %q", code, msg)
	}
	if n := s.mispSearches.inUse(); n != 0 {
		t.Errorf("%d search slots still taken after the searches ended", n)
	}
}
