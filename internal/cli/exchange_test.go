package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

func TestAdminFeeds(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "sector-cert", "--kind", "coordinator"); code != 0 {
		t.Fatal(stderr)
	}
	feedDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(feedDir, "manifest.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--name", "local", "--interval", "2h")
	if code != 0 {
		t.Fatalf("feed add: %d %s", code, stderr)
	}
	var f model.Feed
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Name != "local" || f.Kind != "misp" || f.URL != feedDir || !f.Enabled || f.TLP != policy.Clear {
		t.Fatalf("feed add printed %q (%v)", out, err)
	}
	if code, _, stderr := run(t, "admin", "feed", "add", "--data", dir, "--url", "https://feeds.example.org/misp/", "--org", "sector-cert"); code != 0 {
		t.Fatalf("feed add by URL: %s", stderr)
	}
	if code, _, stderr := run(t, "admin", "feed", "disable", "--data", dir, "--name", "LOCAL"); code != 0 {
		t.Fatalf("feed disable: %s", stderr)
	}
	_, out, _ = run(t, "admin", "feed", "list", "--data", dir)
	var fs []model.Feed
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) != 2 {
		t.Fatalf("feed list: %q %v", out, err)
	}
	for _, f := range fs {
		if f.Name == "local" && f.Enabled {
			t.Errorf("the disabled feed is listed enabled")
		}
		if f.Name == "feeds.example.org/misp/" && f.URL != "https://feeds.example.org/misp/" {
			t.Errorf("feed by URL: %+v", f)
		}
	}
	for _, bad := range [][]string{
		{"admin", "feed", "add", "--data", dir, "--url", t.TempDir(), "--org", "sector-cert"},                  // no manifest.json
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "nobody"},                           // unknown organisation
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--kind", "taxii"},   // unknown kind
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--interval", "10s"}, // too often
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--tlp", "purple"},   // bad TLP
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--name", "local"},   // taken name
		{"admin", "feed", "enable", "--data", dir, "--name", "nope"},                                           // unknown feed
	} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}

// TestImportExportAgainstAHub runs the client commands against a real hub.
func TestImportExportAgainstAHub(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("hospital-a", policy.Member, "")
	key := h.Key(org, policy.Analyst)
	t.Setenv("HDN_KEY", key)
	report := filepath.Join(t.TempDir(), "report.txt")
	text := "C2 at 185.220.101[.]45 and hxxps://update-check[.]badhost-example[.]net/gate.php; dropper invoice.pdf.exe\n"
	if err := os.WriteFile(report, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "import", "--hub", h.URL, "--preview", report)
	if code != 0 || !strings.Contains(out, `"preview":true`) || !strings.Contains(out, "185.220.101.45") || strings.Contains(out, "invoice.pdf.exe\",\"type") {
		t.Fatalf("import --preview: %d %s %s", code, out, stderr)
	}
	code, out, stderr = run(t, "import", "--hub", h.URL, "--tlp", "green", "--label", "c2", report)
	if code != 0 || strings.Count(out, `"status":"created"`) != 2 {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	code, out, stderr = run(t, "export", "list", "--hub", h.URL)
	if code != 0 || out != "185.220.101.45\nhttps://update-check.badhost-example.net/gate.php\n" {
		t.Fatalf("export list: %d %q %s", code, out, stderr)
	}
	file := filepath.Join(t.TempDir(), "hdn.rpz")
	if code, _, stderr := run(t, "export", "rpz", "--hub", h.URL, "--out", file); code != 0 {
		t.Fatalf("export rpz: %s", stderr)
	}
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "45.101.220.185.rpz-ip") {
		t.Fatalf("rpz file: %v\n%s", err, b)
	}
	// A MISP event, then the MISP feed of what the organisation may see.
	event := filepath.Join("..", "misp", "testdata", "events", "tweetfeed-01d7d459.json")
	if code, out, stderr := run(t, "import", "--hub", h.URL, event); code != 0 || !strings.Contains(out, `"Event"`) {
		t.Fatalf("import MISP event: %d %.300s %s", code, out, stderr)
	}
	feed := t.TempDir()
	code, out, stderr = run(t, "export", "misp-feed", "--hub", h.URL, "--tlp", "clear", feed)
	if code != 0 {
		t.Fatalf("export misp-feed: %s", stderr)
	}
	man, err := misp.ReadManifest(t.Context(), misp.DirSource(feed))
	if err != nil {
		t.Fatalf("the written feed: %v", err)
	}
	if _, ok := man["01d7d459-91ef-5fa0-8bf8-1e682f4c5c93"]; !ok || len(man) != 1 {
		t.Errorf("feed manifest %v, want the one clear event (the green indicators left out): %s", man, out)
	}
	// Errors say what is wrong.
	for _, bad := range [][]string{
		{"export", "pdf", "--hub", h.URL},
		{"export", "list", "--hub", "ftp://x"},
		{"export", "list"},
		{"import", "--hub", h.URL, "/no/such/file"},
		{"import", "--hub", h.URL, "--format", "stix", report},
	} {
		if code, _, _ := run(t, bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
	t.Setenv("HDN_KEY", "hdn_bad_key")
	if code, _, stderr := run(t, "export", "list", "--hub", h.URL); code == 0 || !strings.Contains(stderr, "401") && !strings.Contains(stderr, "key") {
		t.Errorf("a bad key: %d %s", code, stderr)
	}
}
