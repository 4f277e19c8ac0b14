package storetest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// now is a time the store can keep exactly (PostgreSQL keeps microseconds).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// checkStored compares a stored indicator with the submission it came from.
func (e *env) checkStored(ind model.Indicator, s model.Submission) {
	e.Helper()
	wantKind := s.Audience.Kind
	if wantKind == "" {
		wantKind = policy.Network
	}
	switch {
	case ind.Type != s.Type || ind.Value != s.Value:
		e.Errorf("stored %s %q, want %s %q", ind.Type, ind.Value, s.Type, s.Value)
	case ind.TLP != s.TLP:
		e.Errorf("%s: TLP %s, want %s", describe(ind), ind.TLP, s.TLP)
	case ind.Audience.Kind != wantKind:
		e.Errorf("%s: audience kind %q, want %q", describe(ind), ind.Audience.Kind, wantKind)
	case wantKind == policy.Group && ind.Audience.Group != s.Audience.Group:
		e.Errorf("%s: audience group %q, want %q", describe(ind), ind.Audience.Group, s.Audience.Group)
	case wantKind == policy.Orgs && !slices.Equal(ind.Audience.Orgs, sortedSet(s.Audience.Orgs)):
		e.Errorf("%s: audience orgs %v, want %v", describe(ind), ind.Audience.Orgs, sortedSet(s.Audience.Orgs))
	case !slices.Equal(ind.Labels, s.Labels) && len(ind.Labels)+len(s.Labels) > 0:
		e.Errorf("%s: labels %q, want %q", describe(ind), ind.Labels, s.Labels)
	case !slices.Equal(ind.Tags, s.Tags) && len(ind.Tags)+len(s.Tags) > 0:
		e.Errorf("%s: tags %q, want %q", describe(ind), ind.Tags, s.Tags)
	case ind.Description != s.Description || ind.Confidence != s.Confidence:
		e.Errorf("%s: description %q confidence %d, want %q %d", describe(ind), ind.Description, ind.Confidence, s.Description, s.Confidence)
	case ind.Source != s.Source || ind.SubmittedBy != s.SubmittedBy || ind.Anonymous != s.Anonymous:
		e.Errorf("%s: source %q submitted by %q anonymous %t, want %q %q %t", describe(ind),
			ind.Source, ind.SubmittedBy, ind.Anonymous, s.Source, s.SubmittedBy, s.Anonymous)
	case ind.ReportID != s.ReportID:
		e.Errorf("%s: report %q, want %q", describe(ind), ind.ReportID, s.ReportID)
	case !s.ValidUntil.IsZero() && !ind.ValidUntil.Equal(s.ValidUntil):
		e.Errorf("%s: valid until %v, want %v", describe(ind), ind.ValidUntil, s.ValidUntil)
	case !s.ValidFrom.IsZero() && !ind.ValidFrom.Equal(s.ValidFrom):
		e.Errorf("%s: valid from %v, want %v", describe(ind), ind.ValidFrom, s.ValidFrom)
	case ind.ValidFrom.IsZero() || ind.FirstSeen.IsZero() || ind.LastSeen.IsZero() || ind.Created.IsZero() || ind.Modified.IsZero():
		e.Errorf("%s: a time is missing: valid from %v, first seen %v, last seen %v, created %v, modified %v",
			describe(ind), ind.ValidFrom, ind.FirstSeen, ind.LastSeen, ind.Created, ind.Modified)
	}
}

func sortedSet(xs []string) []string {
	xs = sorted(xs)
	return slices.Compact(xs)
}

