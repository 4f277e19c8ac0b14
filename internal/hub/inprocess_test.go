package hub_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestInProcessPrincipal: the web UI calls the API in-process as a user,
// with the user's organisation's view and role; nothing a client sends can
// take that path, and a user of a suspended organisation gets no principal.
func TestInProcessPrincipal(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	kb := h.Key(b, policy.Analyst)
	submit(t, h, kb, map[string]any{"type": "domain", "value": "red.inprocess-test.example", "tlp": "red", "audience": map[string]any{"orgs": []string{"Hospital B"}}})
	submit(t, h, kb, map[string]any{"type": "domain", "value": "green.inprocess-test.example", "tlp": "green"})
	srv := h.Hub.API()
	p, err := srv.PrincipalForUser(t.Context(), model.User{ID: "u1", OrgID: a.ID, Email: "soc@a.example", Role: policy.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	status, body := srv.Do(t.Context(), p, "GET", "/api/v1/indicators", nil)
	if status != 200 || !strings.Contains(string(body), "green.inprocess-test") || strings.Contains(string(body), "red.inprocess-test") {
		t.Errorf("as a user of A: %d %s", status, body)
	}
	var me struct {
		Org  struct{ Name string }
		Role string
	}
	_, body = srv.Do(t.Context(), p, "GET", "/api/v1/me", nil)
	if err := json.Unmarshal(body, &me); err != nil || me.Org.Name != "Hospital A" || me.Role != "readonly" {
		t.Errorf("me: %s", body)
	}
	// The role holds: a read-only user may not submit.
	if status, _ := srv.Do(t.Context(), p, "POST", "/api/v1/indicators", []byte(`{"indicators":[{"type":"domain","value":"x.inprocess-test.example"}]}`)); status != 403 {
		t.Errorf("a read-only user submitted: %d", status)
	}
	// Over the network the same request without a key is refused.
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/indicators", nil)
	resp, err := h.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no key over the network: %d", resp.StatusCode)
	}
	// Sensors are not users; suspended organisations have no users' principals.
	if _, err := srv.PrincipalForUser(t.Context(), model.User{ID: "u2", OrgID: a.ID, Role: policy.Sensor}); err == nil {
		t.Error("a user with role sensor got a principal")
	}
	if err := h.Store.SetOrgStatus(t.Context(), a.ID, model.OrgSuspended); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PrincipalForUser(t.Context(), model.User{ID: "u1", OrgID: a.ID, Role: policy.Analyst}); err == nil {
		t.Error("a suspended organisation's user got a principal")
	}
}
