package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

type submitResp struct {
	Results []api.ItemResult `json:"results"`
}

type listResp struct {
	Indicators []api.IndicatorJSON `json:"indicators"`
	Next       string              `json:"next"`
}

func items(its ...map[string]any) map[string]any {
	return map[string]any{"indicators": its}
}

func submit(t *testing.T, h *hubtest.Hub, key string, its ...map[string]any) []api.ItemResult {
	t.Helper()
	r := h.Do("POST", "/api/v1/indicators", key, items(its...))
	if r.Status != 200 {
		t.Fatalf("submit: status %d: %s", r.Status, r.Body)
	}
	var sr submitResp
	r.JSON(t, &sr)
	return sr.Results
}

// countIndicators counts what the store holds, all organisations together.
func countIndicators(t *testing.T, h *hubtest.Hub) int {
	t.Helper()
	n, err := h.Store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestHealthz(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	if !h.Healthy() {
		t.Fatal("/healthz is not 200 on a ready hub")
	}
}

func TestFirstStartCreatesDataDir(t *testing.T) {
	dir := t.TempDir() + "/new/data"
	h := hubtest.Start(t, hub.Config{DataDir: dir})
	if !h.Healthy() {
		t.Fatal("hub on a new data directory is not healthy")
	}
	c := h.Org("coord", policy.Coordinator, "")
	k := h.Key(c, policy.Analyst)
	if r := h.Do("GET", "/api/v1/me", k, nil); r.Status != 200 {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
}

func TestSubmitGetListRevoke(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	kb := h.Key(b, policy.Analyst)

	res := submit(t, h, ka,
		map[string]any{"type": "domain", "value": "EVIL[.]Example.COM.", "tlp": "amber", "labels": []string{"Phishing"}, "confidence": 80},
		map[string]any{"value": "hxxps://Evil.Example.com:443/a/../login.php?x=1#frag", "tlp": "green"},
		map[string]any{"value": "44d88612fea8a8f36de82e1278abb02f", "tlp": "clear"},
		map[string]any{"value": "co.uk", "type": "domain"},
	)
	if len(res) != 4 {
		t.Fatalf("got %d results, want 4", len(res))
	}
	if res[0].Status != "created" || res[0].Value != "evil.example.com" || res[0].Type != "domain" {
		t.Errorf("item 0: %+v", res[0])
	}
	if res[1].Status != "created" || res[1].Type != "url" || res[1].Value != "https://evil.example.com/login.php?x=1" {
		t.Errorf("item 1 (type detected): %+v", res[1])
	}
	if res[2].Type != "md5" {
		t.Errorf("item 2 type %q, want md5", res[2].Type)
	}
	if res[3].Status != "rejected" || res[3].Error == nil || !strings.Contains(res[3].Error.Message, "public suffix") {
		t.Errorf("item 3 should be rejected as a public suffix: %+v", res[3])
	}

	// Same type and value from the same source updates, never duplicates.
	again := submit(t, h, ka, map[string]any{"type": "domain", "value": "evil.example.com", "tlp": "amber", "description": "seen again"})
	if again[0].Status != "updated" || again[0].ID != res[0].ID {
		t.Fatalf("resubmission: %+v, want updated %s", again[0], res[0].ID)
	}
	// The same value from another source is its own indicator.
	other := submit(t, h, kb, map[string]any{"type": "domain", "value": "evil.example.com"})
	if other[0].Status != "created" || other[0].ID == res[0].ID {
		t.Fatalf("other source: %+v", other[0])
	}

	// Search by a defanged, upper-case value.
	r := h.Do("GET", "/api/v1/indicators?value=EVIL%5B.%5DExample.COM", kb, nil)
	var lr listResp
	r.JSON(t, &lr)
	if r.Status != 200 || len(lr.Indicators) != 2 {
		t.Fatalf("search by value: status %d, %d indicators: %s", r.Status, len(lr.Indicators), r.Body)
	}

	g := h.Do("GET", "/api/v1/indicators/"+res[0].ID, kb, nil)
	var ind api.IndicatorJSON
	g.JSON(t, &ind)
	if g.Status != 200 || ind.Value != "evil.example.com" || ind.Source != "hospital-a" || ind.Description != "seen again" ||
		ind.TLP != "amber" || !ind.Audience.Network || ind.Confidence != 50 || len(ind.Labels) != 0 {
		// the resubmission replaced labels and confidence
		t.Fatalf("get: %d %+v", g.Status, ind)
	}

	// Another organisation may not revoke it; the source may.
	if r := h.Do("POST", "/api/v1/indicators/"+res[0].ID+"/revoke", kb, nil); r.Status != 403 {
		t.Fatalf("revoke by another org: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+res[0].ID+"/revoke", ka, nil); r.Status != 200 {
		t.Fatalf("revoke by source: %d %s", r.Status, r.Body)
	}
	r = h.Do("GET", "/api/v1/indicators?type=domain", ka, nil)
	r.JSON(t, &lr)
	for _, i := range lr.Indicators {
		if i.ID == res[0].ID {
			t.Fatal("revoked indicator listed without include_revoked")
		}
	}
	r = h.Do("GET", "/api/v1/indicators?type=domain&include_revoked=true", ka, nil)
	r.JSON(t, &lr)
	found := false
	for _, i := range lr.Indicators {
		if i.ID == res[0].ID {
			found = i.Revoked
		}
	}
	if !found {
		t.Fatal("include_revoked=true does not list the revoked indicator as revoked")
	}
	if r := h.Do("GET", "/api/v1/indicators/00000000-0000-0000-0000-000000000000", ka, nil); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Fatalf("unknown id: %d %s", r.Status, r.Body)
	}
}

func TestListPaging(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	var its []map[string]any
	for i := range 250 {
		its = append(its, map[string]any{"value": fmt.Sprintf("10.%d.%d.1", 20+i/200, i%200), "type": "ipv4", "tlp": "green"})
	}
	for _, r := range submit(t, h, k, its...) {
		if r.Status != "created" {
			t.Fatalf("%+v", r)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		r := h.Do("GET", "/api/v1/indicators?limit=60&cursor="+cursor, k, nil)
		var lr listResp
		r.JSON(t, &lr)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		pages++
		for _, i := range lr.Indicators {
			if seen[i.ID] {
				t.Fatalf("indicator %s on two pages", i.ID)
			}
			seen[i.ID] = true
		}
		if lr.Next == "" {
			break
		}
		cursor = lr.Next
	}
	if len(seen) != 250 || pages != 5 {
		t.Fatalf("paging saw %d indicators in %d pages, want 250 in 5", len(seen), pages)
	}
	if r := h.Do("GET", "/api/v1/indicators?cursor=bogus", k, nil); r.Status != 400 {
		t.Fatalf("bogus cursor: %d", r.Status)
	}
}

// TestSubmitDryRun: ?dry_run=true checks every item as a submission would
// — canonical form, limits, warninglists — and stores, audits and streams
// nothing; with atomic too it answers as an atomic submission would.
func TestSubmitDryRun(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{Warninglists: wl})
	k := h.Key(h.Org("a", policy.Member, ""), policy.Analyst)
	body := items(
		map[string]any{"value": "Dry-Run[.]BadHost-Example.net", "tlp": "green"},
		map[string]any{"value": "8.8.8.8"},                                       // a public resolver: refused
		map[string]any{"value": "sha256:abc", "type": "sha256"},                  // malformed
		map[string]any{"value": "https://docs.google.com/forms/d/e/1FAIpQLSf/x"}, // a top site with a path: flagged
	)
	r := h.Do("POST", "/api/v1/indicators?dry_run=true", k, body)
	var out struct {
		DryRun  bool             `json:"dry_run"`
		Results []api.ItemResult `json:"results"`
	}
	r.JSON(t, &out)
	if r.Status != 200 || !out.DryRun || len(out.Results) != 4 {
		t.Fatalf("dry run: %d %s", r.Status, r.Body)
	}
	got := []string{}
	for _, res := range out.Results {
		got = append(got, res.Status+" "+res.Value)
		if res.ID != "" {
			t.Errorf("a dry run gave an id: %+v", res)
		}
	}
	want := []string{"valid dry-run.badhost-example.net", "rejected ", "rejected ", "valid https://docs.google.com/forms/d/e/1FAIpQLSf/x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("dry run statuses:\n got %q\nwant %q\n%s", got, want, r.Body)
	}
	if e := out.Results[1].Error; e == nil || e.Code != "warninglisted" {
		t.Errorf("the resolver's rejection: %+v", out.Results[1])
	}
	if len(out.Results[3].Warninglists) == 0 {
		t.Errorf("the flagged URL names no list: %+v", out.Results[3])
	}
	if r := h.Do("POST", "/api/v1/indicators?dry_run=true&atomic=true", k, body); r.Status != 422 {
		t.Errorf("a dry, atomic run with rejected items: %d %s; want 422", r.Status, r.Body)
	}
	// A coordinator's override in a dry run is not audited: nothing was
	// stored.
	coordKey := h.Key(h.Org("cert", policy.Coordinator, ""), policy.Admin)
	if r := h.Do("POST", "/api/v1/indicators?dry_run=true", coordKey, items(map[string]any{"value": "8.8.8.8", "override_warninglists": true})); r.Status != 200 ||
		!strings.Contains(string(r.Body), `"status":"valid"`) {
		t.Errorf("a dry run with an override: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/indicators?dry_run=maybe", k, body); r.Status != 400 {
		t.Errorf("dry_run=maybe: %d %s; want 400", r.Status, r.Body)
	}
	if n := countIndicators(t, h); n != 0 {
		t.Fatalf("dry runs stored %d changes", n)
	}
	// The audit log has the real submission that follows, and nothing of
	// the dry runs.
	if r := h.Do("POST", "/api/v1/indicators", k, body); r.Status != 200 {
		t.Fatalf("the real submission: %d %s", r.Status, r.Body)
	}
	r = h.Do("GET", "/api/v1/audit", coordKey, nil)
	if r.Status != 200 || strings.Count(string(r.Body), `"indicator.submit"`) != 1 || strings.Contains(string(r.Body), "warninglist.override") {
		t.Errorf("audit log: %d %s; want one indicator.submit and no override", r.Status, r.Body)
	}
}

func TestAtomicStoresAllOrNothing(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	body := items(
		map[string]any{"value": "good.example.org"},
		map[string]any{"value": "sha256:abc", "type": "sha256"},
	)
	r := h.Do("POST", "/api/v1/indicators?atomic=true", k, body)
	if r.Status != 422 {
		t.Fatalf("atomic with a bad item: %d %s", r.Status, r.Body)
	}
	var out struct {
		Error   api.ItemError    `json:"error"`
		Results []api.ItemResult `json:"results"`
	}
	r.JSON(t, &out)
	if out.Error.Code != "rejected_items" || out.Results[0].Status != "not_stored" || out.Results[1].Status != "rejected" {
		t.Fatalf("atomic response: %s", r.Body)
	}
	if n := countIndicators(t, h); n != 0 {
		t.Fatalf("atomic request stored %d changes", n)
	}
	// Without atomic the good one is stored.
	r = h.Do("POST", "/api/v1/indicators", k, body)
	if r.Status != 200 {
		t.Fatal(r.Status)
	}
	if n := countIndicators(t, h); n != 1 {
		t.Fatalf("non-atomic request stored %d changes, want 1", n)
	}
}

func TestRolesAndKeys(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	ro := h.Key(a, policy.ReadOnly)
	sensor := h.Key(a, policy.Sensor)
	analyst := h.Key(a, policy.Analyst)
	body := items(map[string]any{"value": "x.example.net"})
	for _, k := range []string{ro, sensor} {
		if r := h.Do("POST", "/api/v1/indicators", k, body); r.Status != 403 || r.ErrorCode() != "forbidden" {
			t.Errorf("submit with a non-analyst key: %d %s", r.Status, r.Body)
		}
		if r := h.Do("GET", "/api/v1/indicators", k, nil); r.Status != 200 {
			t.Errorf("read with a %s key: %d", k[:8], r.Status)
		}
	}
	if r := h.Do("POST", "/api/v1/indicators", analyst, body); r.Status != 200 {
		t.Fatalf("analyst submit: %d %s", r.Status, r.Body)
	}
	// No key, a malformed key, a wrong secret, a revoked key, an expired key.
	id, _, _ := strings.Cut(strings.TrimPrefix(analyst, "hdn_"), "_")
	wrong := analyst[:len(analyst)-4] + "aaaa"
	if wrong == analyst {
		wrong = analyst[:len(analyst)-4] + "bbbb"
	}
	for name, k := range map[string]string{"none": "", "malformed": "hunter2", "wrong secret": wrong} {
		if r := h.Do("GET", "/api/v1/indicators", k, nil); r.Status != 401 || r.ErrorCode() != "unauthorized" {
			t.Errorf("%s key: %d %s", name, r.Status, r.Body)
		}
	}
	if err := h.Store.RevokeKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if r := h.Do("GET", "/api/v1/indicators", analyst, nil); r.Status != 401 {
		t.Errorf("revoked key: %d", r.Status)
	}
}

func TestExpiredKeyIsRefused(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := hubtest.Start(t, hub.Config{Now: clock})
	a := h.Org("a", policy.Member, "")
	plain, id, hash := auth.NewKey()
	err := h.Store.CreateKey(context.Background(), model.Key{ID: id, OrgID: a.ID, Role: policy.Analyst, Hash: hash, Created: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Do("GET", "/api/v1/me", plain, nil); r.Status != 200 {
		t.Fatalf("key before expiry: %d %s", r.Status, r.Body)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if r := h.Do("GET", "/api/v1/me", plain, nil); r.Status != 401 {
		t.Fatalf("key at expiry: %d", r.Status)
	}
}

func TestReports(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	b := h.Org("b", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	r := h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "Qakbot wave", "narrative": "Invoices with macros", "threat_actor": "TA570", "tlp": "green"})
	if r.Status != 201 {
		t.Fatalf("create report: %d %s", r.Status, r.Body)
	}
	var rep api.ReportJSON
	r.JSON(t, &rep)
	if rep.ID == "" || rep.Title != "Qakbot wave" || rep.Source != "a" || rep.ThreatActor != "TA570" {
		t.Fatalf("report: %+v", rep)
	}
	res := submit(t, h, ka, map[string]any{"value": "qak.example.org", "report": rep.ID, "tlp": "green"})
	if res[0].Status != "created" {
		t.Fatalf("indicator with report: %+v", res[0])
	}
	var lr listResp
	h.Do("GET", "/api/v1/indicators?report="+rep.ID, kb, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].Report != rep.ID {
		t.Fatalf("list by report: %+v", lr)
	}
	if r := h.Do("GET", "/api/v1/reports/"+rep.ID, kb, nil); r.Status != 200 {
		t.Fatalf("get report: %d", r.Status)
	}
	var reps struct {
		Reports []api.ReportJSON `json:"reports"`
	}
	h.Do("GET", "/api/v1/reports", kb, nil).JSON(t, &reps)
	if len(reps.Reports) != 1 {
		t.Fatalf("list reports: %+v", reps)
	}
	res = submit(t, h, ka, map[string]any{"value": "x.example.org", "report": "no-such-report"})
	if res[0].Status != "rejected" {
		t.Fatalf("unknown report accepted: %+v", res[0])
	}
	if r := h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": ""}); r.Status != 400 {
		t.Fatalf("empty title: %d", r.Status)
	}
}

// TestBadInput sends the bad requests a hub meets and checks that each gets a
// clear 4xx, that the hub keeps serving, and that nothing is stored.
func TestBadInput(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	long := strings.Repeat("a", 10000) + ".example.com"
	cases := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		code   string
	}{
		{"malformed JSON", "application/json", []byte(`{"indicators": [{"value": "a.example.com",}]}`), 400, "malformed_json"},
		{"truncated JSON", "application/json", []byte(`{"indicators": [{"value": "a.example.com"`), 400, "malformed_json"},
		{"not an object", "application/json", []byte(`[1,2]`), 400, "malformed_json"},
		{"indicators not an array", "application/json", []byte(`{"indicators": {"value": "x"}}`), 400, "malformed_json"},
		{"unknown top-level field", "application/json", []byte(`{"indicators": [], "extra": 1}`), 400, "malformed_json"},
		{"no indicators", "application/json", []byte(`{}`), 400, "malformed_json"},
		{"trailing data", "application/json", []byte(`{"indicators": []} {}`), 400, "malformed_json"},
		{"invalid UTF-8", "application/json", []byte("{\"indicators\": [{\"value\": \"evil\xff.example.com\"}]}"), 400, "malformed_json"},
		{"wrong media type", "text/plain", []byte(`{"indicators": []}`), 415, "unsupported_media_type"},
		{"no media type", "", []byte(`{"indicators": []}`), 415, "unsupported_media_type"},
		{"empty body", "application/json", []byte(``), 400, "malformed_json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/indicators", "/api/v1/indicators?atomic=true"} {
				req, _ := http.NewRequest("POST", h.URL+path, bytes.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+k)
				if c.ctype != "" {
					req.Header.Set("Content-Type", c.ctype)
				}
				resp, err := h.Client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var env struct {
					Error struct{ Code, Message string }
				}
				json.Unmarshal(b, &env)
				if resp.StatusCode != c.status || env.Error.Code != c.code || env.Error.Message == "" {
					t.Errorf("%s: got %d %s, want %d %s", path, resp.StatusCode, b, c.status, c.code)
				}
			}
		})
	}
	// Items with wrong types, unknown fields and over-long values are each
	// rejected with a message naming the problem.
	itemCases := []struct {
		item string
		want string
	}{
		{`{"value": 42}`, `"value" must be a string`},
		{`{"value": "a.example.com", "confidence": "high"}`, `"confidence" must be a number`},
		{`{"value": "a.example.com", "labels": "x"}`, `"labels" must be an array`},
		{`{"value": "a.example.com", "colour": "red"}`, `unknown field "colour"`},
		{`{"value": "` + long + `"}`, `longer`},
		{`{"value": "a.example.com", "description": "` + strings.Repeat("d", 9000) + `"}`, `description is 9000 bytes`},
		{`{"value": "a.example.com", "tlp": "purple"}`, `tlp "purple"`},
		{`{"value": "a.example.com", "tlp": "red"}`, `tlp red needs an explicit list`},
		{`{"value": "a.example.com", "confidence": 101}`, `confidence 101`},
		{`{"value": "a.example.com", "valid_until": "tomorrow"}`, `valid_until "tomorrow" is not an RFC 3339 time`},
		{`{"value": "0.0.0.0/0", "type": "cidr"}`, `/0`},
		{`{"value": "a.example.com", "audience": {"orgs": ["nobody"]}}`, `organisation "nobody" does not exist`},
		{`{"value": "a.example.com", "audience": {"network": true, "group": "g"}}`, `exactly one`},
		{`{"value": "a.example.com", "on_behalf_of": "a"}`, `only for partners`},
		{`{"value": "a.example.com", "type": "nonsense"}`, `type "nonsense"`},
		{`{"type": "domain"}`, `value is missing`},
	}
	for _, c := range itemCases {
		body := []byte(`{"indicators": [` + c.item + `]}`)
		r := h.Do("POST", "/api/v1/indicators", k, body)
		var sr submitResp
		r.JSON(t, &sr)
		if r.Status != 200 || len(sr.Results) != 1 || sr.Results[0].Status != "rejected" || !strings.Contains(sr.Results[0].Error.Message, c.want) {
			t.Errorf("item %.80s: got %d %.300s, want rejected with %q", c.item, r.Status, r.Body, c.want)
		}
		r = h.Do("POST", "/api/v1/indicators?atomic=true", k, body)
		if r.Status != 422 {
			t.Errorf("atomic item %.80s: got %d", c.item, r.Status)
		}
	}
	// A 100 MB body is refused without being read to the end.
	big := io.MultiReader(strings.NewReader(`{"indicators": [{"value": "`), io.LimitReader(repeatReader('a'), 100<<20), strings.NewReader(`"}]}`))
	r := h.Do("POST", "/api/v1/indicators?atomic=true", k, big)
	if r.Status != 413 || r.ErrorCode() != "payload_too_large" {
		t.Errorf("100 MB body: %d %.200s", r.Status, r.Body)
	}
	// Unknown query parameters and bad limits.
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=100000", "?colour=red", "?since=yesterday", "?type=bogus", "?value=co.uk&type=domain", "?include_revoked=maybe"} {
		if r := h.Do("GET", "/api/v1/indicators"+q, k, nil); r.Status != 400 {
			t.Errorf("GET %s: %d", q, r.Status)
		}
	}
	if r := h.Do("GET", "/api/v1/nothing-here", k, nil); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Errorf("unknown route: %d %s", r.Status, r.Body)
	}
	if n := countIndicators(t, h); n != 0 {
		t.Fatalf("bad input stored %d changes", n)
	}
	if !h.Healthy() {
		t.Fatal("hub unhealthy after bad input")
	}
	// And it still works.
	if res := submit(t, h, k, map[string]any{"value": "fine.example.com"}); res[0].Status != "created" {
		t.Fatalf("after bad input: %+v", res[0])
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestBulkSubmission stores 100,000 indicators in one request.
func TestBulkSubmission(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk submission skipped in -short mode")
	}
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	var buf bytes.Buffer
	buf.WriteString(`{"indicators": [`)
	const n = 100_000
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"type":"domain","value":"host%d.bulk-example.org","tlp":"green","labels":["malware"]}`, i)
	}
	buf.WriteString(`]}`)
	r := h.Do("POST", "/api/v1/indicators", k, buf.Bytes())
	if r.Status != 200 {
		t.Fatalf("bulk: %d %.300s", r.Status, r.Body)
	}
	var sr submitResp
	r.JSON(t, &sr)
	created := 0
	for _, res := range sr.Results {
		if res.Status == "created" {
			created++
		}
	}
	if created != n {
		t.Fatalf("created %d of %d", created, n)
	}
	if got := countIndicators(t, h); got != n {
		t.Fatalf("store holds %d changes, want %d", got, n)
	}
	// One more than the item limit is refused whole.
	small := hubtest.Start(t, hub.Config{Limits: api.Limits{MaxItems: 10}})
	sa := small.Org("a", policy.Member, "")
	sk := small.Key(sa, policy.Analyst)
	var its []map[string]any
	for i := range 11 {
		its = append(its, map[string]any{"value": fmt.Sprintf("h%d.example.org", i)})
	}
	if r := small.Do("POST", "/api/v1/indicators", sk, items(its...)); r.Status != 413 {
		t.Fatalf("11 items with a limit of 10: %d", r.Status)
	}
	if n, _ := small.Store.LastSeq(context.Background()); n != 0 {
		t.Fatalf("over-limit request stored %d", n)
	}
	// So is a MISP event with more attributes than the limit.
	var attrs []map[string]any
	for i := range 11 {
		attrs = append(attrs, map[string]any{"type": "domain", "value": fmt.Sprintf("m%d.example.org", i)})
	}
	if r := mispCall(small, "POST", "/events/add", sk, map[string]any{"Event": map[string]any{"info": "big", "Attribute": attrs}}); r.Status != 413 {
		t.Fatalf("a MISP event of 11 attributes with a limit of 10: %d %s", r.Status, r.Body)
	}
	if n, _ := small.Store.LastSeq(context.Background()); n != 0 {
		t.Fatalf("over-limit event stored %d", n)
	}
}

var _ store.Store // the harness's store is the hub's own
