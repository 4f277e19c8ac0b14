package hub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// How a hub applies the states of federated indicators that its peers
// deliver: at one origin time, across a peer removed and added again, a
// removal and a readmission, a resynchronisation. Each test failed on the
// code before its fix (found by an audit of the federation's apply path).

// relayedState is one delivered state of an indicator as a relaying peer
// ("hub-b", relaying the origin "hub-a") sends it: the origin's time mod,
// and the relay's own modification time of its copy, local.
type relayedState struct {
	id, value         string
	mod, local        time.Time
	validFrom         time.Time
	validUntil        *time.Time
	quarantined, gone bool
	kind              string
	hops              []string
	network           bool
	originHub         string
	confidence        int
	revoked           bool
}

func (v relayedState) item() map[string]any {
	kind := v.kind
	if kind == "" {
		kind = "updated"
	}
	hops, origin := v.hops, v.originHub
	if origin == "" {
		origin = "hub-a"
	}
	if hops == nil {
		hops = []string{"hub-a", "hub-b"}
	}
	conf := v.confidence
	if conf == 0 {
		conf = 60
	}
	ind := map[string]any{"id": v.id, "type": "domain", "value": v.value, "tlp": "green",
		"audience": map[string]any{"network": true}, "confidence": conf, "valid_from": v.validFrom,
		"revoked": v.revoked, "quarantined": v.quarantined, "modified": v.local,
		"federation": map[string]any{"origin_hub": origin, "origin_id": v.id, "origin_modified": v.mod, "hops": hops}}
	if v.quarantined {
		ind["quarantine_reason"] = "reported a false positive by 2 organisations"
	}
	if v.validUntil != nil {
		ind["valid_until"] = *v.validUntil
		ind["expired"] = v.gone
	}
	return map[string]any{"kind": kind, "indicator": ind}
}

func pushStates(t *testing.T, h *hubtest.Hub, key string, items ...map[string]any) {
	t.Helper()
	if r := h.Do("POST", "/api/v1/federation/indicators", key, map[string]any{"items": items}); r.Status != 200 {
		t.Fatalf("push: %d %s", r.Status, r.Body)
	}
}

// TestFederationQuarantineAtOneOriginTime: a relaying hub stores the origin's
// new version and settles it (quarantines or releases its copy) in a second
// write; between the two its stream and its push can read the stored but
// unsettled state, with the origin's time and the copy's previous
// quarantine flag, and deliver it before or after the settled one. The
// states differ only in the flag; the one the relay wrote later (its own
// "modified") must win — the digest tie-break alone got one of these wrong
// for every value:
//
//   - quarantined on the origin (two hospitals reported a false positive
//     that blocks, say, a lab supplier's portal): a late read of the
//     unquarantined state must not release the copy here again, or this
//     hub's sensors go on blocking it;
//   - released on the origin (a true positive after all): the settled,
//     released state arriving after the unsettled, still quarantined one
//     must release the copy, or it stays quarantined here for good (until
//     the origin changes it again) and this hub's sensors no longer match
//     a live C2 domain.
//
// Eight values cover both orders of the two digests.
func TestFederationQuarantineAtOneOriginTime(t *testing.T) {
	ctx := context.Background()
	h := hubtest.Start(t, fedConfig("", ""))
	peerKey := h.Key(h.Org("hub-b", policy.PeerHub, ""), policy.Analyst)
	now := time.Now().UTC().Truncate(time.Second)
	from := now.Add(-48 * time.Hour)
	t1, t2 := now.Add(-2*time.Hour), now.Add(-time.Hour)
	local1, local2 := now.Add(-50*time.Minute), now.Add(-50*time.Minute+time.Millisecond)
	type want struct {
		id, what    string
		quarantined bool
	}
	var wants []want
	for i := range 8 {
		// Quarantined on the origin at t2: the relay's settled state
		// (quarantined, written last) comes first, its unsettled one
		// (not quarantined yet, written first) late.
		id, value := fmt.Sprintf("01a2b3c4-0000-7000-8000-0000000001a%d", i), fmt.Sprintf("quarantine-%d.fed-audit.example", i)
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t1, local: now.Add(-90 * time.Minute), validFrom: from}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local2, validFrom: from, quarantined: true}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local1, validFrom: from}.item())
		wants = append(wants, want{id, "quarantined on the origin, then a late read of the relay's unsettled state", true})

		// Released on the origin at t2, in the order the relay wrote it:
		// stored (still quarantined), then released.
		id, value = fmt.Sprintf("01a2b3c4-0000-7000-8000-0000000001b%d", i), fmt.Sprintf("release-%d.fed-audit.example", i)
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t1, local: now.Add(-90 * time.Minute), validFrom: from, quarantined: true}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local1, validFrom: from, quarantined: true}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local2, validFrom: from}.item())
		wants = append(wants, want{id, "released on the origin, the relay's stored then settled states in order", false})
	}
	for _, w := range wants {
		ind, err := h.Store.IndicatorByID(ctx, w.id)
		if err != nil {
			t.Fatalf("%s: %v", w.id, err)
		}
		if ind.Quarantined != w.quarantined {
			t.Errorf("%s (%s): quarantined=%t, want %t", ind.Value, w.what, ind.Quarantined, w.quarantined)
		}
	}
}

