package hub_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// testClock is a settable clock for hubs under test.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func sight(t *testing.T, h *hubtest.Hub, key, id, kind string) hubtest.Response {
	t.Helper()
	r := h.Do("POST", "/api/v1/sightings", key, map[string]any{"sightings": []any{map[string]any{"indicator": id, "kind": kind}}})
	if r.Status != 200 {
		t.Fatalf("sighting: %d %s", r.Status, r.Body)
	}
	return r
}

func getIndicator(t *testing.T, h *hubtest.Hub, key, id string) api.IndicatorJSON {
	t.Helper()
	var j api.IndicatorJSON
	r := h.Do("GET", "/api/v1/indicators/"+id, key, nil)
	r.JSON(t, &j)
	if r.Status != 200 {
		t.Fatalf("get %s: %d %s", id, r.Status, r.Body)
	}
	return j
}

// TestQuarantineAfterAgreeingReports: one false-positive report lowers the
// score; a second organisation agreeing quarantines the indicator
// network-wide — it stays visible with the reason, leaves exports and the
// sensors' copies, and the source is told — until the coordinator releases
// it. The source's own report does not count.
func TestQuarantineAfterAgreeingReports(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	kc, ks, ka, kb := h.Key(coord, policy.Analyst), h.Key(src, policy.Admin), h.Key(a, policy.Sensor), h.Key(b, policy.Analyst)
	res := submit(t, h, ks, map[string]any{"type": "domain", "value": "supplier-portal.quarantine-test.example", "tlp": "green", "confidence": 80})
	id := res[0].ID
	if j := getIndicator(t, h, kb, id); j.Score == nil || j.Score.Score != 80 || j.Quarantined {
		t.Fatalf("fresh: %+v", j.Score)
	}
	c := follow(t, []string{h.URL}, ka, false, 0)
	t.Cleanup(c.stop)
	// The source's own report, then one other organisation: no quarantine.
	sight(t, h, ks, id, "false-positive")
	r := sight(t, h, ka, id, "false-positive")
	if !strings.Contains(string(r.Body), `"quarantined":0`) {
		t.Errorf("one report: %s", r.Body)
	}
	j := getIndicator(t, h, kb, id)
	if j.Quarantined || j.Score.Score != 55 || !strings.Contains(strings.Join(j.Score.Reasons, ";"), "false positive reported by 1 organisation") {
		t.Errorf("after one report: quarantined %v, score %+v", j.Quarantined, j.Score)
	}
	// A second organisation agrees: quarantined.
	r = sight(t, h, kb, id, "false-positive")
	if !strings.Contains(string(r.Body), `"quarantined":1`) {
		t.Errorf("two reports: %s", r.Body)
	}
	j = getIndicator(t, h, kb, id)
	if !j.Quarantined || !strings.Contains(j.QuarantineReason, "2 organisations") || j.Score.Score != 0 {
		t.Errorf("after two reports: %+v", j)
	}
	// Sensors are told at once: the stream carries it quarantined (a sensor
	// drops it from its copy).
	c.waitFor(t, "the quarantine on the stream", func(ev streamclient.Event) bool {
		return ev.Indicator != nil && ev.Indicator.ID == id && ev.Indicator.Quarantined
	})
	// It leaves the exports.
	if r := h.Do("GET", "/api/v1/export/list", kb, nil); strings.Contains(string(r.Body), "supplier-portal") {
		t.Errorf("a quarantined indicator is exported: %s", r.Body)
	}
	// The source is told: its audit log has it.
	var audit struct {
		Entries []struct{ Action, Target, Detail string }
	}
	h.Do("GET", "/api/v1/audit", ks, nil).JSON(t, &audit)
	told := false
	for _, e := range audit.Entries {
		told = told || e.Action == "indicator.quarantine" && e.Target == id
	}
	if !told {
		t.Errorf("the source's audit log: %+v", audit.Entries)
	}
	// Only the coordinator releases.
	if r := h.Do("POST", "/api/v1/indicators/"+id+"/release", ks, nil); r.Status != 403 {
		t.Errorf("the source released: %d", r.Status)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+id+"/release", kc, nil); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	if j := getIndicator(t, h, kb, id); j.Quarantined {
		t.Errorf("still quarantined after release")
	}
	if r := h.Do("POST", "/api/v1/indicators/"+id+"/release", kc, nil); r.Status != 409 {
		t.Errorf("releasing twice: %d", r.Status)
	}
	if r := h.Do("GET", "/api/v1/export/list", kb, nil); !strings.Contains(string(r.Body), "supplier-portal") {
		t.Errorf("a released indicator is not exported")
	}
}

