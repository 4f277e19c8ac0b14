package hub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/taxiiclient"
)

// TestTAXIIClientAgainstOwnServer: hdn's TAXII client reads hdn's TAXII
// server as an outside client would — Basic authentication with the key as
// password, discovery with a relative API root, incremental polling — and
// uploads an envelope.
func TestTAXIIClientAgainstOwnServer(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	var its []map[string]any
	for i := range 250 {
		its = append(its, map[string]any{"type": "domain", "value": fmt.Sprintf("c2-%d.badhost-example.net", i), "tlp": "green"})
	}
	submit(t, h, ka, its...)
	c := &taxiiclient.Client{User: "hospital-a", Password: ka}
	d, err := c.Discover(t.Context(), h.URL+"/taxii2/")
	if err != nil || len(d.APIRoots) != 1 || !strings.HasPrefix(d.APIRoots[0], h.URL+"/") {
		t.Fatalf("discovery %+v, %v", d, err)
	}
	cs, err := c.Collections(t.Context(), d.APIRoots[0])
	if err != nil || len(cs) != 2 || !cs[0].CanRead || !cs[0].CanWrite || cs[0].Alias != "indicators" {
		t.Fatalf("collections %+v, %v", cs, err)
	}
	coll := taxiiclient.CollectionURL(d.APIRoots[0], cs[0].ID)
	indicators := map[string]int{}
	count := func(objs []json.RawMessage) error {
		for _, o := range objs {
			var x struct{ Type, ID string }
			json.Unmarshal(o, &x)
			if x.Type == "indicator" {
				indicators[x.ID]++
			}
		}
		return nil
	}
	last, err := c.Poll(t.Context(), coll, time.Time{}, 40, map[string]string{"type": "indicator"}, count)
	if err != nil || len(indicators) != 250 {
		t.Fatalf("first poll: %d indicators, %v", len(indicators), err)
	}
	for id, n := range indicators {
		if n != 1 {
			t.Errorf("%s polled %d times", id, n)
		}
	}
	// Only what is new since.
	time.Sleep(2 * time.Millisecond)
	submit(t, h, ka, map[string]any{"type": "domain", "value": "late.badhost-example.net", "tlp": "green"})
	clear(indicators)
	if _, err := c.Poll(t.Context(), coll, last, 40, map[string]string{"type": "indicator"}, count); err != nil || len(indicators) != 1 {
		t.Errorf("second poll: %d indicators, %v; want the one added since", len(indicators), err)
	}
	// An upload through the client.
	st, err := c.AddObjects(t.Context(), coll, []json.RawMessage{json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--6b6a9b5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b","created":"2026-11-27T10:00:00.000Z","modified":"2026-11-27T10:00:00.000Z","pattern":"[domain-name:value = 'upload.badhost-example.net']","pattern_type":"stix","valid_from":"2026-11-27T10:00:00Z"}`)})
	if err != nil || st.SuccessCount != 1 || st.FailureCount != 0 {
		t.Errorf("upload: %+v, %v", st, err)
	}
	// A wrong key is refused as TAXII says.
	bad := &taxiiclient.Client{User: "x", Password: "hdn_wrong"}
	if _, err := bad.Collections(t.Context(), d.APIRoots[0]); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
}