// TestFederationExpiryAtOneOriginTime: the same with an early expiry (the
// origin's decay, or an expiry the relay settles after storing the
// version). The relay's unsettled state keeps the earlier valid_until; its
// settled one is expired. Read late, the unsettled state must be stale:
// storing it (a later valid_until) would clear the expired flag, and an
// indicator the origin retired would be live again here, matched by its
// sensors for another day. In the order written, the expired state must
// win (by the digest tie-break alone it lost half the time).
func TestFederationExpiryAtOneOriginTime(t *testing.T) {
	ctx := context.Background()
	h := hubtest.Start(t, fedConfig("", ""))
	peerKey := h.Key(h.Org("hub-b", policy.PeerHub, ""), policy.Analyst)
	now := time.Now().UTC().Truncate(time.Second)
	from := now.Add(-48 * time.Hour)
	t1, t2 := now.Add(-2*time.Hour), now.Add(-time.Hour)
	local1, local2 := now.Add(-50*time.Minute), now.Add(-50*time.Minute+time.Millisecond)
	later := now.Add(24 * time.Hour)
	expiredAt := now.Add(-50 * time.Minute)
	var ids []string
	for i := range 8 {
		id, value := fmt.Sprintf("01a2b3c4-0000-7000-8000-0000000002a%d", i), fmt.Sprintf("expiry-late-%d.fed-audit.example", i)
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t1, local: now.Add(-90 * time.Minute), validFrom: from, validUntil: &later}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local2, validFrom: from, validUntil: &expiredAt, gone: true}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local1, validFrom: from, validUntil: &later}.item())
		ids = append(ids, id)

		id, value = fmt.Sprintf("01a2b3c4-0000-7000-8000-0000000002b%d", i), fmt.Sprintf("expiry-inorder-%d.fed-audit.example", i)
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t1, local: now.Add(-90 * time.Minute), validFrom: from, validUntil: &later}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local1, validFrom: from, validUntil: &later}.item())
		pushStates(t, h, peerKey, relayedState{id: id, value: value, mod: t2, local: local2, validFrom: from, validUntil: &expiredAt, gone: true}.item())
		ids = append(ids, id)
	}
	for _, id := range ids {
		ind, err := h.Store.IndicatorByID(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if ind.Live(time.Now()) {
			t.Errorf("%s: live (valid_until %s) after the origin expired it", ind.Value, ind.ValidUntil.Format(time.RFC3339))
		}
	}
}

