package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestAdminWebhook adds, lists, disables, enables and removes webhooks;
// the secret is stored for the hub but never printed, listed or audited;
// bad URLs, short secrets and unknown events are refused with a clear
// message.
func TestAdminWebhook(t *testing.T) {
	dir := newHubData(t)
	tmp := t.TempDir()
	const secret = "9b1f0c2d4e6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c"
	secretFile := filepath.Join(tmp, "secret")
	short := filepath.Join(tmp, "short")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("too-short-a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, "admin", "webhook", "add", "--data", dir, "--name", "soc-pager", "--url", "https://soc.example.org/hdn",
		"--secret-file", secretFile, "--events", "indicator, campaign", "--min-score", "80")
	if code != 0 {
		t.Fatalf("webhook add: %d %s", code, stderr)
	}
	var w model.Webhook
	if err := json.Unmarshal([]byte(out), &w); err != nil || w.ID == "" || w.Name != "soc-pager" || w.URL != "https://soc.example.org/hdn" ||
		strings.Join(w.Events, ",") != "campaign,indicator" || w.MinScore != 80 || !w.Enabled {
		t.Fatalf("webhook add printed %s (%v)", out, err)
	}
	code, out2, stderr := run(t, "admin", "webhook", "add", "--data", dir, "--name", "local-test", "--url", "http://127.0.0.1:8080/hook",
		"--secret-file", secretFile, "--events", "quarantine")
	if code != 0 {
		t.Fatalf("webhook add to a loopback http URL: %d %s", code, stderr)
	}
	out += out2

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "x", "--url", "http://soc.example.org/hdn", "--secret-file", secretFile, "--events", "campaign"}, "needs https"},
		{[]string{"--name", "x", "--url", "ftp://soc.example.org/", "--secret-file", secretFile, "--events", "campaign"}, "needs an https URL"},
		{[]string{"--name", "x", "--url", "https://u:p@soc.example.org/", "--secret-file", secretFile, "--events", "campaign"}, "must not hold a user"},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--secret-file", short, "--events", "campaign"}, "openssl rand -hex 32"},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--secret-file", filepath.Join(tmp, "none"), "--events", "campaign"}, "--secret-file"},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--secret-file", secretFile, "--events", "campaign,sighting"}, `"sighting" is not one of`},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--secret-file", secretFile, "--events", "campaign", "--min-score", "50"}, "--min-score is for indicator"},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--secret-file", secretFile, "--events", "indicator", "--min-score", "101"}, "outside 0–100"},
		{[]string{"--name", "SOC-PAGER", "--url", "https://soc.example.org/", "--secret-file", secretFile, "--events", "campaign"}, "exists already"},
		{[]string{"--name", "x", "--url", "https://soc.example.org/", "--events", "campaign"}, "missing --secret-file"},
	} {
		code, o, e := run(t, append([]string{"admin", "webhook", "add", "--data", dir}, tc.args...)...)
		if code == 0 || !strings.Contains(e, tc.want) {
			t.Errorf("webhook add %v: %d %q, want an error with %q", tc.args, code, e, tc.want)
		}
		if strings.Contains(o+e, secret) {
			t.Errorf("webhook add %v printed the secret", tc.args)
		}
	}

	code, list, stderr := run(t, "admin", "webhook", "list", "--data", dir)
	var ws []model.Webhook
	if err := json.Unmarshal([]byte(list), &ws); code != 0 || err != nil || len(ws) != 2 || ws[0].Name != "local-test" || ws[1].ID != w.ID {
		t.Fatalf("webhook list: %d %s %s", code, list, stderr)
	}
	out += list
	code, o, stderr := run(t, "admin", "webhook", "disable", "--data", dir, "--name", "soc-pager")
	if code != 0 || !strings.Contains(o, `"enabled": false`) {
		t.Fatalf("webhook disable: %d %s %s", code, o, stderr)
	}
	out += o
	code, o, stderr = run(t, "admin", "webhook", "enable", "--data", dir, "--name", w.ID)
	if code != 0 || !strings.Contains(o, `"enabled": true`) {
		t.Fatalf("webhook enable by id: %d %s %s", code, o, stderr)
	}
	out += o
	code, o, stderr = run(t, "admin", "webhook", "remove", "--data", dir, "--name", "local-test")
	if code != 0 || !strings.Contains(o, `"removed"`) {
		t.Fatalf("webhook remove: %d %s %s", code, o, stderr)
	}
	out += o
	if code, _, stderr := run(t, "admin", "webhook", "remove", "--data", dir, "--name", "local-test"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("removing a removed webhook: %d %s", code, stderr)
	}
	if strings.Contains(out, secret) || strings.Contains(out, "secret") {
		t.Errorf("the output shows the secret:\n%s", out)
	}

	// The hub reads the secret back; the audit log never holds it.
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Webhook(context.Background(), "soc-pager")
	if err != nil || got.Secret != secret || !got.Enabled {
		t.Fatalf("stored webhook: enabled %v, secret kept %v, %v", got.Enabled, got.Secret == secret, err)
	}
	if ws, err := st.ListWebhooks(context.Background()); err != nil || len(ws) != 1 {
		t.Errorf("after remove: %d webhooks, %v", len(ws), err)
	}
	code, audit, _ := run(t, "admin", "audit", "list", "--data", dir)
	for _, want := range []string{"webhook.create", "webhook.disable", "webhook.enable", "webhook.remove"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit list lacks %s", want)
		}
	}
	if code != 0 || strings.Contains(audit, secret) {
		t.Errorf("audit list: %d, or it holds the secret", code)
	}
}
