package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// network is a random network of organisations and groups, with the test's
// own record of group membership to decide visibility by.
type network struct {
	orgs    []model.Org
	groups  []model.Group
	members map[string][]string // group id -> member org ids
}

// seed is the random seed of the property tests: HDN_STORETEST_SEED when
// set, so that a failure can be repeated, else the clock.
func (e *env) seed() uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("HDN_STORETEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			e.Fatalf("HDN_STORETEST_SEED=%q: %v", v, err)
		}
	}
	e.Logf("random seed %d (repeat with HDN_STORETEST_SEED=%d)", seed, seed)
	return seed
}

// randomNetwork builds a coordinator, members, two partners with customers,
// a national CERT and a peer hub, and two groups with random members, each
// with at least one partner.
func (e *env) randomNetwork(rng *rand.Rand) *network {
	n := &network{members: map[string][]string{}}
	add := func(name string, kind policy.OrgKind, partner string) model.Org {
		o := e.org(name, kind, partner)
		n.orgs = append(n.orgs, o)
		return o
	}
	coord := add("coordinator", policy.Coordinator, "")
	for i := range 3 {
		add("member "+strconv.Itoa(i), policy.Member, "")
	}
	var partners []model.Org
	for i := range 2 {
		p := add("partner "+strconv.Itoa(i), policy.Partner, "")
		partners = append(partners, p)
		for j := range 2 + i {
			add(fmt.Sprintf("customer %d.%d", i, j), policy.Customer, p.ID)
		}
	}
	add("national cert", policy.NationalCERT, "")
	add("peer hub", policy.PeerHub, "")
	for i := range 2 {
		members := []string{partners[rng.IntN(len(partners))].ID}
		for _, o := range n.orgs {
			if rng.IntN(3) == 0 && !slices.Contains(members, o.ID) {
				members = append(members, o.ID)
			}
		}
		g := e.group("group "+strconv.Itoa(i), coord.ID, members...)
		n.groups = append(n.groups, g)
		n.members[g.ID] = sortedSet(members)
	}
	return n
}

func (n *network) randomOrgs(rng *rand.Rand, max int) []string {
	var out []string
	for range 1 + rng.IntN(max) {
		out = append(out, n.orgs[rng.IntN(len(n.orgs))].ID)
	}
	return out
}

// item is what the test knows of a stored item, to ask policy.CanSee.
func (n *network) item(source string, tlp policy.TLP, a policy.Audience) policy.Item {
	it := policy.Item{Source: source, TLP: tlp, Audience: a}
	if a.Kind == policy.Group {
		it.GroupMembers = n.members[a.Group]
	}
	return it
}

// randomAudience returns an audience of the kind, random within it.
func (n *network) randomAudience(rng *rand.Rand, kind policy.AudienceKind) policy.Audience {
	switch kind {
	case policy.Group:
		return policy.Audience{Kind: policy.Group, Group: n.groups[rng.IntN(len(n.groups))].ID}
	case policy.Orgs:
		return policy.Audience{Kind: policy.Orgs, Orgs: n.randomOrgs(rng, 3)}
	}
	if rng.IntN(2) == 0 {
		return policy.Audience{} // the zero audience is the network
	}
	return policy.NetworkAudience()
}

type storedItem struct {
	id   string
	what string
}

