package cli

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

func TestAdminFeeds(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator"); code != 0 {
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
	var f feedJSON
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Name != "local" || f.Kind != "misp" || f.URL != feedDir || !f.Enabled || f.TLP != policy.Clear ||
		f.Interval != "2h" || f.Org != "sector-cert" {
		t.Fatalf("feed add printed %q (%v)", out, err)
	}
	if code, _, stderr := run(t, "admin", "feed", "add", "--data", dir, "--url", "https://feeds.example.org/misp/", "--org", "sector-cert"); code != 0 {
		t.Fatalf("feed add by URL: %s", stderr)
	}
	if code, _, stderr := run(t, "admin", "feed", "disable", "--data", dir, "--name", "LOCAL"); code != 0 {
		t.Fatalf("feed disable: %s", stderr)
	}
	_, out, _ = run(t, "admin", "feed", "list", "--data", dir)
	var fs []feedJSON
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
		{"admin", "feed", "add", "--data", dir, "--url", feedDir, "--org", "sector-cert", "--kind", "taxii"},   // taxii needs an http(s) URL
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
	if fi, err := os.Stat(file); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("rpz file mode %v, want 0644 so that the resolver can read it", fi.Mode().Perm())
	}
	// A MISP event, then the MISP feed of what the organisation may see.
	// It prints a summary, as the other kinds do; --full the stored event.
	event := filepath.Join("..", "misp", "testdata", "events", "tweetfeed-01d7d459.json")
	code, out, stderr = run(t, "import", "--hub", h.URL, event)
	var sum struct {
		Format, Event                                   string
		Attributes, Created, Updated, Rejected, Context int
	}
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || strings.Contains(out, `"Event"`) || len(out) > 4<<10 ||
		sum.Format != "misp" || sum.Event != "01d7d459-91ef-5fa0-8bf8-1e682f4c5c93" || sum.Created == 0 || sum.Attributes != sum.Created+sum.Updated+sum.Context {
		t.Fatalf("import MISP event: %d %v %.600s %s", code, err, out, stderr)
	}
	if code, full, stderr := run(t, "import", "--hub", h.URL, "--full", event); code != 0 || !strings.Contains(full, `"Event"`) || !strings.Contains(full, `"hdn"`) {
		t.Fatalf("import --full MISP event: %d %.300s %s", code, full, stderr)
	}
	if code, _, stderr := run(t, "import", "--hub", h.URL, "--full", report); code != 1 || !strings.Contains(stderr, "--full is for a MISP event") {
		t.Errorf("import --full of a text report: %d %s", code, stderr)
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
	// A CLEAR value in an AMBER report: the report's title and narrative
	// do not go into a feed of CLEAR (its value does not either: it is
	// known by the report it belongs to).
	var rep struct{ ID string }
	if r := h.Do("POST", "/api/v1/reports", key, map[string]any{"title": "Operation Quiet Ward", "narrative": "internal findings of the ward incident",
		"tlp": "amber"}); r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &rep)
	}
	if r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": []any{map[string]any{"value": "ward-c2.example.net", "tlp": "clear", "report": rep.ID}}}); r.Status != 200 {
		t.Fatalf("indicator in the report: %d %s", r.Status, r.Body)
	}
	feed = t.TempDir()
	if code, out, stderr := run(t, "export", "misp-feed", "--hub", h.URL, "--tlp", "clear", feed); code != 0 {
		t.Fatalf("export misp-feed: %s %s", out, stderr)
	}
	err = filepath.WalkDir(feed, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		for _, secret := range []string{"Operation Quiet Ward", "ward incident", rep.ID} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the CLEAR feed's %s holds %q of an AMBER report", filepath.Base(path), secret)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A report stored (before the hub refused that) under the uuid of the
	// organisation's own virtual event: the feed keeps one event of that
	// uuid instead of being refused whole.
	if r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": []any{map[string]any{"value": "loose-c2.example.net", "tlp": "clear"}}}); r.Status != 200 {
		t.Fatalf("a clear indicator without a report: %d %s", r.Status, r.Body)
	}
	var events []struct{ UUID, Info string }
	r := h.DoWith("POST", "/events/index", map[string]string{"Authorization": key, "Accept": "application/json", "Content-Type": "application/json"}, `{}`)
	r.JSON(t, &events)
	virtual := ""
	for _, ev := range events {
		if strings.Contains(ev.Info, "without a report") {
			virtual = ev.UUID
		}
	}
	if virtual == "" {
		t.Fatalf("no virtual event in %s", r.Body)
	}
	if _, err := h.Store.CreateReport(t.Context(), model.Report{ID: virtual, Title: "a twin", TLP: policy.Clear, Audience: policy.NetworkAudience(), Source: org.ID, SubmittedBy: org.ID}); err != nil {
		t.Fatal(err)
	}
	feed = t.TempDir()
	if code, out, stderr := run(t, "export", "misp-feed", "--hub", h.URL, "--tlp", "clear", feed); code != 0 || !strings.Contains(out, `"events_left_out_for_a_uuid_given_twice": 1`) {
		t.Fatalf("export misp-feed with an event uuid given twice: %d %s %s", code, out, stderr)
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

// TestImportIOCFiles sends IOC files to a hub through `hdn import` and checks
// the counts against an oracle: every entry the file reader gives is stored
// once per distinct value, unless a refusing warninglist stops it.
func TestImportIOCFiles(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{Warninglists: wl})
	t.Setenv("HDN_KEY", h.Key(h.Org("sector-cert", policy.Coordinator, ""), policy.Analyst))

	small := filepath.Join(t.TempDir(), "c2.txt")
	if err := os.WriteFile(small, []byte("# C2 seen this week\n185.220.101.45\n10.1.2.3\nupdate-check.badhost-example.net\nnot a value at all here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A dry run says what would be stored and stores nothing.
	code, out, stderr := run(t, "import", "--hub", h.URL, "--format", "lines", "--dry-run", "--label", "c2", small)
	if code != 0 {
		t.Fatalf("import --dry-run: %s", stderr)
	}
	var dry ImportSummary
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if !dry.DryRun || dry.Read != 3 || dry.Valid != 2 || dry.Created+dry.Updated != 0 || dry.Rejected != 1 || dry.Warninglisted["rfc1918"] != 1 {
		t.Errorf("dry run of the small list: %+v", dry)
	}
	if n, err := h.Store.LastSeq(context.Background()); err != nil || n != 0 {
		t.Fatalf("a dry run wrote %d changes (%v)", n, err)
	}
	code, out, stderr = run(t, "import", "--hub", h.URL, "--format", "lines", "--label", "c2", small)
	if code != 0 {
		t.Fatalf("import lines: %s", stderr)
	}
	var sum ImportSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if sum.Read != 2+1 || sum.Created != 2 || sum.Rejected != 1 || sum.Warninglisted["rfc1918"] != 1 || sum.Unusable == 0 {
		t.Errorf("small list: %+v", sum)
	}

	data := sharedDataDir()
	if data == "" {
		t.Skip("../shared/data (or HDN_SHARED_DATA) is absent: the real IOC lists are not imported")
	}
	for _, f := range []struct{ file, format string }{
		{"iocs/threatfox_ips.txt", "lines"},
		{"iocs/tweetfeed_month.csv", "csv"},
		{"iocs/blocklistproject_malware.ip", "lines"},
	} {
		path := filepath.Join(data, f.file)
		entries, problems, format, err := iocfile.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(format) != f.format {
			t.Errorf("%s read as %s, want %s", f.file, format, f.format)
		}
		// The oracle.
		refused, distinct := 0, map[string]bool{}
		for _, en := range entries {
			isRefused := false
			for _, hit := range wl.Check(en.Type, en.Value) {
				isRefused = isRefused || hit.Kind == warninglist.Refuse
			}
			if isRefused {
				refused++
			} else {
				distinct[string(en.Type)+" "+en.Value] = true
			}
		}
		// Each file as its own organisation, so that the files' overlaps do
		// not turn creations into updates.
		t.Setenv("HDN_KEY", h.Key(h.Org("importer-"+filepath.Base(f.file), policy.Member, ""), policy.Analyst))
		code, out, stderr := run(t, "import", "--hub", h.URL, path) // format detected
		if code != 0 {
			t.Fatalf("import %s: %s", f.file, stderr)
		}
		var sum ImportSummary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("summary %q: %v", out, err)
		}
		t.Logf("%s: %d entries (%d unusable lines), %d created, %d updated, %d refused %v, flagged %v, %.1f s",
			f.file, sum.Read, sum.Unusable, sum.Created, sum.Updated, sum.Rejected, sum.Warninglisted, sum.Flagged, sum.Seconds)
		if sum.Format != f.format || sum.Read != len(entries) || sum.Unusable != len(problems) {
			t.Errorf("%s: summary %+v; the reader gives %d entries, %d problems", f.file, sum, len(entries), len(problems))
		}
		if sum.Created != len(distinct) || sum.Rejected != refused || sum.Created+sum.Updated+sum.Rejected != len(entries) {
			t.Errorf("%s: %d created, %d updated, %d rejected; want %d created, %d rejected of %d", f.file, sum.Created, sum.Updated, sum.Rejected, len(distinct), refused, len(entries))
		}
	}
}

// sharedDataDir is ../shared/data beside the repository, or HDN_SHARED_DATA.
func sharedDataDir() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}

