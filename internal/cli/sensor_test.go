package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// syncBuffer is a bytes.Buffer a running sensor may write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func eveDNSLine(name string) string {
	return fmt.Sprintf(`{"timestamp":%q,"event_type":"dns","src_ip":"10.0.0.5","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","rrname":%q,"rrtype":"A"}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700"), name)
}

// enrolmentToken asks the hub for a one-time enrolment token of org.
func enrolmentToken(t *testing.T, h *hubtest.Hub, org, admin, expiresIn string) string {
	t.Helper()
	r := h.Do("POST", "/api/v1/orgs/"+org+"/enrolments", admin, map[string]any{"expires_in": expiresIn})
	var tok struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("POST /api/v1/orgs/%s/enrolments: %d %s", org, r.Status, r.Body)
	}
	r.JSON(t, &tok)
	if !strings.HasPrefix(tok.Token, "hdn_") || tok.ExpiresAt == "" {
		t.Fatalf("enrolment token: %s", r.Body)
	}
	return tok.Token
}

func writeTokenFile(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSensorEnrolAndRun enrols a sensor with a one-time token against a real
// hub and runs it with nothing but --hub and --state: an indicator shared
// on the hub reaches it and matches, and its heartbeats show at the hub.
func TestSensorEnrolAndRun(t *testing.T) {
	t.Setenv("HDN_KEY", "")
	t.Setenv("HDN_ENROL_TOKEN", "")
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	admin, analyst := h.Key(a, policy.Admin), h.Key(a, policy.Analyst)
	tok := enrolmentToken(t, h, "hospital-a", admin, "15m")
	state := filepath.Join(t.TempDir(), "state")

	code, out, stderr := run(t, "sensor", "enrol", "--hub", h.URL, "--token-file", writeTokenFile(t, tok), "--state", state, "--name", "edge-1")
	if code != 0 {
		t.Fatalf("enrol: %d %s", code, stderr)
	}
	var printed map[string]string
	if err := json.Unmarshal([]byte(out), &printed); err != nil || len(printed) != 3 || printed["org"] != "hospital-a" || printed["key_id"] == "" || printed["state"] != state {
		t.Fatalf("enrol printed %q (%v)", out, err)
	}
	for p, want := range map[string]os.FileMode{state: 0o700 | os.ModeDir, filepath.Join(state, "key"): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Fatalf("%s: %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
	key, err := sensor.ReadKeyFile(state)
	if err != nil || !strings.HasPrefix(key, "hdn_") {
		t.Fatalf("key file: %v", err)
	}
	if strings.Contains(out+stderr, key) || strings.Contains(out+stderr, tok) {
		t.Fatal("enrol showed the key or the token")
	}

	// The same token again (into another directory): the hub refuses it,
	// and says why.
	code, _, stderr = run(t, "sensor", "enrol", "--hub", h.URL, "--token", tok, "--state", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "the hub refused the token") || !strings.Contains(stderr, "(invalid_token)") || strings.Contains(stderr, tok) {
		t.Fatalf("second enrolment with one token: %d %s", code, stderr)
	}
	// Into the enrolled directory: refused before the new token is spent,
	// which then works elsewhere (from the environment).
	tok2 := enrolmentToken(t, h, "hospital-a", admin, "15m")
	t.Setenv("HDN_ENROL_TOKEN", tok2)
	code, _, stderr = run(t, "sensor", "enrol", "--hub", h.URL, "--state", state)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Fatalf("enrolment over a key: %d %s", code, stderr)
	}
	if code, _, stderr = run(t, "sensor", "enrol", "--hub", h.URL, "--state", t.TempDir()); code != 0 {
		t.Fatalf("enrolment from HDN_ENROL_TOKEN after the refusal: %d %s", code, stderr)
	}
	t.Setenv("HDN_ENROL_TOKEN", "")

	// The enrolled sensor runs with --hub and --state only.
	eve := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(eve, []byte(eveDNSLine("before.example.org")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sout, serr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runSensor(&env{ctx: ctx, stdout: &sout, stderr: &serr,
			args: []string{"--hub", h.URL, "--state", state, "--input", "eve:" + eve, "--from-start", "--heartbeat", "100ms", "--log-level", "debug"}})
	}()
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": "enrolled-c2.example.net", "tlp": "green"}}}).JSON(t, &res)
	id := res.Results[0].ID

	// Heartbeats show the sensor at the hub; once it holds the indicator,
	// a matching line raises an alert.
	var list struct {
		Sensors []struct {
			KeyID  string `json:"key_id"`
			Name   string `json:"name"`
			Inputs []struct {
				Path   string `json:"path"`
				Events int64  `json:"events"`
			} `json:"inputs"`
			Indicators int  `json:"indicators"`
			Live       bool `json:"live"`
		} `json:"sensors"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := h.Do("GET", "/api/v1/sensors", admin, nil)
		if r.Status != 200 {
			t.Fatalf("GET /api/v1/sensors: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &list)
		if len(list.Sensors) == 1 && list.Sensors[0].Indicators == 1 && len(list.Sensors[0].Inputs) == 1 && list.Sensors[0].Inputs[0].Events >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat with the indicator and a line read: %s\n%s", r.Body, serr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := list.Sensors[0]; s.KeyID != printed["key_id"] || s.Name != "edge-1" || !s.Live || s.Inputs[0].Path != eve {
		t.Errorf("the hub shows %+v", s)
	}
	f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, eveDNSLine("www.enrolled-c2.example.net"))
	f.Close()
	deadline = time.Now().Add(15 * time.Second)
	for !strings.Contains(sout.String(), id) {
		if time.Now().After(deadline) {
			t.Fatalf("no alert for %s:\n%s\n%s", id, sout.String(), serr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sensor: %v\n%s", err, serr.String())
	}
	if strings.Contains(serr.String(), key) {
		t.Error("the sensor's log shows its key")
	}
}

// TestSensorEnrolExpiredToken: a token past its time is refused.
func TestSensorEnrolExpiredToken(t *testing.T) {
	t.Setenv("HDN_ENROL_TOKEN", "")
	var ahead atomic.Int64 // how far the hub's clock is ahead
	h := hubtest.Start(t, hub.Config{Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	a := h.Org("hospital-a", policy.Member, "")
	tok := enrolmentToken(t, h, "hospital-a", h.Key(a, policy.Admin), "1m")
	ahead.Store(int64(2 * time.Minute))
	state := t.TempDir()
	code, _, stderr := run(t, "sensor", "enrol", "--hub", h.URL, "--token-file", writeTokenFile(t, tok), "--state", state)
	if code != 1 || !strings.Contains(stderr, "(invalid_token)") || strings.Contains(stderr, tok) {
		t.Fatalf("enrolment with an expired token: %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "key")); !os.IsNotExist(err) {
		t.Fatalf("a refused enrolment left a key file: %v", err)
	}
}

// TestSensorKeyFileModes: a key file others may read is refused, with the
// fix; --key and HDN_KEY take precedence over the key file.
func TestSensorKeyFileModes(t *testing.T) {
	t.Setenv("HDN_KEY", "")
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	sensorKey := h.Key(a, policy.Sensor)
	state := t.TempDir()
	if err := sensor.WriteKeyFile(state, sensorKey, "", false); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(state, "key")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	eve := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(eve, []byte(eveDNSLine("a.example.org")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"sensor", "--hub", h.URL, "--state", state, "--input", "eve:" + eve, "--once"}
	code, _, stderr := run(t, args...)
	if code != 1 || !strings.Contains(stderr, "chmod 600 "+keyFile) || strings.Contains(stderr, sensorKey) {
		t.Fatalf("a key file of mode 0644: %d %s", code, stderr)
	}
	// HDN_KEY wins over the key file (which is then not read).
	t.Setenv("HDN_KEY", sensorKey)
	if code, _, stderr := run(t, args...); code != 0 {
		t.Fatalf("with HDN_KEY: %d %s", code, stderr)
	}
	t.Setenv("HDN_KEY", "")
	if code, _, stderr := run(t, append(args, "--key", sensorKey)...); code != 0 {
		t.Fatalf("with --key: %d %s", code, stderr)
	}
	// Fixed as told, the key file serves.
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, args...); code != 0 {
		t.Fatalf("with the key file 0600: %d %s", code, stderr)
	}
	// No key at all: said so.
	if code, _, stderr := run(t, "sensor", "--hub", h.URL, "--state", t.TempDir(), "--input", "eve:"+eve, "--once"); code != 1 || !strings.Contains(stderr, "enrol") {
		t.Fatalf("without a key: %d %s", code, stderr)
	}
}

func TestSensorEnrolUsage(t *testing.T) {
	t.Setenv("HDN_ENROL_TOKEN", "")
	for _, args := range [][]string{
		{"sensor", "enrol", "--state", t.TempDir(), "--token", "hdn_x"},                                                 // no hub
		{"sensor", "enrol", "--hub", "http://127.0.0.1:1", "--token", "hdn_x"},                                          // no state
		{"sensor", "enrol", "--hub", "http://127.0.0.1:1", "--state", t.TempDir()},                                      // no token
		{"sensor", "enrol", "--hub", "http://127.0.0.1:1", "--state", t.TempDir(), "--token", "a", "--token-file", "f"}, // both
		{"sensor", "enrol", "--hub", "http://127.0.0.1:1", "--state", t.TempDir(), "--token", "hdn_secretTOKEN"},        // nobody there
	} {
		code, out, stderr := run(t, args...)
		if code == 0 || out != "" || strings.Contains(stderr, "hdn_secretTOKEN") {
			t.Errorf("%v: %d %q %s", args, code, out, stderr)
		}
	}
}

// TestSensorSightingsEveryBounds: --sightings-every outside 1s to 1h is
// refused with a message naming the flag, before anything is opened.
func TestSensorSightingsEveryBounds(t *testing.T) {
	for _, every := range []string{"0s", "500ms", "2h", "-1s"} {
		state := t.TempDir()
		code, _, stderr := run(t, "sensor", "--hub", "http://127.0.0.1:1", "--key", "hdn_x.y", "--state", state, "--input", "eve:-", "--once", "--sightings-every", every)
		if code == 0 || !strings.Contains(stderr, "-sightings-every") { // a negative one is refused by the flag parser, as -sightings-every
			t.Errorf("--sightings-every %s: %d %s", every, code, stderr)
		}
		if ents, _ := os.ReadDir(state); len(ents) != 0 {
			t.Errorf("--sightings-every %s: the state directory was written to before the flag was refused", every)
		}
	}
}
