package sensor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// These tests stand a small HTTP server in for the hub, to look at the
// shape of the requests and at the error paths; heartbeat_hub_test.go and
// internal/cli do the same against a real hub.

const testToken = "hdn_enrolTOKENsecret0123456789"

func TestEnrolRequestShape(t *testing.T) {
	var got map[string]any
	var auth, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/api/v1/enrol" {
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		auth, ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		json.NewDecoder(r.Body).Decode(&got)
		fmt.Fprint(w, `{"key":"hdn_newSENSORkey","key_id":"k1","org":"hospital-a","role":"sensor"}`)
	}))
	defer srv.Close()
	en, err := sensor.Enrol(context.Background(), srv.URL+"/", testToken, "edge-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" || ctype != "application/json" {
		t.Errorf("Authorization %q, Content-Type %q: want none and application/json", auth, ctype)
	}
	if len(got) != 2 || got["token"] != testToken || got["name"] != "edge-1" {
		t.Errorf("body %v", got)
	}
	if en.Key != "hdn_newSENSORkey" || en.KeyID != "k1" || en.Org != "hospital-a" || en.Role != "sensor" {
		t.Errorf("enrolment %s", en)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", en, en, en, en); strings.Contains(s, "SENSORkey") {
		t.Errorf("the key shows in %q", s)
	}
}

func TestEnrolErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"used token", 401, `{"error":{"code":"invalid_token","message":"the enrolment token is unknown, used or expired"}}`,
			[]string{"the hub refused the token", "unknown, used or expired", "(invalid_token)"}},
		{"pending org", 403, `{"error":{"code":"forbidden","message":"the organisation is pending"}}`,
			[]string{"the hub refused the organisation", "pending", "(forbidden)"}},
		{"echoing hub", 401, `{"error":{"code":"invalid_token","message":"no such token ` + testToken + `"}}`,
			[]string{"no such token [redacted]"}},
		{"no envelope", 502, `bad gateway`, []string{"502", "bad gateway"}},
		{"no key", 200, `{"org":"x"}`, []string{"holds no key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			_, err := sensor.Enrol(context.Background(), srv.URL, testToken, "edge-1", nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
	// Nobody listening; a URL that is not one; no token.
	for _, hub := range []string{"http://127.0.0.1:1", "ftp://hub", "hub.example"} {
		if _, err := sensor.Enrol(context.Background(), hub, testToken, "n", nil); err == nil || strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: %v", hub, err)
		}
	}
	if _, err := sensor.Enrol(context.Background(), "http://127.0.0.1:1", "", "n", nil); err == nil {
		t.Error("enrolled without a token")
	}
}

func TestKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := sensor.ReadKeyFile(dir); !errors.Is(err, sensor.ErrNoKeyFile) {
		t.Fatalf("no key file: %v", err)
	}
	if err := sensor.WriteKeyFile(dir, "hdn_first", "edge-1", false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, "key"): 0o600, filepath.Join(dir, "name"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, want)
		}
	}
	if k, err := sensor.ReadKeyFile(dir); k != "hdn_first" || err != nil {
		t.Fatalf("read %q %v", k, err)
	}
	if n := sensor.ReadNameFile(dir); n != "edge-1" {
		t.Errorf("name %q", n)
	}
	if err := sensor.WriteKeyFile(dir, "hdn_second", "", false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrote a key without force: %v", err)
	}
	if err := sensor.WriteKeyFile(dir, "hdn_second", "", true); err != nil {
		t.Fatal(err)
	}
	if k, _ := sensor.ReadKeyFile(dir); k != "hdn_second" {
		t.Fatalf("after force: %q", k)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"key", "name"}) {
		t.Errorf("state directory holds %v", names)
	}
	if err := os.Chmod(filepath.Join(dir, "key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sensor.ReadKeyFile(dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "hdn_second") {
		t.Fatalf("a key file readable by others: %v", err)
	}
}

// fakeHub records the heartbeats a sensor sends; its stream refuses the
// key, which the sensor logs as an error.
type fakeHub struct {
	mu     sync.Mutex
	beats  [][]byte
	auth   []string
	status int
}

func (f *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/sensors/heartbeat":
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.beats = append(f.beats, b)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		status := f.status
		f.mu.Unlock()
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	case "/api/v1/stream":
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"key refused"}}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeHub) got() ([][]byte, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.beats), slices.Clone(f.auth)
}

