package storetest

import (
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testTouched: an indicator's Touched time follows its own changes (equal to
// Modified) and also moves, with its seq, when who may see it changes — a
// member joins its group, its source customer moves to another partner, or a
// partner named in its audience gains the customer — while Modified stays;
// Query.Since goes by Touched, so the organisation that may newly see an
// indicator finds it in a "changed since" listing.
func testTouched(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	x := e.org("X", policy.Member, "")
	p1 := e.org("P1", policy.Partner, "")
	p2 := e.org("P2", policy.Partner, "")
	c := e.org("C", policy.Customer, p1.ID)
	g := e.group("G", a.ID, a.ID)

	grouped := sub(a.ID, indicator.Domain, "grouped.example")
	grouped.TLP, grouped.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: g.ID}
	toP2 := sub(a.ID, indicator.Domain, "to-p2.example")
	toP2.TLP, toP2.Audience = policy.Amber, policy.Audience{Kind: policy.Orgs, Orgs: []string{p2.ID}}
	own := sub(c.ID, indicator.Domain, "customer-own.example")
	own.TLP, own.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{x.ID}}
	res := e.ingest(grouped, toP2, own, sub(a.ID, indicator.Domain, "network.example"))
	all := []string{res[0].ID, res[1].ID, res[2].ID, res[3].ID}
	before := map[string]model.Indicator{}
	for _, id := range all {
		ind := e.byID(id)
		if ind.Touched.IsZero() || !ind.Touched.Equal(ind.Modified) {
			e.Errorf("a new indicator's Touched is %v, want its Modified %v", ind.Touched, ind.Modified)
		}
		before[id] = ind
	}
	if r, err := e.st.Revoke(e.ctx, res[3].ID, time.Now()); err != nil || !r.Touched.Equal(r.Modified) || !r.Touched.After(before[res[3].ID].Touched) {
		e.Errorf("Revoke: Touched %v, Modified %v (before %v), %v; want both moved, equal", r.Touched, r.Modified, before[res[3].ID].Touched, err)
	} else {
		before[res[3].ID] = r
	}

	// check says that exactly the indicators moved were touched after
	// since, with their seq moved and Modified kept.
	check := func(what string, since time.Time, moved ...string) {
		e.Helper()
		for _, id := range all {
			old, now := before[id], e.byID(id)
			if !now.Modified.Equal(old.Modified) {
				e.Errorf("%s: Modified of %s moved from %v to %v", what, old.Value, old.Modified, now.Modified)
			}
			switch {
			case slices.Contains(moved, id) && (now.Touched.Before(since) || now.Seq <= old.Seq):
				e.Errorf("%s: %s has Touched %v and seq %d (was %d), want Touched at or after %v and a later seq", what, old.Value, now.Touched, now.Seq, old.Seq, since)
			case !slices.Contains(moved, id) && (!now.Touched.Equal(old.Touched) || now.Seq != old.Seq):
				e.Errorf("%s: %s was touched (Touched %v -> %v, seq %d -> %d), want it unchanged", what, old.Value, old.Touched, now.Touched, old.Seq, now.Seq)
			}
			before[id] = now
		}
	}
	sinceIDs := func(org string, since time.Time) []string {
		e.Helper()
		return ids(e.list(e.viewer(org), store.Query{Since: since, IncludeRevoked: true}))
	}

	// A member joins the group: its indicators are new to it.
	t0 := time.Now()
	if err := e.st.SetGroupMember(e.ctx, g.ID, b.ID, true); err != nil {
		e.Fatal(err)
	}
	check("SetGroupMember", t0, res[0].ID)
	if got := sinceIDs(b.ID, t0); !sameSet(got, []string{res[0].ID}) {
		e.Errorf("after joining the group, B's listing since the join holds %v, want the group's indicator %s", got, res[0].ID)
	}

	// The customer moves from P1 to P2: P2 may newly see what C shares, and C
	// what is shared with P2; change entries tell the stream.
	last := e.lastSeq()
	t1 := time.Now()
	if err := e.st.SetOrgPartner(e.ctx, c.ID, p2.ID); err != nil {
		e.Fatal(err)
	}
	check("SetOrgPartner", t1, res[1].ID, res[2].ID)
	if got := sinceIDs(p2.ID, t1); !slices.Contains(got, res[2].ID) {
		e.Errorf("after the move, P2's listing since the move holds %v, want its new customer's %s", got, res[2].ID)
	}
	if got := sinceIDs(c.ID, t1); !sameSet(got, []string{res[1].ID, res[2].ID}) {
		e.Errorf("after the move, C's listing since the move holds %v, want %v", got, []string{res[1].ID, res[2].ID})
	}
	var changed []string
	for _, ch := range e.changes(last, 100) {
		changed = append(changed, ch.Indicator.ID)
		if ch.Kind != model.Updated || ch.Indicator.Seq != ch.Seq {
			e.Errorf("the move wrote a %s change at %d for an indicator at seq %d, want updated, the indicator's seq", ch.Kind, ch.Seq, ch.Indicator.Seq)
		}
	}
	if !sameSet(changed, []string{res[1].ID, res[2].ID}) {
		e.Errorf("the move wrote changes for %v, want %v", changed, []string{res[1].ID, res[2].ID})
	}
	for _, org := range []string{c.ID, p1.ID, p2.ID} {
		if floor, err := e.st.ViewFloor(e.ctx, org); err != nil || floor != e.lastSeq() {
			e.Errorf("ViewFloor(%s) after the move = %d, %v; want the newest change %d", org, floor, err, e.lastSeq())
		}
	}
	// Moving to the partner it has changes no one's view.
	t2 := time.Now()
	if err := e.st.SetOrgPartner(e.ctx, c.ID, p2.ID); err != nil {
		e.Fatal(err)
	}
	check("SetOrgPartner to the same partner", t2)
}
