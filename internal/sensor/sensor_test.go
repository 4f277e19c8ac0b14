package sensor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// eveDNS is a Suricata DNS query event at time at.
func eveDNS(at time.Time, name string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":1234,"event_type":"dns","src_ip":"10.0.0.5","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":1,"rrname":%q,"rrtype":"A","tx_id":0}}`,
		at.UTC().Format("2006-01-02T15:04:05.000000-0700"), name)
}

type alertLine struct {
	Timestamp string `json:"timestamp"`
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	Alert     struct {
		Signature string `json:"signature"`
		Severity  int    `json:"severity"`
	} `json:"alert"`
	HDN struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Value string `json:"value"`
		TLP   string `json:"tlp"`
		Retro bool   `json:"retro"`
		Hour  string `json:"hour"`
		// A summary of an alert window's repeated matches.
		Repeats     int64  `json:"repeats"`
		WindowStart string `json:"window_start"`
	} `json:"hdn"`
}

func parseAlerts(t *testing.T, b []byte) []alertLine {
	t.Helper()
	var out []alertLine
	for line := range bytes.Lines(b) {
		var a alertLine
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

func writeFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOnce runs `hdn sensor --once` and returns its alerts.
func runOnce(t *testing.T, cfg sensor.Config) []alertLine {
	t.Helper()
	var out bytes.Buffer
	cfg.Out, cfg.Alerts, cfg.Once = &out, "-", true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := sensor.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sensor: %v", err)
	}
	return parseAlerts(t, out.Bytes())
}

func TestSensorMatchesReportsAndRetroHunts(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	sensorKey := h.Key(b, policy.Sensor)
	state := t.TempDir()
	now := time.Now().UTC()
	earlier := now.Add(-2 * time.Hour)

	// Hospital B's sensor sees traffic to a domain nobody has shared yet.
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: state,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(earlier, "cdn.Late-Phish.example.COM."), eveDNS(earlier, "benign.example.org"))}}}
	if got := runOnce(t, cfg); len(got) != 0 {
		t.Fatalf("alerts before any indicator: %+v", got)
	}

	// Hospital A shares two indicators; one of them B saw two hours ago.
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "late-phish.example.com", "tlp": "amber", "labels": []string{"phishing"}},
		map[string]any{"value": "live-c2.example.net", "tlp": "green", "labels": []string{"c2"}},
	}}).JSON(t, &res)
	lateID, liveID := res.Results[0].ID, res.Results[1].ID

	// Next run: the retro-hunt finds the earlier traffic; live traffic matches.
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(now, "x.live-c2.example.net"), eveDNS(now, "notlive-c2.example.net"))}}
	got := runOnce(t, cfg)
	var retro, live []alertLine
	for _, al := range got {
		if al.HDN.Retro {
			retro = append(retro, al)
		} else {
			live = append(live, al)
		}
	}
	if len(retro) != 1 || retro[0].HDN.ID != lateID || retro[0].HDN.Hour != earlier.Truncate(time.Hour).Format(time.RFC3339) {
		t.Fatalf("retro alerts: %+v (want one for %s in the hour of %s)", retro, lateID, earlier)
	}
	if len(live) != 1 || live[0].HDN.ID != liveID || live[0].EventType != "alert" || live[0].HDN.TLP != "green" || live[0].SrcIP != "10.0.0.5" {
		t.Fatalf("live alerts: %+v", live)
	}
	// Sightings reached the hub: A (the source) sees that B sighted both.
	for _, id := range []string{lateID, liveID} {
		var sj api.SightingsJSON
		h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
		if sj.Total < 1 || len(sj.ByOrg) != 1 || sj.ByOrg[0].Org != "hospital-b" {
			t.Errorf("sightings of %s: %+v", id, sj)
		}
	}

	// A revocation stops the matching: the next run has no live alert.
	if r := h.Do("POST", "/api/v1/indicators/"+liveID+"/revoke", ka, nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if got := runOnce(t, cfg); len(got) != 0 {
		t.Fatalf("alerts after revocation: %+v", got)
	}

	// With the hub gone, the sensor still matches from its stored copy.
	sightingsOf := func(id string) int64 {
		var sj api.SightingsJSON
		h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
		return sj.Total
	}
	before := sightingsOf(lateID)
	hubURL := h.URL
	h2Value := "late-phish.example.com"
	cfg.SightingsEvery = time.Hour
	cfg.Hubs = []string{"http://127.0.0.1:1"}
	cfg.SyncTimeout = time.Second
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(now, "www."+h2Value))}}
	got = runOnce(t, cfg)
	if len(got) != 1 || got[0].HDN.ID != lateID {
		t.Fatalf("offline run: %+v", got)
	}
	// Its sighting waited in the state directory: the next run, with the
	// hub back and nothing new to read, sends it.
	cfg.Hubs = []string{hubURL}
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(now, "benign.example.org"))}}
	runOnce(t, cfg)
	if got := sightingsOf(lateID); got != before+1 {
		t.Errorf("the hub counts %d sightings of %s after the offline run's was sent, want %d", got, lateID, before+1)
	}
}

