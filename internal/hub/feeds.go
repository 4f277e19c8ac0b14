package hub

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// feedLoop runs every enabled feed when its interval has passed since its
// last run, one feed at a time (a feed is a batch job; the store has one
// writer anyway).
func (h *Hub) feedLoop(ctx context.Context) error {
	t := time.NewTicker(h.cfg.FeedCheck)
	defer t.Stop()
	for {
		h.runDueFeeds(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *Hub) runDueFeeds(ctx context.Context) {
	feeds, err := h.st.ListFeeds(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("feeds: list", "err", err)
		}
		return
	}
	now := h.cfg.Now()
	for _, f := range feeds {
		if !f.Enabled || (!f.LastRun.IsZero() && now.Sub(f.LastRun) < f.Interval) {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		h.RunFeed(ctx, f)
	}
}

// detachedWrite bounds a write that goes on after its job was cancelled
// (what a feed run did, recorded as the hub stops).
const detachedWrite = 10 * time.Second

// RunFeed reads a feed once and records the run's outcome on the feed. A
// MISP feed (runMISPFeed) and a TAXII feed (runTAXIIFeed) are read
// differently; a panic inside one run is recovered, logged and recorded as
// the feed's error, so that one feed never stops the loop.
func (h *Hub) RunFeed(ctx context.Context, f model.Feed) (imported int, err error) {
	start := h.cfg.Now().UTC()
	defer func() {
		f.LastRun, f.LastCount, f.LastError = start, imported, ""
		if err != nil {
			f.LastError = err.Error()
		}
		// Recorded even when the run was cancelled (the hub stopping), but
		// never waited for longer than detachedWrite: a hung database must
		// not keep the jobs from stopping.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWrite)
		defer cancel()
		if rerr := h.st.RecordFeedRun(rctx, f); rerr != nil {
			h.log.Error("feeds: record run", "feed", f.Name, "err", rerr)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("feeds: run panicked", "feed", f.Name, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("the run stopped on an internal error (panic: %v)", r)
		}
	}()
	p, err := h.feedPrincipal(ctx, f)
	if err != nil {
		return 0, err
	}
	switch f.Kind {
	case "misp", "":
		return h.runMISPFeed(ctx, f, p)
	case "taxii":
		return h.runTAXIIFeed(ctx, f, p)
	}
	return 0, fmt.Errorf("unknown feed kind %q", f.Kind)
}

// runMISPFeed reads a MISP feed: its manifest, then the events that are new
// or changed since the last run, each stored through the same checks as a
// MISP client's upload (warninglists, policy). A failed event is logged and
// tried again next time.
func (h *Hub) runMISPFeed(ctx context.Context, f model.Feed, p *api.Principal) (imported int, err error) {
	src := misp.DirSource(f.URL)
	if isHTTP(f.URL) {
		src = misp.HTTPSource(f.URL, h.cfg.FeedClient)
	}
	man, err := misp.ReadManifest(ctx, src)
	if err != nil {
		return 0, err
	}
	seen, err := h.st.FeedEvents(ctx, f.ID)
	if err != nil {
		return 0, err
	}
	var failed []error
	for _, id := range man.Changed(seen) {
		if ctx.Err() != nil {
			return imported, ctx.Err()
		}
		ev, err := misp.ReadEvent(ctx, src, id)
		if err == nil {
			var res api.MISPImportResult
			res, err = h.api.ImportMISPEvent(ctx, p, ev, api.MISPImportOptions{DefaultTLP: f.TLP, Origin: "feed " + f.Name, OwnCopy: true})
			if err == nil {
				err = h.st.SetFeedEvent(ctx, f.ID, id, man[id].Unix())
				h.log.Info("feeds: event imported", "feed", f.Name, "event", id, "created", res.Created, "updated", res.Updated, "revoked", res.Revoked, "rejected", res.Rejected)
			}
		}
		if err != nil {
			h.log.Warn("feeds: event not imported; tried again next run", "feed", f.Name, "event", id, "err", err)
			failed = append(failed, fmt.Errorf("event %s: %w", id, err))
			continue
		}
		imported++
	}
	if len(failed) > 0 {
		return imported, fmt.Errorf("%d events failed, first: %w", len(failed), errors.Join(failed[0]))
	}
	return imported, nil
}

// feedPrincipal is who a feed's events are stored as: an analyst of the
// feed's organisation.
func (h *Hub) feedPrincipal(ctx context.Context, f model.Feed) (*api.Principal, error) {
	org, err := h.st.Org(ctx, f.OrgID)
	if err != nil {
		return nil, fmt.Errorf("the feed's organisation: %w", err)
	}
	if org.Revoked {
		return nil, fmt.Errorf("the feed's organisation %q is revoked", org.Name)
	}
	v, err := h.st.Viewer(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	return &api.Principal{Key: model.Key{ID: "feed:" + f.Name, OrgID: org.ID, Role: policy.Analyst}, Org: org, Viewer: v}, nil
}

// isHTTP says whether a feed location is an http(s) URL rather than a
// directory.
func isHTTP(loc string) bool {
	return strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
}
