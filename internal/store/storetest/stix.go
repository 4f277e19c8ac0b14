package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func stixObj(id, typ, source string, modified time.Time, tlp policy.TLP, a policy.Audience) model.STIXObject {
	raw := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"x \u00e9"}`,
		typ, id, modified.UTC().Format("2006-01-02T15:04:05.000Z"))
	return model.STIXObject{ID: id, Type: typ, Modified: modified, Raw: json.RawMessage(raw), TLP: tlp, Audience: a, Source: source, SubmittedBy: source}
}

func (e *env) putObjects(objs ...model.STIXObject) []store.ObjectStatus {
	e.Helper()
	in, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatalf("BeginIngest: %v", err)
	}
	defer in.Rollback()
	st, err := in.PutSTIXObjects(e.ctx, objs)
	if err != nil {
		e.Fatalf("PutSTIXObjects: %v", err)
	}
	if err := in.Commit(); err != nil {
		e.Fatalf("Commit: %v", err)
	}
	return st
}

// testSTIXObjects: kept objects come back byte for byte; a newer version of
// the same source replaces one and moves it to the end; an older one and
// another source's are ignored; filters, paging and delete work; a failed
// put stores nothing.
func testSTIXObjects(e *env) {
	a := e.org(e.unique("stix-a"), policy.Member, "")
	b := e.org(e.unique("stix-b"), policy.Member, "")
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	net := policy.NetworkAudience()
	m1 := stixObj("malware--"+e.unique("1"), "malware", a.ID, t0, policy.Green, net)
	r1 := stixObj("relationship--"+e.unique("2"), "relationship", a.ID, t0, policy.Amber, net)
	ta := stixObj("threat-actor--"+e.unique("3"), "threat-actor", b.ID, t0, policy.Clear, net)
	if got := e.putObjects(m1, r1, ta); !slices.Equal(got, []store.ObjectStatus{store.ObjectCreated, store.ObjectCreated, store.ObjectCreated}) {
		e.Errorf("first put: %v", got)
	}
	va := e.viewer(a.ID)
	all := func(v policy.Viewer, q store.STIXQuery) []model.STIXObject {
		e.Helper()
		var out []model.STIXObject
		for {
			q.Limit = 2
			page, err := e.st.ListSTIXObjects(e.ctx, v, q)
			if err != nil {
				e.Fatalf("ListSTIXObjects: %v", err)
			}
			for _, o := range page {
				if o.Seq <= q.After {
					e.Errorf("object %s has seq %d after cursor %d", o.ID, o.Seq, q.After)
				}
				q.After = o.Seq
			}
			out = append(out, page...)
			if len(page) < 2 {
				return out
			}
		}
	}
	idsOf := func(os []model.STIXObject) []string {
		var ids []string
		for _, o := range os {
			ids = append(ids, o.ID)
		}
		return ids
	}
	mine := func(os []model.STIXObject) []model.STIXObject { // only this test's objects
		return slices.DeleteFunc(os, func(o model.STIXObject) bool { return o.Source != a.ID && o.Source != b.ID })
	}
	got := mine(all(va, store.STIXQuery{}))
	if !slices.Equal(idsOf(got), []string{m1.ID, r1.ID, ta.ID}) {
		e.Fatalf("listed %v, want %v", idsOf(got), []string{m1.ID, r1.ID, ta.ID})
	}
	if string(got[0].Raw) != string(m1.Raw) || got[0].Type != "malware" || !got[0].Modified.Equal(t0) || got[0].TLP != policy.Green || got[0].Source != a.ID || !recent(got[0].Added) {
		e.Errorf("stored %+v (%s), want %s", got[0], got[0].Raw, m1.Raw)
	}
	// Filters.
	if got := mine(all(va, store.STIXQuery{Types: []string{"relationship", "threat-actor"}})); !slices.Equal(idsOf(got), []string{r1.ID, ta.ID}) {
		e.Errorf("types filter: %v", idsOf(got))
	}
	if got := all(va, store.STIXQuery{IDs: []string{ta.ID, "malware--none"}}); !slices.Equal(idsOf(got), []string{ta.ID}) {
		e.Errorf("ids filter: %v", idsOf(got))
	}
	// Versions.
	older := stixObj(m1.ID, "malware", a.ID, t0.Add(-time.Hour), policy.Green, net)
	same := stixObj(m1.ID, "malware", a.ID, t0, policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID}})
	foreign := stixObj(m1.ID, "malware", b.ID, t0.Add(time.Hour), policy.Clear, net)
	if got := e.putObjects(older, same, foreign); !slices.Equal(got, []store.ObjectStatus{store.ObjectUnchanged, store.ObjectUnchanged, store.ObjectForeign}) {
		e.Errorf("older, same, foreign: %v", got)
	}
	newer := stixObj(m1.ID, "malware", a.ID, t0.Add(time.Minute), policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID}})
	if got := e.putObjects(newer); !slices.Equal(got, []store.ObjectStatus{store.ObjectReplaced}) {
		e.Errorf("newer: %v", got)
	}
	got = mine(all(va, store.STIXQuery{}))
	if !slices.Equal(idsOf(got), []string{r1.ID, ta.ID, m1.ID}) || string(got[2].Raw) != string(newer.Raw) || got[2].TLP != policy.Red ||
		!slices.Equal(got[2].Audience.Orgs, []string{a.ID}) {
		e.Errorf("after the newer version: %v, last %+v", idsOf(got), got[len(got)-1])
	}
	// Red to a only: b does not see it.
	if got := mine(all(e.viewer(b.ID), store.STIXQuery{})); !slices.Equal(idsOf(got), []string{r1.ID, ta.ID}) {
		e.Errorf("b sees %v", idsOf(got))
	}
	if o, err := e.st.STIXObjectByID(e.ctx, m1.ID); err != nil || string(o.Raw) != string(newer.Raw) {
		e.Errorf("STIXObjectByID: %+v, %v", o, err)
	}
	// A bad object spoils the put: nothing of it is stored.
	in, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	good := stixObj("campaign--"+e.unique("4"), "campaign", a.ID, t0, policy.Green, net)
	bad := stixObj("campaign--"+e.unique("5"), "campaign", a.ID, t0, policy.Red, net) // red to the network
	if _, err := in.PutSTIXObjects(e.ctx, []model.STIXObject{good, bad}); err == nil {
		e.Errorf("red to the whole network was kept")
	}
	if err := in.Commit(); err == nil {
		e.Errorf("Commit after a failed put succeeded")
	}
	_, err = e.st.STIXObjectByID(e.ctx, good.ID)
	e.wantErr(err, store.ErrNotFound, "an object of a failed put")
	// Delete.
	if err := e.st.DeleteSTIXObject(e.ctx, r1.ID); err != nil {
		e.Errorf("DeleteSTIXObject: %v", err)
	}
	e.wantErr(e.st.DeleteSTIXObject(e.ctx, r1.ID), store.ErrNotFound, "a second delete")
	if got := mine(all(va, store.STIXQuery{})); !slices.Equal(idsOf(got), []string{ta.ID, m1.ID}) {
		e.Errorf("after delete: %v", idsOf(got))
	}
}

// testSTIXObjectsVisibility: what ListSTIXObjects returns to each
// organisation of a random network is exactly what policy.CanSee admits.
func testSTIXObjectsVisibility(e *env) {
	rng := rand.New(rand.NewPCG(e.seed(), 0x5715))
	n := e.randomNetwork(rng)
	type kept struct {
		id   string
		item policy.Item
	}
	var objs []model.STIXObject
	var all []kept
	for _, tlp := range policy.TLPs {
		for _, kind := range []policy.AudienceKind{policy.Network, policy.Group, policy.Orgs} {
			if tlp == policy.Red && kind != policy.Orgs {
				continue
			}
			for range 3 {
				src := n.orgs[rng.IntN(len(n.orgs))].ID
				a := n.randomAudience(rng, kind)
				o := stixObj("intrusion-set--"+e.unique("v"), "intrusion-set", src, time.Now(), tlp, a)
				objs = append(objs, o)
				all = append(all, kept{o.ID, n.item(src, tlp, a)})
			}
		}
	}
	e.putObjects(objs...)
	for _, o := range n.orgs {
		v := e.viewer(o.ID)
		var want []string
		for _, k := range all {
			if policy.CanSee(v, k.item) {
				want = append(want, k.id)
			}
		}
		page, err := e.st.ListSTIXObjects(e.ctx, v, store.STIXQuery{Types: []string{"intrusion-set"}, Limit: 10_000})
		if err != nil {
			e.Fatal(err)
		}
		var got []string
		for _, so := range page {
			if !slices.ContainsFunc(all, func(k kept) bool { return k.id == so.ID }) {
				continue
			}
			got = append(got, so.ID)
			if !policy.CanSee(v, so.PolicyItem()) {
				e.Errorf("%s returned to %s, but CanSee says no", so.ID, o.Name)
			}
		}
		if !slices.Equal(got, want) {
			e.Errorf("%s (%s) sees %v, want %v", o.Name, o.Kind, got, want)
		}
	}
}
