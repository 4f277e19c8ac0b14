package policytest

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/hdnetwork/hdn/internal/policy"
)

// RandomNetwork builds a network with a coordinator, 2–4 members, 1–3
// partners with 0–3 customers each, a national CERT and 1–3 groups with
// random members (often including a partner), and the policy.Viewer of each
// organisation. prefix makes the ids and names unique.
func RandomNetwork(rng *rand.Rand, prefix string) (*Network, []policy.Viewer) {
	n := &Network{Groups: map[string][]string{}}
	add := func(kind policy.OrgKind, partner string) string {
		id := fmt.Sprintf("%s-%s-%d", prefix, kind, len(n.Orgs))
		n.Orgs = append(n.Orgs, Org{ID: id, Name: id, Kind: kind, Partner: partner})
		return id
	}
	add(policy.Coordinator, "")
	for range 2 + rng.IntN(3) {
		add(policy.Member, "")
	}
	for range 1 + rng.IntN(3) {
		p := add(policy.Partner, "")
		for range rng.IntN(4) {
			add(policy.Customer, p)
		}
	}
	add(policy.NationalCERT, "")
	for g := range 1 + rng.IntN(3) {
		id := fmt.Sprintf("%s-group-%d", prefix, g)
		var members []string
		for _, o := range n.Orgs {
			if rng.IntN(3) == 0 || (o.Kind == policy.Partner && rng.IntN(2) == 0) {
				members = append(members, o.ID)
			}
		}
		n.Groups[id] = members
	}
	return n, n.Viewers()
}

// Viewers gives the policy facts of every organisation, as a store builds them.
func (n *Network) Viewers() []policy.Viewer {
	var vs []policy.Viewer
	for _, o := range n.Orgs {
		v := policy.Viewer{OrgID: o.ID, Kind: o.Kind, Partner: o.Partner}
		for g, members := range n.Groups {
			if slices.Contains(members, o.ID) {
				v.Groups = append(v.Groups, g)
			}
		}
		for _, c := range n.Orgs {
			if c.Partner == o.ID {
				v.Customers = append(v.Customers, c.ID)
			}
		}
		vs = append(vs, v)
	}
	return vs
}

// GroupIDs lists the groups in a stable order.
func (n *Network) GroupIDs() []string {
	var ids []string
	for g := range n.Groups {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	return ids
}

// RandomIndicator picks a source, a TLP and an audience that the API accepts
// (red only with an explicit list).
func RandomIndicator(rng *rand.Rand, n *Network) Indicator {
	ind := Indicator{
		Source:    n.Orgs[rng.IntN(len(n.Orgs))].ID,
		TLP:       policy.TLPs[rng.IntN(len(policy.TLPs))],
		Anonymous: rng.IntN(4) == 0,
	}
	kinds := []policy.AudienceKind{policy.Network, policy.Group, policy.Orgs}
	if ind.TLP == policy.Red {
		kinds = []policy.AudienceKind{policy.Orgs}
	}
	ind.Audience = kinds[rng.IntN(len(kinds))]
	switch ind.Audience {
	case policy.Group:
		gs := n.GroupIDs()
		ind.Group = gs[rng.IntN(len(gs))]
	case policy.Orgs:
		for _, o := range n.Orgs {
			if rng.IntN(4) == 0 {
				ind.Orgs = append(ind.Orgs, o.ID)
			}
		}
		if len(ind.Orgs) == 0 {
			ind.Orgs = []string{n.Orgs[rng.IntN(len(n.Orgs))].ID}
		}
	}
	return ind
}