func testIngestCreateUpdate(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	g := e.group("G", a.ID, a.ID, b.ID)
	validUntil := now().Add(30 * 24 * time.Hour)

	s1 := sub(a.ID, indicator.Domain, "evil.example")
	s1.Labels, s1.Tags, s1.Description, s1.Confidence = []string{"phishing", "c2"}, []string{"campaign:x", `odd "tag"`}, "first", 70
	s1.ValidUntil = validUntil
	validFrom := now().Add(-24 * time.Hour)
	s1.ValidFrom = validFrom
	s2 := sub(a.ID, indicator.IPv4, "192.0.2.1")
	s2.TLP, s2.Audience, s2.Anonymous = policy.Amber, policy.Audience{Kind: policy.Group, Group: g.ID}, true
	s3 := sub(a.ID, indicator.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	s3.TLP, s3.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{b.ID, a.ID, b.ID}}
	s4 := sub(a.ID, indicator.URL, "http://evil.example/login")
	s4.Audience = policy.Audience{} // the zero audience is the network

	before := e.lastSeq()
	res := e.ingest(s1, s2, s3, s4)
	seen := map[string]bool{}
	last := before
	for i, r := range res {
		if r.Status != store.StatusCreated || r.ID == "" || seen[r.ID] {
			e.Errorf("result %d: %+v, want created with a new ID", i, r)
		}
		if r.Seq <= last {
			e.Errorf("result %d: seq %d, not after %d", i, r.Seq, last)
		}
		seen[r.ID], last = true, r.Seq
	}
	if got := e.lastSeq(); got != last {
		e.Errorf("LastSeq = %d, want the last result's %d", got, last)
	}
	for i, s := range []model.Submission{s1, s2, s3, s4} {
		ind := e.byID(res[i].ID)
		e.checkStored(ind, s)
		if ind.Seq != res[i].Seq || ind.Revoked {
			e.Errorf("%s: seq %d revoked %t, want seq %d, not revoked", describe(ind), ind.Seq, ind.Revoked, res[i].Seq)
		}
		if !recent(ind.FirstSeen) || !ind.FirstSeen.Equal(ind.LastSeen) || (s.ValidFrom.IsZero() && !ind.ValidFrom.Equal(ind.FirstSeen)) {
			e.Errorf("%s: first seen %v, last seen %v, valid from %v: want all the same, now", describe(ind), ind.FirstSeen, ind.LastSeen, ind.ValidFrom)
		}
	}
	if ind := e.byID(res[1].ID); !slices.Equal(ind.GroupMembers, sorted([]string{a.ID, b.ID})) {
		e.Errorf("group audience: GroupMembers %v, want %v", ind.GroupMembers, sorted([]string{a.ID, b.ID}))
	}
	first := e.byID(res[0].ID)

	// The same source, type and value again: an update, not a new indicator.
	time.Sleep(2 * time.Millisecond)
	u1 := s1
	u1.TLP, u1.Labels, u1.Tags, u1.Description, u1.Confidence = policy.Amber, []string{"malware"}, nil, "second", 90
	u1.ValidUntil, u1.ValidFrom = time.Time{}, time.Time{} // not given: kept
	u2 := s3
	u2.TLP, u2.Audience = policy.Green, policy.NetworkAudience() // from an explicit list to the network
	res2 := e.ingest(u1, u2)
	for i, r := range res2 {
		if r.Status != store.StatusUpdated || r.ID != res[[]int{0, 2}[i]].ID || r.Seq <= last {
			e.Errorf("re-submission %d: %+v, want updated, ID %s, seq after %d", i, r, res[[]int{0, 2}[i]].ID, last)
		}
		last = max(last, r.Seq)
	}
	upd := e.byID(res[0].ID)
	u1.ValidUntil, u1.ValidFrom = validUntil, validFrom
	e.checkStored(upd, u1)
	if !upd.FirstSeen.Equal(first.FirstSeen) || !upd.Created.Equal(first.Created) || !upd.LastSeen.After(first.LastSeen) || !upd.Modified.After(first.Modified) {
		e.Errorf("update: first seen %v created %v last seen %v modified %v; want first seen and created kept (%v, %v), last seen and modified later",
			upd.FirstSeen, upd.Created, upd.LastSeen, upd.Modified, first.FirstSeen, first.Created)
	}
	if upd.Seq != res2[0].Seq {
		e.Errorf("update: seq %d, want %d", upd.Seq, res2[0].Seq)
	}
	e.checkStored(e.byID(res[2].ID), u2)
	if got := e.byID(res[2].ID).Audience.Orgs; len(got) != 0 {
		e.Errorf("an update from an explicit list to the network kept the list %v", got)
	}

	// Given again, valid_from and valid_until change.
	u1.ValidFrom, u1.ValidUntil = now().Add(-time.Hour), validUntil.Add(time.Hour)
	e.ingest(u1)
	e.checkStored(e.byID(res[0].ID), u1)

	// An explicit list replaces the old one, it does not add to it.
	c := e.org("C", policy.Member, "")
	listed := sub(c.ID, indicator.Email, "ceo@evil.example")
	listed.TLP, listed.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID, b.ID}}
	lr := e.ingest(listed)[0]
	listed.Audience.Orgs = []string{b.ID}
	e.ingest(listed)
	e.checkStored(e.byID(lr.ID), listed)
	if _, err := e.st.Indicator(e.ctx, e.viewer(a.ID), lr.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("A, dropped from the list by an update, still gets the indicator: %v", err)
	}
	listed.TLP, listed.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: g.ID}
	e.ingest(listed)
	listed.TLP, listed.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{c.ID}}
	e.ingest(listed)
	e.checkStored(e.byID(lr.ID), listed)
	if _, err := e.st.Indicator(e.ctx, e.viewer(b.ID), lr.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("B, on a list two updates ago, gets the indicator: %v", err)
	}

	// Another source with the same type and value is another indicator.
	other := e.ingest(sub(b.ID, indicator.Domain, "evil.example"))[0]
	if other.Status != store.StatusCreated || other.ID == res[0].ID {
		e.Errorf("another source's submission: %+v, want a new indicator", other)
	}
	found := e.list(e.viewer(a.ID), store.Query{Value: "evil.example"})
	if got, want := ids(found), []string{res[0].ID, other.ID}; !sameSet(got, want) {
		e.Errorf("lookup by value: %v, want %v", got, want)
	}
	all := e.list(e.viewer(a.ID), store.Query{Limit: 3})
	if len(all) != 5 {
		e.Errorf("A sees %d indicators, want 5 (no duplicates from updates, not C's red one)", len(all))
	}
}

