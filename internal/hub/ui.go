package hub

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/hdnetwork/hdn/internal/web"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// The web UI (docs/WEBUI.md) is served by the hub under /ui/, over the same
// API in-process as the signed-in user.

// newUI builds the UI and its session manager.
func (h *Hub) newUI() http.Handler {
	secure := h.cfg.UISecureCookies
	if !h.cfg.UIInsecureCookies && !secure {
		// Browsers send Secure cookies to https and to the loopback
		// address; anything else needs TLS in front of the hub.
		secure = !loopback(h.cfg.Listen) || h.cfg.TLS != nil
	}
	h.sessions = session.New(h.st, session.Options{Secure: secure, Now: h.cfg.Now,
		OrgUsable: func(ctx context.Context, orgID string) (bool, error) {
			o, err := h.st.Org(ctx, orgID)
			if err != nil {
				return false, err
			}
			return o.Usable(), nil
		}})
	return web.New(web.Config{API: h.api, Sessions: h.sessions, HubName: h.cfg.Name, Logger: h.log, Now: h.cfg.Now})
}

// loopback says whether a listen address is on the loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sessionSweep removes expired sessions, and the sign-in failures and locks
// that have aged out, every hour.
func (h *Hub) sessionSweep(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := h.st.DeleteExpiredSessions(ctx, h.cfg.Now()); err != nil && ctx.Err() == nil {
				h.log.Warn("ui: removing expired sessions", "err", err)
			} else if n > 0 {
				h.log.Info("ui: expired sessions removed", "count", n)
			}
			if _, err := h.st.SweepSignIns(ctx, h.cfg.Now(), session.Limit); err != nil && ctx.Err() == nil {
				h.log.Warn("ui: removing aged-out sign-in failures", "err", err)
			}
		}
	}
}
