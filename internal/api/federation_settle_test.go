package api

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestFederatedVersionSettledWhenSentAgain: a hub stores a delivered
// version (revoked on its origin) and stops before revoking its copy; the
// version is recorded with the copy, and since the pull cursor had not
// moved the peer sends the same version again. The copy must be revoked
// then: before, the version was "stale" (the copy had it already) and the
// revocation was lost for good. The stop is made by storing the version
// without settling it, as applyRun does up to its crash point.
func TestFederatedVersionSettledWhenSentAgain(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	self, err := s.HubID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peer, p := fedPeer(t, s, st, "sector-b")
	t1 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	version := func(revoked bool, mod time.Time) *IndicatorJSON {
		const id = "01a2b3c4-0000-7000-8000-0000000000aa"
		return &IndicatorJSON{ID: id, Type: "domain", Value: "settle.fed-test.example", TLP: "green", Audience: AudienceJSON{Network: true},
			Confidence: 50, ValidFrom: t1, Revoked: revoked,
			Federation: &FederationJSON{OriginHub: "hub-b", OriginID: id, OriginModified: mod, Hops: []string{"hub-b"}}}
	}
	live, revoked := version(false, t1), version(true, t1.Add(time.Minute))
	if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Created), Indicator: live}}); err != nil {
		t.Fatal(err)
	}
	// The revoked version stored, and the hub stops before settling it.
	held, err := st.OriginsOf(ctx, []string{revoked.Federation.OriginID})
	if err != nil {
		t.Fatal(err)
	}
	plan, outcome, err := s.planFederated(ctx, newResolver(s, p), peer, self, revoked, held, nil, time.Now().UTC())
	if err != nil || outcome != "" {
		t.Fatalf("plan of the revoked version: %q, %v", outcome, err)
	}
	ids, _, err := s.storeFederated(ctx, []fedPlan{plan})
	if err != nil {
		t.Fatal(err)
	}
	if ind, err := st.IndicatorByID(ctx, ids[0]); err != nil || ind.Revoked {
		t.Fatalf("after the stop the copy is %+v, %v: want it stored and not yet revoked (the test would test nothing)", ind, err)
	}

	res, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Revoked), Indicator: revoked}})
	if err != nil {
		t.Fatal(err)
	}
	ind, err := st.IndicatorByID(ctx, ids[0])
	if err != nil || !ind.Revoked {
		t.Fatalf("after the same version came again the copy is revoked=%t (%v): want revoked", ind.Revoked, err)
	}
	if res.Stale != 1 || res.Applied != 0 || res.LastSeq != ind.Seq {
		t.Errorf("result %+v: want the version counted stale and the revocation's change %d as the last", res, ind.Seq)
	}
	// Once settled, the same version again changes nothing.
	last, _ := st.LastSeq(ctx)
	if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Revoked), Indicator: revoked}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.LastSeq(ctx); again != last {
		t.Errorf("the settled version sent again wrote %d changes", again-last)
	}

	// A copy quarantined here (by this hub's own false-positive reports)
	// is not released by its version sent again, which says nothing new.
	other := version(false, t1)
	other.ID, other.Value = "01a2b3c4-0000-7000-8000-0000000000bb", "quarantined.fed-test.example"
	other.Federation.OriginID = other.ID
	if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Created), Indicator: other}}); err != nil {
		t.Fatal(err)
	}
	os, err := st.OriginsOf(ctx, []string{other.ID})
	if err != nil || len(os) != 1 {
		t.Fatalf("origin of the second copy: %+v, %v", os, err)
	}
	copyID := os[other.ID].IndicatorID
	if _, err := st.SetQuarantine(ctx, copyID, true, "false positive here", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Updated), Indicator: other}}); err != nil {
		t.Fatal(err)
	}
	if ind, err := st.IndicatorByID(ctx, copyID); err != nil || !ind.Quarantined {
		t.Errorf("the copy quarantined here is quarantined=%t (%v) after its old version came again: released by it", ind.Quarantined, err)
	}
}

