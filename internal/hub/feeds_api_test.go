package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestFeedHealthAPI: the coordinator reads the feeds' health, never their
// credentials; other organisations may not.
func TestFeedHealthAPI(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, FeedCheck: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	m := h.Org("Hospital A", policy.Member, "")
	f, err := h.Store.CreateFeed(t.Context(), model.Feed{Name: "national-cert-taxii", Kind: "taxii", URL: "https://taxii.cert.example/api/collections/x/",
		OrgID: coord.ID, TLP: policy.Amber, Interval: time.Hour, Enabled: true, Auth: "bearer", Secret: "s3cr3t-token-never-shown-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	f.LastRun, f.LastError, f.LastCount = time.Now(), "TAXII server: 503", 0
	if err := h.Store.RecordFeedRun(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	r := h.Do("GET", "/api/v1/feeds", h.Key(coord, policy.Analyst), nil)
	var got struct {
		Feeds []struct {
			Name, Kind string
			LastError  string `json:"last_error"`
			Healthy    bool
		}
	}
	r.JSON(t, &got)
	if r.Status != 200 || len(got.Feeds) != 1 || got.Feeds[0].Name != "national-cert-taxii" || got.Feeds[0].Healthy || !strings.Contains(got.Feeds[0].LastError, "503") {
		t.Errorf("feeds: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "s3cr3t") {
		t.Errorf("the credential is in the answer")
	}
	if r := h.Do("GET", "/api/v1/feeds", h.Key(m, policy.Admin), nil); r.Status != 403 {
		t.Errorf("a member read feed health: %d", r.Status)
	}
}
