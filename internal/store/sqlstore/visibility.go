package sqlstore

import (
	"database/sql"
	"strings"

	"github.com/hdnetwork/hdn/internal/policy"
)

// Visibility is policy.CanSee as an SQL condition, so that what a viewer may
// see is decided inside the query and paging and counts are right. It must
// say exactly what CanSee says; the conformance suite checks it against
// CanSee on random networks.
//
// t is the alias of the table of the item (indicators or reports), which has
// the columns source, tlp, audience_kind and audience_group; audience is the
// condition that organisation ":X" is in the item's explicit audience list,
// with X standing for the parameter name.
//
// Group membership is read from group_members in the same snapshot, which is
// what the store hands to CanSee as the item's GroupMembers; the viewer's
// own Groups are not needed. The viewer's Kind, Partner and Customers are
// taken from v as given, as CanSee takes them.
//
// The condition uses the named parameters :vorg, :vpartner and :vcustomers;
// args appends their values.
type Visibility struct {
	t        string
	audience func(param string) string
}

// The visibility of indicators (alias i) and of reports (alias r).
var (
	IndicatorVisibility = Visibility{t: "i", audience: func(p string) string {
		return "EXISTS (SELECT 1 FROM indicator_audience a WHERE a.indicator_n = i.n AND a.org_id = :" + p + ")"
	}}
	reportVisibility = Visibility{t: "r", audience: func(p string) string {
		return "EXISTS (SELECT 1 FROM report_audience a WHERE a.report_id = r.id AND a.org_id = :" + p + ")"
	}}
)

// Cond returns the condition for viewer v, in dialect d. A viewer without
// an organisation sees nothing: Cond is then d.False.
func (vis Visibility) Cond(d *Dialect, v policy.Viewer, args *[]any) string {
	if v.OrgID == "" {
		return d.False
	}
	t := vis.t
	var b strings.Builder
	b.WriteString("(")
	// The source sees its own items.
	b.WriteString(t + ".source = :vorg")
	*args = append(*args, sql.Named("vorg", v.OrgID))
	// A partner sees what its customers share.
	if v.Kind == policy.Partner && len(v.Customers) > 0 {
		b.WriteString(" OR " + t + ".source IN (" + d.TextArray(":vcustomers") + ")")
		*args = append(*args, sql.Named("vcustomers", JSONStrings(v.Customers)))
	}
	// clear, green, amber, amber+strict: organisations in the audience.
	b.WriteString(" OR (" + t + ".tlp IN ('clear','green','amber','amber+strict') AND " + vis.admits("vorg", v.Kind) + ")")
	// clear, green, amber: also the customers of a partner in the audience.
	if v.Kind == policy.Customer && v.Partner != "" {
		b.WriteString(" OR (" + t + ".tlp IN ('clear','green','amber') AND " + vis.admits("vpartner", policy.Partner) + ")")
		*args = append(*args, sql.Named("vpartner", v.Partner))
	}
	// red: only organisations named in an explicit list.
	b.WriteString(" OR (" + t + ".tlp = 'red' AND " + t + ".audience_kind = 'orgs' AND " + vis.audience("vorg") + ")")
	b.WriteString(")")
	return b.String()
}

// admits is the condition that the organisation in parameter p, of the
// given kind, is itself in the item's audience. The whole network is the
// organisations connected directly: not customers, whom their partner
// reaches. Stored audiences are normalised: a kind of "" is stored as
// 'network'.
func (vis Visibility) admits(p string, kind policy.OrgKind) string {
	t := vis.t
	network := ""
	if kind != policy.Customer {
		network = t + ".audience_kind = 'network' OR "
	}
	return "(" + network +
		"(" + t + ".audience_kind = 'group' AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = " + t + ".audience_group AND m.org_id = :" + p + "))" +
		" OR (" + t + ".audience_kind = 'orgs' AND " + vis.audience(p) + "))"
}