// TestCampaignAlertsUnderPolicy: when three organisations sight
// indicators of one report within the window, the coordinator gets an
// alert naming them; an organisation that may see every indicator of it
// sees the alert with a count only; one that may not see one of them does
// not see the alert at all. No second alert within the window.
func TestCampaignAlertsUnderPolicy(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, CampaignOrgs: 3, CampaignWindow: 24 * time.Hour})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	orgs := []string{"Hospital A", "Hospital B", "Hospital C"}
	keys := memberSensorKeys(h, orgs...)
	outsider := h.Org("Hospital Outside", policy.Member, "")
	ko := h.Key(outsider, policy.Analyst)
	kc, ks := h.Key(coord, policy.Analyst), h.Key(src, policy.Analyst)
	var rep struct{ ID string }
	r := h.Do("POST", "/api/v1/reports", ks, map[string]any{"title": "Winter ransomware wave", "tlp": "amber", "threat_actor": "APT-Cold"})
	r.JSON(t, &rep)
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	// Two indicators of the report: one to the whole network, one amber
	// to the three hospitals only (the outsider may not see it).
	res := submit(t, h, ks,
		map[string]any{"type": "domain", "value": "c2.winter-wave.example", "tlp": "amber", "report": rep.ID, "labels": []string{"ransomware"}},
		map[string]any{"type": "ipv4", "value": "198.51.100.77", "tlp": "amber", "report": rep.ID, "audience": map[string]any{"orgs": append(orgs, "Sector CERT")}})
	// Two organisations: no alert yet.
	sight(t, h, keys["Hospital A"], res[0].ID, "sighting")
	sight(t, h, keys["Hospital B"], res[1].ID, "sighting")
	if alerts, _ := h.Hub.RunSignalJobs(t.Context()); len(alerts) != 0 {
		t.Fatalf("alerts with two organisations: %+v", alerts)
	}
	sight(t, h, keys["Hospital C"], res[1].ID, "sighting")
	alerts, _ := h.Hub.RunSignalJobs(t.Context())
	byKey := map[string]int{}
	for _, a := range alerts {
		byKey[a.By+" "+a.Key]++
	}
	if byKey["report "+rep.ID] != 1 || byKey["actor apt-cold"] != 1 || len(alerts) != 2 {
		t.Fatalf("alerts %+v", alerts)
	}
	// Not again within the window.
	if again, _ := h.Hub.RunSignalJobs(t.Context()); len(again) != 0 {
		t.Errorf("alerts raised twice: %+v", again)
	}
	type alertsResp struct {
		Alerts []struct {
			By, Key, Title string
			Organisations  int
			Orgs           []string
			Indicators     []string
		}
	}
	var ca alertsResp
	h.Do("GET", "/api/v1/alerts", kc, nil).JSON(t, &ca)
	if len(ca.Alerts) != 2 {
		t.Fatalf("coordinator alerts: %+v", ca)
	}
	for _, a := range ca.Alerts {
		if a.Organisations != 3 || strings.Join(a.Orgs, ",") != "Hospital A,Hospital B,Hospital C" || len(a.Indicators) != 2 {
			t.Errorf("coordinator's view of %s: %+v", a.By, a)
		}
		if a.By == "report" && a.Title != "Winter ransomware wave" {
			t.Errorf("report alert title %q", a.Title)
		}
	}
	// A hospital that sees both indicators: the alert, a count, no names.
	var ha alertsResp
	h.Do("GET", "/api/v1/alerts", keys["Hospital A"], nil).JSON(t, &ha)
	if len(ha.Alerts) != 2 || ha.Alerts[0].Organisations != 3 || len(ha.Alerts[0].Orgs) != 0 {
		t.Errorf("a hospital's view: %+v", ha)
	}
	// The outsider may not see the second indicator: no alert.
	var oa alertsResp
	h.Do("GET", "/api/v1/alerts", ko, nil).JSON(t, &oa)
	if len(oa.Alerts) != 0 {
		t.Errorf("the outsider sees %+v", oa)
	}
}

