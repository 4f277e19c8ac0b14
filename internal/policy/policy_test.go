package policy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/policy/policytest"
)

// The network of the table tests: a coordinator, two members, a partner with
// two customers, a second partner with one, the national CERT.
var (
	coord = policy.Viewer{OrgID: "coord", Kind: policy.Coordinator}
	memA  = policy.Viewer{OrgID: "a", Kind: policy.Member, Groups: []string{"g"}}
	memB  = policy.Viewer{OrgID: "b", Kind: policy.Member}
	part  = policy.Viewer{OrgID: "p", Kind: policy.Partner, Customers: []string{"c1", "c2"}, Groups: []string{"g"}}
	cust1 = policy.Viewer{OrgID: "c1", Kind: policy.Customer, Partner: "p"}
	cust2 = policy.Viewer{OrgID: "c2", Kind: policy.Customer, Partner: "p"}
	part2 = policy.Viewer{OrgID: "q", Kind: policy.Partner, Customers: []string{"d1"}}
	custQ = policy.Viewer{OrgID: "d1", Kind: policy.Customer, Partner: "q"}
	ncert = policy.Viewer{OrgID: "n", Kind: policy.NationalCERT}
	all   = []policy.Viewer{coord, memA, memB, part, cust1, cust2, part2, custQ, ncert}
)

var groupG = []string{"a", "p"}

func item(src string, t policy.TLP, a policy.Audience) policy.Item {
	it := policy.Item{Source: src, TLP: t, Audience: a}
	if a.Kind == policy.Group {
		it.GroupMembers = groupG
	}
	return it
}

func network() policy.Audience           { return policy.NetworkAudience() }
func group() policy.Audience             { return policy.Audience{Kind: policy.Group, Group: "g"} }
func orgs(ids ...string) policy.Audience { return policy.Audience{Kind: policy.Orgs, Orgs: ids} }

// TestTLPTable checks each row of DESIGN.md section 4 and each special case,
// naming exactly who sees an indicator.
func TestTLPTable(t *testing.T) {
	cases := []struct {
		name string
		it   policy.Item
		sees []string
	}{
		{"clear to the network: everyone", item("b", policy.Clear, network()), []string{"coord", "a", "b", "p", "c1", "c2", "q", "d1", "n"}},
		{"green to the network: everyone", item("b", policy.Green, network()), []string{"coord", "a", "b", "p", "c1", "c2", "q", "d1", "n"}},
		{"amber to the network: everyone", item("b", policy.Amber, network()), []string{"coord", "a", "b", "p", "c1", "c2", "q", "d1", "n"}},
		{"amber+strict to the network: no partner customers", item("b", policy.AmberStrict, network()), []string{"coord", "a", "b", "p", "q", "n"}},
		{"green to a group with a partner: the partner's customers too", item("a", policy.Green, group()), []string{"a", "p", "c1", "c2"}},
		{"amber to a group with a partner: the partner's customers too", item("a", policy.Amber, group()), []string{"a", "p", "c1", "c2"}},
		{"amber+strict to a group with a partner: not its customers", item("a", policy.AmberStrict, group()), []string{"a", "p"}},
		{"amber to a list naming a partner: its customers too", item("b", policy.Amber, orgs("p")), []string{"b", "p", "c1", "c2"}},
		{"amber+strict to a list naming a partner and one customer", item("b", policy.AmberStrict, orgs("p", "c2")), []string{"b", "p", "c2"}},
		{"red to a list: only the named", item("b", policy.Red, orgs("a", "p")), []string{"b", "a", "p"}},
		{"red: the coordinator only when named", item("b", policy.Red, orgs("coord")), []string{"b", "coord"}},
		{"red to a group is never admitted", item("a", policy.Red, group()), []string{"a"}},
		{"red to the network is never admitted", item("a", policy.Red, network()), []string{"a"}},
		{"a customer's red: its partner sees it (it shares on its behalf)", item("c1", policy.Red, orgs("b")), []string{"c1", "p", "b"}},
		{"a customer's amber+strict to a list: its partner too", item("c1", policy.AmberStrict, orgs("n")), []string{"c1", "p", "n"}},
		{"a customer's amber to the network: everyone", item("c1", policy.Amber, network()), []string{"coord", "a", "b", "p", "c1", "c2", "q", "d1", "n"}},
		{"clear to a list: only the list and relays", item("b", policy.Clear, orgs("q")), []string{"b", "q", "d1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := map[string]bool{}
			for _, id := range c.sees {
				want[id] = true
			}
			for _, v := range all {
				if got := policy.CanSee(v, c.it); got != want[v.OrgID] {
					t.Errorf("%s (%s) sees=%v, want %v", v.OrgID, v.Kind, got, want[v.OrgID])
				}
			}
		})
	}
}