func testIngestDuplicateInOnePut(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	s := sub(a.ID, indicator.Domain, "twice.example")
	s.Audience = policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID}}
	s.TLP = policy.Red
	s2 := s
	s2.Description, s2.Audience = "second", policy.Audience{Kind: policy.Orgs, Orgs: []string{b.ID}}
	res := e.ingest(s, s2)
	if res[0].Status != store.StatusCreated || res[1].Status != store.StatusUpdated || res[0].ID != res[1].ID || res[1].Seq <= res[0].Seq {
		e.Fatalf("the same indicator twice in one Put: %+v, want created then updated, one ID, increasing seqs", res)
	}
	ind := e.byID(res[0].ID)
	e.checkStored(ind, s2)
	if ind.Seq != res[1].Seq {
		e.Errorf("seq %d, want the second's %d", ind.Seq, res[1].Seq)
	}
	cs := e.changes(0, 10)
	if len(cs) != 2 || cs[0].Kind != model.Created || cs[1].Kind != model.Updated {
		e.Errorf("changes %v, want created and updated", kinds(cs))
	}
	// The second submission's audience holds: B sees it, A (the source) too.
	if _, err := e.st.Indicator(e.ctx, e.viewer(b.ID), ind.ID); err != nil {
		e.Errorf("B, in the final audience, cannot see it: %v", err)
	}
}

func kinds(cs []model.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, strconv.FormatInt(c.Seq, 10)+":"+string(c.Kind))
	}
	return out
}

func testIngestRollback(e *env) {
	a := e.org("A", policy.Member, "")
	v := e.viewer(a.ID)
	before := e.lastSeq()
	subs := make([]model.Submission, 5)
	for i := range subs {
		subs[i] = sub(a.ID, indicator.Domain, "rollback-"+strconv.Itoa(i)+".example")
	}

	ing, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	res, err := ing.Put(e.ctx, subs)
	if err != nil {
		e.Fatal(err)
	}
	if err := ing.Rollback(); err != nil {
		e.Fatalf("Rollback: %v", err)
	}
	if got := e.list(v, store.Query{IncludeRevoked: true}); len(got) != 0 {
		e.Errorf("after Rollback %d indicators are visible", len(got))
	}
	for _, r := range res {
		_, err := e.st.IndicatorByID(e.ctx, r.ID)
		e.wantErr(err, store.ErrNotFound, "IndicatorByID after Rollback")
	}
	if cs := e.changes(before, 100); len(cs) != 0 {
		e.Errorf("after Rollback the change log has %d new entries", len(cs))
	}
	if got := e.lastSeq(); got != before {
		e.Errorf("after Rollback LastSeq = %d, want %d", got, before)
	}

	// Commit makes all visible, none before.
	ing, err = e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	if _, err := ing.Put(e.ctx, subs[:3]); err != nil {
		e.Fatal(err)
	}
	if _, err := ing.Put(e.ctx, subs[3:]); err != nil {
		e.Fatal(err)
	}
	if got := e.list(v, store.Query{}); len(got) != 0 {
		e.Errorf("before Commit %d indicators are visible", len(got))
	}
	if got := e.lastSeq(); got != before {
		e.Errorf("before Commit LastSeq = %d, want %d", got, before)
	}
	if err := ing.Commit(); err != nil {
		e.Fatal(err)
	}
	if got := e.list(v, store.Query{}); len(got) != 5 {
		e.Errorf("after Commit %d indicators are visible, want 5", len(got))
	}
	if cs := e.changes(before, 100); len(cs) != 5 {
		e.Errorf("after Commit %d change entries, want 5", len(cs))
	}
	// An ended ingest takes nothing more.
	if _, err := ing.Put(e.ctx, subs[:1]); err == nil {
		e.Errorf("Put after Commit succeeded")
	}
	if err := ing.Commit(); err == nil {
		e.Errorf("a second Commit succeeded")
	}
	ing.Rollback() // deferred Rollbacks after Commit must be harmless
	if got := e.list(v, store.Query{}); len(got) != 5 {
		e.Errorf("after a Rollback following Commit %d indicators are visible, want 5", len(got))
	}
}

func testIngestAllOrNothing(e *env) {
	a := e.org("A", policy.Member, "")
	v := e.viewer(a.ID)
	good := func(i int) model.Submission { return sub(a.ID, indicator.Domain, "good-"+strconv.Itoa(i)+".example") }
	bad := []struct {
		what string
		edit func(*model.Submission)
	}{
		{"an empty value", func(s *model.Submission) { s.Value = "" }},
		{"an empty type", func(s *model.Submission) { s.Type = "" }},
		{"an empty source", func(s *model.Submission) { s.Source = "" }},
		{"an unknown TLP", func(s *model.Submission) { s.TLP = "purple" }},
		{"red to the whole network", func(s *model.Submission) { s.TLP = policy.Red }},
		{"red to a group", func(s *model.Submission) {
			s.TLP, s.Audience = policy.Red, policy.Audience{Kind: policy.Group, Group: "g"}
		}},
		{"a group audience without group", func(s *model.Submission) { s.Audience = policy.Audience{Kind: policy.Group} }},
		{"an empty list audience", func(s *model.Submission) { s.Audience = policy.Audience{Kind: policy.Orgs} }},
		{"an unknown audience kind", func(s *model.Submission) { s.Audience = policy.Audience{Kind: "planet"} }},
		{"confidence above 100", func(s *model.Submission) { s.Confidence = 101 }},
		{"negative confidence", func(s *model.Submission) { s.Confidence = -1 }},
		// What SQLite would keep and PostgreSQL fails on: both refuse it.
		{"a value over MaxStoredLen", func(s *model.Submission) {
			s.Type, s.Value = indicator.URL, "https://x.example/"+strings.Repeat("a", indicator.MaxStoredLen)
		}},
		{"a NUL in the description", func(s *model.Submission) { s.Description = "a\x00b" }},
		{"invalid UTF-8 in the description", func(s *model.Submission) { s.Description = "a\xffb" }},
		{"a NUL in a label", func(s *model.Submission) { s.Labels = []string{"a\x00"} }},
		{"a NUL in a tag", func(s *model.Submission) { s.Tags = []string{"\x00"} }},
	}
	before := e.lastSeq()
	for k, b := range bad {
		ing, err := e.st.BeginIngest(e.ctx)
		if err != nil {
			e.Fatal(err)
		}
		if _, err := ing.Put(e.ctx, []model.Submission{good(3 * k)}); err != nil {
			e.Fatal(err)
		}
		s := good(3*k + 1)
		b.edit(&s)
		if _, err := ing.Put(e.ctx, []model.Submission{good(3*k + 2), s}); err == nil {
			e.Errorf("Put accepted %s", b.what)
		}
		if k%2 == 0 {
			if err := ing.Commit(); err == nil {
				e.Errorf("Commit after a failed Put (%s) succeeded", b.what)
			}
		} else if err := ing.Rollback(); err != nil {
			e.Errorf("Rollback after a failed Put: %v", err)
		}
	}
	if got := e.list(v, store.Query{IncludeRevoked: true}); len(got) != 0 {
		e.Errorf("after failed ingests %d indicators are visible: %v", len(got), ids(got))
	}
	if got := e.lastSeq(); got != before {
		e.Errorf("after failed ingests LastSeq = %d, want %d", got, before)
	}
	if cs := e.changes(before, 100); len(cs) != 0 {
		e.Errorf("after failed ingests %d change entries", len(cs))
	}
	// The store still works.
	if r := e.ingest(good(1000)); r[0].Status != store.StatusCreated {
		e.Errorf("ingest after failures: %+v", r)
	}
}

