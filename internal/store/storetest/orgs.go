package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func sameOrg(a, b model.Org) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && a.Partner == b.Partner &&
		a.Created.Equal(b.Created) && a.Revoked == b.Revoked
}

func testOrgs(e *env) {
	coord := e.org("Sector CERT", policy.Coordinator, "")
	if coord.ID == "" || !recent(coord.Created) || coord.Name != "Sector CERT" || coord.Kind != policy.Coordinator {
		e.Fatalf("CreateOrg returned %+v: want an ID, a Created time, the name and kind", coord)
	}
	member := e.org("Ziekenhuis Oost", policy.Member, "")
	if member.ID == coord.ID {
		e.Fatalf("two organisations got the same ID %s", member.ID)
	}
	for _, ref := range []string{coord.ID, "Sector CERT", "sector cert", "SECTOR CERT"} {
		got, err := e.st.Org(e.ctx, ref)
		if err != nil {
			e.Errorf("Org(%q): %v", ref, err)
			continue
		}
		if !sameOrg(got, coord) {
			e.Errorf("Org(%q) = %+v, want %+v", ref, got, coord)
		}
	}
	_, err := e.st.Org(e.ctx, "no such org")
	e.wantErr(err, store.ErrNotFound, "Org of an unknown name")

	_, err = e.st.CreateOrg(e.ctx, model.Org{Name: "sector CERT", Kind: policy.Member})
	e.wantErr(err, store.ErrConflict, "CreateOrg with a name taken in another case")

	partner := e.org("MSSP One", policy.Partner, "")
	cust := e.org("Kliniek West", policy.Customer, partner.ID)
	if cust.Partner != partner.ID {
		e.Errorf("customer's Partner = %q, want %q", cust.Partner, partner.ID)
	}
	if got, err := e.st.Org(e.ctx, cust.ID); err != nil || !sameOrg(got, cust) {
		e.Errorf("Org(customer) = %+v, %v; want %+v", got, err, cust)
	}

	refused := []struct {
		what string
		o    model.Org
	}{
		{"a customer without partner", model.Org{Name: "Orphan", Kind: policy.Customer}},
		{"a customer whose partner is not a partner", model.Org{Name: "Wrong Partner", Kind: policy.Customer, Partner: member.ID}},
		{"a customer whose partner does not exist", model.Org{Name: "Ghost Partner", Kind: policy.Customer, Partner: "no-such-org"}},
		{"a member with a partner", model.Org{Name: "Member With Partner", Kind: policy.Member, Partner: partner.ID}},
		{"an unknown kind", model.Org{Name: "Odd", Kind: "vendor"}},
		{"an empty name", model.Org{Name: "", Kind: policy.Member}},
	}
	for _, r := range refused {
		if _, err := e.st.CreateOrg(e.ctx, r.o); err == nil {
			e.Errorf("CreateOrg accepted %s", r.what)
		}
		if r.o.Name != "" {
			if _, err := e.st.Org(e.ctx, r.o.Name); !errors.Is(err, store.ErrNotFound) {
				e.Errorf("after the refused CreateOrg of %s, Org(%q) gives %v, want ErrNotFound", r.what, r.o.Name, err)
			}
		}
	}

	all, err := e.st.ListOrgs(e.ctx)
	if err != nil {
		e.Fatalf("ListOrgs: %v", err)
	}
	var got []string
	for _, o := range all {
		got = append(got, o.ID)
	}
	if want := []string{coord.ID, member.ID, partner.ID, cust.ID}; !sameSet(got, want) {
		e.Errorf("ListOrgs = %v, want %v", got, want)
	}
}