// TestScoreDecayAndMinimum: scores appear in the API with their reasons;
// exports and stream snapshots can ask for a minimum; an indicator whose
// score decayed under the floor expires, and leaves the stream as an
// expiry.
func TestScoreDecayAndMinimum(t *testing.T) {
	clock := &testClock{now: time.Now().UTC()}
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, Now: clock.Now})
	m := h.Org("Hospital A", policy.Member, "")
	km := h.Key(m, policy.Analyst)
	res := submit(t, h, km,
		map[string]any{"type": "ipv4", "value": "203.0.113.50", "tlp": "green", "confidence": 40},
		map[string]any{"type": "sha256", "value": strings.Repeat("ab", 32), "tlp": "green", "confidence": 90})
	ip, hash := res[0].ID, res[1].ID
	if j := getIndicator(t, h, km, ip); j.Score.Score != 40 || j.Score.Reasons[0] != "stated confidence 40" {
		t.Errorf("ip score %+v", j.Score)
	}
	if r := h.Do("GET", "/api/v1/export/list?min_score=50", km, nil); strings.Contains(string(r.Body), "203.0.113.50") || !strings.Contains(string(r.Body), strings.Repeat("ab", 32)) {
		t.Errorf("export with min_score=50: %s", r.Body)
	}
	// The csv export carries the score.
	if r := h.Do("GET", "/api/v1/export/csv", km, nil); !strings.HasSuffix(strings.SplitN(string(r.Body), "\r\n", 2)[0], ",score") ||
		!strings.Contains(string(r.Body), strings.Repeat("ab", 32)) || !strings.Contains(string(r.Body), ",90\r\n") {
		t.Errorf("csv export: %s", r.Body)
	}
	if r := h.Do("GET", "/api/v1/export/list?min_score=500", km, nil); r.Status != 400 {
		t.Errorf("min_score=500: %d", r.Status)
	}
	// 14 days later the address has halved (20); at 29 days it is 9.52,
	// still 10 once rounded; at 30 days 9, under the floor of 10.
	clock.Add(14 * 24 * time.Hour)
	if j := getIndicator(t, h, km, ip); j.Score.Score != 20 || !strings.Contains(strings.Join(j.Score.Reasons, ";"), "half-life 14d") {
		t.Errorf("after 14 days: %+v", j.Score)
	}
	if _, n := h.Hub.RunSignalJobs(t.Context()); n != 0 {
		t.Errorf("expired at 20: %d", n)
	}
	clock.Add(16 * 24 * time.Hour) // 30 days: 40 × ½^(30/14) = 9.06 → 9
	follower := followExpiries(t, h, km)
	if _, n := h.Hub.RunSignalJobs(t.Context()); n != 1 {
		t.Fatalf("expired by decay: %d, want the address", n)
	}
	j := getIndicator(t, h, km, ip)
	if !j.Expired || j.Score == nil {
		t.Errorf("the decayed address: expired %v, %+v", j.Expired, j.Score)
	}
	if !follower(ip) {
		t.Errorf("the stream did not carry the expiry")
	}
	if j := getIndicator(t, h, km, hash); j.Expired || j.Score.Score < 80 {
		t.Errorf("the hash, 30 days on: %+v", j.Score)
	}
}

