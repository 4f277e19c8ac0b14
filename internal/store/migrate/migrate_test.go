package migrate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/migrate"
	"github.com/hdnetwork/hdn/internal/store/postgres"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// population is what populate made, to read back.
type population struct {
	orgs, reports, stix, users, sessions, tokens, feeds []string
	floor                                               int64
}

// TestSQLiteToPostgres migrates a populated SQLite store (organisations of
// every kind, keys, groups, indicators with every kind of audience, reports,
// sightings, proposals, users and sessions, webhooks, feeds, peers and
// origins, STIX objects, enrolment tokens, sensors, alerts, audit, a
// compacted change log) to PostgreSQL and compares everything read back
// through store.Store; then the PostgreSQL store goes on where SQLite
// stopped (sequence numbers, paging numbers).
func TestSQLiteToPostgres(t *testing.T) {
	dsn := hubtest.PostgresDSN(t)
	ctx := t.Context()
	dir := t.TempDir()
	src, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	pop := populate(t, src)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := migrate.SQLiteToPostgres(ctx, dir, dsn, nil)
	if err != nil {
		t.Fatalf("SQLiteToPostgres: %v", err)
	}
	if rep.Rows() == 0 || rep.LastSeq == 0 {
		t.Fatalf("report: %+v", rep)
	}
	t.Logf("copied %d rows in %d tables; change sequence at %d", rep.Rows(), len(rep.Tables), rep.LastSeq)

	a, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	compare(t, pop, a, b)

	// PostgreSQL continues the numbering.
	last, _ := a.LastSeq(ctx)
	res := ingest(t, b, model.Submission{Type: indicator.Domain, Value: "after-migration.example.org", TLP: policy.Green, Source: pop.orgs[1], SubmittedBy: pop.orgs[1]})
	if res[0].Seq <= last {
		t.Errorf("the first change on PostgreSQL has seq %d, not after SQLite's last %d", res[0].Seq, last)
	}
	audit, _ := a.ListAudit(ctx, store.AuditQuery{Limit: 1000})
	if err := b.AppendAudit(ctx, model.AuditEntry{At: time.Now(), Actor: "cli", Action: "test.after", Target: "x"}); err != nil {
		t.Fatal(err)
	}
	after, _ := b.ListAudit(ctx, store.AuditQuery{After: audit[len(audit)-1].Seq, Limit: 10})
	if len(after) != 1 || after[0].Action != "test.after" {
		t.Errorf("audit entries after the migrated ones on PostgreSQL: %+v", after)
	}
	// A second migration into the same database is refused.
	if _, err := migrate.SQLiteToPostgres(ctx, dir, dsn, nil); err == nil {
		t.Error("a migration into a database that holds hub data was not refused")
	}
}

