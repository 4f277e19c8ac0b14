package hub_test

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

func TestAutoShareApprovalQueue(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	sensor, analyst, ro := h.Key(a, policy.Sensor), h.Key(a, policy.Analyst), h.Key(a, policy.ReadOnly)
	kb := h.Key(b, policy.Analyst)
	var prop struct {
		ID, Type, Value, Status string
	}
	r := h.Do("POST", "/api/v1/proposals", sensor, map[string]any{"value": "LOGIN-micros0ft[.]example.com", "labels": []string{"phishing"}, "evidence": `{"alert":{"signature":"ET PHISHING"}}`})
	if r.Status != 201 {
		t.Fatalf("propose: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &prop)
	if prop.Status != "pending" || prop.Value != "login-micros0ft.example.com" || prop.Type != "domain" {
		t.Fatalf("proposal: %+v", prop)
	}
	// Nothing is shared yet.
	var lr listResp
	h.Do("GET", "/api/v1/indicators", kb, nil).JSON(t, &lr)
	if len(lr.Indicators) != 0 {
		t.Fatalf("a proposal was shared before approval: %+v", lr.Indicators)
	}
	if r := h.Do("POST", "/api/v1/proposals", ro, map[string]any{"value": "x.example.com"}); r.Status != 403 {
		t.Fatalf("a readonly key proposed: %d", r.Status)
	}
	// The sensor may not approve; another organisation cannot see the proposal.
	if r := h.Do("POST", "/api/v1/proposals/"+prop.ID+"/approve", sensor, map[string]any{"tlp": "amber"}); r.Status != 403 {
		t.Fatalf("sensor approved: %d", r.Status)
	}
	if r := h.Do("POST", "/api/v1/proposals/"+prop.ID+"/approve", kb, map[string]any{"tlp": "amber"}); r.Status != 404 {
		t.Fatalf("another organisation approved: %d", r.Status)
	}
	var queue struct {
		Proposals []struct{ ID string } `json:"proposals"`
	}
	h.Do("GET", "/api/v1/proposals?status=pending", analyst, nil).JSON(t, &queue)
	if len(queue.Proposals) != 1 || queue.Proposals[0].ID != prop.ID {
		t.Fatalf("queue: %+v", queue)
	}
	if r := h.Do("POST", "/api/v1/proposals/"+prop.ID+"/approve", analyst, map[string]any{"tlp": "red"}); r.Status != 400 {
		t.Fatalf("approve as red without a list: %d", r.Status)
	}
	r = h.Do("POST", "/api/v1/proposals/"+prop.ID+"/approve", analyst, map[string]any{"tlp": "amber"})
	if r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	h.Do("GET", "/api/v1/indicators", kb, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].Value != "login-micros0ft.example.com" || lr.Indicators[0].TLP != "amber" || lr.Indicators[0].Source != "hospital-a" || lr.Indicators[0].Labels[0] != "phishing" {
		t.Fatalf("approved indicator as hospital B sees it: %+v", lr.Indicators)
	}
	if r := h.Do("POST", "/api/v1/proposals/"+prop.ID+"/reject", analyst, nil); r.Status != 409 {
		t.Fatalf("rejecting an approved proposal: %d", r.Status)
	}
}

// TestIPv4MappedIPv6StoredAsIPv4: an IPv4-mapped IPv6 address given as an
// ipv6 is the IPv4 address it is, everywhere a value is taken by its type:
// a proposal of one can be approved, and a search for it typed ipv6 finds
// the indicator stored as ipv4.
func TestIPv4MappedIPv6StoredAsIPv4(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	sensor, analyst := h.Key(a, policy.Sensor), h.Key(a, policy.Analyst)
	var prop struct{ ID, Type, Value string }
	r := h.Do("POST", "/api/v1/proposals", sensor, map[string]any{"type": "ipv6", "value": "::ffff:198.51.100.7"})
	if r.Status != 201 {
		t.Fatalf("propose: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &prop)
	if prop.Type != "ipv4" || prop.Value != "198.51.100.7" {
		t.Fatalf("proposal of an IPv4-mapped IPv6 address: %+v, want ipv4 198.51.100.7", prop)
	}
	if r := h.Do("POST", "/api/v1/proposals/"+prop.ID+"/approve", analyst, map[string]any{"tlp": "green"}); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"type=ipv6&value=::ffff:198.51.100.7", "type=ipv4&value=198.51.100.7", "value=::ffff:198.51.100.7"} {
		var lr listResp
		h.Do("GET", "/api/v1/indicators?"+q, analyst, nil).JSON(t, &lr)
		if len(lr.Indicators) != 1 || lr.Indicators[0].Type != "ipv4" || lr.Indicators[0].Value != "198.51.100.7" {
			t.Errorf("search %s: %+v", q, lr.Indicators)
		}
	}
}
