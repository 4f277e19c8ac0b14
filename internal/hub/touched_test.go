package hub_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// taxiiIndicators reads the indicators of the TAXII collection after the
// query (added_after=…), and the X-TAXII-Date-Added-Last of the answer.
func taxiiIndicators(t *testing.T, h *hubtest.Hub, key, query string) ([]taxiiObj, string) {
	t.Helper()
	r := taxiiCall(h, "GET", taxiiCollection+"objects/?match[type]=indicator"+query, key, nil)
	_, objs := objectsOf(t, r)
	return objs, r.Header.Get("X-TAXII-Date-Added-Last")
}

// checkIncrementalPulls checks that every "changed since" reader gives key
// the indicator (id, value) that its organisation may newly see since then
// (last: the X-TAXII-Date-Added-Last of its poll before), with its STIX
// version unchanged, and that a TAXII poll after it does not repeat it.
func checkIncrementalPulls(t *testing.T, h *hubtest.Hub, key, id, value, version, last string, then time.Time) {
	t.Helper()
	objs, newLast := taxiiIndicators(t, h, key, "&added_after="+url.QueryEscape(last))
	i := slices.IndexFunc(objs, func(o taxiiObj) bool { return o.ID == "indicator--"+id })
	switch {
	case i < 0:
		t.Errorf("TAXII objects added_after=%s: %d objects, not %s", last, len(objs), value)
	case objs[i].Modified != version:
		t.Errorf("TAXII: %s has version (modified) %s, want it unchanged: %s", value, objs[i].Modified, version)
	}
	var man struct {
		Objects []struct {
			ID        string `json:"id"`
			DateAdded string `json:"date_added"`
			Version   string `json:"version"`
		} `json:"objects"`
	}
	mr := taxiiCall(h, "GET", taxiiCollection+"manifest/?match[type]=indicator&added_after="+url.QueryEscape(last), key, nil)
	mr.JSON(t, &man)
	if j := slices.IndexFunc(man.Objects, func(o struct {
		ID        string `json:"id"`
		DateAdded string `json:"date_added"`
		Version   string `json:"version"`
	}) bool {
		return o.ID == "indicator--"+id
	}); j < 0 || man.Objects[j].Version != version || man.Objects[len(man.Objects)-1].DateAdded != newLast {
		t.Errorf("TAXII manifest added_after=%s: %+v; want %s at version %s, the last date_added %s as the objects' header", last, man.Objects, value, version, newLast)
	}
	if newLast == "" {
		t.Errorf("TAXII added_after=%s: no X-TAXII-Date-Added-Last", last)
	} else if again, _ := taxiiIndicators(t, h, key, "&added_after="+url.QueryEscape(newLast)); len(again) != 0 {
		t.Errorf("TAXII added_after=%s (the last poll's X-TAXII-Date-Added-Last) repeats %d objects", newLast, len(again))
	}
	ts := strconv.FormatInt(then.Unix(), 10)
	if r := mispOK(t, h, "POST", "/attributes/restSearch", key, []byte(`{"returnFormat":"json","timestamp":"`+ts+`"}`), nil); !strings.Contains(string(r.Body), value) {
		t.Errorf("MISP attributes/restSearch timestamp=%s misses %s: %.300s", ts, value, r.Body)
	}
	since := url.QueryEscape(then.UTC().Format(time.RFC3339Nano))
	var list listResp
	if r := h.Do("GET", "/api/v1/indicators?since="+since, key, nil); r.Status != 200 {
		t.Errorf("native list since: %d %s", r.Status, r.Body)
	} else if r.JSON(t, &list); !slices.ContainsFunc(list.Indicators, func(j api.IndicatorJSON) bool { return j.ID == id }) {
		t.Errorf("native list since=%s misses %s: %s", then.Format(time.RFC3339Nano), value, r.Body)
	}
	if r := h.Do("GET", "/api/v1/export/list?since="+since, key, nil); !strings.Contains(string(r.Body), value) {
		t.Errorf("export since=%s misses %s: %d %s", then.Format(time.RFC3339Nano), value, r.Status, r.Body)
	}
}