func ingest(t *testing.T, st store.Store, subs ...model.Submission) []store.UpsertResult {
	t.Helper()
	in, err := st.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := in.Put(t.Context(), subs)
	if err != nil {
		in.Rollback()
		t.Fatalf("Put: %v", err)
	}
	if err := in.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func populate(t *testing.T, st *sqlite.Store) population {
	ctx := t.Context()
	var p population
	now := time.Now().UTC().Truncate(time.Second)
	org := func(name string, kind policy.OrgKind, partner string) model.Org {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: kind, Partner: partner})
		must(t, err)
		p.orgs = append(p.orgs, o.ID)
		return o
	}
	coord := org("sector-cert", policy.Coordinator, "")
	ha := org("hospital-a", policy.Member, "")
	hb := org("hospital-b", policy.Member, "")
	partner := org("secureops", policy.Partner, "")
	cust := org("care-home", policy.Customer, partner.ID)
	ncert := org("national-cert", policy.NationalCERT, "")
	peerOrg := org("peer-hub", policy.PeerHub, "")
	gone := org("gone", policy.Member, "")
	must(t, st.SetOrgStatus(ctx, hb.ID, model.OrgPending))

	for i, o := range []model.Org{coord, ha, hb, cust, ncert} {
		k := model.Key{ID: fmt.Sprintf("key%d", i), OrgID: o.ID, Role: policy.Analyst, Name: "k", Hash: []byte{byte(i), 0xff, 0}, Created: now}
		must(t, st.CreateKey(ctx, k))
	}
	must(t, st.SetKeyExpiry(ctx, "key1", now.Add(24*time.Hour)))
	must(t, st.RevokeKey(ctx, "key2"))
	must(t, st.TouchKeys(ctx, map[string]time.Time{"key0": now.Add(time.Minute)}))

	g, err := st.CreateGroup(ctx, model.Group{Name: "north", Owner: ha.ID, Members: []string{ha.ID, hb.ID}})
	must(t, err)
	must(t, st.SetGroupMember(ctx, g.ID, cust.ID, true))

	r, err := st.CreateReport(ctx, model.Report{Title: "phishing wave", Narrative: "n", ThreatActor: "ta", Campaign: "c", Tags: []string{"t"},
		Context: []model.ContextAttribute{{ID: "0191c0de-0000-7000-8000-000000000001", Type: "link", Value: "https://example.org/x"}},
		TLP:     policy.Amber, Audience: policy.Audience{Kind: policy.Group, Group: g.ID}, Source: ha.ID, SubmittedBy: ha.ID})
	must(t, err)
	p.reports = append(p.reports, r.ID)
	r2, err := st.CreateReport(ctx, model.Report{Title: "anon", TLP: policy.Green, Source: cust.ID, SubmittedBy: partner.ID, Anonymous: true})
	must(t, err)
	p.reports = append(p.reports, r2.ID)

	sub := func(v string, tlp policy.TLP, a policy.Audience, src model.Org) model.Submission {
		return model.Submission{Type: indicator.Domain, Value: v, TLP: tlp, Audience: a, Labels: []string{"phishing"}, Description: "d",
			Confidence: 70, Source: src.ID, SubmittedBy: src.ID, Tags: []string{"x"}}
	}
	s1 := sub("net.example.org", policy.Green, policy.NetworkAudience(), ha)
	s1.ReportID = r.ID
	s2 := sub("group.example.org", policy.Amber, policy.Audience{Kind: policy.Group, Group: g.ID}, ha)
	s3 := sub("red.example.org", policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{ha.ID, coord.ID}}, ha)
	s4 := sub("anon.example.org", policy.Amber, policy.NetworkAudience(), cust)
	s4.Anonymous, s4.SubmittedBy = true, partner.ID
	s5 := sub("due.example.org", policy.Green, policy.NetworkAudience(), hb)
	s5.ValidUntil = now.Add(time.Second)
	s6 := sub("quarantined.example.org", policy.Green, policy.NetworkAudience(), hb)
	s7 := sub("revoked.example.org", policy.Green, policy.NetworkAudience(), gone)
	s8 := sub("203.0.113.7", policy.AmberStrict, policy.NetworkAudience(), ncert)
	s8.Type = indicator.IPv4
	res := ingest(t, st, s1, s2, s3, s4, s5, s6, s7, s8)
	ids := map[string]string{}
	for i, s := range []model.Submission{s1, s2, s3, s4, s5, s6, s7, s8} {
		ids[s.Value] = res[i].ID
	}
	ingest(t, st, sub("net.example.org", policy.Amber, policy.NetworkAudience(), ha)) // an update with Before
	// STIX objects and origins go in an ingest.
	in, err := st.BeginIngest(ctx)
	must(t, err)
	for i, tlp := range []policy.TLP{policy.Green, policy.Amber} {
		id := fmt.Sprintf("malware--0191c0de-0000-7000-8000-00000000000%d", i)
		raw := fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z","name":"x \u00e9","is_family":true}`, id)
		_, err := in.PutSTIXObjects(ctx, []model.STIXObject{{ID: id, Type: "malware", Modified: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
			Raw: json.RawMessage(raw), TLP: tlp, Audience: policy.NetworkAudience(), Source: ha.ID, SubmittedBy: ha.ID}})
		must(t, err)
		p.stix = append(p.stix, id)
	}
	must(t, in.Commit())
	_, err = st.Revoke(ctx, ids["revoked.example.org"], now)
	must(t, err)
	_, err = st.SetQuarantine(ctx, ids["quarantined.example.org"], true, "false positives", now)
	must(t, err)
	_, err = st.ExpireDue(ctx, now.Add(2*time.Second))
	must(t, err)
	_, err = st.ExpireNow(ctx, []string{ids["red.example.org"]}, now)
	must(t, err)
	_, _, err = st.RevokeOrg(ctx, gone.ID, true, now)
	must(t, err)

	must(t, st.AddSightings(ctx, []model.Sighting{
		{IndicatorID: ids["net.example.org"], Org: hb.ID, Kind: model.Sighted, Hour: now.Truncate(time.Hour), Count: 3, Host: "10.0.0.1", ObservedAt: now},
		{IndicatorID: ids["net.example.org"], Org: cust.ID, Kind: model.FalsePositive, Hour: now.Truncate(time.Hour), Count: 1},
		{IndicatorID: ids["group.example.org"], Org: hb.ID, Kind: model.Sighted, Hour: now.Add(-time.Hour).Truncate(time.Hour), Count: 2},
	}))
	pr, err := st.CreateProposal(ctx, model.Proposal{Org: ha.ID, Type: indicator.Domain, Value: "proposed.example.org", Labels: []string{"c2"}, Evidence: "{}"})
	must(t, err)
	_, err = st.DecideProposal(ctx, pr.ID, model.Approved, ids["net.example.org"], now)
	must(t, err)
	_, err = st.CreateProposal(ctx, model.Proposal{Org: ha.ID, Type: indicator.IPv4, Value: "198.51.100.1", Evidence: "{}"})
	must(t, err)

	f, err := st.CreateFeed(ctx, model.Feed{Name: "circl", Kind: "taxii", URL: "https://example.org/taxii2/api/collections/c1/", Collection: "c1", OrgID: coord.ID, TLP: policy.Green,
		Interval: time.Hour, Enabled: true, Auth: "basic", User: "u", Secret: "s3cret", Audience: policy.Audience{Kind: policy.Group, Group: g.ID}})
	must(t, err)
	p.feeds = append(p.feeds, f.ID)
	mf, err := st.CreateFeed(ctx, model.Feed{Name: "misp-feed", Kind: "misp", URL: "https://example.org/misp/", OrgID: coord.ID, TLP: policy.Amber, Interval: time.Hour})
	must(t, err)
	p.feeds = append(p.feeds, mf.ID)
	must(t, st.SetFeedEnabled(ctx, mf.ID, false))
	f.LastRun, f.LastError, f.LastCount = now, "partial", 7
	must(t, st.RecordFeedRun(ctx, f))
	must(t, st.SetFeedEvent(ctx, f.ID, "0191c0de-0000-7000-8000-0000000000aa", 1700000000))

	w, err := st.CreateWebhook(ctx, model.Webhook{Name: "siem", URL: "https://example.org/hook", Secret: "x", Events: []string{model.WebhookEvents[0]}, MinScore: 40, Enabled: true})
	must(t, err)
	must(t, st.RecordDelivery(ctx, w.ID, now, 500, "boom", false))

	u, err := st.CreateUser(ctx, model.User{OrgID: ha.ID, Email: "ana@example.org", Name: "Ana", Role: policy.Analyst, PasswordHash: "$argon2id$x"})
	must(t, err)
	p.users = append(p.users, u.ID)
	must(t, st.TouchUserSignIn(ctx, u.ID, now))
	must(t, st.CreateSession(ctx, model.Session{ID: "sess1", Hash: []byte{1, 2, 3}, UserID: u.ID, CSRF: "c", Created: now, Expires: now.Add(time.Hour), LastSeen: now}))
	p.sessions = append(p.sessions, "sess1")

	must(t, st.AppendAudit(ctx, model.AuditEntry{At: now, Org: ha.ID, Actor: "key1", Action: "indicator.create", Target: ids["net.example.org"], Detail: "d"}))
	must(t, st.AppendAudit(ctx, model.AuditEntry{At: now, Actor: "cli", Action: "org.create", Target: coord.ID}))

	_, err = st.HubID(ctx)
	must(t, err)
	peer, err := st.CreatePeer(ctx, model.Peer{Name: "other-hub", OrgID: peerOrg.ID, URL: "https://hub.example.org", Key: "hdn_x_y", Pull: true, Push: true, Audience: []string{ha.ID}})
	must(t, err)
	must(t, st.SetPeerState(ctx, peer.ID, model.PeerState{RemoteHub: "remote", PullCursor: 42, PushCursor: 7, LastOK: now, LastError: "e"}))
	must(t, st.PutOrigin(ctx, model.Origin{IndicatorID: ids["group.example.org"], OriginHub: "remote", OriginID: "rid", OriginModified: now,
		Hops: []string{"remote"}, ViaPeer: peer.ID, RemoteID: "rid", Digest: "dg"}))
	must(t, st.MarkReturned(ctx, peer.ID, []model.FedSighting{{IndicatorID: ids["group.example.org"], RemoteID: "rid", Kind: model.Sighted, Hour: now.Truncate(time.Hour), Total: 2}}))

	tok := model.EnrolToken{ID: "tok1", OrgID: ha.ID, Hash: []byte("h"), CreatedBy: "cli", Created: now, Expires: now.Add(time.Hour)}
	must(t, st.CreateEnrolToken(ctx, tok))
	must(t, st.RedeemEnrolToken(ctx, "tok1", model.Key{ID: "key9", OrgID: ha.ID, Role: policy.Sensor, Hash: []byte{9}, Created: now}, now))
	must(t, st.CreateEnrolToken(ctx, model.EnrolToken{ID: "tok2", OrgID: ha.ID, Hash: []byte("h2"), CreatedBy: "key1", Created: now, Expires: now.Add(time.Hour)}))
	p.tokens = []string{"tok1", "tok2"}
	must(t, st.PutSensorStatus(ctx, model.SensorStatus{KeyID: "key9", OrgID: ha.ID, Name: "edge-1", Version: "v", Started: now,
		Inputs: []model.SensorInput{{Path: "/var/log/eve.json", Format: "eve", Events: 10, LagSeconds: 0.5}}, EventsPerSecond: 1.5, Indicators: 3, LastSeen: now}))
	_, err = st.CreateAlert(ctx, model.Alert{Kind: "campaign", By: "report", Key: r.ID, Orgs: []string{ha.ID, hb.ID}, Indicators: []string{ids["net.example.org"]},
		First: now.Add(-time.Hour), Last: now, Raised: now, Window: 24 * time.Hour})
	must(t, err)
	_, err = st.AcquireLease(ctx, "hub-jobs", "replica-1", time.Hour, now)
	must(t, err)

	// A compacted change log: the floor and the sequence must survive.
	last, err := st.LastSeq(ctx)
	must(t, err)
	p.floor = last - 3
	_, err = st.CompactChanges(ctx, p.floor)
	must(t, err)
	return p
}

