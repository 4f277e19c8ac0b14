package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
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

// TestPendingProposalsBounded: an organisation's proposals awaiting a
// decision are bounded (api.Limits.MaxPendingProposals); beyond it a
// proposal is refused with 409 saying the bound and what to do, until an
// analyst decides one. Other organisations are not held to its queue.
func TestPendingProposalsBounded(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{MaxPendingProposals: 3}})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	sensor, analyst, sensorB := h.Key(a, policy.Sensor), h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)
	propose := func(key, value string) hubtest.Response {
		return h.Do("POST", "/api/v1/proposals", key, map[string]any{"value": value, "evidence": "Suricata alert"})
	}
	var first struct{ ID string }
	for i := range 3 {
		r := propose(sensor, fmt.Sprintf("p%d.example.org", i))
		if r.Status != 201 {
			t.Fatalf("proposal %d of 3: %d %s", i, r.Status, r.Body)
		}
		if i == 0 {
			r.JSON(t, &first)
		}
	}
	r := propose(sensor, "p3.example.org")
	if r.Status != 409 || r.ErrorCode() != "conflict" || !strings.Contains(string(r.Body), "at most 3") || !strings.Contains(string(r.Body), "approve or reject") {
		t.Errorf("a fourth pending proposal: %d %s, want 409 conflict naming the bound and what to do", r.Status, r.Body)
	}
	if r := propose(sensorB, "p3.example.org"); r.Status != 201 {
		t.Errorf("another organisation's proposal: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/proposals/"+first.ID+"/reject", analyst, nil); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	if r := propose(sensor, "p3.example.org"); r.Status != 201 {
		t.Errorf("a proposal once one was decided: %d %s", r.Status, r.Body)
	}
	var queue struct {
		Proposals []struct{ ID string } `json:"proposals"`
	}
	h.Do("GET", "/api/v1/proposals?status=pending", analyst, nil).JSON(t, &queue)
	if len(queue.Proposals) != 3 {
		t.Errorf("%d proposals pending, want 3", len(queue.Proposals))
	}
}