func TestSensorAutoShareProposes(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700")
	alertLine := fmt.Sprintf(`{"timestamp":%q,"event_type":"alert","src_ip":"10.0.0.7","src_port":51000,"dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","alert":{"signature":"ET PHISHING Office365 credential form","category":"Possible Social Engineering Attempted","severity":1},"http":{"hostname":"Login-Micros0ft.example.com","url":"/owa"}}`, ts)
	lowLine := strings.Replace(strings.Replace(alertLine, `"severity":1`, `"severity":3`, 1), "Login-Micros0ft", "noise", 1)
	runOnce(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), AutoShare: sensor.AutoShare{Mode: "propose"},
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, alertLine, lowLine)}}})
	var q struct {
		Proposals []struct{ Type, Value, Status, Evidence string }
	}
	h.Do("GET", "/api/v1/proposals?status=pending", analyst, nil).JSON(t, &q)
	if len(q.Proposals) != 1 || q.Proposals[0].Value != "login-micros0ft.example.com" || q.Proposals[0].Type != "domain" || !strings.Contains(q.Proposals[0].Evidence, "ET PHISHING") {
		t.Fatalf("proposals after a severity-1 and a severity-3 alert: %+v", q.Proposals)
	}
}

// TestSensorSocketMetricsAndFullReports follows a unix socket as Suricata
// writes EVE to it, exports counters on /metrics and reports sightings in
// full (with the observing host).
func TestSensorSocketMetricsAndFullReports(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	ka, sensorKey := h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{map[string]any{"value": "sock-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	sock := filepath.Join(t.TempDir(), "eve.sock")
	alerts := make(chan []byte, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), Out: io.Discard,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: "unix:" + sock}}, Report: sensor.ReportFull, Metrics: metricsAddr,
		SightingsEvery: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAlert: func(line []byte) { alerts <- append([]byte(nil), line...) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Current()
	conn := dialSocket(t, sock)
	fmt.Fprintln(conn, eveDNS(time.Now(), "sock-c2.example.net"))
	fmt.Fprintln(conn, eveDNS(time.Now(), "quiet.example.org"))
	conn.Close()
	select {
	case line := <-alerts:
		if !bytes.Contains(line, []byte(id)) {
			t.Fatalf("alert %s does not name %s", line, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert from the socket input")
	}
	// Full reports carry the observing host; the source sees it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sj api.SightingsJSON
		h.Do("GET", "/api/v1/indicators/"+id+"/sightings", ka, nil).JSON(t, &sj)
		if sj.Total == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sighting not reported: %+v", sj)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Both lines are counted once the matcher has read them (they may
	// arrive in two chunks), and the sighting once the sensor has read the
	// hub's answer (the hub may show it a moment before).
	var body []byte
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if (strings.Contains(string(body), "hdn_sensor_events_total 2\n") && strings.Contains(string(body), "hdn_sensor_sightings_sent_total 1\n")) ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"hdn_sensor_events_total 2", "hdn_sensor_alerts_total 1", "hdn_sensor_indicators 1", "hdn_sensor_stream_connected 1", "hdn_sensor_sightings_sent_total 1", "hdn_sensor_dropped_total 0"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sensor: %v", err)
	}
}

func TestSensorAutoShareDirect(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	analyst, kb := h.Key(a, policy.Analyst), h.Key(b, policy.ReadOnly)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700")
	line := fmt.Sprintf(`{"timestamp":%q,"event_type":"alert","src_ip":"10.0.0.7","dest_ip":"203.0.113.9","dest_port":443,"proto":"TCP","alert":{"signature":"ET MALWARE beacon","severity":1}}`, ts)
	runOnce(t, sensor.Config{Hubs: []string{h.URL}, Key: analyst, StateDir: t.TempDir(), AutoShare: sensor.AutoShare{Mode: "share", TLP: "green"},
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, line)}}})
	var lr struct {
		Indicators []api.IndicatorJSON `json:"indicators"`
	}
	h.Do("GET", "/api/v1/indicators", kb, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].Value != "203.0.113.9" || lr.Indicators[0].TLP != "green" || lr.Indicators[0].Source != "hospital-a" {
		t.Fatalf("directly shared: %+v", lr.Indicators)
	}
}

// TestSensorAutoShareFromSocket: auto-share acts on the alerts Suricata
// writes to a unix socket as on those of a file (it used to see only
// files).
func TestSensorAutoShareFromSocket(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	sock := filepath.Join(t.TempDir(), "eve.sock")
	s, _, _ := startSensor(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: "unix:" + sock}}, AutoShare: sensor.AutoShare{Mode: "propose"}})
	<-s.Current()
	conn := dialSocket(t, sock)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700")
	fmt.Fprintf(conn, `{"timestamp":%q,"event_type":"alert","src_ip":"10.0.0.7","dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","alert":{"signature":"ET PHISHING credential form","severity":1},"http":{"hostname":"sock-phish.example.com","url":"/"}}`+"\n", ts)
	conn.Close()
	eventually(t, 30*time.Second, "a proposal from the socket's alert", func() bool {
		var q struct {
			Proposals []struct{ Value string }
		}
		h.Do("GET", "/api/v1/proposals?status=pending", analyst, nil).JSON(t, &q)
		return len(q.Proposals) == 1 && q.Proposals[0].Value == "sock-phish.example.com"
	})
}