// same fails the test when a and b differ.
func same[T any](t *testing.T, what string, a T, aerr error, b T, berr error) {
	t.Helper()
	if !errors.Is(aerr, berr) && !(aerr != nil && berr != nil) {
		t.Errorf("%s: SQLite error %v, PostgreSQL error %v", what, aerr, berr)
		return
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s differs:\nSQLite:     %+v\nPostgreSQL: %+v", what, a, b)
	}
}

func compare(t *testing.T, p population, a, b store.Store) {
	ctx := t.Context()
	{
		x, xe := a.ListOrgs(ctx)
		y, ye := b.ListOrgs(ctx)
		same(t, "ListOrgs", x, xe, y, ye)
	}
	for _, id := range p.orgs {
		x, xe := a.Viewer(ctx, id)
		y, ye := b.Viewer(ctx, id)
		same(t, "Viewer "+id, x, xe, y, ye)
		for _, all := range []bool{false, true} {
			xi, xe := a.ListIndicators(ctx, x, store.Query{Limit: 10000, IncludeRevoked: all})
			yi, ye := b.ListIndicators(ctx, y, store.Query{Limit: 10000, IncludeRevoked: all})
			same(t, "ListIndicators for "+id, xi, xe, yi, ye)
		}
		xr, xe := a.ListReports(ctx, x, "", 1000)
		yr, ye := b.ListReports(ctx, y, "", 1000)
		same(t, "ListReports for "+id, xr, xe, yr, ye)
		xs, xe := a.ListSTIXObjects(ctx, x, store.STIXQuery{Limit: 1000})
		ys, ye := b.ListSTIXObjects(ctx, y, store.STIXQuery{Limit: 1000})
		same(t, "ListSTIXObjects for "+id, xs, xe, ys, ye)
		xp, xe := a.ListProposals(ctx, id, "", 1000)
		yp, ye := b.ListProposals(ctx, id, "", 1000)
		same(t, "ListProposals for "+id, xp, xe, yp, ye)
		xk, xe := a.ListKeys(ctx, id)
		yk, ye := b.ListKeys(ctx, id)
		same(t, "ListKeys for "+id, xk, xe, yk, ye)
	}
	{
		x, xe := a.ListKeys(ctx, "")
		y, ye := b.ListKeys(ctx, "")
		same(t, "ListKeys", x, xe, y, ye)
		for _, k := range x {
			xk, xe := a.KeyByID(ctx, k.ID)
			yk, ye := b.KeyByID(ctx, k.ID)
			same(t, "KeyByID "+k.ID, xk, xe, yk, ye)
		}
	}
	{
		x, xe := a.ListGroups(ctx)
		y, ye := b.ListGroups(ctx)
		same(t, "ListGroups", x, xe, y, ye)
	}
	var ids []string
	{
		x, xe := a.ScanIndicators(ctx, 0, 10000, true)
		y, ye := b.ScanIndicators(ctx, 0, 10000, true)
		same(t, "ScanIndicators", x, xe, y, ye)
		for _, ind := range x {
			ids = append(ids, ind.ID)
			xi, xe := a.IndicatorByID(ctx, ind.ID)
			yi, ye := b.IndicatorByID(ctx, ind.ID)
			same(t, "IndicatorByID "+ind.ID, xi, xe, yi, ye)
			xc, xe := a.SightingCounts(ctx, ind.ID)
			yc, ye := b.SightingCounts(ctx, ind.ID)
			same(t, "SightingCounts "+ind.ID, xc, xe, yc, ye)
			xf, xe := a.FalsePositiveParties(ctx, ind.ID)
			yf, ye := b.FalsePositiveParties(ctx, ind.ID)
			same(t, "FalsePositiveParties "+ind.ID, xf, xe, yf, ye)
		}
		if len(ids) < 8 {
			t.Fatalf("only %d indicators in the SQLite store", len(ids))
		}
	}
	{
		x, xe := a.LastSeq(ctx)
		y, ye := b.LastSeq(ctx)
		same(t, "LastSeq", x, xe, y, ye)
		xc, xe := a.Changes(ctx, p.floor, 10000)
		yc, ye := b.Changes(ctx, p.floor, 10000)
		same(t, "Changes", xc, xe, yc, ye)
		if len(xc) == 0 {
			t.Error("no changes after the floor in SQLite")
		}
		_, xe = a.Changes(ctx, 0, 10)
		_, ye = b.Changes(ctx, 0, 10)
		if !errors.Is(xe, store.ErrCursorGone) || !errors.Is(ye, store.ErrCursorGone) {
			t.Errorf("Changes before the compaction floor: SQLite %v, PostgreSQL %v; want ErrCursorGone", xe, ye)
		}
	}
	for _, id := range p.reports {
		x, xe := a.ReportByID(ctx, id)
		y, ye := b.ReportByID(ctx, id)
		same(t, "ReportByID "+id, x, xe, y, ye)
	}
	for _, id := range p.stix {
		x, xe := a.STIXObjectByID(ctx, id)
		y, ye := b.STIXObjectByID(ctx, id)
		same(t, "STIXObjectByID "+id, x, xe, y, ye)
	}
	{
		x, xe := a.ListFeeds(ctx)
		y, ye := b.ListFeeds(ctx)
		same(t, "ListFeeds", x, xe, y, ye)
		for _, id := range p.feeds {
			xf, xe := a.Feed(ctx, id)
			yf, ye := b.Feed(ctx, id)
			same(t, "Feed "+id, xf, xe, yf, ye)
			xe2, xe := a.FeedEvents(ctx, id)
			ye2, ye := b.FeedEvents(ctx, id)
			same(t, "FeedEvents "+id, xe2, xe, ye2, ye)
		}
	}
	{
		x, xe := a.ListWebhooks(ctx)
		y, ye := b.ListWebhooks(ctx)
		same(t, "ListWebhooks", x, xe, y, ye)
	}
	{
		x, xe := a.ListUsers(ctx, "")
		y, ye := b.ListUsers(ctx, "")
		same(t, "ListUsers", x, xe, y, ye)
		for _, id := range p.sessions {
			xs, xe := a.Session(ctx, id)
			ys, ye := b.Session(ctx, id)
			same(t, "Session "+id, xs, xe, ys, ye)
		}
	}
	{
		x, xe := a.ListAudit(ctx, store.AuditQuery{Limit: 1000})
		y, ye := b.ListAudit(ctx, store.AuditQuery{Limit: 1000})
		same(t, "ListAudit", x, xe, y, ye)
	}
	{
		x, xe := a.HubID(ctx)
		y, ye := b.HubID(ctx)
		same(t, "HubID", x, xe, y, ye)
		xp, xe := a.ListPeers(ctx)
		yp, ye := b.ListPeers(ctx)
		same(t, "ListPeers", xp, xe, yp, ye)
		xo, xe := a.Origins(ctx, ids)
		yo, ye := b.Origins(ctx, ids)
		same(t, "Origins", xo, xe, yo, ye)
		if len(xo) == 0 {
			t.Error("no origins in SQLite")
		}
		for _, peer := range xp {
			since := time.Now().Add(-72 * time.Hour)
			xs, xe := a.SightingsToReturn(ctx, peer.ID, peer.OrgID, since, 100)
			ys, ye := b.SightingsToReturn(ctx, peer.ID, peer.OrgID, since, 100)
			same(t, "SightingsToReturn "+peer.Name, xs, xe, ys, ye)
		}
	}
	{
		x, xe := a.AuthEpoch(ctx)
		y, ye := b.AuthEpoch(ctx)
		same(t, "AuthEpoch", x, xe, y, ye)
		for _, id := range p.tokens {
			xt, xe := a.EnrolToken(ctx, id)
			yt, ye := b.EnrolToken(ctx, id)
			same(t, "EnrolToken "+id, xt, xe, yt, ye)
		}
		xs, xe := a.ListSensors(ctx, nil)
		ys, ye := b.ListSensors(ctx, nil)
		same(t, "ListSensors", xs, xe, ys, ye)
		xm, xe := a.SharingSince(ctx, time.Time{})
		ym, ye := b.SharingSince(ctx, time.Time{})
		same(t, "SharingSince", xm, xe, ym, ye)
	}
	{
		x, xe := a.Signals(ctx, ids)
		y, ye := b.Signals(ctx, ids)
		same(t, "Signals", x, xe, y, ye)
		xr, xe := a.SourceRecords(ctx)
		yr, ye := b.SourceRecords(ctx)
		same(t, "SourceRecords", xr, xe, yr, ye)
		xg, xe := a.SightingGroups(ctx, time.Time{})
		yg, ye := b.SightingGroups(ctx, time.Time{})
		same(t, "SightingGroups", xg, xe, yg, ye)
		xa, xe := a.ListAlerts(ctx, time.Time{}, 100)
		ya, ye := b.ListAlerts(ctx, time.Time{}, 100)
		same(t, "ListAlerts", xa, xe, ya, ye)
		if len(xa) == 0 {
			t.Error("no alerts in SQLite")
		}
	}
	// The lease too: its holder still has it, another does not get it.
	now := time.Now()
	for name, st := range map[string]store.Store{"SQLite": a, "PostgreSQL": b} {
		if got, err := st.AcquireLease(ctx, "hub-jobs", "replica-2", time.Minute, now); err != nil || got {
			t.Errorf("%s: another replica took the migrated lease: %v %v", name, got, err)
		}
	}
}
