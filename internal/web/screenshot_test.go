package web_test

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

var screenshots = flag.Bool("screenshots", false, "write PNGs of the main pages of the web UI to docs/screenshots (go test -run TestScreenshots -screenshots ./internal/web/)")

// screenshotDir is docs/screenshots, from this package's directory.
const screenshotDir = "../../docs/screenshots"

// TestScreenshots writes 1280×800 PNGs of the main pages, with some data,
// to docs/screenshots. It runs only with -screenshots, and needs Chromium.
func TestScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("run with -screenshots to write docs/screenshots/*.png")
	}
	b := newChromium(t)
	e := newUIHandler(t)
	srv := httptest.NewServer(e.handler)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	e.URL = srv.URL

	coord := e.h.Org("Coordination centre", policy.Coordinator, "")
	orgA := e.h.Org("St Mary's Hospital", policy.Member, "")
	orgB := e.h.Org("Northfield General", policy.Member, "")
	orgC := e.h.Org("Riverside Clinic", policy.Member, "")
	partner := e.h.Org("MedSOC Partner", policy.Partner, "")
	if _, err := e.h.Store.CreateOrg(t.Context(), model.Org{Name: "Hillside Care Home", Kind: policy.Customer, Partner: partner.ID, Status: model.OrgPending}); err != nil {
		t.Fatalf("create pending org: %v", err)
	}
	keyA := e.h.Key(orgA, policy.Analyst)
	keyB := e.h.Key(orgB, policy.Analyst)
	keyC := e.h.Key(orgC, policy.Analyst)
	sensorA := e.h.Key(orgA, policy.Sensor)
	sensorCoord := e.h.Key(coord, policy.Sensor)
	admin := e.user(coord, "duty@coordination.example", policy.Admin)

	ids := e.submit(keyA,
		map[string]any{"type": "domain", "value": "login-portal.phish-example.net", "tlp": "amber", "labels": []string{"phishing", "credential-theft"}, "description": "Fake single-sign-on page sent to ward staff."},
		map[string]any{"type": "ipv4", "value": "203.0.113.45", "tlp": "green", "labels": []string{"c2", "cobalt-strike"}},
		map[string]any{"type": "url", "value": "https://cdn-update.example-bad.org/patch.exe", "tlp": "amber", "labels": []string{"malware"}},
		map[string]any{"type": "sha256", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "tlp": "amber+strict", "labels": []string{"ransomware"}},
		map[string]any{"type": "domain", "value": "pay-invoice.example-bad.org", "tlp": "clear", "labels": []string{"phishing"}},
	)
	idsB := e.submit(keyB,
		map[string]any{"type": "ipv4", "value": "198.51.100.23", "tlp": "amber", "labels": []string{"scanner"}},
		map[string]any{"type": "domain", "value": "radiology-viewer.example-bad.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"St Mary's Hospital", "Coordination centre"}}, "labels": []string{"c2"}},
		map[string]any{"type": "email", "value": "hr-payroll@phish-example.net", "tlp": "green", "labels": []string{"phishing"}},
	)
	e.submit(keyC, map[string]any{"type": "md5", "value": "44d88612fea8a8f36de82e1278abb02f", "tlp": "green", "labels": []string{"test-file"}})

	// Sightings over the last days, by several organisations.
	now := time.Now().UTC()
	var sightings []map[string]any
	for d := 0; d < 9; d++ {
		hour := now.Add(-time.Duration(d*24+2) * time.Hour).Format(time.RFC3339)
		sightings = append(sightings, map[string]any{"indicator": ids["203.0.113.45"], "count": 3 + d, "hour": hour})
		if d%2 == 0 {
			sightings = append(sightings, map[string]any{"indicator": ids["login-portal.phish-example.net"], "count": 1 + d, "hour": hour})
		}
	}
	for _, key := range []string{keyB, keyC} {
		if r := e.h.Do("POST", "/api/v1/sightings", key, map[string]any{"sightings": sightings}); r.Status >= 300 {
			t.Fatalf("sightings: %d %s", r.Status, r.Body)
		}
	}
	if r := e.h.Do("POST", "/api/v1/sightings", keyA, map[string]any{"sightings": []map[string]any{{"indicator": idsB["198.51.100.23"], "count": 12}}}); r.Status >= 300 {
		t.Fatalf("sightings: %d %s", r.Status, r.Body)
	}
	if r := e.h.Do("POST", "/api/v1/sensors/heartbeat", sensorA, map[string]any{"name": "suricata-edge-1", "version": "hdn-sensor 1.0"}); r.Status >= 300 {
		t.Fatalf("heartbeat: %d %s", r.Status, r.Body)
	}
	for _, p := range []map[string]any{
		{"value": "update-check.example-bad.org", "labels": []string{"c2"}, "evidence": "Suricata alert ET MALWARE on 3 hosts"},
		{"value": "192.0.2.200", "evidence": "Beaconing every 60 s from the imaging VLAN"},
	} {
		if r := e.h.Do("POST", "/api/v1/proposals", sensorCoord, p); r.Status >= 300 {
			t.Fatalf("proposal: %d %s", r.Status, r.Body)
		}
	}

	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tb := b.tab()
	tb.do("viewport", chromedp.EmulateViewport(1280, 800))
	shot := func(name string) {
		t.Helper()
		png := tabRun(tb, "screenshot "+name, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(screenshotDir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", name, len(png))
	}
	page := func(path, wait, name string) {
		t.Helper()
		if resp := tb.open(e.URL, path); resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", path, resp.Status, tb.describe())
		}
		tb.do(path, chromedp.WaitVisible(chromedp.CSS(wait)))
		shot(name)
	}

	page("/ui/signin", "#signin-form", "signin.png")
	tb.signIn(e.URL, admin)
	e.submit(keyB, map[string]any{"type": "domain", "value": "vpn-login.phish-example.net", "tlp": "amber", "labels": []string{"phishing"}})
	tb.do("live arrival", chromedp.WaitReady(chromedp.CSS(`#live-indicators li[data-value="vpn-login.phish-example.net"]`)))
	shot("dashboard.png")
	page("/ui/indicators?type=domain", "#results", "search.png")
	page("/ui/indicators/"+ids["203.0.113.45"], "#indicator", "indicator.png")

	page("/ui/submit", "#bulk-form", "submit.png")
	tb.do("paste", chromedp.SetValue(chromedp.CSS("#bulk-text"),
		"From: SOC St Mary's\nSubject: phishing wave 27 Nov\n\n"+
			"Users received links to hxxps://sso-reset[.]phish-example[.]net/login and\n"+
			"payload-host[.]example-bad[.]org; the dropper (sha256\n"+
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855) called 198.51.100[.]99.\n"))
	if resp := tb.load("preview", chromedp.Click(chromedp.CSS("#preview"))); resp.Status != http.StatusOK {
		t.Fatalf("preview: status %d\n%s", resp.Status, tb.describe())
	}
	tb.do("preview", chromedp.WaitVisible(chromedp.CSS("#preview-results")))
	shot("submit-preview.png")

	page("/ui/orgs", "#orgs", "orgs.png")
	page("/ui/queue", "main", "queue.png")
	page("/ui/coverage", "main", "coverage.png")
	page("/ui/audit", "#audit", "audit.png")
	page("/ui/settings", "#users", "settings.png")
	fmt.Fprintln(os.Stderr, "screenshots written to docs/screenshots")
}