// An organisation that joins a sharing group gets the group's indicators
// from every incremental pull, though they did not change: the join touches
// them (date_added, MISP timestamp and since= go by it), their STIX version
// stays.
func TestTouchedGroupJoinReachesIncrementalPulls(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Admin), h.Key(b, policy.ReadOnly)
	if _, err := h.Store.CreateGroup(context.Background(), model.Group{Name: "G", Owner: a.ID, Members: []string{a.ID}}); err != nil {
		t.Fatal(err)
	}
	grouped := submit(t, h, ka, map[string]any{"type": "domain", "value": "grouped.touched.example", "tlp": "amber", "audience": map[string]any{"group": "G"}})[0].ID
	submit(t, h, ka, map[string]any{"type": "domain", "value": "public.touched.example", "tlp": "green"})
	objs, last := taxiiIndicators(t, h, kb, "")
	if len(objs) != 1 || last == "" {
		t.Fatalf("B's first poll: %d objects, X-TAXII-Date-Added-Last %q; want the public one", len(objs), last)
	}
	ao, _ := taxiiIndicators(t, h, ka, "&match[id]=indicator--"+grouped)
	if len(ao) != 1 {
		t.Fatalf("A does not see its grouped indicator over TAXII: %d", len(ao))
	}
	// MISP timestamps are whole seconds: join in a later second than the
	// indicator was stored in.
	time.Sleep(1100 * time.Millisecond)
	joined := time.Now()
	if r := h.Do("PUT", "/api/v1/groups/G/members/"+b.ID, ka, nil); r.Status != 200 {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	}
	checkIncrementalPulls(t, h, kb, grouped, "grouped.touched.example", ao[0].Modified, last, joined)
}

// A customer moved to another partner: the new partner gets the customer's
// indicators from every incremental pull, and the customer gets what is
// shared with its new partner.
func TestTouchedCustomerMoveReachesIncrementalPulls(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	a := h.Org("Hospital A", policy.Member, "")
	p1 := h.Org("MSSP One", policy.Partner, "")
	p2 := h.Org("MSSP Two", policy.Partner, "")
	other := h.Org("Hospital X", policy.Member, "")
	c := h.Org("Clinic C", policy.Customer, p1.ID)
	ka, kc, kp2 := h.Key(a, policy.Analyst), h.Key(c, policy.Analyst), h.Key(p2, policy.ReadOnly)
	own := submit(t, h, kc, map[string]any{"type": "domain", "value": "customer-only.touched.example", "tlp": "red", "audience": map[string]any{"orgs": []string{other.ID}}})[0].ID
	toP2 := submit(t, h, ka, map[string]any{"type": "domain", "value": "for-p2.touched.example", "tlp": "amber", "audience": map[string]any{"orgs": []string{p2.ID}}})[0].ID
	submit(t, h, kc, map[string]any{"type": "domain", "value": "public.touched.example", "tlp": "green"})
	_, lastP2 := taxiiIndicators(t, h, kp2, "")
	_, lastC := taxiiIndicators(t, h, kc, "")
	ao, _ := taxiiIndicators(t, h, ka, "&match[id]=indicator--"+toP2)
	co, _ := taxiiIndicators(t, h, kc, "&match[id]=indicator--"+own)
	if len(ao) != 1 || len(co) != 1 || lastP2 == "" || lastC == "" {
		t.Fatalf("before the move: %d, %d objects, last %q, %q", len(ao), len(co), lastP2, lastC)
	}
	time.Sleep(1100 * time.Millisecond)
	moved := time.Now()
	if r := h.Do("POST", "/api/v1/orgs/"+c.ID+"/move", h.Key(coord, policy.Admin), map[string]any{"partner": p2.ID}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	t.Run("new partner", func(t *testing.T) {
		checkIncrementalPulls(t, h, kp2, own, "customer-only.touched.example", co[0].Modified, lastP2, moved)
	})
	t.Run("customer", func(t *testing.T) {
		checkIncrementalPulls(t, h, kc, toP2, "for-p2.touched.example", ao[0].Modified, lastC, moved)
	})
}
