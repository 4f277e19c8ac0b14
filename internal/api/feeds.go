package api

import (
	"net/http"
	"time"

	"github.com/hdnetwork/hdn/internal/policy"
)

// FeedJSON is a feed's health as the coordinator sees it (never its
// credential).
type FeedJSON struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	URL       string    `json:"url"`
	Org       string    `json:"org"`
	Enabled   bool      `json:"enabled"`
	Interval  string    `json:"interval"`
	LastRun   time.Time `json:"last_run,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	LastCount int       `json:"last_count"`
	// Healthy: enabled, ran within two intervals, and its last run had no
	// error.
	Healthy bool `json:"healthy"`
}

// listFeeds shows the feeds the hub reads and how their last runs went
// (coordinator's admin and analyst keys).
func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if p.Org.Kind != policy.Coordinator || (p.Key.Role != policy.Admin && p.Key.Role != policy.Analyst) {
		return forbidden("feed health is for the coordinator's admin and analyst keys")
	}
	feeds, err := s.st.ListFeeds(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]FeedJSON, 0, len(feeds))
	for _, f := range feeds {
		j := FeedJSON{Name: f.Name, Kind: f.Kind, URL: f.URL, Org: s.orgs.name(r.Context(), f.OrgID), Enabled: f.Enabled,
			Interval: f.Interval.String(), LastRun: f.LastRun, LastError: f.LastError, LastCount: f.LastCount}
		j.Healthy = f.Enabled && !f.LastRun.IsZero() && now.Sub(f.LastRun) < 2*f.Interval && f.LastError == ""
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": out})
	return nil
}
