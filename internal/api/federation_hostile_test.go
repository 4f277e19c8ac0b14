package api

import (
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestFederatedCopyOnlyThroughItsPeer: a copy delivered by peer B is not
// taken over by peer A's version of it, however new: its sharing, source
// and origin stay B's, B still revokes it, and A cannot revoke it either.
func TestFederatedCopyOnlyThroughItsPeer(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	if _, err := st.CreateOrg(ctx, model.Org{Name: "cert", Kind: policy.Coordinator}); err != nil {
		t.Fatal(err)
	}
	member, err := st.CreateOrg(ctx, model.Org{Name: "hosp", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	peerB, pB := fedPeer(t, s, st, "hub-b")
	peerA, pA := fedPeer(t, s, st, "hub-a")
	t1 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const id = "01a2b3c4-0000-7000-8000-0000000000aa"
	fromB := &IndicatorJSON{ID: id, Type: "domain", Value: "secret.b-example.org", TLP: "amber+strict", Audience: AudienceJSON{Orgs: []string{"x"}},
		Confidence: 50, ValidFrom: t1, Federation: &FederationJSON{OriginHub: "hub-b", OriginID: id, OriginModified: t1, Hops: []string{"hub-b"}}}
	if r, err := s.ApplyFederated(ctx, pB, []FederatedItem{{Kind: "created", Indicator: fromB}}); err != nil || r.Applied != 1 {
		t.Fatalf("B's delivery: %+v, %v", r, err)
	}
	forged := &IndicatorJSON{ID: "anything", Type: "domain", Value: "secret.b-example.org", TLP: "clear", Audience: AudienceJSON{Network: true},
		Confidence: 100, ValidFrom: t1, Description: "forged by A",
		Federation: &FederationJSON{OriginHub: "hub-zzz", OriginID: id, OriginModified: t1.Add(30 * time.Minute), Hops: []string{"hub-zzz"}}}
	if r, err := s.ApplyFederated(ctx, pA, []FederatedItem{{Kind: "updated", Indicator: forged}}); err != nil || r.Applied != 0 || r.Ignored != 1 {
		t.Errorf("A's version of B's copy: %+v, %v; want it ignored", r, err)
	}
	ind, err := st.IndicatorByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ind.Source != pB.Org.ID || ind.TLP != policy.AmberStrict || ind.Description != "" {
		t.Errorf("the copy after A's version: source %s (B %s), TLP %s, description %q", ind.Source, pB.Org.ID, ind.TLP, ind.Description)
	}
	if v, _ := st.Viewer(ctx, member.ID); policy.CanSee(v, ind.PolicyItem()) {
		t.Error("a member sees B's amber+strict copy after A's version")
	}
	if os, err := st.Origins(ctx, []string{id}); err != nil || os[id].ViaPeer != peerB.ID {
		t.Errorf("the copy's origin after A's version: %+v, %v; want delivered by B", os[id], err)
	}
	if _, err := s.applyRemoval(ctx, peerA, id); err != nil {
		t.Fatal(err)
	}
	if ind, _ := st.IndicatorByID(ctx, id); ind.Revoked {
		t.Error("A's removal revoked B's copy")
	}
	revoked := *fromB
	fb := *fromB.Federation
	fb.OriginModified = t1.Add(time.Minute)
	revoked.Federation, revoked.Revoked = &fb, true
	if r, err := s.ApplyFederated(ctx, pB, []FederatedItem{{Kind: "revoked", Indicator: &revoked}}); err != nil || r.Applied != 1 {
		t.Errorf("B's revocation: %+v, %v", r, err)
	}
	if ind, _ := st.IndicatorByID(ctx, id); !ind.Revoked {
		t.Error("B's revocation did not revoke its copy")
	}
}

// TestFederationBlockBounds: a version from the future (which would win
// over every true one to come) — by the origin's time or by the peer's own
// modification time — or with over-long ids, is refused; an over-long
// quarantine reason is cut.
func TestFederationBlockBounds(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	if _, err := st.CreateOrg(ctx, model.Org{Name: "cert", Kind: policy.Coordinator}); err != nil {
		t.Fatal(err)
	}
	_, p := fedPeer(t, s, st, "hub-b")
	now := time.Now().UTC()
	item := func(id, value string, modified time.Time, hops ...string) *IndicatorJSON {
		return &IndicatorJSON{ID: id, Type: "domain", Value: value, TLP: "green", Audience: AudienceJSON{Network: true}, Confidence: 50,
			ValidFrom: now.Add(-time.Hour), Federation: &FederationJSON{OriginHub: "hub-b", OriginID: id, OriginModified: modified, Hops: hops}}
	}
	future := item("01a2b3c4-0000-7000-8000-0000000000b1", "future.b-example.org", now.Add(48*time.Hour), "hub-b")
	long := item("01a2b3c4-0000-7000-8000-0000000000b2", "long.b-example.org", now, "hub-b", strings.Repeat("h", 80_000))
	// The quarantined one is held here already (a quarantined indicator
	// this hub does not hold is not copied).
	quarantined := item("01a2b3c4-0000-7000-8000-0000000000b3", "quarantined.b-example.org", now.Add(-time.Minute), "hub-b")
	if r, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: "created", Indicator: quarantined}}); err != nil || r.Applied != 1 {
		t.Fatalf("the first version: %+v, %v", r, err)
	}
	quarantined = item("01a2b3c4-0000-7000-8000-0000000000b3", "quarantined.b-example.org", now, "hub-b")
	quarantined.Quarantined, quarantined.QuarantineReason = true, strings.Repeat("r", 500_000)
	futureWrite := item("01a2b3c4-0000-7000-8000-0000000000b4", "future-write.b-example.org", now, "hub-b")
	futureWrite.Modified = now.Add(48 * time.Hour)
	r, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: "created", Indicator: future}, {Kind: "created", Indicator: long},
		{Kind: "created", Indicator: quarantined}, {Kind: "created", Indicator: futureWrite}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != 3 || r.Applied != 1 {
		t.Fatalf("%+v: want the future, the future write and the long one refused, the quarantined one applied", r)
	}
	if !strings.Contains(strings.Join(r.Errors, "\n"), "origin_modified") || !strings.Contains(strings.Join(r.Errors, "\n"), "at most 256 allowed") ||
		!strings.Contains(strings.Join(r.Errors, "\n"), "items[3]: domain future-write.b-example.org: modified") {
		t.Errorf("errors %q do not say why", r.Errors)
	}
	ind, err := st.IndicatorByID(ctx, quarantined.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ind.Quarantined || len(ind.QuarantineReason) > maxQuarantineReasonLen+8 {
		t.Errorf("quarantined %v with a reason of %d bytes, want at most about %d", ind.Quarantined, len(ind.QuarantineReason), maxQuarantineReasonLen)
	}
}