// TestFederationRemovalAfterPeerChanged: a peer's copies are filed under
// the peer's id. The same peer-hub organisation as a new peer — removed and
// added again, the only way to change its URL or key, or added with `peer
// add` after it had pushed without being a peer — must find them again:
// its removals name the copy by the peer's id, and the resynchronisation
// lists them by it (GET /federation/held, reconcilePull's HeldVia). They
// were ignored, and a copy the peer narrowed out of this hub's sight (to
// red, to a list of its own members) stayed live here and visible to every
// hospital on this hub: a leak, and a revocation by removal lost.
func TestFederationRemovalAfterPeerChanged(t *testing.T) {
	ctx := context.Background()
	h := hubtest.Start(t, fedConfig("", ""))
	po := h.Org("hub-b", policy.PeerHub, "")
	peerKey := h.Key(po, policy.Analyst)
	memberKey := h.Key(h.Org("hosp", policy.Member, ""), policy.Analyst)
	now := time.Now().UTC().Truncate(time.Second)
	from := now.Add(-48 * time.Hour)
	t1 := now.Add(-time.Hour)
	const early, readded = "01a2b3c4-0000-7000-8000-0000000003a1", "01a2b3c4-0000-7000-8000-0000000003a2"
	v := func(id, value string) map[string]any {
		return relayedState{id: id, value: value, mod: t1, local: t1, validFrom: from, originHub: "hub-b", hops: []string{"hub-b"}}.item()
	}
	// Pushed before the organisation was a peer here.
	pushStates(t, h, peerKey, v(early, "early.fed-audit.example"))
	// The operator adds it as a peer (to return sightings to it).
	peer := model.Peer{Name: "hub-b", OrgID: po.ID, URL: "http://127.0.0.1:9", Key: "hdn_x.y", Paused: true}
	p1, err := h.Store.CreatePeer(ctx, peer)
	if err != nil {
		t.Fatal(err)
	}
	pushStates(t, h, peerKey, v(readded, "readded.fed-audit.example"))
	// Its key is rotated: removed and added again.
	if err := h.Store.DeletePeer(ctx, p1.ID); err != nil {
		t.Fatal(err)
	}
	peer.URL, peer.Key = "http://127.0.0.1:10", "hdn_x.z"
	if _, err := h.Store.CreatePeer(ctx, peer); err != nil {
		t.Fatal(err)
	}
	// Its resynchronisation sends the same versions again, then asks what
	// this hub holds from it.
	pushStates(t, h, peerKey, v(early, "early.fed-audit.example"), v(readded, "readded.fed-audit.example"))
	var page struct{ Held []string }
	h.Do("GET", "/api/v1/federation/held", peerKey, nil).JSON(t, &page)
	if !slices.Contains(page.Held, early) || !slices.Contains(page.Held, readded) {
		t.Errorf("held from the peer: %v, want both %s and %s (the peer's resynchronisation cannot remove the others)", page.Held, early, readded)
	}
	// It narrows both out of this hub's sight.
	r := h.Do("POST", "/api/v1/federation/indicators", peerKey, map[string]any{"items": []map[string]any{
		{"kind": "removed", "id": early}, {"kind": "removed", "id": readded}}})
	if r.Status != 200 {
		t.Fatalf("removals: %d %s", r.Status, r.Body)
	}
	for _, value := range []string{"early.fed-audit.example", "readded.fed-audit.example"} {
		if got := lookup(t, h, memberKey, value); len(got) != 1 || got[0]["revoked"] != true {
			t.Errorf("%s after the peer removed it: %v (push answered %s); want it revoked", value, got, r.Body)
		}
	}
}