func TestNobodySeesWithoutAnOrg(t *testing.T) {
	if policy.CanSee(policy.Viewer{}, item("", policy.Clear, network())) {
		t.Fatal("a viewer without an organisation sees an item")
	}
}

func TestCheckAudience(t *testing.T) {
	for _, c := range []struct {
		tlp policy.TLP
		a   policy.Audience
		ok  bool
	}{
		{policy.Red, network(), false},
		{policy.Red, group(), false},
		{policy.Red, orgs("a"), true},
		{policy.Red, orgs(), false},
		{policy.Amber, network(), true},
		{policy.AmberStrict, group(), true},
		{policy.Green, policy.Audience{Kind: policy.Group}, false},
		{policy.Green, policy.Audience{Kind: "everyone"}, false},
	} {
		err := policy.CheckAudience(c.tlp, c.a)
		if (err == nil) != c.ok {
			t.Errorf("CheckAudience(%s, %+v) = %v, want ok=%v", c.tlp, c.a, err, c.ok)
		}
	}
	err := policy.CheckAudience(policy.Red, network())
	if err == nil || err.Error() != `tlp red needs an explicit list of organisations as audience ("audience": {"orgs": [...]}), not the whole network` {
		t.Fatalf("red error text: %v", err)
	}
}

func TestAnonymityAndSightings(t *testing.T) {
	// Anonymous, submitted by partner p for customer c1.
	for _, c := range []struct {
		v    policy.Viewer
		want bool
	}{{cust1, true}, {part, true}, {coord, true}, {memA, false}, {ncert, false}, {cust2, false}} {
		if got := policy.SeesTrueSource(c.v, "c1", "p"); got != c.want {
			t.Errorf("SeesTrueSource(%s) = %v, want %v", c.v.OrgID, got, c.want)
		}
	}
	for _, c := range []struct {
		v    policy.Viewer
		want bool
	}{{memB, true}, {coord, true}, {memA, false}, {part, false}} {
		if got := policy.SeesSighters(c.v, "b"); got != c.want {
			t.Errorf("SeesSighters(%s) = %v, want %v", c.v.OrgID, got, c.want)
		}
	}
	// A peer hub is the source of its copies, and sees only counts.
	peer := policy.Viewer{OrgID: "peer", Kind: policy.PeerHub}
	if policy.SeesSighters(peer, "peer") {
		t.Error("a peer hub sees which organisations sighted its copies")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]policy.TLP{"TLP:AMBER+STRICT": policy.AmberStrict, "white": policy.Clear, " Red ": policy.Red, "tlp:green": policy.Green} {
		if got, err := policy.ParseTLP(in); err != nil || got != want {
			t.Errorf("ParseTLP(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "purple", "amber strict", "tlp:"} {
		if _, err := policy.ParseTLP(bad); err == nil {
			t.Errorf("ParseTLP(%q) accepted", bad)
		}
	}
	if _, err := policy.ParseOrgKind("hospital"); err == nil {
		t.Error("ParseOrgKind accepted hospital")
	}
	if _, err := policy.ParseRole("root"); err == nil {
		t.Error("ParseRole accepted root")
	}
	if !policy.Analyst.CanSubmit() || policy.Sensor.CanSubmit() || policy.ReadOnly.CanSubmit() || !policy.Sensor.CanReportSightings() || policy.ReadOnly.CanReportSightings() {
		t.Error("role permissions are wrong")
	}
}

// TestCanSeeAgreesWithOracle compares CanSee with the table-driven oracle on
// random networks and items.
func TestCanSeeAgreesWithOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	// One numbering for every round, as one broker serves a process; a
	// second one stands for sets a viewer was not numbered by.
	numbering, other := policy.NewNumbering(), policy.NewNumbering()
	for round := range 200 {
		net, viewers := policytest.RandomNetwork(rng, fmt.Sprint(round))
		numbered := make([]policy.Viewer, len(viewers))
		for i, v := range viewers {
			numbered[i] = numbering.Viewer(v)
		}
		for range 50 {
			ind := policytest.RandomIndicator(rng, net)
			it := policy.Item{Source: ind.Source, TLP: ind.TLP, Audience: policy.Audience{Kind: ind.Audience, Group: ind.Group, Orgs: ind.Orgs}, GroupMembers: net.Groups[ind.Group]}
			withSet, withOther := it, it
			withSet.GroupSet = numbering.Set(it.GroupMembers)
			withOther.GroupSet = other.Set(it.GroupMembers)
			for i, v := range viewers {
				want := net.Oracle(v.OrgID, ind)
				if got := policy.CanSee(v, it); got != want {
					t.Fatalf("round %d: CanSee(%+v, %+v) = %v, oracle says %v", round, v, ind, got, want)
				}
				// The members as a set (the stream's window) decide the
				// same, for viewers numbered or not, by the same numbering
				// or another.
				for _, c := range []struct {
					name string
					v    policy.Viewer
					it   policy.Item
				}{{"set, plain viewer", v, withSet}, {"set, numbered viewer", numbered[i], withSet}, {"other numbering's set", numbered[i], withOther}, {"no set, numbered viewer", numbered[i], it}} {
					if got := policy.CanSee(c.v, c.it); got != want {
						t.Fatalf("round %d, %s: CanSee(%+v, %+v) = %v, oracle says %v", round, c.name, v, ind, got, want)
					}
				}
				// A numbered viewer given another id afterwards is decided
				// for that id, not by its old number.
				moved := numbered[(i+1)%len(numbered)]
				moved.OrgID, moved.Kind, moved.Partner, moved.Customers = v.OrgID, v.Kind, v.Partner, v.Customers
				if got := policy.CanSee(moved, withSet); got != want {
					t.Fatalf("round %d: a numbered viewer renamed to %s: CanSee = %v, oracle says %v", round, v.OrgID, got, want)
				}
			}
			if ind.Audience == policy.Group {
				set := withSet.GroupSet
				if set.Len() != len(it.GroupMembers) {
					t.Fatalf("round %d: a set of %d members holds %d", round, len(it.GroupMembers), set.Len())
				}
				for _, m := range it.GroupMembers {
					if !set.Contains(m) {
						t.Fatalf("round %d: member %s missing from its set", round, m)
					}
				}
				if set.Contains("not-a-member") || set.Contains("") {
					t.Fatalf("round %d: the set contains an outsider", round)
				}
			}
		}
	}
}

// TestSameDecision: items SameDecision calls alike are decided alike by
// CanSee for every viewer (random networks, pairs that share some facts or
// all), and an item is the same as a copy of itself with its own slices.
func TestSameDecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	alike, differ := 0, 0
	for round := range 200 {
		net, viewers := policytest.RandomNetwork(rng, fmt.Sprint(round))
		item := func(ind policytest.Indicator) policy.Item {
			return policy.Item{Source: ind.Source, TLP: ind.TLP, Audience: policy.Audience{Kind: ind.Audience, Group: ind.Group, Orgs: ind.Orgs},
				GroupMembers: net.Groups[ind.Group]}
		}
		for range 50 {
			x := policytest.RandomIndicator(rng, net)
			y := policytest.RandomIndicator(rng, net)
			// y takes some of x's facts, so that pairs alike are common.
			if rng.IntN(2) == 0 {
				y.Source = x.Source
			}
			if rng.IntN(2) == 0 {
				y.TLP = x.TLP
			}
			if rng.IntN(2) == 0 {
				y.Audience, y.Group, y.Orgs = x.Audience, x.Group, slices.Clone(x.Orgs)
			}
			a, b := item(x), item(y)
			if copyOf := item(x); !policy.SameDecision(&a, &copyOf) {
				t.Fatalf("round %d: %+v is not the same as its copy", round, a)
			}
			if !policy.SameDecision(&a, &b) {
				differ++
				continue
			}
			alike++
			for _, v := range viewers {
				if policy.CanSee(v, a) != policy.CanSee(v, b) {
					t.Fatalf("round %d: SameDecision(%+v, %+v), but %s sees one and not the other", round, a, b, v.OrgID)
				}
			}
		}
	}
	if alike < 500 || differ < 500 {
		t.Fatalf("%d pairs alike, %d not: the test does not test", alike, differ)
	}
}
