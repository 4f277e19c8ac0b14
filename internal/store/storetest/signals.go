package storetest

import (
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testQuarantineAndExpireNow: a quarantined indicator is not live, keeps
// its reason, and is released with one change each way; ExpireNow expires
// live indicators with one change each and leaves the others alone; a
// live-only scan leaves out what is not live.
func testQuarantineAndExpireNow(e *env) {
	src := e.org(e.unique("src"), policy.Member, "")
	res := e.ingest(sub(src.ID, indicator.Domain, e.unique("q")+".signal.example"), sub(src.ID, indicator.Domain, e.unique("x")+".signal.example"),
		sub(src.ID, indicator.Domain, e.unique("y")+".signal.example"))
	before := e.lastSeq()
	ind, err := e.st.SetQuarantine(e.ctx, res[0].ID, true, "false positive reported by 2 organisations", time.Now())
	if err != nil || !ind.Quarantined || ind.QuarantineReason == "" || ind.Live(time.Now()) || ind.Seq != before+1 {
		e.Fatalf("SetQuarantine: %+v, %v", ind, err)
	}
	if again, _ := e.st.SetQuarantine(e.ctx, res[0].ID, true, "false positive reported by 2 organisations", time.Now()); again.Seq != ind.Seq {
		e.Errorf("quarantining twice wrote a change")
	}
	if chs := e.changes(before, 10); len(chs) != 1 || chs[0].Kind != model.Updated || !chs[0].Indicator.Quarantined {
		e.Errorf("changes after quarantine: %+v", chs)
	}
	// A new submission of the same value keeps it quarantined.
	e.ingest(sub(src.ID, indicator.Domain, ind.Value))
	if got := e.byID(ind.ID); !got.Quarantined {
		e.Errorf("a resubmission released the quarantine")
	}
	rel, err := e.st.SetQuarantine(e.ctx, res[0].ID, false, "ignored", time.Now())
	if err != nil || rel.Quarantined || rel.QuarantineReason != "" || !rel.Live(time.Now()) {
		e.Errorf("release: %+v, %v", rel, err)
	}
	_, err = e.st.SetQuarantine(e.ctx, "no-such-indicator", true, "x", time.Now())
	e.wantErr(err, store.ErrNotFound, "quarantining an unknown indicator")

	if _, err := e.st.Revoke(e.ctx, res[2].ID, time.Now()); err != nil {
		e.Fatal(err)
	}
	before = e.lastSeq()
	n, err := e.st.ExpireNow(e.ctx, []string{res[1].ID, res[2].ID, "no-such-indicator"}, time.Now())
	if err != nil || n != 1 {
		e.Errorf("ExpireNow: %d, %v (want 1: the revoked one and an unknown id left alone)", n, err)
	}
	if chs := e.changes(before, 10); len(chs) != 1 || chs[0].Kind != model.Expired || chs[0].Indicator.ID != res[1].ID || chs[0].Indicator.Live(time.Now()) {
		e.Errorf("changes after ExpireNow: %+v", chs)
	}
	if n, _ := e.st.ExpireNow(e.ctx, []string{res[1].ID}, time.Now()); n != 0 {
		e.Errorf("expiring twice: %d", n)
	}
	live, err := e.st.ScanIndicators(e.ctx, 0, 10_000, false)
	if err != nil {
		e.Fatal(err)
	}
	for _, ind := range live {
		if ind.ID == res[1].ID || ind.ID == res[2].ID {
			e.Errorf("the live scan returned %s (expired or revoked)", ind.ID)
		}
	}
	all, _ := e.st.ScanIndicators(e.ctx, 0, 10_000, true)
	if !slices.ContainsFunc(all, func(i model.Indicator) bool { return i.ID == res[2].ID }) {
		e.Errorf("the full scan lacks the revoked indicator")
	}
}

// testSignalsAndGroups: signals count other organisations only; a source's
// record counts its confirmed and disputed indicators; sightings group by
// report, label and actor within the window.
func testSignalsAndGroups(e *env) {
	src := e.org(e.unique("src"), policy.Member, "")
	a := e.org(e.unique("a"), policy.Member, "")
	b := e.org(e.unique("b"), policy.Member, "")
	rep, err := e.st.CreateReport(e.ctx, model.Report{Title: "winter", ThreatActor: "APT-Cold", TLP: policy.Green, Audience: policy.NetworkAudience(), Source: src.ID, SubmittedBy: src.ID})
	if err != nil {
		e.Fatal(err)
	}
	s1 := sub(src.ID, indicator.Domain, e.unique("one")+".signal.example")
	s1.ReportID, s1.Labels = rep.ID, []string{"ransomware"}
	s2 := sub(src.ID, indicator.Domain, e.unique("two")+".signal.example")
	s2.Labels = []string{"ransomware", "c2"}
	s3 := sub(src.ID, indicator.Domain, e.unique("three")+".signal.example")
	res := e.ingest(s1, s2, s3)
	hour := time.Now().UTC().Truncate(time.Hour)
	old := hour.Add(-48 * time.Hour)
	if err := e.st.AddSightings(e.ctx, []model.Sighting{
		{IndicatorID: res[0].ID, Org: a.ID, Kind: model.Sighted, Hour: hour, Count: 3},
		{IndicatorID: res[0].ID, Org: b.ID, Kind: model.Sighted, Hour: hour.Add(-time.Hour), Count: 1},
		{IndicatorID: res[0].ID, Org: src.ID, Kind: model.Sighted, Hour: hour, Count: 9}, // the source's own: not counted
		{IndicatorID: res[1].ID, Org: a.ID, Kind: model.Sighted, Hour: old, Count: 1},
		{IndicatorID: res[2].ID, Org: a.ID, Kind: model.FalsePositive, Hour: hour, Count: 1},
		{IndicatorID: res[2].ID, Org: b.ID, Kind: model.FalsePositive, Hour: hour, Count: 1},
	}); err != nil {
		e.Fatal(err)
	}
	sig, err := e.st.Signals(e.ctx, []string{res[0].ID, res[1].ID, res[2].ID, "none"})
	if err != nil {
		e.Fatal(err)
	}
	if s := sig[res[0].ID]; s.Sighters != 2 || s.FalsePositives != 0 || !s.LastSighting.Equal(hour.Add(time.Hour)) {
		e.Errorf("signal of the sighted one: %+v", s)
	}
	if s := sig[res[2].ID]; s.Sighters != 0 || s.FalsePositives != 2 || !s.LastSighting.IsZero() {
		e.Errorf("signal of the disputed one: %+v", s)
	}
	if _, ok := sig["none"]; ok {
		e.Errorf("a signal for an unknown id")
	}
	fps, err := e.st.FalsePositiveParties(e.ctx, res[2].ID)
	if err != nil || !slices.Equal(fps, sorted([]string{a.ID, b.ID})) {
		e.Errorf("FalsePositiveParties: %v, %v", fps, err)
	}
	recs, err := e.st.SourceRecords(e.ctx)
	if err != nil || recs[src.ID] != (model.SourceRecord{Confirmed: 2, FalsePositive: 1}) {
		e.Errorf("source record %+v, %v; want 2 confirmed, 1 false positive", recs[src.ID], err)
	}
	groups, err := e.st.SightingGroups(e.ctx, hour.Add(-24*time.Hour))
	if err != nil {
		e.Fatal(err)
	}
	find := func(by, key string) *model.SightingGroup {
		for i := range groups {
			if groups[i].By == by && groups[i].Key == key {
				return &groups[i]
			}
		}
		return nil
	}
	want := sorted([]string{a.ID, b.ID})
	for _, k := range [][2]string{{"report", rep.ID}, {"actor", "apt-cold"}, {"label", "ransomware"}} {
		g := find(k[0], k[1])
		if g == nil || !slices.Equal(g.Orgs, want) || !slices.Equal(g.Indicators, []string{res[0].ID}) || !g.First.Equal(hour.Add(-time.Hour)) || !g.Last.Equal(hour) {
			e.Errorf("group %v: %+v", k, g)
		}
	}
	if g := find("label", "c2"); g != nil {
		e.Errorf("a sighting outside the window was grouped: %+v", g)
	}
	if n, err := e.st.ValueSighters(e.ctx, []string{res[0].ID, res[1].ID}, old); err != nil || n != 3 {
		e.Errorf("ValueSighters: %d, %v (the source, a and b)", n, err)
	}
	// Alerts.
	al, err := e.st.CreateAlert(e.ctx, model.Alert{Kind: "campaign", By: "report", Key: rep.ID, Orgs: want, Indicators: []string{res[0].ID},
		First: hour.Add(-time.Hour), Last: hour, Window: 24 * time.Hour})
	if err != nil {
		e.Fatal(err)
	}
	last, err := e.st.LastAlert(e.ctx, "report", rep.ID)
	if err != nil || last.ID != al.ID || !slices.Equal(last.Orgs, want) || last.Window != 24*time.Hour {
		e.Errorf("LastAlert: %+v, %v", last, err)
	}
	_, err = e.st.LastAlert(e.ctx, "report", "no-such-report")
	e.wantErr(err, store.ErrNotFound, "LastAlert of a key without alerts")
	if as, err := e.st.ListAlerts(e.ctx, time.Now().Add(-time.Minute), 10); err != nil || !slices.ContainsFunc(as, func(x model.Alert) bool { return x.ID == al.ID }) {
		e.Errorf("ListAlerts: %+v, %v", as, err)
	}
}

// testFalsePositiveParties: a partner and its customers are one party when
// they report a false positive (the partner holds its customers' keys), and
// the source's side (its partner, the partner's other customers) does not
// count at all.
func testFalsePositiveParties(e *env) {
	p1 := e.org(e.unique("p1"), policy.Partner, "")
	c1 := e.org(e.unique("c1"), policy.Customer, p1.ID)
	c2 := e.org(e.unique("c2"), policy.Customer, p1.ID)
	src := e.org(e.unique("src"), policy.Customer, p1.ID)
	m := e.org(e.unique("m"), policy.Member, "")
	other := e.org(e.unique("other"), policy.Member, "")
	res := e.ingest(sub(other.ID, indicator.Domain, e.unique("fp1")+".signal.example"), sub(src.ID, indicator.Domain, e.unique("fp2")+".signal.example"))
	hour := time.Now().UTC().Truncate(time.Hour)
	fp := func(id string, orgs ...model.Org) {
		var ss []model.Sighting
		for _, o := range orgs {
			ss = append(ss, model.Sighting{IndicatorID: id, Org: o.ID, Kind: model.FalsePositive, Hour: hour, Count: 1})
		}
		if err := e.st.AddSightings(e.ctx, ss); err != nil {
			e.Fatal(err)
		}
	}
	// other's indicator: the partner and two customers are one party.
	fp(res[0].ID, p1, c1, c2)
	if got, err := e.st.FalsePositiveParties(e.ctx, res[0].ID); err != nil || !slices.Equal(got, []string{p1.ID}) {
		e.Errorf("a partner and its customers: parties %v, %v; want the partner alone", got, err)
	}
	fp(res[0].ID, m)
	if got, err := e.st.FalsePositiveParties(e.ctx, res[0].ID); err != nil || !slices.Equal(got, sorted([]string{p1.ID, m.ID})) {
		e.Errorf("with a member: parties %v, %v; want the partner and the member", got, err)
	}
	// A customer's indicator: its partner and fellow customers are its own
	// side; only the member counts.
	fp(res[1].ID, p1, c1, src, m)
	if got, err := e.st.FalsePositiveParties(e.ctx, res[1].ID); err != nil || !slices.Equal(got, []string{m.ID}) {
		e.Errorf("a customer's indicator: parties %v, %v; want the member alone", got, err)
	}
}

// testSightingCountCapped: an hour's count stops at MaxSightingCount, so
// that a sender repeating the largest count cannot overflow the sums that
// every read of the indicator's sightings makes; a larger count is refused.
func testSightingCountCapped(e *env) {
	src := e.org(e.unique("src"), policy.Member, "")
	a := e.org(e.unique("a"), policy.Member, "")
	res := e.ingest(sub(src.ID, indicator.Domain, e.unique("cap")+".signal.example"))
	hour := time.Now().UTC().Truncate(time.Hour)
	big := model.Sighting{IndicatorID: res[0].ID, Org: a.ID, Kind: model.Sighted, Hour: hour, Count: model.MaxSightingCount}
	for range 3 {
		if err := e.st.AddSightings(e.ctx, []model.Sighting{big, big}); err != nil {
			e.Fatalf("AddSightings of the largest count: %v", err)
		}
	}
	counts, err := e.st.SightingCounts(e.ctx, res[0].ID)
	if err != nil || len(counts) != 1 || counts[0].Count != model.MaxSightingCount {
		e.Errorf("after six of the largest count: %+v, %v; want one count of %d", counts, err, int64(model.MaxSightingCount))
	}
	big.Count++
	if err := e.st.AddSightings(e.ctx, []model.Sighting{big}); err == nil {
		e.Errorf("AddSightings accepted a count of %d", big.Count)
	}
}