func TestHeartbeatShape(t *testing.T) {
	fh := &fakeHub{}
	srv := httptest.NewServer(fh)
	defer srv.Close()
	const key = "hdn_sensorKEYsecret"
	now := time.Now()
	eve := writeFile(t, eveDNS(now, "a.example.org"), eveDNS(now, "b.example.org"), eveDNS(now, "c.example.org"))
	before := time.Now().Add(-time.Second)
	runOnce(t, sensor.Config{Hubs: []string{srv.URL}, Key: key, StateDir: t.TempDir(), Name: "edge-1", SyncTimeout: 300 * time.Millisecond,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: eve}, {Format: match.FormatLines, Path: writeFile(t, "x.example.net")}}})
	beats, auth := fh.got()
	if len(beats) != 1 {
		t.Fatalf("a --once run sent %d heartbeats, want one at its end", len(beats))
	}
	if auth[0] != "Bearer "+key {
		t.Errorf("Authorization %q", auth[0])
	}
	// Exactly the fields the hub takes.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(beats[0], &fields); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"events_per_second", "indicators", "inputs", "lag_seconds", "last_error", "last_error_at", "name", "patterns", "started", "version"}
	if !slices.Equal(names, want) {
		t.Errorf("heartbeat fields %v, want %v", names, want)
	}
	var hb struct {
		Name, Version, Started string
		Inputs                 []struct {
			Path, Format string
			Events       int64
			LagSeconds   float64 `json:"lag_seconds"`
		}
		EventsPerSecond float64 `json:"events_per_second"`
		LagSeconds      float64 `json:"lag_seconds"`
		Indicators      int
		Patterns        int
		LastError       string `json:"last_error"`
		LastErrorAt     string `json:"last_error_at"`
	}
	dec := json.NewDecoder(bytes.NewReader(beats[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hb); err != nil {
		t.Fatal(err)
	}
	started, err := time.Parse(time.RFC3339, hb.Started)
	if hb.Name != "edge-1" || hb.Version == "" || err != nil || started.Before(before.Truncate(time.Second)) || started.After(time.Now()) {
		t.Errorf("heartbeat %s", beats[0])
	}
	if len(hb.Inputs) != 2 || hb.Inputs[0].Path != eve || hb.Inputs[0].Format != "eve" || hb.Inputs[0].Events != 3 || hb.Inputs[1].Format != "lines" || hb.Inputs[1].Events != 1 {
		t.Errorf("inputs %+v", hb.Inputs)
	}
	if hb.EventsPerSecond <= 0 || hb.LagSeconds != 0 || hb.Inputs[0].LagSeconds != 0 {
		t.Errorf("rate %v, lag %v (read to the end)", hb.EventsPerSecond, hb.LagSeconds)
	}
	// The stream refused the key, so the copy was not brought up to date:
	// that is the last warning, with its time.
	if at, err := time.Parse(time.RFC3339, hb.LastErrorAt); err != nil || time.Since(at) > time.Minute || !strings.Contains(hb.LastError, "the hub did not bring the copy up to date") {
		t.Errorf("last error %q at %q", hb.LastError, hb.LastErrorAt)
	}
	if strings.Contains(string(beats[0]), key) {
		t.Errorf("the heartbeat shows the key: %s", beats[0])
	}
}

// TestHeartbeatFailuresDoNotStop runs a followed sensor against a hub whose
// heartbeat endpoint fails: it sends heartbeats on its interval, keeps
// trying, and stops cleanly; a sensor without a hub sends none.
func TestHeartbeatFailuresDoNotStop(t *testing.T) {
	fh := &fakeHub{status: http.StatusInternalServerError}
	srv := httptest.NewServer(fh)
	defer srv.Close()
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{srv.URL}, Key: "hdn_k", StateDir: t.TempDir(), Out: io.Discard,
		HeartbeatEvery: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "a.example.org"))}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if beats, _ := fh.got(); len(beats) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 heartbeats in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sensor: %v", err)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"sending a heartbeat failed"); n != 1 {
		t.Errorf("%d warnings of failed heartbeats, want one (then debug):\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "hdn_k") {
		t.Error("the log shows the key")
	}

	// Offline: no heartbeat (and no hub to send one to).
	n, _ := fh.got()
	runOnce(t, sensor.Config{StateDir: t.TempDir(), Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "a.example.org"))}}})
	if m, _ := fh.got(); len(m) != len(n) {
		t.Error("an offline run sent a heartbeat")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
