package sensor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// alertEVE is a Suricata alert line from src to dst with an HTTP host.
func alertEVE(src, dst, host, url string) string {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700")
	return fmt.Sprintf(`{"timestamp":%q,"event_type":"alert","src_ip":%q,"src_port":51000,"dest_ip":%q,"dest_port":80,"proto":"TCP","alert":{"signature":"ET ATTACK sql injection","category":"Web Application Attack","severity":1},"http":{"hostname":%q,"url":%q,"http_user_agent":"secret-agent/1.0"}}`, ts, src, dst, host, url)
}

// TestAutoShareDirection: auto-share proposes what the alert's direction
// says is the other side — the name a local client asked for, the address
// of an attacker coming in — never what an outside attacker wrote into its
// requests or the organisation's own address; each value once; and the
// evidence says what the alert was, not what the local network did.
func TestAutoShareDirection(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	lines := []string{
		alertEVE("10.0.0.7", "203.0.113.9", "c2.bad-actor-zone.net", "/beacon?id=internal-host-7"), // out: the name
		alertEVE("10.0.0.8", "203.0.113.9", "c2.bad-actor-zone.net", "/beacon"),                    // the same again
		alertEVE("198.51.100.50", "10.0.0.5", "portal.other-hospital.org", "/login?q=' OR 1=1"),    // in: the attacker's address
		alertEVE("198.51.100.60", "192.0.2.10", "portal.other-hospital.org", "/"),                  // both public: nothing
	}
	runOnce(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), AutoShare: sensor.AutoShare{Mode: "propose"},
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, lines...)}}})
	var q struct {
		Proposals []struct{ Type, Value, Evidence string }
	}
	h.Do("GET", "/api/v1/proposals?status=pending", analyst, nil).JSON(t, &q)
	got := map[string]int{}
	for _, p := range q.Proposals {
		got[p.Type+" "+p.Value]++
		for _, local := range []string{"10.0.0.", "internal-host-7", "secret-agent", "OR 1=1", "/beacon", "portal.other-hospital.org"} {
			if strings.Contains(p.Evidence, local) {
				t.Errorf("the evidence of %s tells the hub %q: %s", p.Value, local, p.Evidence)
			}
		}
		if !strings.Contains(p.Evidence, "ET ATTACK sql injection") {
			t.Errorf("the evidence of %s does not name the alert: %s", p.Value, p.Evidence)
		}
	}
	want := map[string]int{"domain c2.bad-actor-zone.net": 1, "ipv4 198.51.100.50": 1}
	if len(got) != len(want) || got["domain c2.bad-actor-zone.net"] != 1 || got["ipv4 198.51.100.50"] != 1 {
		t.Errorf("proposals %v, want %v", got, want)
	}
}

// TestAutoShareDoesNotHoldUpMatching: with a hub that takes its time over
// each proposal, the sensor still matches every line at once: auto-share
// runs beside the inputs, and what it has no room for is dropped and
// counted.
func TestAutoShareDoesNotHoldUpMatching(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v1/proposals" {
			time.Sleep(100 * time.Millisecond)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{}`)
			return
		}
		http.Error(w, `{"error":{"code":"unavailable","message":"busy"}}`, http.StatusServiceUnavailable)
	}))
	defer slow.Close()
	const n = 2000
	lines := make([]string, n)
	for i := range lines {
		lines[i] = alertEVE("10.0.0.7", fmt.Sprintf("203.0.%d.%d", 113+i/250, 1+i%250), "", "/")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{slow.URL}, Key: "hdn_x.y", StateDir: t.TempDir(), Once: true, SyncTimeout: time.Second,
		Out: io.Discard, Alerts: "-", AutoShare: sensor.AutoShare{Mode: "propose"}, Logger: slog.New(slog.DiscardHandler),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, lines...)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	m := s.Metrics()
	if m.Events != n {
		t.Errorf("%d of %d lines matched", m.Events, n)
	}
	// At 100 ms a proposal, a run that posted them in line would have
	// taken minutes; the queue takes 256, the rest are dropped.
	if m.AutoShareDropped == 0 || m.AutoShareDropped > n-256 {
		t.Errorf("%d alert lines dropped by auto-share, want some and at most %d", m.AutoShareDropped, n-256)
	}
}
