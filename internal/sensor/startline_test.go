package sensor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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

// runOnceLogged runs a --once sensor and returns its alert lines (raw) and
// its log.
func runOnceLogged(t *testing.T, cfg sensor.Config) ([][]byte, *logRecords) {
	t.Helper()
	var out bytes.Buffer
	logs := &logRecords{}
	cfg.Out, cfg.Alerts, cfg.Once, cfg.Logger, cfg.SyncTimeout = &out, "-", true, logs.logger(), 10*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sensor.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sensor: %v", err)
	}
	var lines [][]byte
	for l := range bytes.Lines(out.Bytes()) {
		lines = append(lines, l)
	}
	return lines, logs
}

// one returns the only record logged with msg.
func one(t *testing.T, logs *logRecords, msg string) map[string]any {
	t.Helper()
	rs := logs.records(t, msg)
	if len(rs) != 1 {
		t.Fatalf("%d records %q, want 1: %+v", len(rs), msg, logs.records(t, ""))
	}
	return rs[0]
}

func wantFields(t *testing.T, what string, r map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s: %s = %#v, want %#v (%v)", what, k, r[k], v, r)
		}
	}
}

// TestOnceSaysWhatItDid: a --once run logs one line when it starts (which
// hub, whether the copy is current, how many indicators it holds, its
// inputs) and one summary line per input at its end (lines, events,
// unparsable lines, alerts, sightings), as hdn match does. Its live and
// retro alerts on one indicator carry the same signature_id, the sid of
// the indicator's exported rule, and name its TLP. Before, the sensor said
// nothing, and a retro alert's signature_id was 0.
func TestOnceSaysWhatItDid(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka, sk := h.Key(a, policy.Analyst), h.Key(b, policy.Sensor)
	earlier := time.Now().UTC().Add(-2 * time.Hour)
	first := writeFile(t, eveDNS(earlier, "seen-before.example.org"))
	cfg := sensor.Config{Hubs: []string{h.URL}, Key: sk, StateDir: t.TempDir(), Inputs: []sensor.Input{{Format: match.FormatEVE, Path: first}}}

	alerts, logs := runOnceLogged(t, cfg)
	if len(alerts) != 0 {
		t.Fatalf("alerts before any indicator: %s", alerts)
	}
	wantFields(t, "start", one(t, logs, "sensor started"), map[string]any{"hub": h.URL, "copy": "current", "indicators": 0.0, "inputs": "eve:" + first})
	wantFields(t, "summary", one(t, logs, "input read"), map[string]any{"input": "eve:" + first, "lines": 1.0, "events": 1.0, "unparsable": 0.0, "alerts": 0.0, "sightings": 0.0})

	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", ka, map[string]any{"indicators": []any{
		map[string]any{"value": "seen-before.example.org", "tlp": "amber", "labels": []string{"c2"}},
		map[string]any{"value": "other.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID

	second := writeFile(t, eveDNS(time.Now(), "seen-before.example.org"), "not an event", eveDNS(time.Now(), "benign.example.org"))
	third := writeFile(t, eveDNS(time.Now(), "benign.example.com"))
	cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: second}, {Format: match.FormatEVE, Path: third}}
	alerts, logs = runOnceLogged(t, cfg)
	wantFields(t, "start", one(t, logs, "sensor started"), map[string]any{"hub": h.URL, "copy": "current", "indicators": 2.0, "inputs": "eve:" + second + " eve:" + third})
	sums := logs.records(t, "input read")
	if len(sums) != 2 {
		t.Fatalf("summaries: %+v", sums)
	}
	wantFields(t, "summary", sums[0], map[string]any{"input": "eve:" + second, "lines": 3.0, "events": 2.0, "unparsable": 1.0, "alerts": 1.0, "sightings": 1.0})
	wantFields(t, "summary", sums[1], map[string]any{"input": "eve:" + third, "lines": 1.0, "events": 1.0, "unparsable": 0.0, "alerts": 0.0, "sightings": 0.0})

	// One retro alert (the query two hours ago), one live alert.
	var sids []int64
	for _, line := range alerts {
		var al struct {
			Alert struct {
				SignatureID int64  `json:"signature_id"`
				Signature   string `json:"signature"`
			} `json:"alert"`
			HDN struct {
				ID    string `json:"id"`
				Retro bool   `json:"retro"`
			} `json:"hdn"`
		}
		if err := json.Unmarshal(line, &al); err != nil {
			t.Fatal(err)
		}
		if al.HDN.ID != id {
			t.Fatalf("alert on another indicator: %s", line)
		}
		if !strings.Contains(al.Alert.Signature, "TLP:AMBER") {
			t.Errorf("signature %q does not name the TLP", al.Alert.Signature)
		}
		sids = append(sids, al.Alert.SignatureID)
	}
	if len(sids) != 2 {
		t.Fatalf("%d alerts, want a retro alert and a live one: %s", len(sids), alerts)
	}
	// The hub's exported sids lie in 9,100,000 – 76,208,863.
	if sids[0] != sids[1] || sids[0] < 9_100_000 || sids[0] > 76_208_863 {
		t.Errorf("signature_id of the retro and the live alert: %v; want the same sid of the indicator's exported DNS rule", sids)
	}
}

// TestFollowingSaysOnlyItsStart: a sensor that follows its inputs logs
// its start line (here without a hub: the stored copy) and otherwise
// stays quiet at info while it matches.
func TestFollowingSaysOnlyItsStart(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, gzipIndicator)
	path := writeFile(t, eveDNS(time.Now(), "benign.example.org"))
	logs := &logRecords{}
	alerted := make(chan struct{}, 10)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{StateDir: state, Logger: logs.logger(), Out: &out, Alerts: "-", FromStart: true,
		Inputs:  []sensor.Input{{Format: match.FormatEVE, Path: path}},
		OnAlert: func([]byte) { alerted <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for deadline := time.Now().Add(20 * time.Second); len(logs.records(t, "sensor started")) == 0; {
		select {
		case err := <-done:
			t.Fatalf("the sensor stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start line after 20 s: %+v", logs.records(t, ""))
		}
	}
	// A line appended is matched (the follower reads from the start: it
	// cannot miss it).
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(eveDNS(time.Now(), "videosearch.ubuntu.com") + "\n")
	f.Close()
	select {
	case <-alerted:
	case <-time.After(30 * time.Second):
		t.Fatal("no alert on the line appended")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantFields(t, "start", one(t, logs, "sensor started"), map[string]any{"hub": "none", "copy": "stored", "indicators": 1.0, "inputs": "eve:" + path, "read": "followed from their start"})
	if all := logs.records(t, ""); len(all) != 1 {
		t.Errorf("a following sensor logged more than its start: %+v", all)
	}
}