// TestFederatedCopyAfterItsPeerChanged: the peer that delivered a copy,
// removed and added again (the only way to change its URL or key: a new peer
// id, the same peer-hub organisation), still revokes it; and a copy whose
// peer is gone for good is taken over by the next peer that delivers it, or
// its origin's revocation would never reach it.
func TestFederatedCopyAfterItsPeerChanged(t *testing.T) {
	ctx := t.Context()
	s, st := fedServer(t)
	if _, err := st.CreateOrg(ctx, model.Org{Name: "cert", Kind: policy.Coordinator}); err != nil {
		t.Fatal(err)
	}
	peerB, pB := fedPeer(t, s, st, "hub-b")
	_, pC := fedPeer(t, s, st, "hub-c")
	t1 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	version := func(id, value string, at time.Time, revoked bool) *IndicatorJSON {
		return &IndicatorJSON{ID: id, Type: "domain", Value: value, TLP: "green", Audience: AudienceJSON{Network: true}, Confidence: 50,
			ValidFrom: t1, Revoked: revoked, Federation: &FederationJSON{OriginHub: "hub-o", OriginID: id, OriginModified: at, Hops: []string{"hub-o"}}}
	}
	const readded, orphan = "01a2b3c4-0000-7000-8000-0000000000c1", "01a2b3c4-0000-7000-8000-0000000000c2"
	if r, err := s.ApplyFederated(ctx, pB, []FederatedItem{{Kind: "created", Indicator: version(readded, "readded.b-example.org", t1, false)},
		{Kind: "created", Indicator: version(orphan, "orphan.b-example.org", t1, false)}}); err != nil || r.Applied != 2 {
		t.Fatalf("B's delivery: %+v, %v", r, err)
	}
	if err := st.DeletePeer(ctx, peerB.ID); err != nil {
		t.Fatal(err)
	}
	peerB2, err := st.CreatePeer(ctx, model.Peer{Name: "hub-b", OrgID: peerB.OrgID, URL: "https://hub-b2.example.org", Key: "hdn_x.z", Pull: true})
	if err != nil {
		t.Fatal(err)
	}
	pB2, err := s.PrincipalForPeer(ctx, peerB2)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.ApplyFederated(ctx, pB2, []FederatedItem{{Kind: "revoked", Indicator: version(readded, "readded.b-example.org", t1.Add(time.Minute), true)}}); err != nil || r.Applied != 1 {
		t.Errorf("the re-added peer's revocation: %+v, %v", r, err)
	}
	if ind, _ := st.IndicatorByID(ctx, readded); !ind.Revoked {
		t.Error("the re-added peer's revocation was not applied")
	}
	// hub-b is gone for good; hub-c relays the origin's revocation.
	if err := st.DeletePeer(ctx, peerB2.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := s.ApplyFederated(ctx, pC, []FederatedItem{{Kind: "revoked", Indicator: version(orphan, "orphan.b-example.org", t1.Add(time.Minute), true)}}); err != nil || r.Applied != 1 {
		t.Errorf("another peer's revocation of a copy whose peer is gone: %+v, %v", r, err)
	}
	if ind, _ := st.IndicatorByID(ctx, orphan); !ind.Revoked {
		t.Error("the copy whose peer is gone was not revoked")
	}
}
