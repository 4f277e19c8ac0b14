package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Federation (docs/FEDERATION.md): a peer hub is an organisation of kind
// peer-hub. It reads what the policy lets that organisation see, through the
// stream like any client, and every indicator it reads carries a federation
// block (origin hub, origin id and modification time, the hubs it passed
// through). What a peer delivers — by this hub pulling its stream, or by the
// peer pushing to POST /api/v1/federation/indicators — goes through
// ApplyFederated: loop prevention, newest version wins, the receiving hub's
// canonical forms and warninglists, and its own policy from then on.

// maxHops bounds how far an indicator travels between hubs.
const maxHops = 16

// FederationJSON is where an indicator comes from, shown to peer hubs.
type FederationJSON struct {
	OriginHub      string    `json:"origin_hub"`
	OriginID       string    `json:"origin_id"`
	OriginModified time.Time `json:"origin_modified"`
	// Hops lists the hubs the indicator passed through, the origin first
	// and the hub that sends it last.
	Hops []string `json:"hops"`
}

// FederatedItem is one change a peer delivers: a stream event's kind, the
// indicator (nil for a removal) and, for a removal, the id on the peer.
type FederatedItem struct {
	Kind      string         `json:"kind"`
	ID        string         `json:"id,omitempty"`
	Indicator *IndicatorJSON `json:"indicator,omitempty"`
}

// FederatedResult counts what ApplyFederated did.
type FederatedResult struct {
	Applied int      `json:"applied"` // stored: created, updated, revoked or removed here
	Stale   int      `json:"stale"`   // as old as or older than the version here
	Looped  int      `json:"looped"`  // this hub is its origin or on its path
	Refused int      `json:"refused"` // invalid here or refused by a warninglist
	Ignored int      `json:"ignored"` // nothing to do (a removal of what this hub does not hold)
	LastSeq int64    `json:"-"`
	Errors  []string `json:"errors,omitempty"` // the first few refusals, with their reasons
}

// hubIdentity caches this hub's federation id.
type hubIdentity struct {
	mu sync.Mutex
	id string
}

func (s *Server) hubID(ctx context.Context) (string, error) {
	s.hubIdent.mu.Lock()
	defer s.hubIdent.mu.Unlock()
	if s.hubIdent.id == "" {
		id, err := s.st.HubID(ctx)
		if err != nil {
			return "", err
		}
		s.hubIdent.id = id
	}
	return s.hubIdent.id, nil
}

// HubID is this hub's federation identity.
func (s *Server) HubID(ctx context.Context) (string, error) { return s.hubID(ctx) }

// federationFor is the federation block of ind as this hub sends it.
func (s *Server) federationFor(ctx context.Context, ind *model.Indicator) *FederationJSON {
	self, err := s.hubID(ctx)
	if err != nil {
		s.log.Error("federation: hub id", "err", err)
		return nil
	}
	os, err := s.st.Origins(ctx, []string{ind.ID})
	if err != nil {
		s.log.Error("federation: origin", "indicator", ind.ID, "err", err)
		return nil
	}
	if o, ok := os[ind.ID]; ok {
		return &FederationJSON{OriginHub: o.OriginHub, OriginID: o.OriginID, OriginModified: o.OriginModified,
			Hops: append(slices.Clone(o.Hops), self)}
	}
	return &FederationJSON{OriginHub: self, OriginID: ind.ID, OriginModified: ind.Modified, Hops: []string{self}}
}

// federationHub serves GET /api/v1/federation/hub: this hub's identity.
func (s *Server) federationHub(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	id, err := s.hubID(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"hub_id": id, "name": s.hubName})
	return nil
}

// maxFederatedItems bounds one push.
const maxFederatedItems = 5_000