// TestFederationGroupReadmissionRestoresCopy: the central hub shares an
// indicator with a group that names the partner hub. The partner hub's
// organisation leaves the group (a removal: the partner revokes its copy),
// then is added back: the central hub's stream sends the indicator again,
// as an update of the same version (a group change keeps the indicator's
// modification time). The partner's copy must come back: it counted the
// version "same", settling never revives a revoked copy, and the partner's
// hospitals lost the indicator until the origin happened to change it.
func TestFederationGroupReadmissionRestoresCopy(t *testing.T) {
	ctx := context.Background()
	central := hubtest.Start(t, fedConfig("", ""))
	partner := hubtest.Start(t, fedConfig("", ""))
	cert := central.Org("cert", policy.Coordinator, "")
	certKey := central.Key(cert, policy.Analyst)
	hosp := central.Org("hosp", policy.Member, "")
	hospKey := central.Key(hosp, policy.Analyst)
	partnerOnC := central.Org("partnerhub", policy.PeerHub, "")
	soc := partner.Org("soc", policy.Coordinator, "")
	socKey := partner.Key(soc, policy.Analyst)
	peer := peerUp(t, partner, "central", central, partnerOnC, true, false)

	if r := central.Do("POST", "/api/v1/groups", certKey, map[string]any{"name": "with-partner", "members": []string{"partnerhub", "hosp"}}); r.Status != 200 && r.Status != 201 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	}
	g, err := central.Store.Group(ctx, "with-partner")
	if err != nil {
		t.Fatal(err)
	}
	const value = "readmitted.fed-audit.example"
	if r := central.Do("POST", "/api/v1/indicators", hospKey, map[string]any{"indicators": []map[string]any{
		{"type": "domain", "value": value, "tlp": "amber", "audience": map[string]any{"group": "with-partner"}}}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	state := func() (bool, bool) {
		got := lookup(t, partner, socKey, value)
		if len(got) != 1 {
			return false, false
		}
		return true, got[0]["revoked"] == true
	}
	eventually(t, 20*time.Second, "the indicator reaches the partner hub", func() bool { ok, _ := state(); return ok })
	caughtUp := func() bool {
		p, err := partner.Store.Peer(ctx, peer.ID)
		last, _ := central.Store.LastSeq(ctx)
		return err == nil && p.PullCursor == last
	}
	if err := central.Store.SetGroupMember(ctx, g.ID, partnerOnC.ID, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the partner hub revokes its copy once out of the group", func() bool { _, revoked := state(); return revoked })
	before, err := central.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := central.Store.SetGroupMember(ctx, g.ID, partnerOnC.ID, true); err != nil {
		t.Fatal(err)
	}
	// What the central hub sends the partner hub for the re-admission, and
	// what the partner makes of it delivered again: the failure's account.
	explain := func() string {
		var sent []string
		var again string
		v, err := central.Store.Viewer(ctx, partnerOnC.ID)
		if err != nil {
			return err.Error()
		}
		changes, err := central.Store.Changes(ctx, before, 10)
		if err != nil {
			return err.Error()
		}
		for i := range changes {
			it, ok := central.Hub.API().FederatedChange(ctx, v, &changes[i])
			if !ok || it.Indicator == nil {
				continue
			}
			sent = append(sent, fmt.Sprintf("%s %s revoked=%t", it.Kind, it.Indicator.Value, it.Indicator.Revoked))
			centralOnP, err := partner.Store.Org(ctx, "central")
			if err != nil {
				return err.Error()
			}
			r := partner.Do("POST", "/api/v1/federation/indicators", partner.Key(centralOnP, policy.Analyst), map[string]any{"items": []any{it}})
			again = fmt.Sprintf("%d %s", r.Status, r.Body)
		}
		return fmt.Sprintf("the central hub shows it to the partner hub again (its stream sends %q; delivered again the partner answers %s), and the partner's copy stays revoked (caught up: %t)\n%s",
			sent, again, caughtUp(), describeChanges(t, partner))
	}
	eventuallyExplained(t, 20*time.Second, "the partner hub's copy comes back with the re-admission", func() bool {
		ok, revoked := state()
		return ok && !revoked
	}, explain)
}

// TestFederationPullResyncKeepsQuarantineAndExpiry: while the partner hub did
// not pull, the central hub quarantined one indicator (two hospitals
// reported a false positive), expired another early (decay), revoked a
// third, and compacted its change log past the partner's cursor. The stream
// sends a reset and a snapshot of the live indicators; the comparison after
// it (reconcilePull, POST /federation/visible) revoked only what was
// revoked or out of sight, and the partner hub's sensors went on matching
// a false positive and a retired indicator. The central hub now answers
// with live indicators only.
func TestFederationPullResyncKeepsQuarantineAndExpiry(t *testing.T) {
	ctx := context.Background()
	central := hubtest.Start(t, fedConfig("", ""))
	partner := hubtest.Start(t, fedConfig("", ""))
	hosp := central.Org("hosp", policy.Member, "")
	key := central.Key(hosp, policy.Analyst)
	soc := partner.Org("soc", policy.Coordinator, "")
	socKey := partner.Key(soc, policy.Analyst)
	peer := peerUp(t, partner, "central", central, central.Org("partnerhub", policy.PeerHub, ""), true, false)

	values := []string{"quarantined.resync-audit.example", "expired.resync-audit.example", "revoked.resync-audit.example"}
	var items []map[string]any
	for _, v := range values {
		items = append(items, map[string]any{"type": "domain", "value": v, "tlp": "amber"})
	}
	var sub struct {
		Results []struct{ ID string }
	}
	r := central.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": items})
	r.JSON(t, &sub)
	if r.Status != 200 || len(sub.Results) != 3 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	q, e, rv := sub.Results[0].ID, sub.Results[1].ID, sub.Results[2].ID
	for _, v := range values {
		eventually(t, 20*time.Second, v+" reaches the partner hub", func() bool { return len(lookup(t, partner, socKey, v)) == 1 })
	}
	p, err := partner.Store.Peer(ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.Paused = true
	if err := partner.Store.UpdatePeer(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the paused peer's loops stop", func() bool { return !slices.Contains(partner.Hub.FederationPeers(), "central") })
	eventually(t, 20*time.Second, "the central hub closes the stream", func() bool { return central.Hub.API().ActiveStreams() == 0 })
	p, _ = partner.Store.Peer(ctx, peer.ID)
	cursor := p.PullCursor

	now := time.Now().UTC()
	if _, err := central.Store.SetQuarantine(ctx, q, true, "reported a false positive by 2 organisations", now); err != nil {
		t.Fatal(err)
	}
	if n, err := central.Store.ExpireNow(ctx, []string{e}, now); err != nil || n != 1 {
		t.Fatalf("ExpireNow: %d, %v", n, err)
	}
	if r := central.Do("POST", "/api/v1/indicators/"+rv+"/revoke", key, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	type compactor interface {
		CompactChanges(ctx context.Context, through int64) (int64, error)
	}
	last, _ := central.Store.LastSeq(ctx)
	if _, err := central.Store.(compactor).CompactChanges(ctx, last); err != nil {
		t.Fatal(err)
	}
	if _, err := central.Store.Changes(ctx, cursor, 10); !errors.Is(err, store.ErrCursorGone) {
		t.Fatalf("changes after the pull cursor %d once compacted: %v; want ErrCursorGone (the test would not test the resync)", cursor, err)
	}

	p.Paused = false
	if err := partner.Store.UpdatePeer(ctx, p); err != nil {
		t.Fatal(err)
	}
	socView, err := partner.Store.Viewer(ctx, soc.ID)
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(value string) model.Indicator {
		got, err := partner.Store.ListIndicators(ctx, socView, storeQueryValue(value))
		if err != nil || len(got) != 1 {
			t.Fatalf("%s on the partner hub: %v, %v", value, got, err)
		}
		return got[0]
	}
	// The three are out of use on the partner hub once it has compared
	// what it holds (the quarantined and the expired one revoked there,
	// as the central hub no longer shows them live).
	eventually(t, 20*time.Second, "the resynchronisation takes all three out of use and the cursor reaches the head", func() bool {
		p, err := partner.Store.Peer(ctx, peer.ID)
		last, _ := central.Store.LastSeq(ctx)
		if err != nil || p.PullCursor != last {
			return false
		}
		for _, v := range values {
			if c := copyOf(v); c.Live(time.Now()) {
				return false
			}
		}
		return true
	})
}

// TestFederationTakenOverCopyFollowsItsPeer: a copy another peer took over
// (its first peer gone) is filed under the peer that delivered it last, not
// under its source: when that peer is removed and added again, its removal
// still finds the copy. Re-filing by the copy's source once left it live
// and visible to every hospital here.
func TestFederationTakenOverCopyFollowsItsPeer(t *testing.T) {
	ctx := context.Background()
	h := hubtest.Start(t, fedConfig("", ""))
	ox := h.Org("hub-x", policy.PeerHub, "")
	ob := h.Org("hub-b", policy.PeerHub, "")
	memberKey := h.Key(h.Org("hosp", policy.Member, ""), policy.Analyst)
	now := time.Now().UTC().Truncate(time.Second)
	const id, value = "01a2b3c4-0000-7000-8000-0000000009a1", "taken-over.fed-states.example"
	state := func(mod time.Time, via string) map[string]any {
		return relayedState{id: id, value: value, mod: mod, local: mod, validFrom: now.Add(-48 * time.Hour), hops: []string{"hub-a", via}}.item()
	}
	px, err := h.Store.CreatePeer(ctx, model.Peer{Name: "hub-x", OrgID: ox.ID, URL: "http://127.0.0.1:9", Key: "hdn_x.y", Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	bPeer := model.Peer{Name: "hub-b", OrgID: ob.ID, URL: "http://127.0.0.1:11", Key: "hdn_b.y", Paused: true}
	pb, err := h.Store.CreatePeer(ctx, bPeer)
	if err != nil {
		t.Fatal(err)
	}
	pushStates(t, h, h.Key(ox, policy.Analyst), state(now.Add(-2*time.Hour), "hub-x"))
	if err := h.Store.DeletePeer(ctx, px.ID); err != nil {
		t.Fatal(err)
	}
	// B relays the origin's next version: with X gone, it takes the copy over.
	bKey := h.Key(ob, policy.Analyst)
	pushStates(t, h, bKey, state(now.Add(-time.Hour), "hub-b"))
	if o, err := h.Store.OriginOf(ctx, id); err != nil || o.ViaPeer != pb.ID {
		t.Fatalf("B did not take the copy over: %+v, %v", o, err)
	}
	// B's URL changes: removed and added again.
	if err := h.Store.DeletePeer(ctx, pb.ID); err != nil {
		t.Fatal(err)
	}
	bPeer.URL, bPeer.Key = "http://127.0.0.1:12", "hdn_b.z"
	if _, err := h.Store.CreatePeer(ctx, bPeer); err != nil {
		t.Fatal(err)
	}
	var page struct{ Held []string }
	if r := h.Do("GET", "/api/v1/federation/held", bKey, nil); r.Status != 200 {
		t.Fatalf("held: %d %s", r.Status, r.Body)
	} else if r.JSON(t, &page); !slices.Contains(page.Held, id) {
		t.Errorf("held from B after it was added again: %v, want %s", page.Held, id)
	}
	r := h.Do("POST", "/api/v1/federation/indicators", bKey, map[string]any{"items": []map[string]any{{"kind": "removed", "id": id}}})
	if got := lookup(t, h, memberKey, value); r.Status != 200 || len(got) != 1 || got[0]["revoked"] != true {
		t.Errorf("after B removed it (%d %s): %v; want it revoked", r.Status, r.Body, got)
	}
}
