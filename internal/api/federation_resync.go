package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// A resynchronisation between peer hubs (after a stream reset, a first
// snapshot, or a push whose cursor the change log was compacted past)
// sends what the receiving hub may see now, and nothing about what it may
// no longer see: a removal or revocation in the span that was compacted
// away would be lost, and a copy kept live that its source narrowed or
// revoked. Two calls close that gap without telling either hub anything it
// was not told before:
//
//   - POST /api/v1/federation/visible: which of these indicators (the
//     answering hub's ids) may the calling peer see, live, now. A hub that
//     pulled a snapshot asks it about the copies it holds from the peer,
//     and revokes the others.
//   - GET /api/v1/federation/held: the ids (the caller's own) of the live
//     copies the answering hub holds that the calling peer delivered. A
//     hub that resynchronised its push asks it, and sends a removal for
//     each the peer may no longer see.

// maxResyncIDs bounds one visibility check and one page of held copies;
// maxResyncIDLength an id in them (hdn's are UUIDs, 36 characters).
const (
	maxResyncIDs      = 1000
	maxResyncIDLength = 128
)

// federationVisible serves POST /api/v1/federation/visible.
func (s *Server) federationVisible(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if p.Org.Kind != policy.PeerHub {
		return forbidden("only a peer hub's key may check what it may see; %s is a %s", p.Org.Name, p.Org.Kind)
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	var in struct {
		IDs []string `json:"ids"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	if len(in.IDs) > maxResyncIDs {
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "more than %d ids in one check", maxResyncIDs)
	}
	for i, id := range in.IDs {
		if id == "" || len(id) > maxResyncIDLength {
			return badRequest("ids[%d]: an indicator id is 1 to %d characters, got %d", i, maxResyncIDLength, len(id))
		}
	}
	// Live ones only: the peer asks after its snapshot, which lists only
	// live indicators, so a copy of one quarantined or expired meanwhile
	// is taken out of use like one it may no longer see.
	now := s.now()
	visible, err := s.indicatorsWhere(r.Context(), in.IDs, func(ind *model.Indicator) bool {
		return ind.Live(now) && policy.CanSee(p.Viewer, ind.PolicyItem())
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"visible": visible})
	return nil
}

// VisibleTo returns those of ids (this hub's indicator ids) that v may
// see and that are not revoked, in the order given; unknown ids are left
// out like invisible ones.
func (s *Server) VisibleTo(ctx context.Context, v policy.Viewer, ids []string) ([]string, error) {
	return s.indicatorsWhere(ctx, ids, func(ind *model.Indicator) bool { return !ind.Revoked && policy.CanSee(v, ind.PolicyItem()) })
}

// federationHeld serves GET /api/v1/federation/held?after=CURSOR&limit=N.
func (s *Server) federationHeld(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "after", "limit"); err != nil {
		return err
	}
	if p.Org.Kind != policy.PeerHub {
		return forbidden("only a peer hub's key may list what it delivered; %s is a %s", p.Org.Name, p.Org.Kind)
	}
	q := r.URL.Query()
	after := q.Get("after")
	if len(after) > maxResyncIDLength {
		return badRequest("after: a cursor is at most %d characters", maxResyncIDLength)
	}
	limit := maxResyncIDs
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxResyncIDs {
			return badRequest("limit: a number from 1 to %d, got %q", maxResyncIDs, clip(v))
		}
		limit = n
	}
	peer, err := s.peerOf(r.Context(), p)
	if err != nil {
		return err
	}
	held, err := s.st.HeldVia(r.Context(), peer.ID, after, limit)
	if err != nil {
		return err
	}
	ids := make([]string, len(held))
	next := ""
	for i, o := range held {
		ids[i] = o.RemoteID
		next = o.IndicatorID
	}
	out := map[string]any{"held": ids}
	if len(held) == limit {
		out["next"] = next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// peerOf is the peer that the peer-hub organisation of p stands for here;
// one that delivers without this hub having it as a peer is known by its
// organisation (as ApplyFederated records its deliveries).
func (s *Server) peerOf(ctx context.Context, p *Principal) (model.Peer, error) {
	peer, err := s.st.PeerByOrg(ctx, p.Org.ID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Peer{ID: model.UnpeeredID(p.Org.ID), OrgID: p.Org.ID}, nil
	}
	return peer, err
}

// RevokeStale revokes the copies that peer delivered (origins found by
// store.HeldVia) and no longer lets this hub see, as a removal would. Each
// is checked again under the federation lock (store.Federation's
// WithFederationLock, the one ApplyFederated takes): a delivery since, on
// any replica, may have made it another peer's copy or revoked it already.
// It returns how many it revoked.
func (s *Server) RevokeStale(ctx context.Context, peer model.Peer, stale []model.Origin) (int, error) {
	n := 0
	err := s.st.WithFederationLock(ctx, func() error {
		for _, o := range stale {
			seq, err := s.revokeCopy(ctx, peer, o.IndicatorID)
			if err != nil {
				return err
			}
			if seq > 0 {
				n++
			}
		}
		return nil
	})
	return n, err
}

// revokeCopy revokes the local indicator id if it is a live copy that
// peer delivered; it returns the change's sequence, 0 when it did nothing.
// Call under the federation lock (WithFederationLock).
func (s *Server) revokeCopy(ctx context.Context, peer model.Peer, id string) (int64, error) {
	os, err := s.st.Origins(ctx, []string{id})
	if err != nil {
		return 0, err
	}
	o, ok := os[id]
	if !ok || o.ViaPeer != peer.ID {
		return 0, nil
	}
	ind, err := s.st.IndicatorByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ind.Revoked) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// Revoked here because the peer no longer lets this hub see it, not
	// by its origin: when the peer shows it again (the organisation back
	// in the group it was shared with), the same version brings the copy
	// back. A removed copy's origin keeps no digest, so that any state of
	// it delivered next is taken (newerThan). Recorded before the
	// revocation: stopped in between, the copy is live with no digest and
	// takes the next state delivered, and the peer's removal, sent again
	// since the cursor had not moved, revokes it then.
	o.Digest = ""
	if err := s.st.PutOrigin(ctx, o); err != nil {
		return 0, err
	}
	ind, err = s.st.Revoke(ctx, id, s.now().UTC())
	if err != nil {
		return 0, err
	}
	return ind.Seq, nil
}
