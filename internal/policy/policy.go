// Package policy decides who may see what in the network: TLP 2.0 levels,
// audiences (the whole network, a sharing group, an explicit list of
// organisations), the relay of a partner to its customers, and anonymity of
// sources. It is pure: it knows nothing of storage or HTTP. Every read path of
// the hub asks CanSee (or runs the store's query that implements the same
// rule, and then asks CanSee again before sending anything).
package policy

import (
	"fmt"
	"slices"
	"strings"
)

// TLP is a Traffic Light Protocol 2.0 level.
type TLP string

// The TLP 2.0 levels, from most to least open.
const (
	Clear       TLP = "clear"
	Green       TLP = "green"
	Amber       TLP = "amber"
	AmberStrict TLP = "amber+strict"
	Red         TLP = "red"
)

// TLPs lists every level, from most to least open.
var TLPs = []TLP{Clear, Green, Amber, AmberStrict, Red}

// ParseTLP accepts a level as users and other tools write it: "amber",
// "TLP:AMBER", "amber+strict", and the TLP 1.0 name "white" for clear.
func ParseTLP(s string) (TLP, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, "tlp:")
	switch v {
	case "clear", "white":
		return Clear, nil
	case "green":
		return Green, nil
	case "amber":
		return Amber, nil
	case "amber+strict", "amber-strict", "amber_strict":
		return AmberStrict, nil
	case "red":
		return Red, nil
	}
	return "", fmt.Errorf("tlp %q is not one of clear, green, amber, amber+strict, red", s)
}

// OrgKind is the kind of a participating organisation (DESIGN.md section 2).
type OrgKind string

// The organisation kinds.
const (
	Coordinator  OrgKind = "coordinator"
	Member       OrgKind = "member"
	Partner      OrgKind = "partner"
	Customer     OrgKind = "customer"
	NationalCERT OrgKind = "national-cert"
	PeerHub      OrgKind = "peer-hub"
)

// OrgKinds lists every kind.
var OrgKinds = []OrgKind{Coordinator, Member, Partner, Customer, NationalCERT, PeerHub}