// followExpiries follows the stream and says whether an expiry of an id
// arrives within 5 s.
func followExpiries(t *testing.T, h *hubtest.Hub, key string) func(id string) bool {
	c := follow(t, []string{h.URL}, key, false, 0)
	t.Cleanup(c.stop)
	// Current first: an expiry written before the snapshot begins is not
	// sent (the snapshot leaves the expired out).
	c.waitFor(t, "the first heartbeat", func(ev streamclient.Event) bool { return ev.Kind == "heartbeat" })
	return func(id string) bool {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, ev := range c.snapshot() {
				if ev.Kind == "expired" && ev.Indicator != nil && ev.Indicator.ID == id {
					return true
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
}

// TestBlastRadiusPreview: before sharing, an analyst learns how many
// organisations' sensors already saw a value and which warninglists it is
// on; nothing is stored.
func TestBlastRadiusPreview(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, Warninglists: wl})
	src := h.Org("Hospital Source", policy.Member, "")
	ks := h.Key(src, policy.Analyst)
	res := submit(t, h, ks, map[string]any{"type": "domain", "value": "cdn-update.blast-test.example", "tlp": "green"})
	for _, n := range []string{"Hospital A", "Hospital B"} {
		sight(t, h, h.Key(h.Org(n, policy.Member, ""), policy.Sensor), res[0].ID, "sighting")
	}
	me := h.Org("Hospital Me", policy.Member, "")
	km := h.Key(me, policy.Analyst)
	r := h.Do("POST", "/api/v1/indicators/preview", km, map[string]any{"indicators": []any{
		map[string]any{"type": "domain", "value": "CDN-UPDATE.blast-test[.]example"},
		map[string]any{"type": "domain", "value": "google.com"},
		map[string]any{"type": "domain", "value": "co.uk"},
		map[string]any{"type": "stix-pattern", "value": "[domain-name:value = 'google.com' AND domain-name:value = 'google.com']"},
	}})
	var pv struct {
		Window   string
		Previews []struct {
			Type, Value  string
			Sighters     int
			Known        int
			Refused      bool
			Warninglists []struct{ List string }
			Error        *struct{ Message string }
		}
	}
	r.JSON(t, &pv)
	if r.Status != 200 || len(pv.Previews) != 4 {
		t.Fatalf("preview: %d %s", r.Status, r.Body)
	}
	if p := pv.Previews[0]; p.Value != "cdn-update.blast-test.example" || p.Sighters != 2 || p.Known != 1 || p.Refused {
		t.Errorf("the sighted value: %+v", p)
	}
	if p := pv.Previews[1]; !p.Refused || len(p.Warninglists) == 0 || p.Sighters != 0 {
		t.Errorf("google.com: %+v", p)
	}
	if p := pv.Previews[2]; p.Error == nil || !strings.Contains(p.Error.Message, "public suffix") {
		t.Errorf("co.uk: %+v", p)
	}
	// A pattern is previewed as it is screened: by the values it pins down.
	if p := pv.Previews[3]; !p.Refused || len(p.Warninglists) == 0 {
		t.Errorf("google.com in a pattern: %+v", p)
	}
	if pv.Window != "336h0m0s" {
		t.Errorf("window %q", pv.Window)
	}
	var lr listResp
	h.Do("GET", "/api/v1/indicators?value="+url.QueryEscape("google.com"), km, nil).JSON(t, &lr)
	if len(lr.Indicators) != 0 {
		t.Errorf("the preview stored something")
	}
	if r := h.Do("POST", "/api/v1/indicators/preview", h.Key(me, policy.Sensor), map[string]any{"indicators": []any{}}); r.Status != 403 {
		t.Errorf("a sensor key previewed: %d", r.Status)
	}
}

// TestAnonymousScoreHidesSourceRecord: an anonymous indicator is scored as
// from a source without a record, so neither its score nor its reasons
// tell whose track record it carries; the same source's named indicator
// carries it.
func TestAnonymousScoreHidesSourceRecord(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	src, other := h.Org("Hospital A", policy.Member, ""), h.Org("Hospital B", policy.Member, "")
	ks, ko := h.Key(src, policy.Analyst), h.Key(other, policy.Analyst)
	var its []map[string]any
	for i := range 3 {
		its = append(its, map[string]any{"type": "domain", "value": fmt.Sprintf("record-%d.score-test.example.org", i), "tlp": "green", "confidence": 50})
	}
	for _, r := range submit(t, h, ks, its...) {
		if r := h.Do("POST", "/api/v1/sightings", ko, map[string]any{"sightings": []any{map[string]any{"indicator": r.ID, "count": 1}}}); r.Status != 200 {
			t.Fatalf("sighting: %d %s", r.Status, r.Body)
		}
	}
	res := submit(t, h, ks,
		map[string]any{"type": "domain", "value": "named.score-test.example.org", "tlp": "green", "confidence": 50},
		map[string]any{"type": "domain", "value": "anonymous.score-test.example.org", "tlp": "green", "confidence": 50, "anonymous": true})
	named, anon := getIndicator(t, h, ko, res[0].ID), getIndicator(t, h, ko, res[1].ID)
	if !strings.Contains(strings.Join(named.Score.Reasons, ";"), "3 confirmed") {
		t.Fatalf("the named indicator's reasons %q do not carry its source's record (3 confirmed)", named.Score.Reasons)
	}
	if strings.Contains(strings.Join(anon.Score.Reasons, ";"), "confirmed") || anon.Score.Score >= named.Score.Score {
		t.Errorf("the anonymous indicator scores %d with %q; want no track record (below the named one's %d)", anon.Score.Score, anon.Score.Reasons, named.Score.Score)
	}
}

// TestCampaignAlertHidesRedReport: a campaign on CLEAR indicators of a RED
// report not addressed to the coordinator shows the coordinator the
// alert (it sees the indicators) but neither the report's title nor the
// actor the report names; a hospital that sees every indicator but not the
// report does not see the actor's alert.
func TestCampaignAlertHidesRedReport(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, CampaignOrgs: 3, CampaignWindow: 24 * time.Hour})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	orgs := []string{"Hospital A", "Hospital B", "Hospital C"}
	keys := memberSensorKeys(h, orgs...)
	kc, ks := h.Key(coord, policy.Analyst), h.Key(src, policy.Analyst)
	var rep struct{ ID string }
	r := h.Do("POST", "/api/v1/reports", ks, map[string]any{"title": "Secret ward investigation", "tlp": "red", "threat_actor": "APT-Hidden",
		"audience": map[string]any{"orgs": []string{"Hospital A", "Hospital B"}}})
	r.JSON(t, &rep)
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	res := submit(t, h, ks, map[string]any{"type": "domain", "value": "c2.hidden-wave.example.org", "tlp": "clear", "report": rep.ID})
	for _, n := range orgs {
		sight(t, h, keys[n], res[0].ID, "sighting")
	}
	if alerts, _ := h.Hub.RunSignalJobs(t.Context()); len(alerts) != 2 {
		t.Fatalf("alerts: %+v", alerts)
	}
	type alertsResp struct {
		Alerts []struct{ By, Key, Title string }
	}
	var ca alertsResp
	h.Do("GET", "/api/v1/alerts", kc, nil).JSON(t, &ca)
	if len(ca.Alerts) != 2 {
		t.Fatalf("coordinator alerts: %+v", ca)
	}
	for _, a := range ca.Alerts {
		if strings.Contains(a.Title, "Secret") || strings.Contains(strings.ToLower(a.Key), "hidden") {
			t.Errorf("the coordinator's view of the %s alert tells of the RED report: %+v", a.By, a)
		}
	}
	var cv alertsResp
	h.Do("GET", "/api/v1/alerts", keys["Hospital C"], nil).JSON(t, &cv)
	for _, a := range cv.Alerts {
		if a.By == "actor" || a.By == "report" {
			t.Errorf("Hospital C, which may not see the report, sees the %s alert %+v", a.By, a)
		}
	}
}