func testViewer(e *env) {
	coord := e.org("Coordinator", policy.Coordinator, "")
	member := e.org("Member", policy.Member, "")
	partner := e.org("Partner", policy.Partner, "")
	lonely := e.org("Partner Without Customers", policy.Partner, "")
	c1 := e.org("Customer 1", policy.Customer, partner.ID)
	c2 := e.org("Customer 2", policy.Customer, partner.ID)
	g1 := e.group("G1", coord.ID, member.ID, partner.ID)
	g2 := e.group("G2", coord.ID, member.ID)

	check := func(orgID string, kind policy.OrgKind, partnerID string, groups, customers []string) {
		e.Helper()
		v := e.viewer(orgID)
		if v.OrgID != orgID || v.Kind != kind || v.Partner != partnerID {
			e.Errorf("Viewer(%s) = %+v, want org %s, kind %s, partner %q", orgID, v, orgID, kind, partnerID)
		}
		if !sameSet(v.Groups, groups) {
			e.Errorf("Viewer(%s).Groups = %v, want %v", orgID, v.Groups, groups)
		}
		if !sameSet(v.Customers, customers) {
			e.Errorf("Viewer(%s).Customers = %v, want %v", orgID, v.Customers, customers)
		}
	}
	check(coord.ID, policy.Coordinator, "", nil, nil)
	check(member.ID, policy.Member, "", []string{g1.ID, g2.ID}, nil)
	check(partner.ID, policy.Partner, "", []string{g1.ID}, []string{c1.ID, c2.ID})
	check(lonely.ID, policy.Partner, "", nil, nil)
	check(c1.ID, policy.Customer, partner.ID, nil, nil)

	// Every change of what a Viewer is made of moves the authentication
	// epoch, so that a principal cached at one epoch is read again.
	moves := func(what string, change func()) {
		e.Helper()
		before, err := e.st.AuthEpoch(e.ctx)
		if err != nil {
			e.Fatal(err)
		}
		change()
		if after, err := e.st.AuthEpoch(e.ctx); err != nil || after <= before {
			e.Errorf("%s: the authentication epoch went %d → %d (%v), want it to grow", what, before, after, err)
		}
	}
	moves("a member added to a group", func() {
		if err := e.st.SetGroupMember(e.ctx, g2.ID, c1.ID, true); err != nil {
			e.Fatal(err)
		}
	})
	check(c1.ID, policy.Customer, partner.ID, []string{g2.ID}, nil)
	moves("a member removed from a group", func() {
		if err := e.st.SetGroupMember(e.ctx, g2.ID, member.ID, false); err != nil {
			e.Fatal(err)
		}
	})
	check(member.ID, policy.Member, "", []string{g1.ID}, nil)
	var c3 model.Org
	moves("a new customer", func() { c3 = e.org("Customer 3", policy.Customer, partner.ID) })
	check(partner.ID, policy.Partner, "", []string{g1.ID}, []string{c1.ID, c2.ID, c3.ID})
	moves("a new group", func() { e.group("G3", coord.ID, lonely.ID) })

	_, err := e.st.Viewer(e.ctx, "no-such-org")
	e.wantErr(err, store.ErrNotFound, "Viewer of an unknown organisation")
}

func sameKey(a, b model.Key) bool {
	return a.ID == b.ID && a.OrgID == b.OrgID && a.Role == b.Role && a.Name == b.Name &&
		slices.Equal(a.Hash, b.Hash) && a.Created.Equal(b.Created) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.Revoked == b.Revoked && a.LastUsed.Equal(b.LastUsed)
}

