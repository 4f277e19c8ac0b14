package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// sharingNet is the fixed network of the special-case tests.
type sharingNet struct {
	h                                        *hubtest.Hub
	coord, a, b, partner, cust1, cust2, ncrt string // analyst keys
	coordAdmin, aAdmin                       string
}

func newSharingNet(t *testing.T) *sharingNet {
	h := hubtest.Start(t, hub.Config{})
	n := &sharingNet{h: h}
	c := h.Org("sector-cert", policy.Coordinator, "")
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	p := h.Org("secureops", policy.Partner, "")
	c1 := h.Org("care-north", policy.Customer, "secureops")
	c2 := h.Org("clinic-south", policy.Customer, "secureops")
	nc := h.Org("national-cert", policy.NationalCERT, "")
	n.coord, n.a, n.b, n.partner = h.Key(c, policy.Analyst), h.Key(a, policy.Analyst), h.Key(b, policy.Analyst), h.Key(p, policy.Analyst)
	n.cust1, n.cust2, n.ncrt = h.Key(c1, policy.Analyst), h.Key(c2, policy.Analyst), h.Key(nc, policy.Analyst)
	n.coordAdmin, n.aAdmin = h.Key(c, policy.Admin), h.Key(a, policy.Admin)
	return n
}

func (n *sharingNet) sees(t *testing.T, key, id string) (api.IndicatorJSON, bool) {
	t.Helper()
	r := n.h.Do("GET", "/api/v1/indicators/"+id, key, nil)
	if r.Status == 404 {
		return api.IndicatorJSON{}, false
	}
	var ind api.IndicatorJSON
	r.JSON(t, &ind)
	return ind, r.Status == 200
}

func TestPartnerOnBehalfOfCustomer(t *testing.T) {
	n := newSharingNet(t)
	res := submit(t, n.h, n.partner, map[string]any{"value": "north-phish.example.org", "tlp": "amber+strict", "on_behalf_of": "care-north"})
	if res[0].Status != "created" {
		t.Fatalf("%+v", res[0])
	}
	ind, ok := n.sees(t, n.cust1, res[0].ID)
	if !ok || ind.Source != "care-north" {
		t.Fatalf("the customer does not see its own indicator as its source: %v %+v", ok, ind)
	}
	if _, ok := n.sees(t, n.cust2, res[0].ID); ok {
		t.Fatal("another customer of the partner sees an amber+strict network indicator")
	}
	if _, ok := n.sees(t, n.b, res[0].ID); !ok {
		t.Fatal("a member does not see an amber+strict network indicator")
	}
	// The customer can revoke it, as the source; the partner too.
	if r := n.h.Do("POST", "/api/v1/indicators/"+res[0].ID+"/revoke", n.partner, nil); r.Status != 200 {
		t.Fatalf("partner revoking its customer's indicator: %d %s", r.Status, r.Body)
	}
	// A partner cannot submit for a customer of someone else, nor a member for anyone.
	h2 := n.h.Org("otherops", policy.Partner, "")
	k2 := n.h.Key(h2, policy.Analyst)
	for _, k := range []string{k2, n.a} {
		res = submit(t, n.h, k, map[string]any{"value": "x.example.org", "on_behalf_of": "care-north"})
		if res[0].Status != "rejected" {
			t.Fatalf("on_behalf_of someone else's customer accepted: %+v", res[0])
		}
	}
}

func TestAnonymousSubmission(t *testing.T) {
	n := newSharingNet(t)
	res := submit(t, n.h, n.b, map[string]any{"value": "anon.example.org", "tlp": "green", "anonymous": true})
	for key, want := range map[string]string{n.b: "hospital-b", n.coord: "hospital-b", n.a: "anonymous", n.cust1: "anonymous", n.ncrt: "anonymous", n.partner: "anonymous"} {
		ind, ok := n.sees(t, key, res[0].ID)
		if !ok || ind.Source != want {
			t.Errorf("source shown as %q (visible %v), want %q", ind.Source, ok, want)
		}
	}
	// On behalf of a customer, anonymously: the submitting partner sees the source too.
	res = submit(t, n.h, n.partner, map[string]any{"value": "anon2.example.org", "tlp": "green", "anonymous": true, "on_behalf_of": "clinic-south"})
	for key, want := range map[string]string{n.partner: "clinic-south", n.cust2: "clinic-south", n.coord: "clinic-south", n.cust1: "anonymous", n.a: "anonymous"} {
		if ind, _ := n.sees(t, key, res[0].ID); ind.Source != want {
			t.Errorf("on behalf, anonymous: source %q, want %q", ind.Source, want)
		}
	}
	// The hidden name appears nowhere in another organisation's response.
	r := n.h.Do("GET", "/api/v1/indicators?value=anon.example.org", n.a, nil)
	if strings.Contains(string(r.Body), "hospital-b") {
		t.Fatalf("anonymous source leaks in a search result: %s", r.Body)
	}
}