func testChangeSequence(e *env) {
	a := e.org("A", policy.Member, "")
	t0 := now()
	sa, sb, sc := sub(a.ID, indicator.Domain, "a.example"), sub(a.ID, indicator.Domain, "b.example"), sub(a.ID, indicator.Domain, "c.example")
	sc.ValidUntil = t0.Add(time.Minute)
	res := e.ingest(sa, sb, sc)
	sa.Description = "updated"
	e.ingest(sa)
	if _, err := e.st.Revoke(e.ctx, res[1].ID, now()); err != nil {
		e.Fatal(err)
	}
	if _, err := e.st.Revoke(e.ctx, res[1].ID, now()); err != nil { // no change: already revoked
		e.Fatal(err)
	}
	if n, err := e.st.ExpireDue(e.ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		e.Fatalf("ExpireDue = %d, %v; want 1", n, err)
	}

	cs := e.changes(0, 100)
	want := []struct {
		id   string
		kind model.ChangeKind
	}{
		{res[0].ID, model.Created}, {res[1].ID, model.Created}, {res[2].ID, model.Created},
		{res[0].ID, model.Updated}, {res[1].ID, model.Revoked}, {res[2].ID, model.Expired},
	}
	if len(cs) != len(want) {
		e.Fatalf("change log %v, want %d entries (one per create, update, revoke, expiry)", kinds(cs), len(want))
	}
	for i, w := range want {
		c := cs[i]
		if c.Indicator.ID != w.id || c.Kind != w.kind {
			e.Errorf("change %d: %s %s, want %s %s", i, c.Indicator.ID, c.Kind, w.id, w.kind)
		}
		if c.At.IsZero() {
			e.Errorf("change %d without a time", i)
		}
	}
	// Every entry carries the indicator as it is now.
	if !cs[1].Indicator.Revoked || cs[0].Indicator.Description != "updated" {
		e.Errorf("change entries do not carry the latest state: %+v, %+v", cs[0].Indicator, cs[1].Indicator)
	}
	if cs[0].Indicator.Seq != cs[3].Seq || cs[1].Indicator.Seq != cs[4].Seq || cs[2].Indicator.Seq != cs[5].Seq {
		e.Errorf("an indicator's Seq is not the seq of its latest change")
	}
	if got := e.lastSeq(); got != cs[len(cs)-1].Seq {
		e.Errorf("LastSeq = %d, want %d", got, cs[len(cs)-1].Seq)
	}
	if one := e.changes(0, 1); !slices.EqualFunc(one, cs, func(a, b model.Change) bool { return a.Seq == b.Seq && a.Kind == b.Kind }) {
		e.Errorf("paging one at a time gives %v, want %v", kinds(one), kinds(cs))
	}
	if more, err := e.st.Changes(e.ctx, e.lastSeq(), 10); err != nil || len(more) != 0 {
		e.Errorf("Changes after the last seq: %d entries, %v; want none", len(more), err)
	}
	mid, err := e.st.Changes(e.ctx, cs[2].Seq, 2)
	if err != nil || len(mid) != 2 || mid[0].Seq != cs[3].Seq || mid[1].Seq != cs[4].Seq {
		e.Errorf("Changes(after %d, limit 2) = %v, %v; want entries 4 and 5", cs[2].Seq, kinds(mid), err)
	}
}

