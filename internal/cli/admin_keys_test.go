package cli

import (
	"encoding/json"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

func TestExpiryFlag(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"90d", now.Add(90 * 24 * time.Hour), ""},
		{"2160h", now.Add(2160 * time.Hour), ""},
		{"1d12h", now.Add(36 * time.Hour), ""},
		{"0", time.Time{}, ""},
		{"2027-03-01", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2027-03-01T12:30:00+01:00", time.Date(2027, 3, 1, 11, 30, 0, 0, time.UTC), ""},
		{"2026-01-01", time.Time{}, "not in the future"},
		{"-5h", time.Time{}, "negative"},
		{"ninety days", time.Time{}, "neither a lifetime"},
		{"d", time.Time{}, "neither a lifetime"},
		{"5d-3h", time.Time{}, "neither a lifetime"},
	} {
		var f expiryFlag
		err := f.Set(tc.in)
		var got time.Time
		if err == nil {
			got, err = f.expiresAt(now)
		}
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("--expires %s: %v, %v; want an error saying %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("--expires %s: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestAdminKeyRotate: key create with --expires as a lifetime or a date,
// then key rotate on the data directory of a running hub: the new key works
// at once, the old one until the grace is over (at once with --grace 0).
func TestAdminKeyRotate(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	h.Org("hospital-a", policy.Member, "")
	admin := func(args ...string) map[string]any {
		t.Helper()
		code, out, stderr := run(t, append([]string{"admin", "key"}, append(args, "--data", h.DataDir)...)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v printed %q: %v", args, out, err)
		}
		return v
	}
	k := admin("create", "--org", "hospital-a", "--role", "sensor", "--name", "edge-1", "--expires", "90d")
	exp, _ := time.Parse(time.RFC3339Nano, k["expires_at"].(string))
	if d := time.Until(exp); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Errorf("--expires 90d: expires_at %v", k["expires_at"])
	}
	if d := admin("create", "--org", "hospital-a", "--role", "readonly", "--expires", "2099-01-01"); d["expires_at"] != "2099-01-01T00:00:00Z" {
		t.Errorf("--expires 2099-01-01: expires_at %v", d["expires_at"])
	}
	if code, _, stderr := run(t, "admin", "key", "create", "--data", h.DataDir, "--org", "hospital-a", "--role", "sensor", "--expires", "2020-01-01"); code == 0 || !strings.Contains(stderr, "not in the future") {
		t.Errorf("an expiry in the past: %d %s", code, stderr)
	}

	old := k["key"].(string)
	rot := admin("rotate", "--id", k["id"].(string), "--grace", "1d")
	if rot["replaces"] != k["id"] || rot["role"] != "sensor" || rot["name"] != "edge-1" || rot["key"] == "" {
		t.Fatalf("rotate: %v", rot)
	}
	oldExp, _ := time.Parse(time.RFC3339Nano, rot["old_expires_at"].(string))
	if d := time.Until(oldExp); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("--grace 1d: the old key expires at %v", oldExp)
	}
	for name, key := range map[string]string{"new": rot["key"].(string), "old, in its grace": old} {
		if r := h.Do("GET", "/api/v1/me", key, nil); r.Status != 200 {
			t.Errorf("%s key: %d %s", name, r.Status, r.Body)
		}
	}
	rot2 := admin("rotate", "--id", rot["id"].(string), "--grace", "0")
	if r := h.Do("GET", "/api/v1/me", rot["key"].(string), nil); r.Status != 401 {
		t.Errorf("a key rotated with --grace 0: %d, want 401", r.Status)
	}
	if r := h.Do("GET", "/api/v1/me", rot2["key"].(string), nil); r.Status != 200 {
		t.Errorf("its successor: %d", r.Status)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rotate", "--id", rot["id"].(string)}, "revoked or expired"},
		{[]string{"rotate", "--id", "nope"}, "not found"},
		{[]string{"rotate", "--id", rot2["id"].(string), "--grace", "40d"}, "from 0 to 30d"},
		{[]string{"rotate"}, "id"},
	} {
		code, _, stderr := run(t, append([]string{"admin", "key"}, append(tc.args, "--data", h.DataDir)...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: %d %q, want an error saying %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestHubLimitFlags: the flags of `hdn hub` reach the hub's configuration;
// 0 turns a rate limit off.
func TestHubLimitFlags(t *testing.T) {
	parse := func(args ...string) (hub.Config, error) {
		fs := flag.NewFlagSet("hdn hub", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		l := hubLimitFlags(fs)
		s := hubTLSFlags(fs)
		if err := fs.Parse(args); err != nil {
			return hub.Config{}, err
		}
		var cfg hub.Config
		if err := l.apply(&cfg); err != nil {
			return cfg, err
		}
		if s.Enabled() {
			var err error
			cfg.TLS, err = s.Config()
			return cfg, err
		}
		return cfg, nil
	}
	cfg, err := parse()
	if err != nil || cfg.Limits.RateLimit != 50 || cfg.Limits.RateBurst != 200 || cfg.Limits.MaxStreamsPerOrg != 1000 || cfg.WriteTimeout != 10*time.Minute || cfg.TLS != nil {
		t.Errorf("defaults: %+v, %v", cfg.Limits, err)
	}
	if cfg, err := parse("--rate-limit", "0"); err != nil || cfg.Limits.RateLimit >= 0 {
		t.Errorf("--rate-limit 0: %+v, %v; want rate limiting off", cfg.Limits, err)
	}
	if cfg, err := parse("--anon-rate-limit", "0"); err != nil || cfg.Limits.AnonRateLimit >= 0 || cfg.Limits.RateLimit != 50 {
		t.Errorf("--anon-rate-limit 0: %+v, %v", cfg.Limits, err)
	}
	if cfg, err := parse("--rate-limit", "500", "--rate-burst", "1000", "--max-streams-per-org", "0"); err != nil || cfg.Limits.RateLimit != 500 || cfg.Limits.RateBurst != 1000 || cfg.Limits.MaxStreamsPerOrg >= 0 {
		t.Errorf("--rate-limit 500 --rate-burst 1000 --max-streams-per-org 0: %+v, %v", cfg.Limits, err)
	}
	for _, args := range [][]string{{"--rate-limit", "-1"}, {"--rate-burst", "0"}, {"--write-timeout", "0s"}, {"--tls-cert", "x.pem"}, {"--tls-require-client-cert"}} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