// ParseOrgKind checks an organisation kind.
func ParseOrgKind(s string) (OrgKind, error) {
	k := OrgKind(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(OrgKinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("organisation kind %q is not one of coordinator, member, partner, customer, national-cert, peer-hub", s)
}

// Role is what a key or user may do inside its organisation.
type Role string

// The roles, from most to least privileged.
const (
	Admin    Role = "admin"
	Analyst  Role = "analyst"
	Sensor   Role = "sensor"
	ReadOnly Role = "readonly"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Analyst, Sensor, ReadOnly:
		return r, nil
	}
	return "", fmt.Errorf("role %q is not one of admin, analyst, sensor, readonly", s)
}

// CanSubmit says whether a role may submit, revoke and annotate indicators.
func (r Role) CanSubmit() bool { return r == Admin || r == Analyst }

// CanReportSightings says whether a role may report sightings.
func (r Role) CanReportSightings() bool { return r == Admin || r == Analyst || r == Sensor }

// AudienceKind says how an audience is given.
type AudienceKind string

// The audience kinds.
const (
	Network AudienceKind = "network"
	Group   AudienceKind = "group"
	Orgs    AudienceKind = "orgs"
)

// Audience is who an indicator or report is meant for. Group and Orgs hold
// ids (a group id, organisation ids), never names: names are resolved at the
// edge.
type Audience struct {
	Kind  AudienceKind
	Group string
	Orgs  []string
}

// NetworkAudience is the default audience: every organisation.
func NetworkAudience() Audience { return Audience{Kind: Network} }

// Viewer is an organisation that reads, with the facts the rule needs.
type Viewer struct {
	OrgID   string
	Kind    OrgKind
	Partner string   // for a customer: the id of its partner
	Groups  []string // ids of the sharing groups it belongs to
	// Customers holds, for a partner, the ids of its customers.
	Customers []string

	// Set by Numbering.Viewer: the numbers of OrgID and Partner, for
	// member sets of the same numbering, and the ids they were given for (a
	// number stands for its id only while OrgID and Partner are unchanged).
	numbering                 *Numbering
	num, partnerNum           uint32
	numberedOrg, numberedPart string
}

// Item is what the rule needs to know about an indicator (or report,
// or anything else carrying a TLP and an audience).
type Item struct {
	Source   string // organisation id of the true source
	TLP      TLP
	Audience Audience
	// GroupMembers holds the member organisation ids of Audience.Group when
	// the audience is a group.
	GroupMembers []string
	// GroupSet, when not nil, holds exactly the ids of GroupMembers, for
	// items read by many viewers (Numbering.Set builds it once).
	GroupSet *MemberSet
}

// SameDecision says whether every viewer's CanSee answers the same for a
// and b, because they carry the same facts: source, TLP and audience (a
// group's members included). The stream uses it to decide once for a run
// of changes a bulk submission made.
func SameDecision(a, b *Item) bool {
	if a.Source != b.Source || a.TLP != b.TLP || a.Audience.Kind != b.Audience.Kind ||
		a.Audience.Group != b.Audience.Group || !slices.Equal(a.Audience.Orgs, b.Audience.Orgs) {
		return false
	}
	if a.Audience.Kind != Group {
		return true
	}
	// A member set stands for GroupMembers only where both have one of
	// the same numbering, so the members are compared.
	return sameStrings(a.GroupMembers, b.GroupMembers)
}

// sameStrings is slices.Equal, quick for the shared slice a store gives
// every indicator of one group.
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

// inAudience says whether organisation id, of the given kind, is itself in
// the audience. The whole network means the organisations connected to it
// directly: a partner's customers are reached through their partner (so they
// receive what TLP lets a partner relay, and not amber+strict), unless a
// group or a list names them.
func (it Item) inAudience(id string, kind OrgKind, n number) bool {
	if id == "" {
		return false
	}
	switch it.Audience.Kind {
	case Network, "":
		return kind != Customer
	case Group:
		if in, ok := it.GroupSet.member(n); ok {
			return in
		}
		return slices.Contains(it.GroupMembers, id)
	case Orgs:
		return slices.Contains(it.Audience.Orgs, id)
	}
	return false
}

// CanSee is the one function that decides whether viewer may see item.
//
//   - The source always sees its own items, and a partner sees what its
//     customers share (it shares on their behalf and relays to them).
//   - clear, green, amber: every organisation in the audience, and the
//     customers of a partner in the audience.
//   - amber+strict: only organisations in the audience themselves; the whole
//     network means the directly connected organisations, so customers of
//     partners see it only when a group or list names them.
//   - red: only organisations named in an explicit list.
func CanSee(v Viewer, it Item) bool {
	if v.OrgID == "" {
		return false
	}
	if v.OrgID == it.Source {
		return true
	}
	if v.Kind == Partner && slices.Contains(v.Customers, it.Source) {
		return true
	}
	switch it.TLP {
	case Clear, Green, Amber:
		return it.inAudience(v.OrgID, v.Kind, v.numberOf(v.OrgID)) ||
			(v.Kind == Customer && it.inAudience(v.Partner, Partner, v.numberOf(v.Partner)))
	case AmberStrict:
		return it.inAudience(v.OrgID, v.Kind, v.numberOf(v.OrgID))
	case Red:
		return it.Audience.Kind == Orgs && slices.Contains(it.Audience.Orgs, v.OrgID)
	}
	return false
}

// CheckAudience refuses combinations that the policy forbids: red needs an
// explicit list of organisations, and an explicit list must not be empty.
func CheckAudience(t TLP, a Audience) error {
	switch a.Kind {
	case Network, "":
	case Group:
		if a.Group == "" {
			return fmt.Errorf("audience group is empty")
		}
	case Orgs:
		if len(a.Orgs) == 0 {
			return fmt.Errorf("audience orgs is an empty list")
		}
	default:
		return fmt.Errorf("audience kind %q is not one of network, group, orgs", a.Kind)
	}
	if t == Red && a.Kind != Orgs {
		return fmt.Errorf("tlp red needs an explicit list of organisations as audience (\"audience\": {\"orgs\": [...]}), not %s", kindOr(a.Kind))
	}
	return nil
}

func kindOr(k AudienceKind) string {
	if k == "" {
		return "the whole network"
	}
	if k == Network {
		return "the whole network"
	}
	return "a " + string(k)
}

// SeesTrueSource says whether viewer may learn the true source of an
// anonymous item: only the source itself, the organisation that submitted it
// (a partner on behalf of its customer) and the coordinator.
func SeesTrueSource(v Viewer, source, submitter string) bool {
	return v.OrgID == source || v.OrgID == submitter || v.Kind == Coordinator
}

// SeesSighters says whether viewer may see which organisations sighted an
// item; everyone else who may see the item sees only how many did. A peer
// hub, though the source of the copies it delivered, sees only counts:
// which of this hub's organisations saw what stays on this hub (sightings
// cross hubs aggregated).
func SeesSighters(v Viewer, source string) bool {
	return (v.OrgID == source && v.Kind != PeerHub) || v.Kind == Coordinator
}
