// Package policytest holds the test oracle of the sharing policy: the table
// of DESIGN.md section 4 written down as data, independent of policy.CanSee,
// and a generator of random networks and indicators for property tests.
// Every read path of the hub is checked against Oracle.
package policytest

import (
	"slices"

	"github.com/hdnetwork/hdn/internal/policy"
)

// row is one line of the TLP table.
type row struct {
	audience          bool // organisations in the audience see it
	partnersCustomers bool // ... and the customers of a partner in the audience
	namedOnly         bool // only organisations named in an explicit list
}

// table is DESIGN.md section 4, as written there.
var table = map[policy.TLP]row{
	policy.Clear:       {audience: true, partnersCustomers: true},
	policy.Green:       {audience: true, partnersCustomers: true},
	policy.Amber:       {audience: true, partnersCustomers: true},
	policy.AmberStrict: {audience: true},
	policy.Red:         {namedOnly: true},
}

// Org is an organisation of a test network.
type Org struct {
	ID      string
	Name    string
	Kind    policy.OrgKind
	Partner string // id, for customers
}

// Indicator is what the oracle needs of an indicator.
type Indicator struct {
	Source    string
	TLP       policy.TLP
	Audience  policy.AudienceKind
	Group     string   // group id for a group audience
	Orgs      []string // ids for an explicit list
	Anonymous bool
}

// Network is the organisations and groups a case runs in.
type Network struct {
	Orgs   []Org
	Groups map[string][]string // group id → member ids
}

func (n *Network) org(id string) Org {
	for _, o := range n.Orgs {
		if o.ID == id {
			return o
		}
	}
	return Org{}
}

// inAudience: the whole network is every organisation connected directly;
// customers are connected through their partner.
func (n *Network) inAudience(ind Indicator, id string) bool {
	switch ind.Audience {
	case policy.Network:
		return n.org(id).Kind != policy.Customer
	case policy.Group:
		return slices.Contains(n.Groups[ind.Group], id)
	case policy.Orgs:
		return slices.Contains(ind.Orgs, id)
	}
	return false
}

// Oracle says whether organisation viewer may see ind.
func (n *Network) Oracle(viewer string, ind Indicator) bool {
	v := n.org(viewer)
	if v.ID == "" {
		return false
	}
	if ind.Source == v.ID {
		return true // the source always sees its own
	}
	if src := n.org(ind.Source); src.Kind == policy.Customer && src.Partner == v.ID {
		return true // a partner sees what its customers share
	}
	r := table[ind.TLP]
	if r.namedOnly {
		return ind.Audience == policy.Orgs && slices.Contains(ind.Orgs, v.ID)
	}
	if r.audience && n.inAudience(ind, v.ID) {
		return true
	}
	return r.partnersCustomers && v.Kind == policy.Customer && n.inAudience(ind, v.Partner)
}

// SeesSource says whether viewer learns the true source of ind (submitted by
// submitter).
func (n *Network) SeesSource(viewer string, ind Indicator, submitter string) bool {
	return !ind.Anonymous || viewer == ind.Source || viewer == submitter || n.org(viewer).Kind == policy.Coordinator
}
