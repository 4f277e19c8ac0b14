package hub_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// TestWarninglistsScreenSubmissions: a value on a refusing list is refused
// with the list named and nothing stored, unless a coordinator overrides; a
// value on a flagging list is stored with the list named and a shorter
// lifetime.
func TestWarninglistsScreenSubmissions(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := hubtest.Start(t, hub.Config{Now: func() time.Time { return now }, Warninglists: shippedWarninglists(t)})
	member := h.Key(h.Org("St Elsewhere", policy.Member, ""), policy.Analyst)
	coord := h.Key(h.Org("Z-CERT", policy.Coordinator, ""), policy.Analyst)

	res := submit(t, h, member,
		map[string]any{"value": "8.8.8.8"},
		map[string]any{"value": "mail.google.com"},
		map[string]any{"value": "d41d8cd98f00b204e9800998ecf8427e"},
		map[string]any{"value": "10.20.30.40"},
		map[string]any{"value": "evil-phish.duckdns.org"},
		map[string]any{"value": "hxxps://docs.google[.]com/forms/d/e/1FAIpQLSe/viewform", "type": "url"},
		map[string]any{"value": "qakbot-c2-hospital.net"},
		map[string]any{"value": "8.8.4.4", "override_warninglists": true},
	)
	want := []struct {
		status, code, list string
		kind               warninglist.Kind
	}{
		{"rejected", api.CodeWarninglisted, "", warninglist.Refuse},
		{"rejected", api.CodeWarninglisted, "", warninglist.Refuse},
		{"rejected", api.CodeWarninglisted, "", warninglist.Refuse},
		{"rejected", api.CodeWarninglisted, "", warninglist.Refuse},
		{"created", "", "", warninglist.Flag},
		{"created", "", "", warninglist.Flag},
		{"created", "", "", ""},
		{"rejected", api.CodeInvalidValue, "", ""},
	}
	for i, w := range want {
		r := res[i]
		if r.Status != w.status {
			t.Errorf("item %d (%s): status %s, want %s (%+v)", i, r.Value, r.Status, w.status, r.Error)
			continue
		}
		if w.code != "" && (r.Error == nil || r.Error.Code != w.code) {
			t.Errorf("item %d: error %+v, want code %s", i, r.Error, w.code)
		}
		if w.kind == "" && len(r.Warninglists) > 0 {
			t.Errorf("item %d (%s): warninglist hits %+v, want none", i, r.Value, r.Warninglists)
		}
		if w.kind != "" && (len(r.Warninglists) == 0 || r.Warninglists[0].Kind != w.kind || r.Warninglists[0].List == "") {
			t.Errorf("item %d (%s): warninglist hits %+v, want a %s hit", i, r.Value, r.Warninglists, w.kind)
		}
		if w.code == api.CodeWarninglisted && !strings.Contains(r.Error.Message, r.Warninglists[0].List) {
			t.Errorf("item %d: the refusal %q does not name the list %q", i, r.Error.Message, r.Warninglists[0].List)
		}
	}
	if !strings.Contains(res[7].Error.Message, "coordinator") {
		t.Errorf("a member's override: %q, want it to say only the coordinator may", res[7].Error.Message)
	}
	// Nothing refused was stored.
	if n := countIndicators(t, h); n != 3 {
		t.Errorf("%d indicators stored, want the 3 accepted", n)
	}
	// The flagged one got the shorter lifetime.
	r := h.Do("GET", "/api/v1/indicators/"+res[4].ID, member, nil)
	var ind api.IndicatorJSON
	r.JSON(t, &ind)
	if ind.ValidUntil.IsZero() || !ind.ValidUntil.Equal(now.Add(api.DefaultFlagLifetime)) {
		t.Errorf("flagged indicator valid until %v, want %v", ind.ValidUntil, now.Add(api.DefaultFlagLifetime))
	}
	// A flagged value with a back-dated valid_from gets its lifetime from
	// now, not from valid_from (which would have expired it at once).
	back := submit(t, h, member, map[string]any{"value": "old-phish.duckdns.org", "valid_from": now.Add(-30 * 24 * time.Hour).Format(time.RFC3339)})
	h.Do("GET", "/api/v1/indicators/"+back[0].ID, member, nil).JSON(t, &ind)
	if !ind.ValidUntil.Equal(now.Add(api.DefaultFlagLifetime)) {
		t.Errorf("flagged indicator with a back-dated valid_from valid until %v, want %v", ind.ValidUntil, now.Add(api.DefaultFlagLifetime))
	}
	// A coordinator's override in a preview stores and records nothing.
	if r := h.Do("POST", "/api/v1/import/text?preview=true", coord, map[string]any{"text": "resolver 8.8.8.8 seen", "override_warninglists": true}); r.Status != 200 {
		t.Fatalf("preview with an override: %d %s", r.Status, r.Body)
	}
	// The coordinator may override; the override is marked.
	res = submit(t, h, coord, map[string]any{"value": "8.8.8.8", "override_warninglists": true})
	if res[0].Status != "created" || len(res[0].Warninglists) == 0 {
		t.Fatalf("coordinator override: %+v", res[0])
	}
	r = h.Do("GET", "/api/v1/indicators/"+res[0].ID, coord, nil)
	r.JSON(t, &ind)
	if !slices.Contains(ind.Tags, "hdn:warninglist-override") {
		t.Errorf("overridden indicator tags %q, want hdn:warninglist-override", ind.Tags)
	}
	entries, err := h.Store.ListAudit(t.Context(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	overrides := 0
	for _, e := range entries {
		if e.Action == "warninglist.override" {
			overrides++
			if !strings.Contains(e.Detail, "8.8.8.8") || !strings.Contains(e.Detail, "public-dns") {
				t.Errorf("override audit entry %+v does not name the value and the list", e)
			}
		}
	}
	if overrides != 1 {
		t.Errorf("%d override audit entries, want 1", overrides)
	}
}

func shippedWarninglists(t *testing.T) *warninglist.Set {
	t.Helper()
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatalf("shipped warninglists: %v", err)
	}
	return wl
}

// TestExportFormats: every format answers with its media type and the live
// indicators the caller may see — not what it may not, not what was revoked.
func TestExportFormats(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	res := submit(t, h, ka,
		map[string]any{"value": "c2.badhost-example.net", "tlp": "green", "labels": []string{"c2"}},
		map[string]any{"value": "185.220.101.45", "tlp": "amber"},
		map[string]any{"value": "44d88612fea8a8f36de82e1278abb02f", "type": "md5"},
		map[string]any{"value": "https://login-portal.badhost-example.net/owa/auth.php", "type": "url"},
		map[string]any{"value": "secret.badhost-example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"Hospital A"}}},
		map[string]any{"value": "revoked.badhost-example.org"},
	)
	if r := h.Do("POST", "/api/v1/indicators/"+res[5].ID+"/revoke", ka, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	get := func(path, key string) hubtest.Response {
		t.Helper()
		r := h.Do("GET", path, key, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		return r
	}
	// What B may see: all but the red one and the revoked one.
	visible := []string{"c2.badhost-example.net", "185.220.101.45", "44d88612fea8a8f36de82e1278abb02f", "https://login-portal.badhost-example.net/owa/auth.php"}
	hidden := []string{"secret.badhost-example.org", "revoked.badhost-example.org"}
	list := string(get("/api/v1/export/list", kb).Body)
	for _, v := range visible {
		if !strings.Contains(list, v+"\n") {
			t.Errorf("list export lacks %s:\n%s", v, list)
		}
	}
	for _, v := range hidden {
		if strings.Contains(list, v) {
			t.Errorf("list export for B holds %s", v)
		}
	}
	// The source sees its red one.
	if l := string(get("/api/v1/export/list?type=domain", ka).Body); !strings.Contains(l, "secret.badhost-example.org") || strings.Contains(l, "185.220.101.45") {
		t.Errorf("list of domains for A:\n%s", l)
	}
	for _, f := range []struct{ format, ctype, must string }{
		{"suricata", "text/plain", "c2.badhost-example.net"},
		{"snort", "text/plain", "185.220.101.45"},
		{"zeek", "text/plain", "Intel::DOMAIN"},
		{"rpz", "", "c2.badhost-example.net CNAME ."},
		{"csv", "text/csv", "44d88612fea8a8f36de82e1278abb02f"},
		{"stix", "application/stix+json", "[domain-name:value = 'c2.badhost-example.net']"},
		{"bloom", "application/octet-stream", ""},
		{"suricata-dataset?dataset_type=string", "text/plain", base64.StdEncoding.EncodeToString([]byte("c2.badhost-example.net"))},
	} {
		r := get("/api/v1/export/"+f.format, kb)
		if f.ctype != "" && !strings.HasPrefix(r.Header.Get("Content-Type"), f.ctype) {
			t.Errorf("%s: Content-Type %q, want %s", f.format, r.Header.Get("Content-Type"), f.ctype)
		}
		if !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("%s: Content-Disposition %q", f.format, r.Header.Get("Content-Disposition"))
		}
		if f.must != "" && !bytes.Contains(r.Body, []byte(f.must)) {
			t.Errorf("%s export lacks %q:\n%s", f.format, f.must, r.Body)
		}
		for _, v := range hidden {
			if bytes.Contains(r.Body, []byte(v)) {
				t.Errorf("%s export for B holds %s", f.format, v)
			}
		}
	}
	// The bloom filter holds exactly what B may see, as DCSO's tool reads it.
	if path, err := exec.LookPath("bloom"); err == nil {
		file := t.TempDir() + "/hdn.bloom"
		r := get("/api/v1/export/bloom", kb)
		if err := os.WriteFile(file, r.Body, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(path, "check", file)
		cmd.Stdin = strings.NewReader(strings.Join(append(slices.Clone(visible), hidden...), "\n") + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bloom check: %v", err)
		}
		found := strings.Fields(string(out))
		for _, v := range visible {
			if !slices.Contains(found, v) {
				t.Errorf("bloom check does not find %s in B's filter (found %q)", v, found)
			}
		}
		for _, v := range hidden {
			if slices.Contains(found, v) {
				t.Errorf("bloom check finds %s in B's filter", v)
			}
		}
	} else {
		t.Log("bloom (Debian package golang-github-dcso-bloom-cli) not installed: the end-to-end bloom check is skipped")
	}
	for _, bad := range []struct {
		path, code string
		status     int
	}{
		{"/api/v1/export/pdf", api.CodeNotFound, 404},
		{"/api/v1/export/suricata-dataset", api.CodeBadRequest, 400},
		{"/api/v1/export/list?type=colour", api.CodeBadRequest, 400},
		{"/api/v1/export/list?cursor=x", api.CodeBadRequest, 400},
		{"/api/v1/export/rpz?rpz_action=explode", api.CodeBadRequest, 400},
	} {
		r := h.Do("GET", bad.path, kb, nil)
		if r.Status != bad.status || r.ErrorCode() != bad.code {
			t.Errorf("GET %s: %d %s, want %d %s", bad.path, r.Status, r.Body, bad.status, bad.code)
		}
	}
	if r := h.Do("GET", "/api/v1/export/list", "", nil); r.Status != 401 {
		t.Errorf("export without a key: %d", r.Status)
	}
}

// TestFreeTextImport: a preview shows what a pasted report holds, with
// types and warninglist hits, and stores nothing; the import then stores
// what the analyst kept.
func TestFreeTextImport(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t)})
	a := h.Org("Hospital A", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	text := `From: CERT <cert@example.org>
Subject: Qakbot wave against hospitals

The loader beacons to hxxps://update-check[.]badhost-example[.]net/gate.php and
to 185.220.101[.]45:443. Resolver traffic to 8.8.8.8 is normal. The dropper
invoice.pdf.exe has MD5 44d88612fea8a8f36de82e1278abb02f. Replies go to
billing[at]badhost-example[.]org. See also evil-phish.duckdns.org.
`
	var out struct {
		Preview    bool                `json:"preview"`
		Candidates []api.TextCandidate `json:"candidates"`
	}
	r := h.Do("POST", "/api/v1/import/text?preview=true", ka, map[string]any{"text": text, "tlp": "green", "labels": []string{"malware"}})
	if r.Status != 200 {
		t.Fatalf("preview: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &out)
	got := map[string]api.TextCandidate{}
	for _, c := range out.Candidates {
		got[c.Value] = c
	}
	for v, want := range map[string]struct{ typ, status string }{
		"https://update-check.badhost-example.net/gate.php": {"url", "new"},
		"185.220.101.45":                   {"ipv4", "new"},
		"8.8.8.8":                          {"ipv4", "refused"},
		"44d88612fea8a8f36de82e1278abb02f": {"md5", "new"},
		"billing@badhost-example.org":      {"email", "new"},
		"evil-phish.duckdns.org":           {"domain", "new"},
		"cert@example.org":                 {"email", "new"},
	} {
		c, ok := got[v]
		if !ok {
			t.Errorf("preview lacks %s; got %v", v, out.Candidates)
			continue
		}
		if string(c.Type) != want.typ || c.Status != want.status {
			t.Errorf("%s: %s %s, want %s %s", v, c.Type, c.Status, want.typ, want.status)
		}
	}
	if _, ok := got["invoice.pdf.exe"]; ok {
		t.Errorf("a file name was taken for a domain")
	}
	if len(got["evil-phish.duckdns.org"].Warninglists) == 0 {
		t.Errorf("the dynamic-DNS host carries no flag in the preview")
	}
	if !out.Preview || countIndicators(t, h) != 0 {
		t.Fatalf("preview stored something (preview=%v, %d stored)", out.Preview, countIndicators(t, h))
	}
	// Import, leaving out the e-mail address.
	r = h.Do("POST", "/api/v1/import/text", ka, map[string]any{"text": text, "tlp": "green", "labels": []string{"malware"}, "exclude": []string{"billing@badhost-example.org"}})
	if r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &out)
	stored := 0
	for _, c := range out.Candidates {
		switch c.Status {
		case "created":
			stored++
			if c.ID == "" {
				t.Errorf("%s created without an id", c.Value)
			}
		case "excluded", "refused":
		default:
			t.Errorf("%s: status %s after import", c.Value, c.Status)
		}
	}
	if stored != 5 || countIndicators(t, h) != 5 {
		t.Errorf("%d created, %d stored; want 5 (url, address, md5, e-mail of the sender, flagged host)", stored, countIndicators(t, h))
	}
	// A second preview knows them.
	r = h.Do("POST", "/api/v1/import/text?preview=true", ka, map[string]any{"text": text})
	r.JSON(t, &out)
	for _, c := range out.Candidates {
		if c.Value == "185.220.101.45" && c.Status != "known" {
			t.Errorf("a stored value previewed again: %s, want known", c.Status)
		}
	}
	// Bad input.
	for _, bad := range []struct {
		body   any
		key    string
		status int
	}{
		{map[string]any{"text": ""}, ka, 400},
		{map[string]any{"txt": "x"}, ka, 400},
		{`{"text": 5}`, ka, 400},
		{map[string]any{"text": "1.2.3.4"}, h.Key(a, policy.Sensor), 403},
		{map[string]any{"text": strings.Repeat("a", 5<<20)}, ka, 400},
	} {
		if r := h.Do("POST", "/api/v1/import/text", bad.key, bad.body); r.Status != bad.status {
			t.Errorf("bad import %.60v: %d %s, want %d", bad.body, r.Status, r.Body, bad.status)
		}
	}
}

// TestMISPSearchByValueWithoutKnownTLD: a MISP search by a host under a
// top-level domain detection does not know still finds it (and through the
// value index, not a scan).
func TestMISPSearchByValueWithoutKnownTLD(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	key := h.Key(h.Org("Hospital A", policy.Member, ""), policy.Analyst)
	submit(t, h, key, map[string]any{"type": "domain", "value": "c2.lab.internaltest"}, map[string]any{"type": "domain", "value": "other.lab.internaltest"})
	r := h.DoWith("POST", "/attributes/restSearch", map[string]string{"Authorization": key}, `{"value": "C2.lab.internaltest", "returnFormat": "text"}`)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "c2.lab.internaltest" {
		t.Errorf("search by value: %d %q", r.Status, r.Body)
	}
}
