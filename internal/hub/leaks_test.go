package hub_test

// What an organisation must not learn through the side doors: the audit
// log, campaign alerts, scores and report links. Each
// test was written against the hub as it was, and failed there.

import (
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// The audit log carries the campaign alert's detail (the threat actor of a
// RED report not addressed to the coordinator) unfiltered.
func TestAuditLogHidesCampaignAlertDetail(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, CampaignOrgs: 2, CampaignWindow: 24 * time.Hour})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	keys := memberSensorKeys(h, "Hospital A", "Hospital B")
	ks := h.Key(src, policy.Analyst)
	kadm := h.Key(coord, policy.Admin)
	var rep struct{ ID string }
	r := h.Do("POST", "/api/v1/reports", ks, map[string]any{"title": "Secret ward investigation", "tlp": "red", "threat_actor": "APT-Hidden",
		"audience": map[string]any{"orgs": []string{"Hospital A", "Hospital B"}}})
	r.JSON(t, &rep)
	res := submit(t, h, ks, map[string]any{"type": "domain", "value": "c2.hidden-wave.example.org", "tlp": "red", "report": rep.ID,
		"audience": map[string]any{"orgs": []string{"Hospital A", "Hospital B"}}})
	sight(t, h, keys["Hospital A"], res[0].ID, "sighting")
	sight(t, h, keys["Hospital B"], res[0].ID, "sighting")
	if alerts, _ := h.Hub.RunSignalJobs(t.Context()); len(alerts) == 0 {
		t.Fatal("no alert")
	}
	// The coordinator may not see the indicator nor the report.
	if r := h.Do("GET", "/api/v1/indicators/"+res[0].ID, kadm, nil); r.Status != 404 {
		t.Fatalf("coordinator sees the red indicator: %d", r.Status)
	}
	var audit struct {
		Entries []struct{ Action, Target, Detail string }
	}
	h.Do("GET", "/api/v1/audit", kadm, nil).JSON(t, &audit)
	alerts := 0
	for _, e := range audit.Entries {
		if !strings.HasPrefix(e.Action, "alert.") {
			continue
		}
		alerts++
		if d := strings.ToLower(e.Detail); strings.Contains(d, "apt-hidden") || strings.Contains(d, rep.ID) || strings.Contains(d, "organisations") {
			t.Errorf("the coordinator's audit log tells of a RED report it may not see: %+v", e)
		}
	}
	if alerts == 0 {
		t.Errorf("no alert entry in the audit log: %+v", audit.Entries)
	}
}

// A campaign alert the coordinator may see (one visible indicator) shows it
// every organisation that sighted any indicator of the group, also those
// that sighted only a RED indicator not addressed to it.
func TestCampaignAlertShowsOnlySightersOfShownIndicators(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, CampaignOrgs: 3, CampaignWindow: 24 * time.Hour})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	src := h.Org("Hospital Source", policy.Member, "")
	keys := memberSensorKeys(h, "Hospital A", "Hospital B", "Hospital C")
	ks, kc := h.Key(src, policy.Analyst), h.Key(coord, policy.Analyst)
	res := submit(t, h, ks,
		map[string]any{"type": "domain", "value": "open.ransom-wave.example", "tlp": "clear", "labels": []string{"ransomware"}},
		map[string]any{"type": "domain", "value": "secret.ransom-wave.example", "tlp": "red", "labels": []string{"ransomware"},
			"audience": map[string]any{"orgs": []string{"Hospital B", "Hospital C"}}})
	sight(t, h, keys["Hospital A"], res[0].ID, "sighting")
	sight(t, h, keys["Hospital B"], res[1].ID, "sighting")
	sight(t, h, keys["Hospital C"], res[1].ID, "sighting")
	if alerts, _ := h.Hub.RunSignalJobs(t.Context()); len(alerts) == 0 {
		t.Fatal("no alert")
	}
	var ca struct {
		Alerts []struct {
			By, Key       string
			Organisations int
			Orgs          []string
			Indicators    []string
		}
	}
	h.Do("GET", "/api/v1/alerts", kc, nil).JSON(t, &ca)
	shown := 0
	for _, a := range ca.Alerts {
		t.Logf("coordinator sees alert %+v", a)
		if len(a.Indicators) != 1 || a.Indicators[0] != res[0].ID {
			t.Errorf("the coordinator is shown indicators %v, want only the CLEAR one", a.Indicators)
			continue
		}
		shown++
		if a.Organisations != 1 || len(a.Orgs) != 1 || a.Orgs[0] != "Hospital A" {
			t.Errorf("the coordinator learns that %v (%d) sighted a RED indicator it may not see", a.Orgs, a.Organisations)
		}
	}
	if shown == 0 {
		t.Errorf("the coordinator sees no alert, though it may see one of its indicators")
	}
	// Hospital B, which may see both indicators, sees the whole alert, as
	// a count.
	var ba struct {
		Alerts []struct {
			Organisations int
			Orgs          []string
			Indicators    []string
		}
	}
	h.Do("GET", "/api/v1/alerts", keys["Hospital B"], nil).JSON(t, &ba)
	if len(ba.Alerts) != 1 || ba.Alerts[0].Organisations != 3 || len(ba.Alerts[0].Orgs) != 0 || len(ba.Alerts[0].Indicators) != 2 {
		t.Errorf("Hospital B's view of the alert: %+v", ba.Alerts)
	}
}