func testChangesPaging(e *env) {
	a := e.org("A", policy.Member, "")
	var subs []model.Submission
	for i := range 50 {
		subs = append(subs, sub(a.ID, indicator.IPv4, "198.51.100."+strconv.Itoa(i)))
	}
	e.ingest(subs...)
	for i := 0; i < 50; i += 3 {
		e.ingest(subs[i])
	}
	total := 50 + 17
	all := e.changes(0, 1000)
	if len(all) != total {
		e.Fatalf("%d change entries, want %d", len(all), total)
	}
	for _, limit := range []int{1, 7, 66, 67, 68} {
		paged := e.changes(0, limit)
		seen := map[int64]bool{}
		for _, c := range paged {
			if seen[c.Seq] {
				e.Errorf("limit %d: seq %d twice", limit, c.Seq)
			}
			seen[c.Seq] = true
		}
		if len(paged) != total {
			e.Errorf("limit %d: %d entries, want %d", limit, len(paged), total)
		}
	}
}

func testRevoke(e *env) {
	a := e.org("A", policy.Member, "")
	v := e.viewer(a.ID)
	res := e.ingest(sub(a.ID, indicator.Domain, "revoke.example"), sub(a.ID, indicator.Domain, "keep.example"))
	at := now()
	before := e.lastSeq()
	ind, err := e.st.Revoke(e.ctx, res[0].ID, at)
	if err != nil {
		e.Fatal(err)
	}
	if !ind.Revoked || ind.ID != res[0].ID || ind.Modified.Before(at) || ind.Modified.After(now()) || ind.Seq <= before {
		e.Errorf("Revoke returned %+v; want revoked, modified from %v to now, a new seq", ind, at)
	}
	if got := e.byID(res[0].ID); !got.Revoked || got.Seq != ind.Seq {
		e.Errorf("after Revoke: revoked %t seq %d", got.Revoked, got.Seq)
	}
	if got := ids(e.list(v, store.Query{})); !slices.Equal(got, []string{res[1].ID}) {
		e.Errorf("list without revoked: %v, want only %s", got, res[1].ID)
	}
	if got := ids(e.list(v, store.Query{IncludeRevoked: true})); !sameSet(got, []string{res[0].ID, res[1].ID}) {
		e.Errorf("list with revoked: %v", got)
	}
	if got, err := e.st.Indicator(e.ctx, v, res[0].ID); err != nil || !got.Revoked {
		e.Errorf("Indicator of a revoked indicator: %+v, %v; want it, revoked", got, err)
	}
	last := e.lastSeq()
	again, err := e.st.Revoke(e.ctx, res[0].ID, at.Add(time.Hour))
	if err != nil || !again.Revoked || again.Seq != ind.Seq || !again.Modified.Equal(ind.Modified) {
		e.Errorf("revoking again: %+v, %v; want it unchanged", again, err)
	}
	if got := e.lastSeq(); got != last {
		e.Errorf("revoking again wrote a change (LastSeq %d -> %d)", last, got)
	}
	_, err = e.st.Revoke(e.ctx, "no-such-indicator", at)
	e.wantErr(err, store.ErrNotFound, "Revoke of an unknown indicator")

	// A re-submission re-activates.
	r := e.ingest(sub(a.ID, indicator.Domain, "revoke.example"))[0]
	if r.Status != store.StatusUpdated || r.ID != res[0].ID {
		e.Errorf("re-submission of a revoked indicator: %+v", r)
	}
	if got := e.byID(res[0].ID); got.Revoked {
		e.Errorf("a re-submission did not re-activate the indicator")
	}
	// A revocation whose time was taken before a change committed ahead of
	// it is stamped no earlier than that change: TAXII pages by these
	// times (added_after), and an earlier time made a poller skip it.
	lateRes := e.ingest(sub(a.ID, indicator.Domain, "revoked-late.example"))
	taken := now().Add(-time.Minute)
	ahead := e.ingest(sub(a.ID, indicator.Domain, "ahead.example"))
	late, err := e.st.Revoke(e.ctx, lateRes[0].ID, taken)
	if err != nil {
		e.Fatal(err)
	}
	if first := e.byID(ahead[0].ID); late.Modified.Before(first.Modified) {
		e.Errorf("a revocation committed after a change carries an earlier time: %v, the change %v", late.Modified, first.Modified)
	}
}