// TestMISPFeedKeepsAnonymousSourcesHidden: the coordinator and the source
// itself know who shared an anonymous indicator; a feed is usually
// published, so hdn export misp-feed writes it as anonymous whatever the
// key, and names the source only with --with-true-sources.
func TestMISPFeedKeepsAnonymousSourcesHidden(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	hosp := h.Org("hospital-a", policy.Member, "")
	if r := h.Do("POST", "/api/v1/indicators", h.Key(hosp, policy.Analyst), map[string]any{"indicators": []map[string]any{
		{"value": "quiet-source.feed-example.net", "tlp": "clear", "anonymous": true}}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	feedText := func(args ...string) string {
		t.Helper()
		dir := t.TempDir()
		if code, _, stderr := run(t, append(append([]string{"export", "misp-feed", "--hub", h.URL}, args...), dir)...); code != 0 {
			t.Fatalf("export misp-feed %v: %d %s", args, code, stderr)
		}
		var b strings.Builder
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			data, err := os.ReadFile(filepath.Join(dir, en.Name()))
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		return b.String()
	}
	coordKey := h.Key(h.Org("sector-cert", policy.Coordinator, ""), policy.ReadOnly)
	for name, key := range map[string]string{"the coordinator": coordKey, "the source": h.Key(hosp, policy.ReadOnly),
		"another member": h.Key(h.Org("public-feed", policy.Member, ""), policy.ReadOnly)} {
		if got := feedText("--key", key); !strings.Contains(got, "quiet-source.feed-example.net") || strings.Contains(got, "hospital-a") {
			t.Errorf("%s's feed names the anonymous indicator's source, or lacks it: %.400s", name, got)
		}
	}
	if got := feedText("--key", coordKey, "--with-true-sources"); !strings.Contains(got, "quiet-source.feed-example.net") || !strings.Contains(got, "hospital-a") {
		t.Errorf("the coordinator's feed with --with-true-sources does not hold the indicator under its source: %.400s", got)
	}
}
