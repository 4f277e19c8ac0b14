package storetest

import (
	"slices"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// checkBefore checks the Before of a change: nil when want is nil, else
// the same policy facts (lists compared sorted).
func (e *env) checkBefore(what string, c model.Change, want *policy.Item) {
	e.Helper()
	got := c.Before
	switch {
	case want == nil && got == nil:
		return
	case want == nil:
		e.Errorf("%s: change %d (%s) has Before %+v, want nil: visibility did not change", what, c.Seq, c.Kind, *got)
		return
	case got == nil:
		e.Errorf("%s: change %d (%s) has no Before, want %+v", what, c.Seq, c.Kind, *want)
		return
	}
	if got.Source != want.Source || got.TLP != want.TLP || got.Audience.Kind != want.Audience.Kind ||
		got.Audience.Group != want.Audience.Group || !slices.Equal(sortedSet(got.Audience.Orgs), sortedSet(want.Audience.Orgs)) ||
		!slices.Equal(sortedSet(got.GroupMembers), sortedSet(want.GroupMembers)) {
		e.Errorf("%s: change %d (%s) has Before %+v, want %+v", what, c.Seq, c.Kind, *got, *want)
	}
}

// lastChanges returns the changes after after, checking how many.
func (e *env) lastChanges(after int64, n int) []model.Change {
	e.Helper()
	cs := e.changes(after, 100)
	if len(cs) != n {
		e.Fatalf("%d change entries after %d, want %d: %v", len(cs), after, n, kinds(cs))
	}
	return cs
}

func testChangeBefore(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	c := e.org("C", policy.Member, "")
	g := e.group("G", a.ID, a.ID, b.ID)
	members := sorted([]string{a.ID, b.ID})

	s := sub(a.ID, indicator.Domain, "before.example")
	last := e.lastSeq()
	e.ingest(s)
	e.checkBefore("created", e.lastChanges(last, 1)[0], nil)

	step := func(what string, edit func(*model.Submission), want *policy.Item) {
		e.Helper()
		edit(&s)
		last := e.lastSeq()
		e.ingest(s)
		e.checkBefore(what, e.lastChanges(last, 1)[0], want)
	}
	step("same audience, new description", func(s *model.Submission) { s.Description = "new" }, nil)
	step("network to a group", func(s *model.Submission) {
		s.TLP, s.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: g.ID}
	}, &policy.Item{Source: a.ID, TLP: policy.Green, Audience: policy.NetworkAudience()})
	step("a group to a list", func(s *model.Submission) {
		s.TLP, s.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID, b.ID}}
	}, &policy.Item{Source: a.ID, TLP: policy.Amber, Audience: policy.Audience{Kind: policy.Group, Group: g.ID}, GroupMembers: members})
	step("a shorter list", func(s *model.Submission) {
		s.Audience = policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID}}
	}, &policy.Item{Source: a.ID, TLP: policy.Red, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{b.ID, c.ID}}})
	step("the same list again", func(s *model.Submission) {
		s.Audience = policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID, c.ID}}
	}, nil)
	step("only the TLP", func(s *model.Submission) { s.TLP = policy.Amber },
		&policy.Item{Source: a.ID, TLP: policy.Red, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID}}})

	id := e.ingest(s)[0].ID
	last = e.lastSeq()
	if _, err := e.st.Revoke(e.ctx, id, now()); err != nil {
		e.Fatal(err)
	}
	e.checkBefore("revoked", e.lastChanges(last, 1)[0], nil)

	// Twice in one Put: the second's Before is what the first left.
	d := sub(b.ID, indicator.IPv4, "203.0.113.9")
	d.TLP, d.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID}}
	e.ingest(d)
	d1, d2 := d, d
	d1.Audience.Orgs = []string{c.ID}
	d2.TLP, d2.Audience = policy.Green, policy.NetworkAudience()
	last = e.lastSeq()
	e.ingest(d1, d2)
	cs := e.lastChanges(last, 2)
	e.checkBefore("first in one put", cs[0], &policy.Item{Source: b.ID, TLP: policy.Red, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID}}})
	e.checkBefore("second in one put", cs[1], &policy.Item{Source: b.ID, TLP: policy.Red, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID}}})
}

func testGroupMembershipChanges(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	p := e.org("P", policy.Partner, "")
	cust := e.org("Customer", policy.Customer, p.ID)
	g := e.group("G", a.ID, a.ID)
	other := e.group("Other", a.ID, a.ID)
	shared := func(v string, group string) model.Submission {
		s := sub(a.ID, indicator.Domain, v)
		s.TLP, s.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: group}
		return s
	}
	res := e.ingest(shared("g1.example", g.ID), shared("g2.example", g.ID), shared("other.example", other.ID), sub(a.ID, indicator.Domain, "net.example"))
	if _, err := e.st.Revoke(e.ctx, res[1].ID, now()); err != nil {
		e.Fatal(err)
	}

	set := func(org string, member bool, wantMembers []string, wantIDs ...string) {
		e.Helper()
		oldMembers, err := e.st.Group(e.ctx, g.ID)
		if err != nil {
			e.Fatal(err)
		}
		last := e.lastSeq()
		if err := e.st.SetGroupMember(e.ctx, g.ID, org, member); err != nil {
			e.Fatal(err)
		}
		cs := e.changes(last, 100)
		var got []string
		for _, c := range cs {
			got = append(got, c.Indicator.ID)
			if c.Kind != model.Updated {
				e.Errorf("membership change wrote a %s change, want updated", c.Kind)
			}
			e.checkBefore("membership change", c, &policy.Item{Source: a.ID, TLP: policy.Amber,
				Audience: policy.Audience{Kind: policy.Group, Group: g.ID}, GroupMembers: oldMembers.Members})
			if !slices.Equal(c.Indicator.GroupMembers, sorted(wantMembers)) {
				e.Errorf("after the membership change the indicator's GroupMembers are %v, want %v", c.Indicator.GroupMembers, sorted(wantMembers))
			}
			if c.Indicator.Seq != c.Seq {
				e.Errorf("indicator %s has seq %d, want its latest change's %d", c.Indicator.ID, c.Indicator.Seq, c.Seq)
			}
		}
		if !sameSet(got, wantIDs) {
			e.Errorf("SetGroupMember(%s, %t) wrote changes for %v, want %v", org, member, got, wantIDs)
		}
	}
	// Every indicator shared with the group, revoked ones too: none of the others.
	set(b.ID, true, []string{a.ID, b.ID}, res[0].ID, res[1].ID)
	set(b.ID, true, []string{a.ID, b.ID}) // already a member: nothing changes
	set(p.ID, true, []string{a.ID, b.ID, p.ID}, res[0].ID, res[1].ID)
	if _, err := e.st.Indicator(e.ctx, e.viewer(cust.ID), res[0].ID); err != nil {
		e.Errorf("the customer of a partner that joined the group cannot see amber shared with it: %v", err)
	}
	set(b.ID, false, []string{a.ID, p.ID}, res[0].ID, res[1].ID)
	set(b.ID, false, []string{a.ID, p.ID})
	if _, err := e.st.Indicator(e.ctx, e.viewer(b.ID), res[0].ID); err == nil {
		e.Errorf("B still sees an indicator of a group it left")
	}
	// The moved indicators come last in a listing by seq.
	list := ids(e.list(e.viewer(a.ID), store.Query{IncludeRevoked: true}))
	if len(list) != 4 || list[3] != res[0].ID && list[3] != res[1].ID {
		e.Errorf("after membership changes A lists %v: want the group's indicators last", list)
	}
}