// testRevokeReportExcept: an ingest revokes the live indicators of a
// report from one source that keep does not name, in its own transaction
// (after its Puts, before later ones), and nothing on rollback.
func testRevokeReportExcept(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	report := func(title string) string {
		e.Helper()
		r, err := e.st.CreateReport(e.ctx, model.Report{Title: title, TLP: policy.Green, Audience: policy.NetworkAudience(), Source: a.ID})
		if err != nil {
			e.Fatal(err)
		}
		return r.ID
	}
	r1, r2 := report("event"), report("another event")
	of := func(s model.Submission, rep string) model.Submission { s.ReportID = rep; return s }
	res := e.ingest(
		of(sub(a.ID, indicator.Domain, "kept.example"), r1),
		of(sub(a.ID, indicator.Domain, "gone-1.example"), r1),
		of(sub(a.ID, indicator.Domain, "gone-2.example"), r1),
		of(sub(a.ID, indicator.Domain, "revoked-before.example"), r1),
		of(sub(b.ID, indicator.Domain, "other-source.example"), r1),
		of(sub(a.ID, indicator.Domain, "other-report.example"), r2),
		sub(a.ID, indicator.Domain, "no-report.example"),
	)
	if _, err := e.st.Revoke(e.ctx, res[3].ID, now()); err != nil {
		e.Fatal(err)
	}

	// Rolled back: nothing revoked, no change.
	before := e.lastSeq()
	ing, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	if got, err := ing.RevokeReportExcept(e.ctx, r1, a.ID, nil, now()); err != nil || len(got) != 4-1 {
		e.Errorf("RevokeReportExcept of everything: %+v, %v; want the 3 live ones of A", got, err)
	}
	if err := ing.Rollback(); err != nil {
		e.Fatal(err)
	}
	if e.byID(res[0].ID).Revoked || e.lastSeq() != before {
		e.Errorf("a rolled-back RevokeReportExcept left a revocation or a change")
	}

	at := now()
	ing, err = e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	defer ing.Rollback()
	added, err := ing.Put(e.ctx, []model.Submission{of(sub(a.ID, indicator.Domain, "added.example"), r1)})
	if err != nil {
		e.Fatal(err)
	}
	got, err := ing.RevokeReportExcept(e.ctx, r1, a.ID, []string{res[0].ID, added[0].ID, "no-such-indicator"}, at)
	if err != nil {
		e.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != res[1].ID || got[1].ID != res[2].ID || got[0].Seq <= added[0].Seq || got[1].Seq <= got[0].Seq {
		e.Errorf("RevokeReportExcept returned %+v; want %s and %s, after seq %d, in order", got, res[1].ID, res[2].ID, added[0].Seq)
	}
	later, err := ing.Put(e.ctx, []model.Submission{sub(a.ID, indicator.Domain, "later.example")})
	if err != nil {
		e.Fatal(err)
	}
	if len(got) == 2 && later[0].Seq <= got[1].Seq {
		e.Errorf("a Put after RevokeReportExcept got seq %d, not after the revocations' %d", later[0].Seq, got[1].Seq)
	}
	if err := ing.Commit(); err != nil {
		e.Fatal(err)
	}

	for i, want := range []bool{false, true, true, true, false, false, false} {
		if ind := e.byID(res[i].ID); ind.Revoked != want {
			e.Errorf("%s: revoked %t, want %t", describe(ind), ind.Revoked, want)
		}
	}
	if e.byID(added[0].ID).Revoked {
		e.Errorf("the indicator stored in the same ingest was revoked")
	}
	var kinds []string
	for _, c := range e.changes(before, 100) {
		kinds = append(kinds, string(c.Kind)+" "+c.Indicator.Value)
		if c.Kind == model.Revoked && (!c.Indicator.Revoked || c.Indicator.Modified.Before(at)) {
			e.Errorf("revoked change %d: %+v; want the indicator revoked, modified no earlier than %v", c.Seq, c.Indicator, at)
		}
	}
	want := []string{"created added.example", "revoked gone-1.example", "revoked gone-2.example", "created later.example"}
	if !slices.Equal(kinds, want) {
		e.Errorf("changes: %q, want %q", kinds, want)
	}
}

// testResubmitExpired: a re-submission without valid_until makes an
// indicator that expired (its valid_until passed, or ExpireNow ended it)
// live again, as a revoked one is re-activated; one whose valid_until is
// still to come keeps it; a later valid_until given still to come makes
// it live, one that has passed leaves it expired.
func testResubmitExpired(e *env) {
	a := e.org("A", policy.Member, "")
	t0 := now()
	passed := sub(a.ID, indicator.Domain, "passed.example")
	passed.ValidFrom, passed.ValidUntil = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	decayed := sub(a.ID, indicator.Domain, "decayed.example")
	due := sub(a.ID, indicator.Domain, "due-not-swept.example")
	due.ValidFrom, due.ValidUntil = t0.Add(-2*time.Hour), t0.Add(-time.Minute)
	future := sub(a.ID, indicator.Domain, "future.example")
	future.ValidUntil = t0.Add(time.Hour)
	later := sub(a.ID, indicator.Domain, "later-given.example")
	later.ValidFrom, later.ValidUntil = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	stale := sub(a.ID, indicator.Domain, "stale-given.example")
	stale.ValidFrom, stale.ValidUntil = t0.Add(-3*time.Hour), t0.Add(-2*time.Hour)
	res := e.ingest(passed, decayed, due, future, later, stale)
	if n, err := e.st.ExpireDue(e.ctx, t0.Add(-30*time.Minute)); err != nil || n != 3 {
		e.Fatalf("ExpireDue: %d, %v; want 3", n, err)
	}
	if n, err := e.st.ExpireNow(e.ctx, []string{res[1].ID}, t0); err != nil || n != 1 {
		e.Fatalf("ExpireNow: %d, %v", n, err)
	}

	again := func(s model.Submission) model.Submission {
		s.ValidFrom, s.ValidUntil = time.Time{}, time.Time{}
		return s
	}
	laterAgain := again(later)
	laterAgain.ValidUntil = t0.Add(24 * time.Hour)
	staleAgain := again(stale)
	staleAgain.ValidFrom, staleAgain.ValidUntil = t0.Add(-3*time.Hour), t0.Add(-90*time.Minute)
	before := e.lastSeq()
	got := e.ingest(again(passed), again(decayed), again(due), again(future), laterAgain, staleAgain)
	for i, r := range got {
		if r.Status != store.StatusUpdated || r.ID != res[i].ID {
			e.Errorf("re-submission %d: %+v, want an update of %s", i, r, res[i].ID)
		}
	}
	for i, tc := range []struct {
		expired bool
		until   time.Time
	}{
		{false, time.Time{}},
		{false, time.Time{}},
		{false, time.Time{}},
		{false, future.ValidUntil},
		{false, laterAgain.ValidUntil},
		{true, staleAgain.ValidUntil},
	} {
		ind := e.byID(res[i].ID)
		if !ind.ValidUntil.Equal(tc.until) {
			e.Errorf("%s after re-submission: valid until %v, want %v", describe(ind), ind.ValidUntil, tc.until)
		}
		if live := ind.Live(time.Now()); live == tc.expired {
			e.Errorf("%s after re-submission: live %t, want %t", describe(ind), live, !tc.expired)
		}
	}
	live, err := e.st.ScanIndicators(e.ctx, before, 100, false)
	if err != nil {
		e.Fatal(err)
	}
	if got := ids(live); !sameSet(got, []string{res[0].ID, res[1].ID, res[2].ID, res[3].ID, res[4].ID}) {
		e.Errorf("not expired after re-submission: %v; want all but the last (its valid_until given has passed)", got)
	}
	if n := len(e.changes(before, 100)); n != len(got) {
		e.Errorf("%d changes for %d re-submissions", n, len(got))
	}
}

func testExpireDue(e *env) {
	a := e.org("A", policy.Member, "")
	t0 := now()
	due := sub(a.ID, indicator.Domain, "due.example")
	due.ValidUntil = t0.Add(-time.Hour)
	later := sub(a.ID, indicator.Domain, "later.example")
	later.ValidUntil = t0.Add(time.Hour)
	never := sub(a.ID, indicator.Domain, "never.example")
	revoked := sub(a.ID, indicator.Domain, "revoked.example")
	revoked.ValidUntil = t0.Add(-time.Hour)
	exact := sub(a.ID, indicator.Domain, "exact.example")
	exact.ValidUntil = t0
	res := e.ingest(due, later, never, revoked, exact)
	if _, err := e.st.Revoke(e.ctx, res[3].ID, t0); err != nil {
		e.Fatal(err)
	}
	expire := func(at time.Time, want int, wantIDs ...string) {
		e.Helper()
		before := e.lastSeq()
		n, err := e.st.ExpireDue(e.ctx, at)
		if err != nil || n != want {
			e.Errorf("ExpireDue(%v) = %d, %v; want %d", at.Sub(t0), n, err, want)
		}
		cs := e.changes(before, 100)
		var got []string
		for _, c := range cs {
			if c.Kind != model.Expired {
				e.Errorf("ExpireDue wrote a %s change", c.Kind)
			}
			got = append(got, c.Indicator.ID)
		}
		if !sameSet(got, wantIDs) {
			e.Errorf("ExpireDue(%v) wrote expired changes for %v, want %v", at.Sub(t0), got, wantIDs)
		}
	}
	expire(t0, 2, res[0].ID, res[4].ID) // valid_until at or before now
	expire(t0, 0)                       // once only
	expire(t0.Add(30*time.Minute), 0)
	expire(t0.Add(2*time.Hour), 1, res[1].ID)
	expire(t0.Add(2*time.Hour), 0)

	// A re-submission with a later valid_until makes it live again.
	due.ValidUntil = t0.Add(3 * time.Hour)
	if r := e.ingest(due)[0]; r.Status != store.StatusUpdated || r.ID != res[0].ID {
		e.Fatalf("re-submission: %+v", r)
	}
	expire(t0.Add(2*time.Hour), 0)
	expire(t0.Add(4*time.Hour), 1, res[0].ID)
	if got := e.byID(res[0].ID); !got.ValidUntil.Equal(due.ValidUntil) || got.Live(t0.Add(4*time.Hour)) {
		e.Errorf("after expiry: valid until %v, live %t", got.ValidUntil, got.Live(t0.Add(4*time.Hour)))
	}
}

// testReportText: a report's texts that are not text are refused by both
// stores (SQLite would keep them, PostgreSQL fails on them).
func testReportText(e *env) {
	a := e.org("A", policy.Member, "")
	for _, r := range []model.Report{
		{Title: "t\x00"}, {Title: "t", Narrative: "\xff"}, {Title: "t", ThreatActor: "x\x00"}, {Title: "t", Tags: []string{"\x00"}},
	} {
		r.TLP, r.Audience, r.Source = policy.Green, policy.NetworkAudience(), a.ID
		if _, err := e.st.CreateReport(e.ctx, r); err == nil {
			e.Errorf("CreateReport accepted %q %q %q %q", r.Title, r.Narrative, r.ThreatActor, r.Tags)
		}
	}
	rep, err := e.st.CreateReport(e.ctx, model.Report{Title: "ünïcode ✓", TLP: policy.Green, Audience: policy.NetworkAudience(), Source: a.ID})
	if err != nil {
		e.Fatalf("CreateReport of valid text: %v", err)
	}
	rep.Narrative = "a\x00"
	if _, err := e.st.UpdateReport(e.ctx, rep); err == nil {
		e.Errorf("UpdateReport accepted a NUL")
	}
}

func testListFilters(e *env) {
	a := e.org("A", policy.Member, "")
	b := e.org("B", policy.Member, "")
	v := e.viewer(a.ID)
	rep, err := e.st.CreateReport(e.ctx, model.Report{Title: "Campaign X", TLP: policy.Green, Audience: policy.NetworkAudience(), Source: a.ID})
	if err != nil {
		e.Fatal(err)
	}
	s1 := sub(a.ID, indicator.Domain, "shared.example")
	s1.Labels = []string{"phishing"}
	s2 := sub(a.ID, indicator.Hostname, "shared.example")
	s2.Labels = []string{"malware", "c2"}
	s3 := sub(b.ID, indicator.Domain, "shared.example")
	s4 := sub(a.ID, indicator.IPv4, "192.0.2.7")
	s4.Labels, s4.ReportID = []string{"ransomware"}, rep.ID
	s5 := sub(a.ID, indicator.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
	s5.Labels = []string{"malware"}
	first := e.ingest(s1, s2, s3)
	time.Sleep(2 * time.Millisecond)
	second := e.ingest(s4, s5)
	id := func(r []store.UpsertResult, i int) string { return r[i].ID }
	if _, err := e.st.Revoke(e.ctx, id(second, 1), now()); err != nil {
		e.Fatal(err)
	}
	var firstModified time.Time
	for _, r := range first {
		if m := e.byID(r.ID).Modified; m.After(firstModified) {
			firstModified = m
		}
	}

	cases := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"all", store.Query{}, []string{id(first, 0), id(first, 1), id(first, 2), id(second, 0)}},
		{"type", store.Query{Type: indicator.Domain}, []string{id(first, 0), id(first, 2)}},
		{"value", store.Query{Value: "shared.example"}, []string{id(first, 0), id(first, 1), id(first, 2)}},
		{"type and value", store.Query{Type: indicator.Hostname, Value: "shared.example"}, []string{id(first, 1)}},
		{"unknown value", store.Query{Value: "nothing.example"}, nil},
		{"label", store.Query{Label: "c2"}, []string{id(first, 1)}},
		{"label on several", store.Query{Label: "malware", IncludeRevoked: true}, []string{id(first, 1), id(second, 1)}},
		{"label, revoked left out", store.Query{Label: "malware"}, []string{id(first, 1)}},
		{"report", store.Query{ReportID: rep.ID}, []string{id(second, 0)}},
		{"since", store.Query{Since: firstModified.Add(time.Microsecond)}, []string{id(second, 0)}},
		{"since, with revoked", store.Query{Since: firstModified.Add(time.Microsecond), IncludeRevoked: true}, []string{id(second, 0), id(second, 1)}},
		{"include revoked", store.Query{IncludeRevoked: true}, []string{id(first, 0), id(first, 1), id(first, 2), id(second, 0), id(second, 1)}},
		{"limit", store.Query{Limit: 2}, []string{id(first, 0), id(first, 1)}},
	}
	for _, c := range cases {
		got, err := e.st.ListIndicators(e.ctx, v, c.q)
		if err != nil {
			e.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(ids(got), c.want) && len(got)+len(c.want) > 0 {
			e.Errorf("%s: %v, want %v (in seq order)", c.name, ids(got), c.want)
		}
	}
	// Nothing for a viewer without organisation.
	if got, err := e.st.ListIndicators(e.ctx, policy.Viewer{}, store.Query{}); err != nil || len(got) != 0 {
		e.Errorf("a viewer without organisation sees %d indicators (%v)", len(got), err)
	}
	if _, err := e.st.Indicator(e.ctx, policy.Viewer{}, id(first, 0)); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("a viewer without organisation gets an indicator by id: %v", err)
	}
}

