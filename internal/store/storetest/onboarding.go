package storetest

import (
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func (e *env) epoch() int64 {
	e.Helper()
	n, err := e.st.AuthEpoch(e.ctx)
	if err != nil {
		e.Fatalf("AuthEpoch: %v", err)
	}
	return n
}

// testOrgStatus: new organisations are active unless created pending;
// status changes, partner moves and key revocations move the
// authentication epoch; a moved customer is its new partner's.
func testOrgStatus(e *env) {
	p1 := e.org(e.unique("partner one"), policy.Partner, "")
	p2 := e.org(e.unique("partner two"), policy.Partner, "")
	c, err := e.st.CreateOrg(e.ctx, model.Org{Name: e.unique("clinic"), Kind: policy.Customer, Partner: p1.ID, Status: model.OrgPending})
	if err != nil {
		e.Fatal(err)
	}
	if got, _ := e.st.Org(e.ctx, c.ID); got.Status != model.OrgPending || got.Usable() || !p1.Usable() || p1.Status != model.OrgActive {
		e.Errorf("pending customer %+v, partner %+v", got, p1)
	}
	if _, err := e.st.CreateOrg(e.ctx, model.Org{Name: e.unique("bad"), Kind: policy.Member, Status: "sleeping"}); err == nil {
		e.Errorf("an unknown status was accepted")
	}
	ep := e.epoch()
	for _, st := range []model.OrgStatus{model.OrgActive, model.OrgSuspended, model.OrgActive} {
		if err := e.st.SetOrgStatus(e.ctx, c.ID, st); err != nil {
			e.Fatalf("SetOrgStatus(%s): %v", st, err)
		}
		if got, _ := e.st.Org(e.ctx, c.ID); got.Status != st {
			e.Errorf("status %s, want %s", got.Status, st)
		}
		if n := e.epoch(); n <= ep {
			e.Errorf("the epoch did not move with status %s: %d after %d", st, n, ep)
		} else {
			ep = n
		}
	}
	e.wantErr(e.st.SetOrgStatus(e.ctx, "no-such-org", model.OrgActive), store.ErrNotFound, "SetOrgStatus of an unknown org")
	if err := e.st.SetOrgStatus(e.ctx, c.ID, "gone"); err == nil {
		e.Errorf("SetOrgStatus accepted an unknown status")
	}
	// Move the customer: the customer's indicator gets a change entry (its
	// new partner may see it), and the three views' floors move to the
	// newest change, after that entry.
	ing, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	if _, err := ing.Put(e.ctx, []model.Submission{sub(c.ID, indicator.Domain, "moved-customer.example")}); err != nil {
		e.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		e.Fatal(err)
	}
	before := e.lastSeq()
	if err := e.st.SetOrgPartner(e.ctx, c.ID, p2.ID); err != nil {
		e.Fatalf("SetOrgPartner: %v", err)
	}
	last := e.lastSeq()
	if last != before+1 {
		e.Errorf("the move wrote %d change entries, want 1 (the customer's indicator)", last-before)
	}
	for _, o := range []model.Org{c, p1, p2} {
		if f, err := e.st.ViewFloor(e.ctx, o.ID); err != nil || f != last {
			e.Errorf("the view floor of %s after the move: %d, %v; want %d", o.Name, f, err, last)
		}
	}
	if f, err := e.st.ViewFloor(e.ctx, "no-such-org"); err != nil || f != 0 {
		e.Errorf("the view floor of an unknown organisation: %d, %v; want 0", f, err)
	}
	if v := e.viewer(p2.ID); !slices.Contains(v.Customers, c.ID) {
		e.Errorf("the new partner's customers %v lack %s", v.Customers, c.ID)
	}
	if v := e.viewer(p1.ID); slices.Contains(v.Customers, c.ID) {
		e.Errorf("the old partner still has %s", c.ID)
	}
	if v := e.viewer(c.ID); v.Partner != p2.ID {
		e.Errorf("the customer's partner is %q", v.Partner)
	}
	if n := e.epoch(); n <= ep {
		e.Errorf("the epoch did not move with a partner change")
	} else {
		ep = n
	}
	if err := e.st.SetOrgPartner(e.ctx, p1.ID, p2.ID); err == nil {
		e.Errorf("a partner was moved as if it were a customer")
	}
	if err := e.st.SetOrgPartner(e.ctx, c.ID, c.ID); err == nil {
		e.Errorf("a customer became its own partner")
	}
	// Revoking a key moves the epoch.
	k := model.Key{ID: e.unique("k"), OrgID: c.ID, Role: policy.Sensor, Hash: []byte("h")}
	if err := e.st.CreateKey(e.ctx, k); err != nil {
		e.Fatal(err)
	}
	if err := e.st.RevokeKey(e.ctx, k.ID); err != nil {
		e.Fatal(err)
	}
	if n := e.epoch(); n <= ep {
		e.Errorf("the epoch did not move with a key revocation")
	}
}

// testRevokeOrg: offboarding revokes the organisation and its keys, voids
// its unused tokens, and with anonymise marks what it shared anonymous with
// one change each; without, its indicators stay as they were.
func testRevokeOrg(e *env) {
	for _, anonymise := range []bool{false, true} {
		o := e.org(e.unique("leaving"), policy.Member, "")
		other := e.org(e.unique("staying"), policy.Member, "")
		for _, role := range []policy.Role{policy.Admin, policy.Sensor} {
			if err := e.st.CreateKey(e.ctx, model.Key{ID: e.unique("k"), OrgID: o.ID, Role: role, Hash: []byte("h")}); err != nil {
				e.Fatal(err)
			}
		}
		now := time.Now()
		tok := model.EnrolToken{ID: e.unique("t"), OrgID: o.ID, Hash: []byte("h"), CreatedBy: "cli", Created: now, Expires: now.Add(time.Hour)}
		if err := e.st.CreateEnrolToken(e.ctx, tok); err != nil {
			e.Fatal(err)
		}
		res := e.ingest(sub(o.ID, indicator.Domain, e.unique("a")+".leaving.example"), sub(o.ID, indicator.Domain, e.unique("b")+".leaving.example"),
			sub(other.ID, indicator.Domain, e.unique("c")+".staying.example"))
		before := e.lastSeq()
		keys, last, err := e.st.RevokeOrg(e.ctx, o.ID, anonymise, time.Now())
		if err != nil {
			e.Fatalf("RevokeOrg: %v", err)
		}
		if got, _ := e.st.Org(e.ctx, o.ID); !got.Revoked || got.Usable() || keys != 2 {
			e.Errorf("after RevokeOrg: %+v, %d keys revoked", got, keys)
		}
		ks, _ := e.st.ListKeys(e.ctx, o.ID)
		for _, k := range ks {
			if !k.Revoked {
				e.Errorf("key %s of a revoked organisation is not revoked", k.ID)
			}
		}
		k := model.Key{ID: e.unique("k"), OrgID: o.ID, Role: policy.Sensor, Hash: []byte("h")}
		e.wantErr(e.st.RedeemEnrolToken(e.ctx, tok.ID, k, time.Now()), store.ErrConflict, "redeeming a token of a revoked organisation")
		a, b, c := e.byID(res[0].ID), e.byID(res[1].ID), e.byID(res[2].ID)
		if c.Anonymous {
			e.Errorf("another organisation's indicator was anonymised")
		}
		if a.Revoked || b.Revoked {
			e.Errorf("what the organisation shared was revoked")
		}
		if anonymise {
			if !a.Anonymous || !b.Anonymous || last != before+2 {
				e.Errorf("anonymise: %v %v, last seq %d (before %d)", a.Anonymous, b.Anonymous, last, before)
			}
			chs := e.changes(before, 10)
			if len(chs) != 2 || chs[0].Kind != model.Updated || !chs[0].Indicator.Anonymous || chs[1].Seq != last {
				e.Errorf("changes after anonymising: %+v", chs)
			}
		} else if a.Anonymous || b.Anonymous || last != 0 || e.lastSeq() != before {
			e.Errorf("keep: anonymous %v %v, last %d", a.Anonymous, b.Anonymous, last)
		}
	}
	_, _, err := e.st.RevokeOrg(e.ctx, "no-such-org", false, time.Now())
	e.wantErr(err, store.ErrNotFound, "RevokeOrg of an unknown organisation")
}

// testEnrolTokens: a token is redeemed once, before it expires, for the
// organisation it was made for, and its key exists only when it was.
func testEnrolTokens(e *env) {
	o := e.org(e.unique("enrolling"), policy.Member, "")
	now := time.Now().Truncate(time.Millisecond)
	tok := model.EnrolToken{ID: e.unique("t"), OrgID: o.ID, Hash: []byte("hash"), CreatedBy: "cli", Created: now, Expires: now.Add(15 * time.Minute)}
	if err := e.st.CreateEnrolToken(e.ctx, tok); err != nil {
		e.Fatal(err)
	}
	if err := e.st.CreateEnrolToken(e.ctx, model.EnrolToken{ID: e.unique("t"), OrgID: o.ID, Hash: []byte("h"), Created: now, Expires: now}); err == nil {
		e.Errorf("a token that expires as it is made was stored")
	}
	got, err := e.st.EnrolToken(e.ctx, tok.ID)
	if err != nil || string(got.Hash) != "hash" || !got.Expires.Equal(tok.Expires) || !got.Used.IsZero() || got.OrgID != o.ID {
		e.Errorf("EnrolToken: %+v, %v", got, err)
	}
	key := func() model.Key {
		return model.Key{ID: e.unique("k"), OrgID: o.ID, Role: policy.Sensor, Hash: []byte("h"), Name: "sensor-1"}
	}
	// Not for another organisation's key.
	other := e.org(e.unique("other"), policy.Member, "")
	wrong := key()
	wrong.OrgID = other.ID
	e.wantErr(e.st.RedeemEnrolToken(e.ctx, tok.ID, wrong, now.Add(time.Minute)), store.ErrConflict, "a token redeemed for another organisation")
	k := key()
	if err := e.st.RedeemEnrolToken(e.ctx, tok.ID, k, now.Add(time.Minute)); err != nil {
		e.Fatalf("RedeemEnrolToken: %v", err)
	}
	if stored, err := e.st.KeyByID(e.ctx, k.ID); err != nil || stored.Role != policy.Sensor || stored.OrgID != o.ID {
		e.Errorf("the key of a redeemed token: %+v, %v", stored, err)
	}
	if got, _ := e.st.EnrolToken(e.ctx, tok.ID); got.Used.IsZero() || got.KeyID != k.ID {
		e.Errorf("after redeeming: %+v", got)
	}
	k2 := key()
	e.wantErr(e.st.RedeemEnrolToken(e.ctx, tok.ID, k2, now.Add(2*time.Minute)), store.ErrConflict, "a second redemption")
	if _, err := e.st.KeyByID(e.ctx, k2.ID); err == nil {
		e.Errorf("a second redemption created a key")
	}
	// Expiry.
	late := model.EnrolToken{ID: e.unique("t"), OrgID: o.ID, Hash: []byte("h"), CreatedBy: "cli", Created: now, Expires: now.Add(time.Minute)}
	if err := e.st.CreateEnrolToken(e.ctx, late); err != nil {
		e.Fatal(err)
	}
	e.wantErr(e.st.RedeemEnrolToken(e.ctx, late.ID, key(), now.Add(time.Minute)), store.ErrConflict, "a token redeemed as it expires")
	e.wantErr(e.st.RedeemEnrolToken(e.ctx, "no-such-token", key(), now), store.ErrNotFound, "an unknown token")
}

// testEnrolTokensVoidedByMove: moving a customer to another partner voids
// its unused enrolment tokens, which the old partner made or could read;
// used tokens, and other organisations' tokens, are left as they were.
func testEnrolTokensVoidedByMove(e *env) {
	p1 := e.org(e.unique("old partner"), policy.Partner, "")
	p2 := e.org(e.unique("new partner"), policy.Partner, "")
	c := e.org(e.unique("moving clinic"), policy.Customer, p1.ID)
	stay := e.org(e.unique("staying clinic"), policy.Customer, p1.ID)
	now := time.Now().Truncate(time.Millisecond)
	token := func(org model.Org) model.EnrolToken {
		t := model.EnrolToken{ID: e.unique("t"), OrgID: org.ID, Hash: []byte("h"), CreatedBy: "k-old-partner", Created: now, Expires: now.Add(time.Hour)}
		if err := e.st.CreateEnrolToken(e.ctx, t); err != nil {
			e.Fatal(err)
		}
		return t
	}
	key := func(org model.Org) model.Key {
		return model.Key{ID: e.unique("k"), OrgID: org.ID, Role: policy.Sensor, Hash: []byte("h"), Name: "sensor"}
	}
	// Setting the partner it has again is no move: its tokens stay.
	kept := token(stay)
	if err := e.st.SetOrgPartner(e.ctx, stay.ID, p1.ID); err != nil {
		e.Fatalf("SetOrgPartner to the same partner: %v", err)
	}
	if err := e.st.RedeemEnrolToken(e.ctx, kept.ID, key(stay), now.Add(time.Second)); err != nil {
		e.Errorf("a token after setting the same partner again: %v", err)
	}
	used, unused, other := token(c), token(c), token(stay)
	usedKey := key(c)
	if err := e.st.RedeemEnrolToken(e.ctx, used.ID, usedKey, now.Add(time.Second)); err != nil {
		e.Fatalf("RedeemEnrolToken: %v", err)
	}
	if err := e.st.SetOrgPartner(e.ctx, c.ID, p2.ID); err != nil {
		e.Fatalf("SetOrgPartner: %v", err)
	}
	e.wantErr(e.st.RedeemEnrolToken(e.ctx, unused.ID, key(c), now.Add(time.Minute)), store.ErrConflict, "redeeming a token of a customer that moved since")
	if got, err := e.st.EnrolToken(e.ctx, unused.ID); err != nil || got.Expires.After(got.Created) {
		e.Errorf("the unused token after the move: %+v, %v; want it expired", got, err)
	}
	if got, err := e.st.EnrolToken(e.ctx, used.ID); err != nil || got.KeyID != usedKey.ID || !got.Expires.Equal(used.Expires) {
		e.Errorf("the used token after the move: %+v, %v; want it unchanged", got, err)
	}
	if err := e.st.RedeemEnrolToken(e.ctx, other.ID, key(stay), now.Add(time.Minute)); err != nil {
		e.Errorf("another customer's token after the move: %v", err)
	}
}

// testSensors: a heartbeat replaces the last of the same key; sensors are
// listed per organisation; sharing is counted per source since a time.
func testSensors(e *env) {
	a := e.org(e.unique("hospital a"), policy.Member, "")
	b := e.org(e.unique("hospital b"), policy.Member, "")
	var keys []string
	for _, o := range []model.Org{a, a, b} {
		k := model.Key{ID: e.unique("k"), OrgID: o.ID, Role: policy.Sensor, Hash: []byte("h")}
		if err := e.st.CreateKey(e.ctx, k); err != nil {
			e.Fatal(err)
		}
		keys = append(keys, k.ID)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	put := func(key, org, name string, at time.Time, eps float64, lastErr string) {
		e.Helper()
		st := model.SensorStatus{KeyID: key, OrgID: org, Name: name, Version: "v1.2.3", Started: t0.Add(-time.Hour),
			Inputs:          []model.SensorInput{{Path: "/var/log/suricata/eve.json", Format: "eve", Events: 1200, LagSeconds: 0.5}},
			EventsPerSecond: eps, LagSeconds: 0.5, Indicators: 1000, Patterns: 3, LastError: lastErr, LastSeen: at}
		if lastErr != "" {
			st.LastErrorAt = at
		}
		if err := e.st.PutSensorStatus(e.ctx, st); err != nil {
			e.Fatalf("PutSensorStatus: %v", err)
		}
	}
	put(keys[0], a.ID, "edge", t0, 10, "")
	put(keys[0], a.ID, "edge", t0.Add(time.Minute), 25, "reading eve.json: permission denied")
	put(keys[1], a.ID, "core", t0, 5, "")
	put(keys[2], b.ID, "dns", t0, 1, "")
	ss, err := e.st.ListSensors(e.ctx, []string{a.ID})
	if err != nil || len(ss) != 2 {
		e.Fatalf("ListSensors(a): %+v, %v", ss, err)
	}
	edge := ss[slices.IndexFunc(ss, func(s model.SensorStatus) bool { return s.Name == "edge" })]
	if edge.EventsPerSecond != 25 || !edge.LastSeen.Equal(t0.Add(time.Minute)) || edge.LastError == "" || !edge.LastErrorAt.Equal(t0.Add(time.Minute)) ||
		len(edge.Inputs) != 1 || edge.Inputs[0].Events != 1200 || edge.Version != "v1.2.3" || edge.Patterns != 3 || !edge.Started.Equal(t0.Add(-time.Hour)) {
		e.Errorf("edge sensor: %+v", edge)
	}
	all, err := e.st.ListSensors(e.ctx, nil)
	if err != nil {
		e.Fatal(err)
	}
	n := 0
	for _, s := range all {
		if s.OrgID == a.ID || s.OrgID == b.ID {
			n++
		}
	}
	if n != 3 {
		e.Errorf("ListSensors(nil) has %d of ours, want 3", n)
	}
	if none, err := e.st.ListSensors(e.ctx, []string{}); err != nil || len(none) != 0 {
		e.Errorf("ListSensors of no organisation: %+v, %v", none, err)
	}
	// Sharing.
	since := time.Now().Add(-time.Second)
	e.ingest(sub(a.ID, indicator.Domain, e.unique("x")+".a.example"), sub(a.ID, indicator.Domain, e.unique("y")+".a.example"))
	counts, err := e.st.SharingSince(e.ctx, since)
	if err != nil || counts[a.ID] != 2 || counts[b.ID] != 0 {
		e.Errorf("SharingSince: %v, %v", counts, err)
	}
	if later, _ := e.st.SharingSince(e.ctx, time.Now().Add(time.Hour)); later[a.ID] != 0 {
		e.Errorf("SharingSince the future: %v", later)
	}
}