func TestRedNeedsAList(t *testing.T) {
	n := newSharingNet(t)
	for _, aud := range []any{nil, map[string]any{"network": true}, map[string]any{"group": "nope"}} {
		item := map[string]any{"value": "red.example.org", "tlp": "red"}
		if aud != nil {
			item["audience"] = aud
		}
		if res := submit(t, n.h, n.a, item); res[0].Status != "rejected" {
			t.Fatalf("red with audience %v accepted", aud)
		}
	}
	res := submit(t, n.h, n.a, map[string]any{"value": "red.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"national-cert"}}})
	if res[0].Status != "created" {
		t.Fatalf("%+v", res[0])
	}
	for key, want := range map[string]bool{n.a: true, n.ncrt: true, n.coord: false, n.b: false, n.partner: false} {
		if _, ok := n.sees(t, key, res[0].ID); ok != want {
			t.Errorf("red to national-cert: visible %v, want %v", ok, want)
		}
	}
}

func TestGroupsAndAudit(t *testing.T) {
	n := newSharingNet(t)
	r := n.h.Do("POST", "/api/v1/groups", n.a, map[string]any{"name": "university-hospitals", "members": []string{"secureops"}})
	if r.Status != 201 {
		t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	var g api.GroupJSON
	r.JSON(t, &g)
	if len(g.Members) != 2 || g.Owner != "hospital-a" {
		t.Fatalf("group: %+v", g)
	}
	if r := n.h.Do("POST", "/api/v1/groups", n.b, map[string]any{"name": "university-hospitals"}); r.Status != 409 {
		t.Fatalf("duplicate group name: %d", r.Status)
	}
	green := submit(t, n.h, n.a, map[string]any{"value": "grp-green.example.org", "tlp": "green", "audience": map[string]any{"group": "university-hospitals"}})[0].ID
	strict := submit(t, n.h, n.a, map[string]any{"value": "grp-strict.example.org", "tlp": "amber+strict", "audience": map[string]any{"group": "university-hospitals"}})[0].ID
	// Group with a partner in it: its customers see green, not amber+strict.
	for key, want := range map[string][2]bool{n.partner: {true, true}, n.cust1: {true, false}, n.cust2: {true, false}, n.b: {false, false}, n.coord: {false, false}} {
		_, g1 := n.sees(t, key, green)
		_, g2 := n.sees(t, key, strict)
		if g1 != want[0] || g2 != want[1] {
			t.Errorf("group audience: green %v strict %v, want %v", g1, g2, want)
		}
	}
	// Only the owner (or the coordinator) changes members.
	if r := n.h.Do("PUT", "/api/v1/groups/university-hospitals/members/hospital-b", n.b, nil); r.Status != 404 {
		t.Fatalf("a non-member non-owner sees the group: %d", r.Status)
	}
	if r := n.h.Do("PUT", "/api/v1/groups/university-hospitals/members/hospital-b", n.partner, nil); r.Status != 403 {
		t.Fatalf("a member changing members: %d", r.Status)
	}
	if r := n.h.Do("PUT", "/api/v1/groups/university-hospitals/members/hospital-b", n.a, nil); r.Status != 200 {
		t.Fatalf("owner adds member: %d %s", r.Status, r.Body)
	}
	if _, ok := n.sees(t, n.b, strict); !ok {
		t.Fatal("a new group member does not see the group's indicator")
	}
	if r := n.h.Do("DELETE", "/api/v1/groups/university-hospitals/members/secureops", n.coord, nil); r.Status != 200 {
		t.Fatalf("coordinator removes member: %d %s", r.Status, r.Body)
	}
	if _, ok := n.sees(t, n.cust1, green); ok {
		t.Fatal("a removed partner's customer still sees the group's indicator")
	}
	// Audit: the coordinator's admin reads everything; hospital A's admin its own entries; analysts nothing.
	var all, own struct {
		Entries []struct {
			Action  string `json:"action"`
			OrgName string `json:"org_name"`
		} `json:"entries"`
	}
	n.h.Do("GET", "/api/v1/audit", n.coordAdmin, nil).JSON(t, &all)
	n.h.Do("GET", "/api/v1/audit", n.aAdmin, nil).JSON(t, &own)
	actions := map[string]bool{}
	for _, e := range all.Entries {
		actions[e.Action] = true
	}
	for _, want := range []string{"group.create", "group.member.add", "group.member.remove", "indicator.submit"} {
		if !actions[want] {
			t.Errorf("coordinator's audit log lacks %s: %+v", want, all.Entries)
		}
	}
	for _, e := range own.Entries {
		if e.OrgName != "hospital-a" {
			t.Errorf("hospital A's admin reads another organisation's entry: %+v", e)
		}
	}
	if len(own.Entries) == 0 || len(own.Entries) >= len(all.Entries) {
		t.Errorf("hospital A's admin reads %d entries of %d", len(own.Entries), len(all.Entries))
	}
	if r := n.h.Do("GET", "/api/v1/audit", n.a, nil); r.Status != 403 {
		t.Errorf("an analyst reads the audit log: %d", r.Status)
	}
	if r := n.h.Do("GET", "/api/v1/audit?org=hospital-b", n.aAdmin, nil); r.Status != 403 {
		t.Errorf("a member admin reads another org's audit: %d", r.Status)
	}
}