// memberSensorKeys makes a member organisation of each name and returns a
// sensor key of each, by name.
func memberSensorKeys(h *hubtest.Hub, names ...string) map[string]string {
	keys := map[string]string{}
	for _, n := range names {
		keys[n] = h.Key(h.Org(n, policy.Member, ""), policy.Sensor)
	}
	return keys
}

// TestConcurrentFalsePositivesQuarantineOnce: organisations reporting the
// same indicators at once quarantine each once — one audit entry for its
// source, one change — however their requests interleave.
func TestConcurrentFalsePositivesQuarantineOnce(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	src := h.Org("Hospital Source", policy.Member, "")
	ks, kadm := h.Key(src, policy.Analyst), h.Key(src, policy.Admin)
	const n = 20
	var items []map[string]any
	for i := range n {
		items = append(items, map[string]any{"type": "domain", "value": fmt.Sprintf("fp%d.concurrent-quarantine.example.org", i), "tlp": "green"})
	}
	res := submit(t, h, ks, items...)
	var reporters []string
	for i := range 6 {
		reporters = append(reporters, h.Key(h.Org(fmt.Sprintf("Hospital %d", i), policy.Member, ""), policy.Analyst))
	}
	var wg sync.WaitGroup
	for _, k := range reporters {
		wg.Go(func() {
			for _, r := range res {
				sight(t, h, k, r.ID, "false-positive")
			}
		})
	}
	wg.Wait()
	var audit struct {
		Entries []struct{ Action, Target, Detail string }
	}
	h.Do("GET", "/api/v1/audit?limit=1000", kadm, nil).JSON(t, &audit)
	per := map[string]int{}
	for _, e := range audit.Entries {
		if e.Action == "indicator.quarantine" {
			per[e.Target]++
		}
	}
	for _, r := range res {
		if per[r.ID] != 1 {
			t.Errorf("%s: %d quarantine entries in its source's audit log, want 1", r.ID, per[r.ID])
		}
		if !getIndicator(t, h, ks, r.ID).Quarantined {
			t.Errorf("%s not quarantined", r.ID)
		}
	}
}