func testKeysetPaging(e *env) {
	a := e.org("A", policy.Member, "")
	v := e.viewer(a.ID)
	const n = 1000
	subs := make([]model.Submission, n)
	for i := range subs {
		subs[i] = sub(a.ID, indicator.Domain, "page-"+strconv.Itoa(i)+".example")
	}
	var want []string
	for _, r := range e.ingest(subs...) {
		want = append(want, r.ID)
	}
	// Updates move indicators to the end of the sequence.
	var moved []model.Submission
	var movedIDs []string
	for i := 0; i < n; i += 10 {
		moved = append(moved, subs[i])
		movedIDs = append(movedIDs, want[i])
	}
	e.ingest(moved...)
	var order []string
	for i, id := range want {
		if i%10 != 0 {
			order = append(order, id)
		}
	}
	order = append(order, movedIDs...)

	got := e.list(v, store.Query{Limit: 7})
	if !slices.Equal(ids(got), order) {
		seen := map[string]int{}
		for _, id := range ids(got) {
			seen[id]++
		}
		dups := 0
		for _, c := range seen {
			if c > 1 {
				dups++
			}
		}
		e.Errorf("paging 7 at a time: %d indicators (%d distinct, %d seen more than once), want %d once each in seq order",
			len(got), len(seen), dups, n)
	}
	if first, err := e.st.ListIndicators(e.ctx, v, store.Query{}); err != nil || len(first) != 100 {
		e.Errorf("the default page has %d indicators (%v), want 100", len(first), err)
	}
	// Newest first, 7 at a time with Before: the same order reversed.
	var desc []string
	q := store.Query{Desc: true, Limit: 7}
	for {
		page, err := e.st.ListIndicators(e.ctx, v, q)
		if err != nil {
			e.Fatal(err)
		}
		desc = append(desc, ids(page)...)
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].Seq
	}
	rev := slices.Clone(order)
	slices.Reverse(rev)
	if !slices.Equal(desc, rev) {
		e.Errorf("newest first: %d indicators, want %d in reverse seq order", len(desc), len(rev))
	}
}
