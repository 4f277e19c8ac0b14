package federation

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// A snapshot, and a push resynchronisation, carry what the receiving hub
// may see now and nothing of what it may no longer see: a revocation or a
// narrowing in a span of the change log that was compacted away would
// leave the copy live for good. After each, the two hubs compare what the
// receiver holds from the sender with what the sender still shows it
// (api/federation_resync.go), and the rest is revoked.

// resyncPage is how many copies are compared in one request.
const resyncPage = 1000

// reconcilePull revokes the copies this hub holds from the peer that the
// peer no longer lets it see; run after a snapshot from the peer.
func (r *peerRun) reconcilePull(ctx context.Context) error {
	revoked := 0
	for after := ""; ; {
		held, err := r.m.cfg.Store.HeldVia(ctx, r.peer.ID, after, resyncPage)
		if err != nil || len(held) == 0 {
			r.logRevoked(revoked)
			return err
		}
		after = held[len(held)-1].IndicatorID
		ids := make([]string, len(held))
		for i, o := range held {
			ids[i] = o.RemoteID
		}
		var out struct {
			Visible []string `json:"visible"`
		}
		err = r.call(ctx, "POST", "/api/v1/federation/visible", map[string]any{"ids": ids}, &out)
		if unsupported(err) {
			r.log.Warn("federation: the peer cannot say which of its indicators it still shows (an older hdn): copies it stopped showing while the change log was compacted stay live here")
			return nil
		}
		if err != nil {
			return err
		}
		visible := make(map[string]bool, len(out.Visible))
		for _, id := range out.Visible {
			visible[id] = true
		}
		var stale []model.Origin
		for _, o := range held {
			if !visible[o.RemoteID] {
				stale = append(stale, o)
			}
		}
		n, err := r.m.cfg.API.RevokeStale(ctx, r.peer, stale)
		revoked += n
		if err != nil {
			return err
		}
		if len(held) < resyncPage {
			r.logRevoked(revoked)
			return nil
		}
	}
}

func (r *peerRun) logRevoked(n int) {
	if n > 0 {
		r.log.Info("federation: revoked the copies the peer no longer shows this hub", "count", n)
	}
}

// removeStale sends the peer a removal of each copy it holds from this hub
// that it may no longer see; run after a push resynchronisation. It
// returns how many it sent.
func (r *peerRun) removeStale(ctx context.Context, v policy.Viewer) (int, error) {
	removed := 0
	for after := ""; ; {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Held []string `json:"held"`
			Next string   `json:"next"`
		}
		err := r.call(ctx, "GET", "/api/v1/federation/held?"+q.Encode(), nil, &page)
		if unsupported(err) {
			r.log.Warn("federation: the peer cannot list what it holds from this hub (an older hdn): copies it may no longer see stay live there")
			return removed, nil
		}
		if err != nil {
			return removed, err
		}
		visible, err := r.m.cfg.API.VisibleTo(ctx, v, page.Held)
		if err != nil {
			return removed, err
		}
		still := make(map[string]bool, len(visible))
		for _, id := range visible {
			still[id] = true
		}
		var items []api.FederatedItem
		for _, id := range page.Held {
			if !still[id] {
				items = append(items, api.FederatedItem{Kind: api.EventRemoved, ID: id})
			}
		}
		if len(items) > 0 {
			if err := r.call(ctx, "POST", "/api/v1/federation/indicators", map[string]any{"items": items}, nil); err != nil {
				return removed, err
			}
			removed += len(items)
		}
		if page.Next == "" || page.Next == after {
			return removed, nil
		}
		after = page.Next
	}
}

// unsupported says whether err is a peer's answer that it has no such
// call: an hdn older than the call.
func unsupported(err error) bool {
	var se *statusError
	return errors.As(err, &se) && (se.status == http.StatusNotFound || se.status == http.StatusMethodNotAllowed)
}