func testVisibility(e *env) {
	rng := rand.New(rand.NewPCG(e.seed(), 0x5eed))
	n := e.randomNetwork(rng)

	// Indicators over every TLP and audience kind (red only to lists, as the
	// API refuses the rest), from random sources, in a few ingests.
	var subs []model.Submission
	for _, tlp := range policy.TLPs {
		for _, kind := range []policy.AudienceKind{policy.Network, policy.Group, policy.Orgs} {
			if tlp == policy.Red && kind != policy.Orgs {
				continue
			}
			for range 8 {
				src := n.orgs[rng.IntN(len(n.orgs))].ID
				s := sub(src, indicator.Types[rng.IntN(len(indicator.Types))], "v"+strconv.Itoa(len(subs))+".example")
				s.TLP, s.Audience, s.Anonymous = tlp, n.randomAudience(rng, kind), rng.IntN(4) == 0
				subs = append(subs, s)
			}
		}
	}
	rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	var stored []storedItem
	items := map[string]model.Submission{}
	for start := 0; start < len(subs); start += 40 {
		batch := subs[start:min(start+40, len(subs))]
		for i, r := range e.ingest(batch...) {
			stored = append(stored, storedItem{r.ID, fmt.Sprintf("%s to %s from %s", batch[i].TLP, audienceString(batch[i].Audience), batch[i].Source)})
			items[r.ID] = batch[i]
		}
	}

	check := func(stage string, v policy.Viewer, byID bool) {
		e.Helper()
		want := map[string]bool{}
		for _, s := range stored {
			sb := items[s.id]
			if policy.CanSee(v, n.item(sb.Source, sb.TLP, sb.Audience)) {
				want[s.id] = true
			}
		}
		got := e.list(v, store.Query{Limit: 7})
		gotSet := map[string]bool{}
		for _, ind := range got {
			if gotSet[ind.ID] {
				e.Errorf("%s: viewer %s (%s) listed %s twice", stage, v.OrgID, v.Kind, ind.ID)
			}
			gotSet[ind.ID] = true
			if !want[ind.ID] {
				e.Errorf("%s: LEAK: viewer %s (%s) lists %s", stage, v.OrgID, v.Kind, describeItem(stored, ind.ID))
			}
			e.checkFilled(stage, v, ind, n)
		}
		for _, s := range stored {
			if want[s.id] && !gotSet[s.id] {
				e.Errorf("%s: MISS: viewer %s (%s) does not list %s", stage, v.OrgID, v.Kind, s.what)
			}
		}
		if !byID {
			return
		}
		for _, s := range stored {
			ind, err := e.st.Indicator(e.ctx, v, s.id)
			switch {
			case want[s.id] && err != nil:
				e.Errorf("%s: MISS: viewer %s (%s) cannot get %s: %v", stage, v.OrgID, v.Kind, s.what, err)
			case !want[s.id] && err == nil:
				e.Errorf("%s: LEAK: viewer %s (%s) gets %s", stage, v.OrgID, v.Kind, s.what)
			case !want[s.id] && !errors.Is(err, store.ErrNotFound):
				e.Errorf("%s: viewer %s gets error %v for an invisible indicator, want ErrNotFound", stage, v.OrgID, err)
			case err == nil:
				e.checkFilled(stage, v, ind, n)
			}
		}
	}
	checkAll := func(stage string) {
		for _, o := range n.orgs {
			check(stage, e.viewer(o.ID), true)
		}
	}
	checkAll("initial")

	// Membership changes: visibility follows at once.
	g0, g1 := n.groups[0].ID, n.groups[1].ID
	drop := n.members[g0][rng.IntN(len(n.members[g0]))]
	if err := e.st.SetGroupMember(e.ctx, g0, drop, false); err != nil {
		e.Fatal(err)
	}
	n.members[g0] = slices.DeleteFunc(slices.Clone(n.members[g0]), func(id string) bool { return id == drop })
	for _, o := range n.orgs {
		if !slices.Contains(n.members[g1], o.ID) && (o.Kind == policy.Partner || o.Kind == policy.Customer) {
			if err := e.st.SetGroupMember(e.ctx, g1, o.ID, true); err != nil {
				e.Fatal(err)
			}
			n.members[g1] = sortedSet(append(n.members[g1], o.ID))
			break
		}
	}
	checkAll("after membership changes")

	// Viewers made up at random, consistent or not with the stored facts:
	// the store must take them as CanSee takes them.
	kinds := policy.OrgKinds
	for k := range 25 {
		v := policy.Viewer{Kind: kinds[rng.IntN(len(kinds))]}
		if rng.IntN(6) > 0 {
			v.OrgID = n.orgs[rng.IntN(len(n.orgs))].ID
		} else if rng.IntN(2) == 0 {
			v.OrgID = "unknown-org-" + strconv.Itoa(k)
		}
		if rng.IntN(2) == 0 {
			v.Partner = n.orgs[rng.IntN(len(n.orgs))].ID
		}
		if rng.IntN(2) == 0 {
			v.Customers = n.randomOrgs(rng, 4)
		}
		check(fmt.Sprintf("made-up viewer %d %+v", k, v), v, k%5 == 0)
	}
}

// checkFilled checks that a returned indicator carries what a caller needs
// to ask CanSee again: its audience list and its group's members.
func (e *env) checkFilled(stage string, v policy.Viewer, ind model.Indicator, n *network) {
	e.Helper()
	if ind.Audience.Kind == policy.Group && !slices.Equal(ind.GroupMembers, n.members[ind.Audience.Group]) {
		e.Errorf("%s: %s: GroupMembers %v, want %v", stage, describe(ind), ind.GroupMembers, n.members[ind.Audience.Group])
	}
	if !policy.CanSee(v, ind.PolicyItem()) {
		e.Errorf("%s: %s returned to %s, but CanSee on the returned indicator says no (audience %+v, group members %v)",
			stage, describe(ind), v.OrgID, ind.Audience, ind.GroupMembers)
	}
}

