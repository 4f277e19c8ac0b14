package storetest

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testFederation: the hub id is made once; peers are created (one per
// organisation, names unique regardless of case), found by id, name and
// organisation, updated (an empty key keeps the old one), keep their state
// and are deleted; bad peers are refused without quoting the key; origins
// are recorded, replaced and found by local and origin id.
func testFederation(e *env) {
	id1, err := e.st.HubID(e.ctx)
	if err != nil || len(id1) < 16 {
		e.Fatalf("HubID: %q, %v", id1, err)
	}
	if id2, err := e.st.HubID(e.ctx); err != nil || id2 != id1 {
		e.Errorf("HubID again: %q, %v; want %q", id2, err, id1)
	}
	const secret = "hdn_0123456789abcdef.never-shown-secret"
	org := e.org(e.unique("central-"), policy.PeerHub, "")
	other := e.org(e.unique("sector-"), policy.PeerHub, "")
	coord := e.org(e.unique("cert-"), policy.Coordinator, "")
	p, err := e.st.CreatePeer(e.ctx, model.Peer{Name: "Central", OrgID: org.ID, URL: "https://central.example.org",
		Key: secret, Pull: true, Audience: []string{coord.ID}})
	if err != nil {
		e.Fatalf("CreatePeer: %v", err)
	}
	if p.ID == "" || !recent(p.Created) {
		e.Errorf("CreatePeer returned %+v: want ID and Created", p)
	}
	for _, bad := range []model.Peer{
		{Name: "central", OrgID: other.ID, URL: "https://x.example.org", Key: secret},          // taken name
		{Name: "again", OrgID: org.ID, URL: "https://x.example.org", Key: secret},              // organisation has a peer
		{Name: "", OrgID: other.ID, URL: "https://x.example.org", Key: secret},                 // no name
		{Name: "n1", OrgID: other.ID, URL: "ftp://x.example.org", Key: secret},                 // not http
		{Name: "n2", OrgID: other.ID, URL: "https://u:" + secret + "@x.example.org", Key: "k"}, // credentials in URL
		{Name: "n3", OrgID: other.ID, URL: "https://x.example.org"},                            // no key
		{Name: "n4", OrgID: "no-such-org", URL: "https://x.example.org", Key: secret},          // unknown org
	} {
		if _, err := e.st.CreatePeer(e.ctx, bad); err == nil {
			e.Errorf("CreatePeer accepted %+v", bad)
		} else if strings.Contains(err.Error(), secret) {
			e.Errorf("CreatePeer's error quotes the key: %v", err)
		}
	}
	for _, get := range []func() (model.Peer, error){
		func() (model.Peer, error) { return e.st.Peer(e.ctx, p.ID) },
		func() (model.Peer, error) { return e.st.Peer(e.ctx, "CENTRAL") },
		func() (model.Peer, error) { return e.st.PeerByOrg(e.ctx, org.ID) },
	} {
		got, err := get()
		if err != nil || got.ID != p.ID || got.Key != secret || got.OrgID != org.ID || !got.Pull || got.Push ||
			!slices.Equal(got.Audience, []string{coord.ID}) || !got.Created.Equal(p.Created) {
			e.Errorf("peer read back as %+v, %v", got, err)
		}
	}
	if _, err := e.st.PeerByOrg(e.ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("PeerByOrg of an organisation without a peer: %v, want ErrNotFound", err)
	}
	p.Key, p.Push, p.Paused, p.URL, p.Audience = "", true, true, "https://central2.example.org", nil
	if err := e.st.UpdatePeer(e.ctx, p); err != nil {
		e.Fatalf("UpdatePeer: %v", err)
	}
	st := model.PeerState{RemoteHub: "hub-x", PullCursor: 42, PushCursor: 7, LastOK: time.Now().UTC().Truncate(time.Millisecond), LastError: "timeout"}
	if err := e.st.SetPeerState(e.ctx, p.ID, st); err != nil {
		e.Fatalf("SetPeerState: %v", err)
	}
	got, err := e.st.Peer(e.ctx, p.ID)
	if err != nil || got.Key != secret || !got.Push || !got.Paused || got.URL != "https://central2.example.org" || len(got.Audience) != 0 ||
		got.RemoteHub != "hub-x" || got.PullCursor != 42 || got.PushCursor != 7 || !got.LastOK.Equal(st.LastOK) || got.LastError != "timeout" {
		e.Errorf("after UpdatePeer and SetPeerState: %+v, %v", got, err)
	}
	if err := e.st.SetPeerState(e.ctx, "no-such-peer", st); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("SetPeerState of an unknown peer: %v, want ErrNotFound", err)
	}
	q, err := e.st.CreatePeer(e.ctx, model.Peer{Name: "a-sector", OrgID: other.ID, URL: "http://127.0.0.1:9", Key: "k2", Push: true})
	if err != nil {
		e.Fatalf("CreatePeer: %v", err)
	}
	ps, err := e.st.ListPeers(e.ctx)
	if err != nil || len(ps) != 2 || ps[0].ID != q.ID || ps[1].ID != p.ID {
		e.Errorf("ListPeers: %+v, %v; want a-sector, Central", ps, err)
	}

	// Origins of federated indicators, and sightings to return.
	res := e.ingest(sub(org.ID, "domain", "fed-one.example.org"), sub(org.ID, "domain", "fed-two.example.org"),
		sub(coord.ID, "domain", "local.example.org"))
	mod := time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC)
	o1 := model.Origin{IndicatorID: res[0].ID, OriginHub: "hub-a", OriginID: "origin-1", OriginModified: mod,
		Hops: []string{"hub-a", "hub-b"}, ViaPeer: p.ID, RemoteID: "remote-1", Digest: "d1"}
	o2 := model.Origin{IndicatorID: res[1].ID, OriginHub: "hub-a", OriginID: "origin-2", OriginModified: mod,
		Hops: []string{"hub-a"}, ViaPeer: p.ID, RemoteID: "origin-2", Digest: "d2"}
	for _, o := range []model.Origin{o1, o2} {
		if err := e.st.PutOrigin(e.ctx, o); err != nil {
			e.Fatalf("PutOrigin: %v", err)
		}
	}
	if err := e.st.PutOrigin(e.ctx, model.Origin{IndicatorID: res[2].ID}); err == nil {
		e.Errorf("PutOrigin without origin hub, id and peer was accepted")
	}
	// An origin indicator has one copy here: a second is refused, whether
	// by the same path or another peer's, and the first stays its copy.
	for _, twin := range []model.Origin{o2, {IndicatorID: res[2].ID, OriginHub: "hub-a", OriginID: "origin-2", OriginModified: mod.Add(time.Hour),
		Hops: []string{"hub-a", "hub-q"}, ViaPeer: q.ID, RemoteID: "origin-2", Digest: "d2q"}} {
		twin.IndicatorID = res[2].ID
		if err := e.st.PutOrigin(e.ctx, twin); !errors.Is(err, store.ErrConflict) {
			e.Errorf("PutOrigin of a second copy of origin-2 via %s: %v, want ErrConflict", twin.ViaPeer, err)
		}
	}
	if g, err := e.st.OriginOf(e.ctx, "origin-2"); err != nil || g.IndicatorID != res[1].ID || g.Digest != "d2" {
		e.Errorf("OriginOf(origin-2) after a second copy was refused: %+v, %v; want the first copy", g, err)
	}
	o1.OriginModified, o1.Digest, o1.ViaModified = mod.Add(time.Minute), "d1b", mod.Add(2*time.Minute)
	if err := e.st.PutOrigin(e.ctx, o1); err != nil {
		e.Fatalf("PutOrigin (replace): %v", err)
	}
	// Origins written in an ingest land with it, or not at all.
	for _, commit := range []bool{false, true} {
		ing, err := e.st.BeginIngest(e.ctx)
		if err != nil {
			e.Fatalf("BeginIngest: %v", err)
		}
		urs, err := ing.Put(e.ctx, []model.Submission{sub(org.ID, "domain", "fed-three.example.org")})
		if err != nil {
			e.Fatalf("Put: %v", err)
		}
		if err := ing.PutOrigins(e.ctx, []model.Origin{{IndicatorID: urs[0].ID, OriginHub: "hub-a", OriginID: "origin-3",
			OriginModified: mod, Hops: []string{"hub-a"}, ViaPeer: p.ID, RemoteID: "origin-3", Digest: "d3"}}); err != nil {
			e.Fatalf("PutOrigins: %v", err)
		}
		if commit {
			err = ing.Commit()
		} else {
			err = ing.Rollback()
		}
		if err != nil {
			e.Fatalf("end ingest: %v", err)
		}
		o, err := e.st.OriginOf(e.ctx, "origin-3")
		if commit && (err != nil || o.IndicatorID != urs[0].ID) {
			e.Errorf("OriginOf after a committed ingest: %+v, %v", o, err)
		}
		if !commit && !errors.Is(err, store.ErrNotFound) {
			e.Errorf("OriginOf after a rolled back ingest: %+v, %v; want ErrNotFound", o, err)
		}
	}
	os, err := e.st.Origins(e.ctx, []string{res[0].ID, res[1].ID, res[2].ID, "unknown"})
	if err != nil || len(os) != 2 {
		e.Fatalf("Origins: %+v, %v; want two", os, err)
	}
	if g := os[res[0].ID]; g.OriginID != "origin-1" || !g.OriginModified.Equal(o1.OriginModified) || g.Digest != "d1b" ||
		!slices.Equal(g.Hops, []string{"hub-a", "hub-b"}) || g.ViaPeer != p.ID || g.RemoteID != "remote-1" || g.OriginHub != "hub-a" ||
		!g.ViaModified.Equal(o1.ViaModified) {
		e.Errorf("Origins[%s] = %+v", res[0].ID, g)
	}
	if g := os[res[1].ID]; !g.ViaModified.IsZero() {
		e.Errorf("Origins[%s].ViaModified = %v, want zero (not given)", res[1].ID, g.ViaModified)
	}
	if g, err := e.st.OriginOf(e.ctx, "origin-2"); err != nil || g.IndicatorID != res[1].ID {
		e.Errorf("OriginOf(origin-2) = %+v, %v", g, err)
	}
	if got, err := e.st.OriginsOf(e.ctx, []string{"origin-1", "origin-2", "origin-9"}); err != nil || len(got) != 2 ||
		got["origin-1"].IndicatorID != res[0].ID || got["origin-2"].IndicatorID != res[1].ID {
		e.Errorf("OriginsOf = %+v, %v; want origin-1 and origin-2", got, err)
	}
	if _, err := e.st.OriginOf(e.ctx, "origin-9"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("OriginOf of an unknown origin: %v, want ErrNotFound", err)
	}
	// OriginVia finds a copy by the delivering peer and the peer's own id,
	// which need not be the origin's.
	if g, err := e.st.OriginVia(e.ctx, p.ID, "remote-1"); err != nil || g.IndicatorID != res[0].ID || g.OriginID != "origin-1" {
		e.Errorf("OriginVia(remote-1) = %+v, %v; want the copy of origin-1", g, err)
	}
	for _, miss := range [][2]string{{p.ID, "origin-1"}, {q.ID, "remote-1"}, {p.ID, "remote-9"}} {
		if g, err := e.st.OriginVia(e.ctx, miss[0], miss[1]); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("OriginVia(%s, %s) = %+v, %v; want ErrNotFound", miss[0], miss[1], g, err)
		}
	}
	// HeldVia pages through the live copies one peer delivered, by local
	// id; a revoked copy is not held.
	three, err := e.st.OriginOf(e.ctx, "origin-3")
	if err != nil {
		e.Fatalf("OriginOf(origin-3): %v", err)
	}
	held := func() []string {
		var ids []string
		for after := ""; ; {
			page, err := e.st.HeldVia(e.ctx, p.ID, after, 2)
			if err != nil {
				e.Fatalf("HeldVia: %v", err)
			}
			if len(page) == 0 {
				return ids
			}
			for _, o := range page {
				if o.ViaPeer != p.ID || o.OriginID == "" {
					e.Errorf("HeldVia returned %+v", o)
				}
				ids = append(ids, o.IndicatorID)
				after = o.IndicatorID
			}
		}
	}
	want := []string{res[0].ID, res[1].ID, three.IndicatorID}
	slices.Sort(want)
	if got := held(); !slices.Equal(got, want) {
		e.Errorf("HeldVia: %v, want %v in local id order", got, want)
	}
	if _, err := e.st.Revoke(e.ctx, res[1].ID, time.Now()); err != nil {
		e.Fatalf("Revoke: %v", err)
	}
	want = slices.DeleteFunc(want, func(id string) bool { return id == res[1].ID })
	if got := held(); !slices.Equal(got, want) {
		e.Errorf("HeldVia after a revocation: %v, want %v", got, want)
	}
	if got, err := e.st.HeldVia(e.ctx, "no-such-peer", "", 0); err != nil || len(got) != 0 {
		e.Errorf("HeldVia of another peer: %+v, %v; want none", got, err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	if err := e.st.AddSightings(e.ctx, []model.Sighting{
		{IndicatorID: res[0].ID, Org: coord.ID, Kind: model.Sighted, Hour: hour, Count: 3},
		{IndicatorID: res[0].ID, Org: other.ID, Kind: model.Sighted, Hour: hour, Count: 2},
		{IndicatorID: res[0].ID, Org: org.ID, Kind: model.Sighted, Hour: hour, Count: 50}, // the peer's own: not returned
		{IndicatorID: res[1].ID, Org: coord.ID, Kind: model.FalsePositive, Hour: hour.Add(-time.Hour), Count: 1},
		{IndicatorID: res[1].ID, Org: coord.ID, Kind: model.Sighted, Hour: hour.Add(-72 * time.Hour), Count: 9}, // too old
		{IndicatorID: res[2].ID, Org: coord.ID, Kind: model.Sighted, Hour: hour, Count: 4},                      // not federated
	}); err != nil {
		e.Fatalf("AddSightings: %v", err)
	}
	since := hour.Add(-48 * time.Hour)
	fs, err := e.st.SightingsToReturn(e.ctx, p.ID, org.ID, since, 0)
	if err != nil || len(fs) != 2 {
		e.Fatalf("SightingsToReturn: %+v, %v; want two sums", fs, err)
	}
	if f := fs[0]; f.IndicatorID != res[1].ID || f.RemoteID != "origin-2" || f.Kind != model.FalsePositive ||
		!f.Hour.Equal(hour.Add(-time.Hour)) || f.Total != 1 || f.Returned != 0 {
		e.Errorf("first sum %+v", f)
	}
	if f := fs[1]; f.IndicatorID != res[0].ID || f.RemoteID != "remote-1" || f.Kind != model.Sighted || !f.Hour.Equal(hour) || f.Total != 5 {
		e.Errorf("second sum %+v, want 5 sightings of %s", f, res[0].ID)
	}
	// A return saved before it is sent reads back as saved, replaces the
	// one before, is the peer's own, and is cleared by MarkReturned.
	if _, _, ok, err := e.st.PendingReturn(e.ctx, p.ID); ok || err != nil {
		e.Errorf("PendingReturn before any: %t, %v; want none", ok, err)
	}
	if err := e.st.SavePendingReturn(e.ctx, p.ID, "first-key", fs[:1]); err != nil {
		e.Fatalf("SavePendingReturn: %v", err)
	}
	if err := e.st.SavePendingReturn(e.ctx, p.ID, "return-key", fs); err != nil {
		e.Fatalf("SavePendingReturn (replace): %v", err)
	}
	key, pend, ok, err := e.st.PendingReturn(e.ctx, p.ID)
	if err != nil || !ok || key != "return-key" || len(pend) != 2 {
		e.Fatalf("PendingReturn: %q, %+v, %t, %v; want return-key and two sums", key, pend, ok, err)
	}
	for i := range pend {
		if a, b := pend[i], fs[i]; a.IndicatorID != b.IndicatorID || a.RemoteID != b.RemoteID || a.Kind != b.Kind ||
			!a.Hour.Equal(b.Hour) || a.Total != b.Total || a.Returned != b.Returned {
			e.Errorf("pending sum %d: %+v, want %+v", i, a, b)
		}
	}
	if _, _, ok, err := e.st.PendingReturn(e.ctx, q.ID); ok || err != nil {
		e.Errorf("PendingReturn of another peer: %t, %v; want none", ok, err)
	}
	if err := e.st.SavePendingReturn(e.ctx, q.ID, "q-key", fs[:1]); err != nil {
		e.Fatalf("SavePendingReturn (another peer): %v", err)
	}
	if err := e.st.MarkReturned(e.ctx, p.ID, fs); err != nil {
		e.Fatalf("MarkReturned: %v", err)
	}
	if _, _, ok, err := e.st.PendingReturn(e.ctx, p.ID); ok || err != nil {
		e.Errorf("PendingReturn after MarkReturned: %t, %v; want none", ok, err)
	}
	if _, _, ok, err := e.st.PendingReturn(e.ctx, q.ID); !ok || err != nil {
		e.Errorf("another peer's pending return after MarkReturned: %t, %v; want it kept", ok, err)
	}
	if fs, err := e.st.SightingsToReturn(e.ctx, p.ID, org.ID, since, 0); err != nil || len(fs) != 0 {
		e.Errorf("SightingsToReturn after MarkReturned: %+v, %v; want none", fs, err)
	}
	if err := e.st.AddSightings(e.ctx, []model.Sighting{{IndicatorID: res[0].ID, Org: coord.ID, Kind: model.Sighted, Hour: hour, Count: 4}}); err != nil {
		e.Fatalf("AddSightings: %v", err)
	}
	fs, err = e.st.SightingsToReturn(e.ctx, p.ID, org.ID, since, 0)
	if err != nil || len(fs) != 1 || fs[0].Total != 9 || fs[0].Returned != 5 {
		e.Errorf("SightingsToReturn after 4 more: %+v, %v; want total 9, returned 5", fs, err)
	}
	if fs, err := e.st.SightingsToReturn(e.ctx, q.ID, other.ID, since, 0); err != nil || len(fs) != 0 {
		e.Errorf("SightingsToReturn of a peer that delivered nothing: %+v, %v", fs, err)
	}

	if err := e.st.DeletePeer(e.ctx, q.ID); err != nil {
		e.Fatalf("DeletePeer: %v", err)
	}
	if _, err := e.st.Peer(e.ctx, q.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("Peer after DeletePeer: %v, want ErrNotFound", err)
	}
	if _, _, ok, err := e.st.PendingReturn(e.ctx, q.ID); ok || err != nil {
		e.Errorf("PendingReturn after DeletePeer: %t, %v; want none", ok, err)
	}
	if err := e.st.DeletePeer(e.ctx, q.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("DeletePeer twice: %v, want ErrNotFound", err)
	}
	// A removed peer's copies are filed under its organisation, and under
	// the organisation's next peer once there is one.
	via := func(want string) {
		e.Helper()
		os, err := e.st.Origins(e.ctx, []string{res[0].ID, res[1].ID})
		if err != nil || len(os) != 2 || os[res[0].ID].ViaPeer != want || os[res[1].ID].ViaPeer != want {
			e.Errorf("copies filed under %+v, %v; want %s", os, err, want)
		}
	}
	if err := e.st.DeletePeer(e.ctx, p.ID); err != nil {
		e.Fatalf("DeletePeer: %v", err)
	}
	via(model.UnpeeredID(org.ID))
	again, err := e.st.CreatePeer(e.ctx, model.Peer{Name: "Central", OrgID: org.ID, URL: "https://central3.example.org", Key: "k3", Pull: true})
	if err != nil {
		e.Fatalf("CreatePeer again: %v", err)
	}
	via(again.ID)
}
