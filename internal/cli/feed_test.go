package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/taxiiclient"
)

const hdnCollection = "74141eb7-8275-54de-ae20-ecc45829b793"

// twoCollections is a small TAXII server with one API root holding two
// readable collections of the same title, and one that cannot be read.
func twoCollections(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxiiclient.MediaType)
		switch r.URL.Path {
		case "/taxii2/":
			fmt.Fprint(w, `{"title":"fixture","api_roots":["/api1/"]}`)
		case "/api1/collections/":
			fmt.Fprint(w, `{"collections":[
				{"id":"c-one","title":"Indicators","alias":"one","can_read":true,"can_write":false},
				{"id":"c-two","title":"Indicators","alias":"two","can_read":true,"can_write":false},
				{"id":"c-secret","title":"Secret","can_read":false,"can_write":false}]}`)
		case "/api2/collections/":
			fmt.Fprint(w, `{"collections":[
				{"id":"c-closed","title":"Closed","can_read":false,"can_write":true},
				{"id":"c-open","title":"Open","can_read":true,"can_write":false}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title":"Not Found","http_status":"404"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAdminFeedAddTAXII adds taxii feeds against a live hub's TAXII
// server: by discovery URL and alias (Basic, the key read from a file), by
// API root (Bearer), by collection URL, and without contacting the server;
// an ambiguous or unknown collection is refused with the list; the secret
// is never printed, listed or audited, but is stored for the hub.
func TestAdminFeedAddTAXII(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	key := h.Key(h.Org("z-cert-reader", policy.Coordinator, ""), policy.ReadOnly)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator"},
		{"admin", "org", "create", "--data", dir, "--name", "hospital-b", "--kind", "member"},
	} {
		if code, _, stderr := run(t, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	wantURL := h.URL + "/taxii2/hdn/collections/" + hdnCollection + "/"

	// Discovery URL, the collection by alias, Basic with the key from a file.
	code, out, stderr := run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", h.URL+"/taxii2/",
		"--collection", "indicators", "--user", "sector-cert", "--password-file", keyFile, "--org", "sector-cert",
		"--tlp", "amber", "--audience", "orgs:sector-cert,hospital-b", "--interval", "15m", "--name", "peer-hub")
	if code != 0 {
		t.Fatalf("feed add by discovery URL and alias: %d %s", code, stderr)
	}
	var f feedJSON
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Kind != "taxii" || f.URL != wantURL || f.Collection != hdnCollection ||
		f.Auth != "basic" || f.User != "sector-cert" || !f.HasSecret || f.TLP != policy.Amber || f.AudienceName != "orgs:sector-cert,hospital-b" {
		t.Fatalf("feed add printed %s (%v)", out, err)
	}
	if strings.Contains(out+stderr, key) {
		t.Fatalf("feed add printed the key: %s", out)
	}
	// The database files, which now hold a credential, are the owner's only.
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	// The hub reads the secret back from the store.
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Feed(context.Background(), "peer-hub")
	st.Close()
	if err != nil || stored.Secret != key || stored.Audience.Kind != policy.Orgs || len(stored.Audience.Orgs) != 2 {
		t.Fatalf("stored feed: %+v, %v", stored.Collection, err)
	}

	// A refused credential is said to be one, by discovery URL and by API
	// root.
	for _, u := range []string{h.URL + "/taxii2/", h.URL + "/taxii2/hdn/"} {
		code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", u,
			"--collection", "indicators", "--key", "hdn_wrong_key", "--org", "sector-cert", "--name", "refused")
		if code == 0 || !strings.Contains(stderr, "refused the credential (401") {
			t.Errorf("feed add %s with a wrong key: %d %s; want the refusal named", u, code, stderr)
		}
	}
	// The API root without --collection: the hub serves more than one
	// readable collection (indicators, context), so it asks which.
	code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", h.URL+"/taxii2/hdn/",
		"--key", key, "--org", "sector-cert", "--name", "by-root")
	if code == 0 || !strings.Contains(stderr, "readable collections; choose one with --collection") || !strings.Contains(stderr, hdnCollection+" alias indicators") {
		t.Errorf("feed add by API root, no --collection: %d %s", code, stderr)
	}
	// The API root and the collection's id, a Bearer key.
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", h.URL+"/taxii2/hdn/",
		"--collection", hdnCollection, "--key", key, "--org", "sector-cert", "--name", "by-root")
	if code != 0 || !strings.Contains(out, `"auth": "bearer"`) || !strings.Contains(out, wantURL) || strings.Contains(out, key) {
		t.Fatalf("feed add by API root: %d %s %s", code, out, stderr)
	}
	// The collection URL itself, default name.
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", wantURL,
		"--key-file", keyFile, "--org", "sector-cert")
	if code != 0 || !strings.Contains(out, `"collection": "`+hdnCollection+`"`) {
		t.Fatalf("feed add by collection URL: %d %s %s", code, out, stderr)
	}
	// Without contacting the server.
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--no-check",
		"--url", "https://taxii.invalid/api1/collections/abc-123/", "--org", "sector-cert", "--audience", "network")
	if code != 0 || !strings.Contains(out, `"collection": "abc-123"`) || !strings.Contains(out, `"credential": false`) || !strings.Contains(out, `"tlp": "amber"`) {
		t.Fatalf("feed add --no-check: %d %s %s", code, out, stderr)
	}

	// Ambiguity and unknown collections, with the list of what there is.
	fx := twoCollections(t)
	code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/taxii2/", "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "2 readable collections") || !strings.Contains(stderr, "c-one") || !strings.Contains(stderr, "c-two") ||
		!strings.Contains(stderr, "--collection") {
		t.Errorf("two readable collections, no --collection: %d %s", code, stderr)
	}
	code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/taxii2/", "--collection", "indicators", "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "ambiguous") || !strings.Contains(stderr, "c-one") || !strings.Contains(stderr, "c-two") {
		t.Errorf("--collection matching two titles: %d %s", code, stderr)
	}
	code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/taxii2/", "--collection", "nope", "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "c-secret") {
		t.Errorf("unknown --collection: %d %s", code, stderr)
	}
	code, _, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/taxii2/", "--collection", "Secret", "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "not readable") {
		t.Errorf("unreadable collection: %d %s", code, stderr)
	}
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/taxii2/", "--collection", "TWO", "--org", "sector-cert")
	if code != 0 || !strings.Contains(out, fx.URL+"/api1/collections/c-two/") {
		t.Errorf("--collection by alias (other case): %d %s %s", code, out, stderr)
	}

	// An API root with one readable collection: that one.
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", fx.URL+"/api2/", "--org", "sector-cert")
	if code != 0 || !strings.Contains(out, fx.URL+"/api2/collections/c-open/") {
		t.Errorf("the only readable collection: %d %s %s", code, out, stderr)
	}

	// A wrong key is refused at add time; the key is in no message.
	const wrong = "hdn_wrongwrongwrongwrong"
	code, out, stderr = run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", h.URL+"/taxii2/", "--key", wrong, "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "401") || strings.Contains(out+stderr, wrong) {
		t.Errorf("wrong key: %d %s %s", code, out, stderr)
	}

	for _, bad := range [][]string{
		{"--kind", "taxii", "--url", "/some/dir"},                                   // not http(s)
		{"--kind", "taxii", "--url", "https://u:p@taxii.invalid/c/collections/x/"},  // credentials in the URL
		{"--kind", "taxii", "--no-check", "--url", "https://taxii.invalid/taxii2/"}, // --no-check needs a collection URL
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--key", "k", "--password", "p"},
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--user", "u"},                      // a user without a password
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--audience", "group:nobody"},       // unknown group
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--audience", "orgs:nobody"},        // unknown organisation
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--tlp", "red"},                     // red to the whole network
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--interval", "30s"},                // too often
		{"--kind", "taxii", "--no-check", "--url", wantURL, "--password-file", "/no/such/file"}, // unreadable secret
		{"--kind", "misp", "--url", "https://feeds.example.org/misp/", "--collection", "x"},     // a taxii flag on a misp feed
		{"--kind", "stix", "--url", "https://feeds.example.org/"},                               // unknown kind
	} {
		args := append([]string{"admin", "feed", "add", "--data", dir, "--org", "sector-cert"}, bad...)
		if code, out, stderr := run(t, args...); code == 0 {
			t.Errorf("%v succeeded: %s", bad, out)
		} else if strings.Contains(stderr, "--password p") {
			t.Errorf("%v: the error quotes the secret: %s", bad, stderr)
		}
	}

	// The listing shows the taxii fields and never a secret; the audit log
	// neither.
	_, out, _ = run(t, "admin", "feed", "list", "--data", dir)
	var fs []feedJSON
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) != 6 {
		t.Fatalf("feed list: %s %v", out, err)
	}
	if strings.Contains(out, key) {
		t.Fatal("feed list shows a key")
	}
	for _, f := range fs {
		if f.Name == "peer-hub" && (f.Collection != hdnCollection || f.User != "sector-cert" || !f.HasSecret || f.AudienceName != "orgs:sector-cert,hospital-b") {
			t.Errorf("peer-hub listed as %+v", f)
		}
	}
	_, out, _ = run(t, "admin", "feed", "disable", "--data", dir, "--name", "peer-hub")
	if strings.Contains(out, key) || !strings.Contains(out, `"audience": "orgs:sector-cert,hospital-b"`) {
		t.Errorf("feed disable printed %s", out)
	}
	_, out, _ = run(t, "admin", "audit", "list", "--data", dir)
	if !strings.Contains(out, "feed.create") || strings.Contains(out, key) {
		t.Errorf("audit list: %s", out)
	}
}

// TestAdminFeedAddRefusesAnotherOriginsRoot: a discovery answer naming an
// API root on another origin is not followed: the credential is not sent
// there, and the operator is told to give that root as --url if trusted.
func TestAdminFeedAddRefusesAnotherOriginsRoot(t *testing.T) {
	var asked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer elsewhere.Close()
	discovery := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxiiclient.MediaType)
		fmt.Fprintf(w, `{"title":"fixture","default":%q}`, elsewhere.URL+"/api/")
	}))
	defer discovery.Close()
	dir := t.TempDir()
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "sector-cert", "--kind", "coordinator"); code != 0 {
		t.Fatal(stderr)
	}
	code, _, stderr := run(t, "admin", "feed", "add", "--data", dir, "--kind", "taxii", "--url", discovery.URL+"/taxii2/",
		"--key", "feed-credential", "--org", "sector-cert")
	if code == 0 || !strings.Contains(stderr, "another origin") || !strings.Contains(stderr, "give that API root as --url") {
		t.Errorf("a discovery naming another origin's root: %d %s", code, stderr)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the other origin was asked %d times", n)
	}
}