func testKeys(e *env) {
	org1 := e.org("Org 1", policy.Member, "")
	org2 := e.org("Org 2", policy.Member, "")
	now := time.Now().UTC().Truncate(time.Microsecond)
	k1 := model.Key{ID: "k1", OrgID: org1.ID, Role: policy.Analyst, Name: "soc", Hash: []byte{1, 2, 3, 0, 255},
		Created: now, ExpiresAt: now.Add(time.Hour)}
	k2 := model.Key{ID: "k2", OrgID: org2.ID, Role: policy.Sensor, Hash: []byte{9}, Created: now.Add(time.Second)}
	k3 := model.Key{ID: "k3", OrgID: org1.ID, Role: policy.Admin, Hash: []byte{7}, Created: now.Add(2 * time.Second)}
	for _, k := range []model.Key{k1, k2, k3} {
		if err := e.st.CreateKey(e.ctx, k); err != nil {
			e.Fatalf("CreateKey(%s): %v", k.ID, err)
		}
	}
	got, err := e.st.KeyByID(e.ctx, "k1")
	if err != nil || !sameKey(got, k1) {
		e.Errorf("KeyByID(k1) = %+v, %v; want %+v", got, err, k1)
	}
	if !got.Usable(now) || got.Usable(now.Add(2*time.Hour)) {
		e.Errorf("key k1 usable now %t, after expiry %t; want true, false", got.Usable(now), got.Usable(now.Add(2*time.Hour)))
	}
	err = e.st.CreateKey(e.ctx, model.Key{ID: "k1", OrgID: org2.ID, Role: policy.ReadOnly, Hash: []byte{1}})
	e.wantErr(err, store.ErrConflict, "CreateKey with a taken ID")
	if got, _ := e.st.KeyByID(e.ctx, "k1"); got.OrgID != org1.ID {
		e.Errorf("the refused CreateKey changed key k1: %+v", got)
	}
	if err := e.st.CreateKey(e.ctx, model.Key{ID: "k4", OrgID: "no-such-org", Role: policy.Admin, Hash: []byte{1}}); err == nil {
		e.Errorf("CreateKey accepted a key of an unknown organisation")
	}
	withoutCreated := model.Key{ID: "k5", OrgID: org2.ID, Role: policy.ReadOnly, Hash: []byte{5}}
	if err := e.st.CreateKey(e.ctx, withoutCreated); err != nil {
		e.Fatal(err)
	}
	if got, err := e.st.KeyByID(e.ctx, "k5"); err != nil || !recent(got.Created) {
		e.Errorf("a key created without Created: %+v, %v; want Created set", got, err)
	}

	listed := func(orgID string) []string {
		keys, err := e.st.ListKeys(e.ctx, orgID)
		if err != nil {
			e.Fatalf("ListKeys(%q): %v", orgID, err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
			if len(k.Hash) == 0 {
				e.Errorf("ListKeys(%q): key %s without its hash", orgID, k.ID)
			}
		}
		return out
	}
	if got := listed(org1.ID); !sameSet(got, []string{"k1", "k3"}) {
		e.Errorf("ListKeys(org1) = %v, want k1, k3", got)
	}
	if got := listed(""); !sameSet(got, []string{"k1", "k2", "k3", "k5"}) {
		e.Errorf("ListKeys(\"\") = %v, want k1, k2, k3, k5", got)
	}

	if err := e.st.RevokeKey(e.ctx, "k1"); err != nil {
		e.Fatal(err)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k1"); !got.Revoked || got.Usable(now) {
		e.Errorf("after RevokeKey: %+v, want revoked and not usable", got)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k3"); got.Revoked {
		e.Errorf("RevokeKey(k1) revoked k3 too")
	}
	e.wantErr(e.st.RevokeKey(e.ctx, "nope"), store.ErrNotFound, "RevokeKey of an unknown key")

	used := now.Add(10 * time.Minute)
	if err := e.st.TouchKeys(e.ctx, map[string]time.Time{"k3": used, "k1": used.Add(-time.Minute), "nope": used}); err != nil {
		e.Fatalf("TouchKeys (one unknown key among them): %v", err)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k3"); !got.LastUsed.Equal(used) {
		e.Errorf("after TouchKeys: k3 LastUsed %v, want %v", got.LastUsed, used)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k1"); !got.LastUsed.Equal(used.Add(-time.Minute)) {
		e.Errorf("after TouchKeys: k1 LastUsed %v, want %v", got.LastUsed, used.Add(-time.Minute))
	}
	if err := e.st.TouchKeys(e.ctx, map[string]time.Time{"k3": used.Add(-time.Hour)}); err != nil {
		e.Fatal(err)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k3"); !got.LastUsed.Equal(used) {
		e.Errorf("an older use moved LastUsed back to %v", got.LastUsed)
	}
	if err := e.st.TouchKeys(e.ctx, nil); err != nil {
		e.Errorf("TouchKeys of none: %v", err)
	}
	_, err = e.st.KeyByID(e.ctx, "nope")
	e.wantErr(err, store.ErrNotFound, "KeyByID of an unknown key")

	// SetKeyExpiry: a key rotated out expires later, or at once; the
	// authentication epoch moves so that open streams are checked again.
	epoch, err := e.st.AuthEpoch(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	at := now.Add(24 * time.Hour)
	if err := e.st.SetKeyExpiry(e.ctx, "k3", at); err != nil {
		e.Fatalf("SetKeyExpiry(k3): %v", err)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k3"); !got.ExpiresAt.Equal(at) || !got.Usable(now) || got.Usable(at) {
		e.Errorf("after SetKeyExpiry(k3, %v): %+v, want it to expire then", at, got)
	}
	if n, err := e.st.AuthEpoch(e.ctx); err != nil || n == epoch {
		e.Errorf("SetKeyExpiry did not move the authentication epoch (%d → %d, %v)", epoch, n, err)
	}
	if err := e.st.SetKeyExpiry(e.ctx, "k3", time.Time{}); err != nil {
		e.Fatal(err)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k3"); !got.ExpiresAt.IsZero() || !got.Usable(now.Add(1000*time.Hour)) {
		e.Errorf("after SetKeyExpiry(k3, zero): %+v, want no expiry", got)
	}
	if got, _ := e.st.KeyByID(e.ctx, "k2"); !got.ExpiresAt.IsZero() {
		e.Errorf("SetKeyExpiry(k3) changed k2: %+v", got)
	}
	e.wantErr(e.st.SetKeyExpiry(e.ctx, "nope", at), store.ErrNotFound, "SetKeyExpiry of an unknown key")
}

func testGroups(e *env) {
	owner := e.org("Owner", policy.Coordinator, "")
	m := e.org("M", policy.Member, "")
	p := e.org("P", policy.Partner, "")
	c := e.org("C", policy.Customer, p.ID)

	g := e.group("Regio Noord", owner.ID, p.ID, m.ID, m.ID)
	if g.ID == "" || !recent(g.Created) || g.Owner != owner.ID {
		e.Fatalf("CreateGroup returned %+v", g)
	}
	if !slices.Equal(g.Members, sorted([]string{m.ID, p.ID})) {
		e.Errorf("CreateGroup members %v, want %v (sorted, once each)", g.Members, sorted([]string{m.ID, p.ID}))
	}
	members := func(ref string) []string {
		e.Helper()
		got, err := e.st.Group(e.ctx, ref)
		if err != nil {
			e.Fatalf("Group(%q): %v", ref, err)
		}
		if got.ID != g.ID || got.Name != g.Name || got.Owner != owner.ID || !got.Created.Equal(g.Created) {
			e.Errorf("Group(%q) = %+v, want %+v", ref, got, g)
		}
		return got.Members
	}
	for _, ref := range []string{g.ID, "Regio Noord", "regio noord"} {
		if got := members(ref); !slices.Equal(got, g.Members) {
			e.Errorf("Group(%q).Members = %v, want %v", ref, got, g.Members)
		}
	}
	_, err := e.st.CreateGroup(e.ctx, model.Group{Name: "REGIO NOORD", Owner: owner.ID})
	e.wantErr(err, store.ErrConflict, "CreateGroup with a name taken in another case")
	_, err = e.st.Group(e.ctx, "no such group")
	e.wantErr(err, store.ErrNotFound, "Group of an unknown name")

	set := func(orgID string, member bool) {
		e.Helper()
		if err := e.st.SetGroupMember(e.ctx, g.ID, orgID, member); err != nil {
			e.Fatalf("SetGroupMember(%s, %t): %v", orgID, member, err)
		}
	}
	set(c.ID, true)
	set(c.ID, true) // again: no error, no duplicate
	if got, want := members(g.ID), sorted([]string{m.ID, p.ID, c.ID}); !slices.Equal(got, want) {
		e.Errorf("after adding C: members %v, want %v", got, want)
	}
	set(m.ID, false)
	set(m.ID, false)
	if got, want := members(g.ID), sorted([]string{p.ID, c.ID}); !slices.Equal(got, want) {
		e.Errorf("after removing M: members %v, want %v", got, want)
	}
	e.wantErr(e.st.SetGroupMember(e.ctx, "no-such-group", m.ID, true), store.ErrNotFound, "SetGroupMember of an unknown group")
	e.wantErr(e.st.SetGroupMember(e.ctx, g.ID, "no-such-org", true), store.ErrNotFound, "SetGroupMember of an unknown organisation")

	g2 := e.group("Regio Zuid", owner.ID)
	all, err := e.st.ListGroups(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	if len(all) != 2 {
		e.Fatalf("ListGroups returned %d groups, want 2", len(all))
	}
	for _, got := range all {
		switch got.ID {
		case g.ID:
			if want := sorted([]string{p.ID, c.ID}); !slices.Equal(got.Members, want) {
				e.Errorf("ListGroups: members of %s %v, want %v", got.Name, got.Members, want)
			}
		case g2.ID:
			if len(got.Members) != 0 {
				e.Errorf("ListGroups: members of %s %v, want none", got.Name, got.Members)
			}
		default:
			e.Errorf("ListGroups returned an unknown group %+v", got)
		}
	}
}