func audienceString(a policy.Audience) string {
	switch a.Kind {
	case policy.Group:
		return "group " + a.Group
	case policy.Orgs:
		return fmt.Sprintf("orgs %v", a.Orgs)
	}
	return "network"
}

func describeItem(stored []storedItem, id string) string {
	for _, s := range stored {
		if s.id == id {
			return id + " (" + s.what + ")"
		}
	}
	return id + " (not stored by the test)"
}

func testReportsVisibility(e *env) {
	rng := rand.New(rand.NewPCG(e.seed(), 0x7e90))
	n := e.randomNetwork(rng)

	type rep struct {
		r    model.Report
		item policy.Item
	}
	var reps []rep
	for _, tlp := range policy.TLPs {
		for _, kind := range []policy.AudienceKind{policy.Network, policy.Group, policy.Orgs} {
			if tlp == policy.Red && kind != policy.Orgs {
				continue
			}
			for range 3 {
				r := model.Report{
					Title: "report " + strconv.Itoa(len(reps)), Narrative: "what happened", ThreatActor: "APT-X", Campaign: "winter",
					TLP: tlp, Audience: n.randomAudience(rng, kind), Source: n.orgs[rng.IntN(len(n.orgs))].ID,
				}
				r.SubmittedBy = r.Source
				got, err := e.st.CreateReport(e.ctx, r)
				if err != nil {
					e.Fatalf("CreateReport(%s to %s): %v", tlp, audienceString(r.Audience), err)
				}
				if got.ID == "" || !recent(got.Created) || !recent(got.Modified) {
					e.Errorf("CreateReport returned %+v: want ID, Created, Modified", got)
				}
				reps = append(reps, rep{got, n.item(r.Source, r.TLP, r.Audience)})
			}
		}
	}
	if _, err := e.st.CreateReport(e.ctx, model.Report{Title: "bad", TLP: policy.Red, Audience: policy.NetworkAudience(), Source: n.orgs[0].ID}); err == nil {
		e.Errorf("CreateReport accepted red to the whole network")
	}
	for _, rp := range reps {
		got, err := e.st.ReportByID(e.ctx, rp.r.ID)
		if err != nil || got.Title != rp.r.Title || got.Narrative != rp.r.Narrative || got.ThreatActor != rp.r.ThreatActor ||
			got.Campaign != rp.r.Campaign || got.TLP != rp.r.TLP || got.Source != rp.r.Source || !got.Created.Equal(rp.r.Created) {
			e.Errorf("ReportByID(%s) = %+v, %v; want %+v", rp.r.ID, got, err, rp.r)
		}
	}
	_, err := e.st.ReportByID(e.ctx, "no-such-report")
	e.wantErr(err, store.ErrNotFound, "ReportByID of an unknown report")

	for _, o := range n.orgs {
		v := e.viewer(o.ID)
		var want []string
		for _, rp := range reps {
			if policy.CanSee(v, rp.item) {
				want = append(want, rp.r.ID)
			}
		}
		slices.Sort(want)
		var got []string
		after := ""
		for {
			page, err := e.st.ListReports(e.ctx, v, after, 3)
			if err != nil {
				e.Fatalf("ListReports: %v", err)
			}
			for _, r := range page {
				if r.ID <= after {
					e.Errorf("ListReports after %q returned %q: not in ID order", after, r.ID)
				}
				after = r.ID
				got = append(got, r.ID)
				if !policy.CanSee(v, r.PolicyItem()) {
					e.Errorf("report %s returned to %s, but CanSee on it says no (audience %+v, members %v)", r.ID, o.Name, r.Audience, r.GroupMembers)
				}
			}
			if len(page) < 3 {
				break
			}
		}
		if !slices.Equal(got, want) {
			e.Errorf("%s (%s) lists reports %v, want %v", o.Name, o.Kind, got, want)
		}
		for _, rp := range reps {
			_, err := e.st.Report(e.ctx, v, rp.r.ID)
			if visible := slices.Contains(want, rp.r.ID); visible != (err == nil) || (!visible && !errors.Is(err, store.ErrNotFound)) {
				e.Errorf("Report(%s, %s %s): %v, visible %t", o.Name, rp.r.TLP, audienceString(rp.r.Audience), err, visible)
			}
		}
	}
	if _, err := e.st.Report(e.ctx, policy.Viewer{}, reps[0].r.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("a viewer without organisation gets a report: %v", err)
	}
}