// TestFederatedReleaseKeepsLocalAgreement: a copy quarantined on its
// origin is released by the origin's next version; one that this hub's own
// organisations agree is a false positive stays quarantined when the origin
// releases or updates it — only this hub's coordinator releases it.
func TestFederatedReleaseKeepsLocalAgreement(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	_, p := fedPeer(t, s, st, "sector-b")
	t1 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	version := func(id, value string, quarantined bool, mod time.Time) *IndicatorJSON {
		return &IndicatorJSON{ID: id, Type: "domain", Value: value, TLP: "green", Audience: AudienceJSON{Network: true},
			Confidence: 50, ValidFrom: t1, Quarantined: quarantined,
			Federation: &FederationJSON{OriginHub: "hub-b", OriginID: id, OriginModified: mod, Hops: []string{"hub-b"}}}
	}
	apply := func(ij *IndicatorJSON) string {
		t.Helper()
		if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Updated), Indicator: ij}}); err != nil {
			t.Fatal(err)
		}
		os, err := st.OriginsOf(ctx, []string{ij.ID})
		if err != nil || len(os) != 1 {
			t.Fatalf("origin of %s: %+v, %v", ij.ID, os, err)
		}
		return os[ij.ID].IndicatorID
	}
	quarantined := func(id string) bool {
		t.Helper()
		ind, err := st.IndicatorByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ind.Quarantined
	}

	const onOrigin, agreedHere = "01a2b3c4-0000-7000-8000-0000000000c1", "01a2b3c4-0000-7000-8000-0000000000c2"
	// A quarantined indicator this hub does not hold is not copied: it
	// would be live between the copy's two writes, streamed and announced
	// as new; its release comes as a new version.
	if r, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Updated), Indicator: version("01a2b3c4-0000-7000-8000-0000000000c9", "never-copied.fed-test.example", true, t1)}}); err != nil || r.Ignored != 1 || r.Applied != 0 {
		t.Errorf("an unknown quarantined version: %+v, %v; want it ignored", r, err)
	}
	if _, err := st.IndicatorByID(ctx, "01a2b3c4-0000-7000-8000-0000000000c9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown quarantined version was stored (%v)", err)
	}
	// Held here before its origin quarantined it.
	apply(version(onOrigin, "origin-fp.fed-test.example", false, t1.Add(-time.Minute)))
	a := apply(version(onOrigin, "origin-fp.fed-test.example", true, t1))
	if !quarantined(a) {
		t.Fatal("a version quarantined on its origin did not quarantine the copy")
	}
	apply(version(onOrigin, "origin-fp.fed-test.example", false, t1.Add(time.Minute)))
	if quarantined(a) {
		t.Error("the origin's release did not release the copy it had quarantined")
	}

	b := apply(version(agreedHere, "local-fp.fed-test.example", false, t1))
	var fps []model.Sighting
	for i := range 2 {
		o, err := st.CreateOrg(ctx, model.Org{Name: fmt.Sprintf("hosp-%d", i), Kind: policy.Member})
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, model.Sighting{IndicatorID: b, Org: o.ID, Kind: model.FalsePositive, Hour: t1, Count: 1})
	}
	if err := st.AddSightings(ctx, fps); err != nil {
		t.Fatal(err)
	}
	if n, err := s.reportFalsePositives(ctx, p, []string{b}); err != nil || n != 1 || !quarantined(b) {
		t.Fatalf("two organisations' false-positive reports quarantined %d (%v)", n, err)
	}
	apply(version(agreedHere, "local-fp.fed-test.example", false, t1.Add(time.Minute)))
	if !quarantined(b) {
		t.Error("the origin's next version released a copy this hub's organisations agree is a false positive")
	}
}

// TestFederatedRemovalBySendersID: a peer's removal names its own id of
// the indicator, which differs from the origin's when the peer's copy could
// not keep the origin's id. The copy it delivered under that id is revoked;
// before, the removal was looked up by origin id, found nothing, and the
// copy stayed live. A removal from another peer, or naming the origin's id,
// revokes nothing.
func TestFederatedRemovalBySendersID(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	_, b := fedPeer(t, s, st, "sector-b")
	_, c := fedPeer(t, s, st, "sector-c")
	const originID, sendersID = "01a2b3c4-0000-7000-8000-0000000000d1", "01a2b3c4-0000-7000-8000-0000000000d2"
	t1 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	ij := &IndicatorJSON{ID: sendersID, Type: "domain", Value: "renamed.fed-test.example", TLP: "green", Audience: AudienceJSON{Network: true},
		Confidence: 50, ValidFrom: t1, Federation: &FederationJSON{OriginHub: "hub-a", OriginID: originID, OriginModified: t1, Hops: []string{"hub-a", "hub-b"}}}
	if _, err := s.ApplyFederated(ctx, b, []FederatedItem{{Kind: string(model.Created), Indicator: ij}}); err != nil {
		t.Fatal(err)
	}
	live := func() bool {
		t.Helper()
		ind, err := st.IndicatorByID(ctx, originID)
		if err != nil {
			t.Fatal(err)
		}
		return !ind.Revoked
	}
	for _, no := range []struct {
		p  *Principal
		id string
	}{{c, sendersID}, {b, originID}} {
		res, err := s.ApplyFederated(ctx, no.p, []FederatedItem{{Kind: EventRemoved, ID: no.id}})
		if err != nil || res.Ignored != 1 || !live() {
			t.Fatalf("a removal of %s by %s: %+v, %v, live %t; want it ignored", no.id, no.p.Org.Name, res, err, live())
		}
	}
	res, err := s.ApplyFederated(ctx, b, []FederatedItem{{Kind: EventRemoved, ID: sendersID}})
	if err != nil || res.Applied != 1 || live() {
		t.Errorf("the delivering peer's removal under its own id: %+v, %v, live %t; want the copy revoked", res, err, live())
	}
}

// fedServer is an API server over a real SQLite store, closed when the
// test ends.
func fedServer(t *testing.T) (*Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: Limits{RateLimit: -1}}), st
}

// fedPeer makes a peer hub called name (its organisation and peer) and the
// principal its deliveries are applied as.
func fedPeer(t *testing.T, s *Server, st *sqlite.Store, name string) (model.Peer, *Principal) {
	t.Helper()
	ctx := t.Context()
	org, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: policy.PeerHub})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := st.CreatePeer(ctx, model.Peer{Name: name, OrgID: org.ID, URL: "https://" + name + ".example.org", Key: "hdn_x.y", Pull: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PrincipalForPeer(ctx, peer)
	if err != nil {
		t.Fatal(err)
	}
	return peer, p
}