// The source track record shown in the score of a source's named
// indicators counts its anonymous indicators too: a reader that reports a
// false positive on (or sights) an anonymous indicator sees which named
// source's record moves, and so who shared it anonymously.
func TestTrackRecordLeavesOutAnonymousIndicators(t *testing.T) {
	clock := &testClock{now: time.Now().UTC()}
	h := hubtest.Start(t, hub.Config{SignalEvery: -1, Now: clock.Now})
	a, c := h.Org("Hospital A", policy.Member, ""), h.Org("Hospital C", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kc, kb := h.Key(a, policy.Analyst), h.Key(c, policy.Analyst), h.Key(b, policy.Analyst)
	named := submit(t, h, ka, map[string]any{"type": "domain", "value": "named.a-record.example.org", "tlp": "green", "confidence": 50})[0].ID
	namedC := submit(t, h, kc, map[string]any{"type": "domain", "value": "named.c-record.example.org", "tlp": "green", "confidence": 50})[0].ID
	anon := submit(t, h, ka, map[string]any{"type": "domain", "value": "anon.record.example.org", "tlp": "green", "confidence": 50, "anonymous": true})[0].ID
	if s := getIndicator(t, h, kb, anon).Source; s != "anonymous" {
		t.Fatalf("source shown %q", s)
	}
	beforeA, beforeC := getIndicator(t, h, kb, named).Score.Score, getIndicator(t, h, kb, namedC).Score.Score
	sight(t, h, kb, anon, "false-positive") // one report: no quarantine
	clock.Add(2 * time.Minute)              // the records' one-minute cache
	afterA, afterC := getIndicator(t, h, kb, named), getIndicator(t, h, kb, namedC)
	t.Logf("A: %d -> %d %q; C: %d -> %d", beforeA, afterA.Score.Score, afterA.Score.Reasons, beforeC, afterC.Score.Score)
	if afterA.Score.Score != beforeA && afterC.Score.Score == beforeC {
		t.Errorf("Hospital B learns that Hospital A is the anonymous source: A's named score moved %d -> %d (%q)", beforeA, afterA.Score.Score, afterA.Score.Reasons)
	}
}

// An anonymous indicator may not join its source's named report (the report
// names the source), nor a named one its source's anonymous report; an
// anonymous report takes anonymous indicators.
func TestReportLinkKeepsAnonymity(t *testing.T) {
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	a, b := h.Org("Hospital A", policy.Member, ""), h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	var named, anon struct{ ID string }
	h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "Wave", "tlp": "green"}).JSON(t, &named)
	h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "Quiet wave", "tlp": "green", "anonymous": true}).JSON(t, &anon)
	for _, tc := range []struct {
		report    string
		anonymous bool
		want      int
	}{{named.ID, true, 422}, {anon.ID, false, 422}, {anon.ID, true, 200}, {named.ID, false, 200}} {
		r := h.Do("POST", "/api/v1/indicators?atomic=true", ka, map[string]any{"indicators": []map[string]any{{"type": "domain",
			"value": "link.report-anonymity.example.org", "tlp": "green", "anonymous": tc.anonymous, "report": tc.report}}})
		if r.Status != tc.want {
			t.Errorf("anonymous %v to report %s: %d %s, want %d", tc.anonymous, tc.report, r.Status, r.Body, tc.want)
		}
		if tc.want == 200 {
			continue
		}
		if !strings.Contains(string(r.Body), "anonymous") {
			t.Errorf("the refusal does not say why: %s", r.Body)
		}
	}
	// Another source's named report is no clue to the indicator's source.
	var other struct{ ID string }
	h.Do("POST", "/api/v1/reports", kb, map[string]any{"title": "B's wave", "tlp": "green"}).JSON(t, &other)
	if r := h.Do("POST", "/api/v1/indicators?atomic=true", ka, map[string]any{"indicators": []map[string]any{{"type": "domain",
		"value": "other.report-anonymity.example.org", "tlp": "green", "anonymous": true, "report": other.ID}}}); r.Status != 200 {
		t.Errorf("anonymous to another source's report: %d %s", r.Status, r.Body)
	}
}