// federationPush serves POST /api/v1/federation/indicators: a peer hub
// delivers changes.
func (s *Server) federationPush(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if p.Org.Kind != policy.PeerHub {
		return forbidden("only a peer hub's key may push federated indicators; %s is a %s", p.Org.Name, p.Org.Kind)
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not push federated indicators", p.Key.Role)
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	var in struct {
		Items []FederatedItem `json:"items"`
	}
	if err := s.decodeBulk(w, r, &in); err != nil {
		return err
	}
	if len(in.Items) > maxFederatedItems {
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "more than %d items in one push", maxFederatedItems)
	}
	res, err := s.ApplyFederated(r.Context(), p, in.Items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// PrincipalForPeer is the principal that a peer's deliveries are applied as
// when this hub pulls them: the peer's organisation with the analyst role.
func (s *Server) PrincipalForPeer(ctx context.Context, peer model.Peer) (*Principal, error) {
	org, err := s.st.Org(ctx, peer.OrgID)
	if err != nil {
		return nil, err
	}
	if org.Kind != policy.PeerHub {
		return nil, fmt.Errorf("api: peer %s: organisation %s is a %s, not a peer-hub", peer.Name, org.Name, org.Kind)
	}
	if org.Revoked || !org.Usable() {
		return nil, fmt.Errorf("api: peer %s: organisation %s is %s", peer.Name, org.Name, orgState(org))
	}
	v, err := s.st.Viewer(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	return &Principal{Key: model.Key{ID: "peer:" + peer.ID, OrgID: org.ID, Role: policy.Analyst, Name: peer.Name}, Org: org, Viewer: v}, nil
}

// ApplyFederated stores what the peer hub p stands for delivered, in
// order. Runs of indicators between removals are stored in one transaction
// each; a bad item is counted and reported, never fatal for the others.
func (s *Server) ApplyFederated(ctx context.Context, p *Principal, items []FederatedItem) (FederatedResult, error) {
	var res FederatedResult
	self, err := s.hubID(ctx)
	if err != nil {
		return res, err
	}
	// A peer that pushes to this hub without this hub having it as a
	// peer is known by its organisation: sightings cannot go back to it,
	// everything else works.
	peer, err := s.peerOf(ctx, p)
	if err != nil {
		return res, err
	}
	// One apply at a time, across the hub's replicas: finding the copy and
	// storing the new version must not interleave with another delivery of
	// the same indicator (the same change may arrive pulled by the replica
	// that runs the federation loops and pushed to another, or from two
	// peers to two replicas at once), or each would find no copy and store
	// one, and the later versions of one of them would be ignored.
	err = s.st.WithFederationLock(ctx, func() error {
		for start := 0; start < len(items); {
			if items[start].Kind == EventRemoved {
				seq, err := s.applyRemoval(ctx, peer, items[start].ID)
				if err != nil {
					return err
				}
				if seq > 0 {
					res.Applied++
					res.LastSeq = max(res.LastSeq, seq)
				} else {
					res.Ignored++
				}
				start++
				continue
			}
			end := start
			for end < len(items) && items[end].Kind != EventRemoved {
				end++
			}
			if err := s.applyRun(ctx, p, peer, self, items, start, end, &res); err != nil {
				return err
			}
			start = end
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.LastSeq > 0 && s.notify != nil {
		s.notify.Notify(ctx, res.LastSeq)
	}
	if res.Applied+res.Refused > 0 {
		s.audit(ctx, p, "federation.apply", "", fmt.Sprintf("%d applied, %d refused, %d stale, %d looped", res.Applied, res.Refused, res.Stale, res.Looped))
	}
	return res, nil
}

// fedPlan is one delivered indicator to store.
type fedPlan struct {
	ij     *IndicatorJSON
	sub    model.Submission
	origin model.Origin
}

// applyRun applies items[start:end], none of them a removal: it decides for
// each, stores the new versions and their origins in one transaction, then
// revokes, quarantines or expires what the versions say.
func (s *Server) applyRun(ctx context.Context, p *Principal, peer model.Peer, self string, items []FederatedItem, start, end int, res *FederatedResult) error {
	refuse := func(i int, format string, args ...any) {
		res.Refused++
		if len(res.Errors) < 20 {
			res.Errors = append(res.Errors, fmt.Sprintf("items[%d]: %s", i, fmt.Sprintf(format, args...)))
		}
	}
	var originIDs []string
	for i := start; i < end; i++ {
		if ij := items[i].Indicator; ij != nil && ij.Federation != nil {
			originIDs = append(originIDs, ij.Federation.OriginID)
		}
	}
	held, err := s.st.OriginsOf(ctx, originIDs)
	if err != nil {
		return internalError{err}
	}
	now := s.now().UTC()
	rs := newResolver(s, p)
	rs.trusted = true // the audience is the peer's, set by this hub's coordinator (peerAudience)
	var plans, same []fedPlan
	planned := map[string]int{} // origin id -> index in plans
	for i := start; i < end; i++ {
		ij := items[i].Indicator
		if ij == nil || ij.Federation == nil {
			refuse(i, "a %q item needs an indicator with its federation block", clip(items[i].Kind))
			continue
		}
		var prior *fedPlan
		if k, ok := planned[ij.Federation.OriginID]; ok {
			prior = &plans[k]
		}
		plan, outcome, err := s.planFederated(ctx, rs, peer, self, ij, held, prior, now)
		switch {
		case err != nil && isInternal(err):
			return err
		case err != nil:
			refuse(i, "%s %s: %v", clip(ij.Type), clip(ij.Value), err)
			continue
		case outcome == "stale":
			res.Stale++
			continue
		case outcome == "same":
			// The version the copy has already. A hub stopped between
			// storing a version and settling it (below) is sent the same
			// version again, since its cursor had not moved: settled now,
			// or its revocation would be lost for good.
			res.Stale++
			if k, ok := planned[ij.Federation.OriginID]; ok {
				// The version planned earlier in this run, revoked since
				// (the peer stored it, then revoked it): settled with the
				// plan once stored — there is no copy to settle yet.
				if ij.Revoked {
					plans[k].ij = ij
				}
				continue
			}
			same = append(same, plan)
			continue
		case outcome == "looped":
			res.Looped++
			continue
		case outcome == "ignored":
			res.Ignored++
			continue
		}
		// A later version of the same indicator in this run replaces the
		// plan of the earlier one.
		held[plan.origin.OriginID] = plan.origin
		if k, ok := planned[plan.origin.OriginID]; ok {
			plans[k] = plan
			res.Stale++
			continue
		}
		planned[plan.origin.OriginID] = len(plans)
		plans = append(plans, plan)
	}
	for _, pl := range same {
		// Only what the version asserts: a copy quarantined here since
		// (by this hub's own false-positive reports) is not released by
		// an old version sent again.
		seq, err := s.settleFederated(ctx, pl.origin.IndicatorID, pl.ij, now, false)
		if err != nil {
			return internalError{err}
		}
		res.LastSeq = max(res.LastSeq, seq)
	}
	if len(plans) == 0 {
		return nil
	}
	ids, last, err := s.storeFederated(ctx, plans)
	if err != nil {
		return internalError{err}
	}
	res.Applied += len(plans)
	res.LastSeq = max(res.LastSeq, last)
	for k, pl := range plans {
		seq, err := s.settleFederated(ctx, ids[k], pl.ij, now, true)
		if err != nil {
			return internalError{err}
		}
		res.LastSeq = max(res.LastSeq, seq)
	}
	return nil
}

// planFederated decides what to do with one delivered indicator; outcome
// is "stale", "same" (the version the copy has: plan.origin is the copy's),
// "looped", "ignored" or "" (store plan).
//
// prior is the plan for the same indicator earlier in the run (nil: none);
// a later version takes its place and its id and source.
func (s *Server) planFederated(ctx context.Context, rs *resolver, peer model.Peer, self string, ij *IndicatorJSON,
	held map[string]model.Origin, prior *fedPlan, now time.Time) (fedPlan, string, error) {
	fj := ij.Federation
	if fj.OriginHub == "" || fj.OriginID == "" || len(fj.Hops) == 0 {
		return fedPlan{}, "", errors.New("the federation block needs origin_hub, origin_id and hops")
	}
	if fj.OriginHub == self || slices.Contains(fj.Hops, self) {
		return fedPlan{}, "looped", nil
	}
	if len(fj.Hops) >= maxHops {
		return fedPlan{}, "", fmt.Errorf("it passed through %d hubs, at most %d allowed", len(fj.Hops), maxHops-1)
	}
	if err := checkFederationBlock(fj, ij, now); err != nil {
		return fedPlan{}, "", err
	}
	digest := federatedDigest(ij)
	h, known := held[fj.OriginID]
	if known && h.ViaPeer != peer.ID {
		// A copy is updated, revoked and quarantined only through the peer
		// that delivered it: another peer's version of it, true or forged,
		// would otherwise take it over — its sharing, its revocation, the
		// sightings returned for it. The copy's own peer delivers the next
		// version too when the origin changes it. That peer may have been
		// removed and added again (a new peer id, the same peer-hub
		// organisation, which the copy is stored under); and a copy whose
		// peer is gone for good is taken over by the next peer that
		// delivers it, or its origin's revocation would never reach it.
		owns, err := s.peerMayTakeOver(ctx, peer, h)
		if err != nil {
			return fedPlan{}, "", internalError{err}
		}
		if !owns {
			return fedPlan{}, "ignored", nil
		}
	}
	if known && !ij.Revoked && fj.OriginModified.Equal(h.OriginModified) && digest != h.Digest && h.Digest != "" {
		// At one origin time a relaying hub stores a version and then
		// revokes its copy, and both states travel (its stream and its
		// push read the indicator at different moments, so the first
		// state may come last): the revoked one wins, whatever the
		// digests, or a late read of the first would bring the copy back
		// to life.
		revoked := false
		if prior != nil {
			revoked = prior.ij.Revoked
		} else {
			cur, err := s.st.IndicatorByID(ctx, h.IndicatorID)
			if err != nil {
				return fedPlan{}, "", internalError{err}
			}
			revoked = cur.Revoked
		}
		if revoked {
			return fedPlan{}, "stale", nil
		}
	}
	if known && !newerThan(fj, ij.Modified, digest, h) {
		// The same version again is settled (below); so is a revoked one
		// of the same time: the peer stores a version and then revokes its
		// copy, and its stream may carry both states with the origin's
		// time — the revocation must not lose the tie.
		if fj.OriginModified.Equal(h.OriginModified) && (digest == h.Digest || ij.Revoked) {
			return fedPlan{ij: ij, origin: h}, "same", nil
		}
		return fedPlan{}, "stale", nil
	}
	gone := ij.Revoked || (ij.ValidUntil != nil && !now.Before(*ij.ValidUntil))
	if !known && (gone || ij.Quarantined) {
		// Nothing here to revoke, expire or quarantine: a copy is not made
		// of what is out of use (its release comes as a new version).
		return fedPlan{}, "ignored", nil
	}
	item := SubmitItem{Type: ij.Type, Value: ij.Value, TLP: ij.TLP, Labels: ij.Labels, Description: ij.Description,
		Confidence: &ij.Confidence, ValidFrom: ij.ValidFrom.UTC().Format(time.RFC3339Nano), Anonymous: ij.Anonymous, Tags: ij.Tags}
	if ij.ValidUntil != nil && ij.ValidUntil.After(ij.ValidFrom) {
		item.ValidUntil = ij.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	if !ij.Audience.Network {
		ids, err := s.peerAudience(ctx, peer)
		if err != nil {
			return fedPlan{}, "", err
		}
		item.Audience = &AudienceJSON{Orgs: ids}
	}
	// An expiry that came goes with the version: a valid_until that has
	// passed leaves an expired copy expired (settleFederated expires a live
	// one), where a version without one would make it live again.
	sub, err := rs.validateItem(ctx, &item, now)
	if err != nil {
		return fedPlan{}, "", err
	}
	if _, err := s.screen(ctx, rs.p, &sub, false, false, now); err != nil {
		return fedPlan{}, "", err
	}
	sub.ID = fj.OriginID
	switch {
	case prior != nil:
		// An earlier version of the same batch: the same rule as for a
		// copy held (below), against what that version stores.
		if prior.sub.Type != sub.Type || prior.sub.Value != sub.Value {
			return fedPlan{}, "", fmt.Errorf("origin id %s is %s %s earlier in this delivery: a version of it cannot change its type or value",
				clip(fj.OriginID), prior.sub.Type, clip(prior.sub.Value))
		}
		sub.ID, sub.Source, sub.SubmittedBy = prior.sub.ID, prior.sub.Source, prior.sub.SubmittedBy
	case known:
		// The copy keeps the source it was first stored under.
		cur, err := s.st.IndicatorByID(ctx, h.IndicatorID)
		if err != nil {
			return fedPlan{}, "", internalError{err}
		}
		// Stored under the copy's source, a version of another type or
		// value would be another indicator here (the store keeps one per
		// type, value and source): a second copy of one origin indicator,
		// which the store refuses. The origin never changes them; a peer
		// that does is refused, and the copy keeps what it had.
		if cur.Type != sub.Type || cur.Value != sub.Value {
			return fedPlan{}, "", fmt.Errorf("the copy of origin id %s here is %s %s: a version of it cannot change its type or value",
				clip(fj.OriginID), cur.Type, clip(cur.Value))
		}
		sub.ID, sub.Source, sub.SubmittedBy = cur.ID, cur.Source, cur.SubmittedBy
	}
	return fedPlan{ij: ij, sub: sub, origin: model.Origin{OriginHub: fj.OriginHub, OriginID: fj.OriginID,
		OriginModified: fj.OriginModified, Hops: fj.Hops, ViaPeer: peer.ID, RemoteID: ij.ID, Digest: digest, ViaModified: ij.Modified}}, "", nil
}

// storeFederated stores delivered indicators and their origins in one
// transaction: no reader (a stream, another peer's push) ever sees a copy
// without its origin, which would make it look like this hub's own. It
// returns the local id of each plan and the last change sequence.
func (s *Server) storeFederated(ctx context.Context, plans []fedPlan) ([]string, int64, error) {
	subs := make([]model.Submission, len(plans))
	for k := range plans {
		subs[k] = plans[k].sub
	}
	ing, err := s.beginIngest(ctx)
	if err != nil {
		return nil, 0, err
	}
	// Gives the slot and the store's writer back whatever happens, a panic
	// included (nothing after a Commit).
	defer ing.Rollback()
	var urs []store.UpsertResult
	for from := 0; from < len(subs) && err == nil; from += putChunk {
		var part []store.UpsertResult
		part, err = ing.Put(ctx, subs[from:min(from+putChunk, len(subs))])
		urs = append(urs, part...)
	}
	if err == nil && len(urs) != len(subs) {
		err = fmt.Errorf("store returned %d results for %d submissions", len(urs), len(subs))
	}
	ids := make([]string, len(urs))
	var last int64
	var created []newIndicator
	if err == nil {
		origins := make([]model.Origin, len(plans))
		for k, ur := range urs {
			ids[k] = ur.ID
			last = max(last, ur.Seq)
			origins[k] = plans[k].origin
			origins[k].IndicatorID = ur.ID
			if ur.Status == store.StatusCreated && !ur.Quarantined { // a quarantined one is not in use
				created = append(created, newIndicator{k, ur.ID})
			}
		}
		err = ing.PutOrigins(ctx, origins)
	}
	if err != nil {
		ing.Rollback()
		return nil, 0, err
	}
	if err := ing.Commit(); err != nil {
		return nil, 0, err
	}
	if s.events != nil && len(created) > 0 {
		s.announceAll(ctx, subs, created)
	}
	return ids, last, nil
}

// settleFederated makes the stored copy id revoked, quarantined or expired
// as the delivered version ij says, and released from quarantine when it
// says so and release is true, unless enough of this hub's organisations
// report it a false positive; it returns the last change written (0:
// none).
func (s *Server) settleFederated(ctx context.Context, id string, ij *IndicatorJSON, now time.Time, release bool) (int64, error) {
	ind, err := s.st.IndicatorByID(ctx, id)
	if err != nil {
		return 0, err
	}
	var seq int64
	if ij.Revoked && !ind.Revoked {
		if ind, err = s.st.Revoke(ctx, id, now); err != nil {
			return 0, err
		}
		seq = ind.Seq
	}
	if !ij.Quarantined && ind.Quarantined && release {
		// A release on the origin does not undo this hub's own
		// organisations' agreement that it is a false positive: only
		// this hub's coordinator does.
		orgs, err := s.st.FalsePositiveParties(ctx, id)
		if err != nil {
			return 0, err
		}
		release = len(orgs) < s.signal.QuarantineAfter
	}
	if ij.Quarantined != ind.Quarantined && (ij.Quarantined || release) {
		reason := ij.QuarantineReason
		if reason == "" {
			reason = "quarantined on the origin hub"
		}
		if ind, err = s.st.SetQuarantine(ctx, id, ij.Quarantined, reason, now); err != nil {
			return 0, err
		}
		seq = ind.Seq
	}
	if ij.ValidUntil != nil && !now.Before(*ij.ValidUntil) && !ind.Revoked {
		if n, err := s.st.ExpireNow(ctx, []string{id}, now); err != nil {
			return 0, err
		} else if n > 0 {
			if seq, err = s.st.LastSeq(ctx); err != nil {
				return 0, err
			}
		}
	}
	return seq, nil
}

// peerMayTakeOver says whether peer may deliver versions of a copy another
// peer id delivered: when the copy is stored under peer's organisation (the
// same peer removed and added again), or the delivering peer no longer
// exists.
func (s *Server) peerMayTakeOver(ctx context.Context, peer model.Peer, h model.Origin) (bool, error) {
	cur, err := s.st.IndicatorByID(ctx, h.IndicatorID)
	if err != nil {
		return false, err
	}
	if cur.Source == peer.OrgID {
		return true, nil
	}
	_, err = s.st.Peer(ctx, h.ViaPeer)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// Bounds on what a peer's federation block brings, so that a hostile peer
// cannot make this hub store, show and pass on text without end.
const (
	maxFedIDLen            = 256  // origin_hub, origin_id, each hop
	maxQuarantineReasonLen = 1024 // longer reasons are cut
	// maxFutureModified is how far ahead of this hub's clock an origin's
	// modification time may be: a later one would win over every true
	// version to come.
	maxFutureModified = time.Hour
)

// checkFederationBlock refuses a federation block with over-long ids or a
// modification time from the future, and cuts an over-long quarantine
// reason.
func checkFederationBlock(fj *FederationJSON, ij *IndicatorJSON, now time.Time) error {
	for _, id := range append([]string{fj.OriginHub, fj.OriginID}, fj.Hops...) {
		if len(id) > maxFedIDLen {
			return fmt.Errorf("the federation block has an id of %d bytes, at most %d allowed", len(id), maxFedIDLen)
		}
	}
	if fj.OriginModified.After(now.Add(maxFutureModified)) {
		return fmt.Errorf("origin_modified %s is more than %s ahead of this hub's clock", fj.OriginModified.UTC().Format(time.RFC3339), maxFutureModified)
	}
	// The peer's own modification time orders two states of one origin
	// time (newerThan): one from the future would win every tie to come.
	if ij.Modified.After(now.Add(maxFutureModified)) {
		return fmt.Errorf("modified %s is more than %s ahead of this hub's clock", ij.Modified.UTC().Format(time.RFC3339), maxFutureModified)
	}
	if len(ij.QuarantineReason) > maxQuarantineReasonLen {
		ij.QuarantineReason = clipTo(ij.QuarantineReason, maxQuarantineReasonLen)
	}
	return nil
}

// federatedDigest hashes the state a peer delivered, for settling ties.
func federatedDigest(ij *IndicatorJSON) string {
	h := sha256.New()
	vu := ""
	if ij.ValidUntil != nil {
		vu = ij.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	labels, tags := slices.Clone(ij.Labels), slices.Clone(ij.Tags)
	sort.Strings(labels)
	sort.Strings(tags)
	for _, part := range []string{ij.Type, ij.Value, ij.TLP, strconv.FormatBool(ij.Audience.Network), strings.Join(labels, "\x1f"),
		ij.Description, strconv.Itoa(ij.Confidence), ij.ValidFrom.UTC().Format(time.RFC3339Nano), vu,
		strconv.FormatBool(ij.Anonymous), strings.Join(tags, "\x1f"), strconv.FormatBool(ij.Revoked), strconv.FormatBool(ij.Quarantined)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newerThan says whether a delivered version beats the one held: a later
// origin modification time; at the same time, the same state changes
// nothing, any state brings back a copy its peer had removed, and another
// state wins when the delivering peer wrote it later
// (inModified, its own modification time, against the held one's: a
// relaying peer stores a version and then revokes, quarantines, releases
// or expires it in a second write, and its stream and its push may read
// the first state last), and when that is not known, with fewer hops, then
// with the larger digest.
func newerThan(in *FederationJSON, inModified time.Time, digest string, held model.Origin) bool {
	switch {
	case in.OriginModified.After(held.OriginModified):
		return true
	case in.OriginModified.Before(held.OriginModified):
		return false
	case digest == held.Digest:
		return false // the same version by another path: nothing to do
	case held.Digest == "":
		return true // revoked here by its peer's removal: shown again, it comes back (revokeCopy)
	case !inModified.IsZero() && !held.ViaModified.IsZero() && !inModified.Equal(held.ViaModified):
		return inModified.After(held.ViaModified)
	case len(in.Hops) != len(held.Hops):
		return len(in.Hops) < len(held.Hops)
	}
	return digest > held.Digest
}

// peerAudience is the local audience that stands for this hub when a peer
// shared with a group or a list naming this hub's organisation there: the
// peer's configured audience, else this hub's coordinators.
func (s *Server) peerAudience(ctx context.Context, peer model.Peer) ([]string, error) {
	if len(peer.Audience) > 0 {
		return peer.Audience, nil
	}
	orgs, err := s.st.ListOrgs(ctx)
	if err != nil {
		return nil, internalError{err}
	}
	var ids []string
	for _, o := range orgs {
		if o.Kind == policy.Coordinator && !o.Revoked {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("it is shared with a list or group, and this hub has no coordinator and no audience set for the peer to stand for it")
	}
	return ids, nil
}

// applyRemoval revokes the local copy of what the peer no longer lets this
// hub see; only the copy that came from this peer. It returns the change
// sequence written (0: nothing to do).
func (s *Server) applyRemoval(ctx context.Context, peer model.Peer, remoteID string) (int64, error) {
	if remoteID == "" {
		return 0, nil
	}
	// The removal names the peer's id of the indicator: the copy it
	// delivered under that id, whatever its origin id (they differ when
	// the peer's own copy could not keep the origin's id).
	o, err := s.st.OriginVia(ctx, peer.ID, remoteID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return s.revokeCopy(ctx, peer, o.IndicatorID)
}

// FederatedChange is a local change as the peer hub organisation v may
// receive it — an indicator with its federation block, or a removal of what
// it could see before — and false when it receives nothing of it.
func (s *Server) FederatedChange(ctx context.Context, v policy.Viewer, c *model.Change) (FederatedItem, bool) {
	ev, ok := s.changeEvent(ctx, v, c, s.now())
	if !ok {
		return FederatedItem{}, false
	}
	return FederatedItem{Kind: ev.Kind, ID: ev.ID, Indicator: ev.Indicator}, true
}

// PeerJSON is a peer hub's health as the coordinator sees it (never its
// key).
type PeerJSON struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	Pull       bool      `json:"pull"`
	Push       bool      `json:"push"`
	Paused     bool      `json:"paused"`
	RemoteHub  string    `json:"remote_hub,omitempty"`
	PullCursor int64     `json:"pull_cursor"`
	PushCursor int64     `json:"push_cursor"`
	LastOK     time.Time `json:"last_ok,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	// Healthy: not paused, in contact within the last 3 minutes, and the
	// last attempt worked.
	Healthy bool `json:"healthy"`
}

// listPeers serves GET /api/v1/federation/peers: the peers' health, for the
// coordinator.
func (s *Server) listPeers(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if p.Org.Kind != policy.Coordinator || (p.Key.Role != policy.Admin && p.Key.Role != policy.Analyst) {
		return forbidden("peer health is for the coordinator's admin and analyst keys")
	}
	peers, err := s.st.ListPeers(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]PeerJSON, 0, len(peers))
	for _, pr := range peers {
		out = append(out, PeerJSON{Name: pr.Name, URL: pr.URL, Pull: pr.Pull, Push: pr.Push, Paused: pr.Paused, RemoteHub: pr.RemoteHub,
			PullCursor: pr.PullCursor, PushCursor: pr.PushCursor, LastOK: pr.LastOK, LastError: pr.LastError,
			Healthy: !pr.Paused && !pr.LastOK.IsZero() && now.Sub(pr.LastOK) < 3*time.Minute && pr.LastError == ""})
	}
	writeJSON(w, http.StatusOK, map[string]any{"peers": out})
	return nil
}
