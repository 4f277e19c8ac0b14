package api

// Fuzz targets for what the server parses from outside beyond the JSON
// decoders of decode_test.go and misp_test.go: TAXII query parameters, TAXII
// envelopes (POST objects), STIX bundles (POST /api/v1/import/stix) and
// native submissions (POST /api/v1/indicators), the last three end to end
// through the handlers into a real SQLite store. docs/FUZZING.md says how to
// run them for hours.

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// FuzzTAXIIQuery feeds raw query strings to the TAXII objects and manifest
// filter parser. A refused query is a TAXII 400 with a description; an
// accepted one keeps its bounds, and written back as a query it parses to
// the same filter (accepted values round-trip).
func FuzzTAXIIQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10", "limit=0", "limit=-1", "limit=100000", "next=42", "next=-3", "next=x",
		"added_after=2026-01-02T15:04:05.123456Z", "added_after=2026-01-02", "added_after=%27%20OR%201=1--",
		"match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f,marking-definition--x",
		"match%5Btype%5D=indicator&match[type]=marking-definition", "match[version]=first", "match[version]=all,last",
		"match[version]=2026-01-01T00:00:00Z", "match[version]=%7B%7B.%7D%7D", "match[spec_version]=2.0,2.1",
		"match[spec_version]=", "limit=5&next=-11&match[type]=,,&added_after=1970-01-01T00:00:00Z", "%zz=1&limit=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/taxii2/hdn/collections/x/objects/", RawQuery: raw}}
		q, err := parseTAXIIQuery(r)
		if err != nil {
			te, ok := err.(*taxiiError)
			if !ok || te.status != http.StatusBadRequest || te.description == "" {
				t.Fatalf("%q: refused with %#v, want a TAXII 400 with a description", raw, err)
			}
			return
		}
		if q.limit < 1 || q.limit > taxiiMaxPageLimit {
			t.Fatalf("%q: limit %d out of bounds", raw, q.limit)
		}
		for _, it := range taxiiFixed {
			if q.admits(&it) && !q.specOK {
				t.Fatalf("%q: admits %s though spec_version excludes 2.1", raw, it.id)
			}
		}
		// Written back, the filter parses to itself.
		back := url.Values{}
		back.Set("limit", strconv.Itoa(q.limit))
		if q.after != math.MinInt64 {
			back.Set("next", strconv.FormatInt(q.after, 10))
		}
		if !q.addedAfter.IsZero() {
			back.Set("added_after", q.addedAfter.Format(time.RFC3339Nano))
		}
		setList := func(name string, m map[string]bool) {
			if m == nil {
				return
			}
			var vs []string
			for v := range m {
				vs = append(vs, v)
			}
			back[name] = []string{strings.Join(vs, ",")}
		}
		setList("match[id]", q.ids)
		setList("match[type]", q.types)
		if !q.anyVersion || q.versions != nil {
			var vs []string
			for _, v := range q.versions {
				vs = append(vs, v.Format(time.RFC3339Nano))
			}
			if q.anyVersion {
				vs = append(vs, "last")
			}
			back["match[version]"] = []string{strings.Join(vs, ",")}
		}
		if !q.specOK {
			back.Set("match[spec_version]", "2.0")
		}
		r2 := &http.Request{Method: "GET", URL: &url.URL{Path: r.URL.Path, RawQuery: back.Encode()}}
		q2, err := parseTAXIIQuery(r2)
		if err != nil {
			t.Fatalf("%q: accepted, but written back as %q refused: %v", raw, back.Encode(), err)
		}
		if len(q.ids) == 0 && q.ids != nil {
			q.ids = nil // an empty list written back is no list
			if q2.ids != nil && len(q2.ids) == 0 {
				q2.ids = nil
			}
		}
		if len(q.types) == 0 && q.types != nil {
			q.types = nil
			if q2.types != nil && len(q2.types) == 0 {
				q2.types = nil
			}
		}
		if !reflect.DeepEqual(q, q2) {
			t.Fatalf("%q: parsed %+v, written back as %q parsed %+v", raw, q, back.Encode(), q2)
		}
	})
}

// fuzzServer is a Server on a fresh SQLite store with the shipped
// warninglists, and the Bearer key of an analyst of a member organisation.
func fuzzServer(f *testing.F) (*Server, string, func() int64) {
	f.Helper()
	st, err := sqlite.Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(context.Background(), model.Org{Name: "hospital-a", Kind: policy.Member})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := st.CreateOrg(context.Background(), model.Org{Name: "hospital-b", Kind: policy.Member}); err != nil {
		f.Fatal(err)
	}
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(context.Background(), model.Key{ID: id, OrgID: org.ID, Role: policy.Analyst, Hash: hash, Created: time.Now()}); err != nil {
		f.Fatal(err)
	}
	wl, err := warninglist.Default()
	if err != nil {
		f.Fatal(err)
	}
	// Small limits, so that the fuzzer reaches them.
	s := New(Config{Store: st, Warninglists: wl, Limits: Limits{MaxBodyBytes: 1 << 20, MaxItems: 50, MaxPageSize: 100, RateLimit: -1}})
	lastSeq := func() int64 {
		n, err := st.LastSeq(context.Background())
		if err != nil {
			panic(err)
		}
		return n
	}
	return s, plain, lastSeq
}

// nativeError decodes the native error envelope; ok is false when the body
// is not one.
func nativeError(b []byte) (code, message string, ok bool) {
	var e struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error == nil {
		return "", "", false
	}
	return e.Error.Code, e.Error.Message, e.Error.Code != "" && e.Error.Message != ""
}

// countObjects is the number of members of the "objects" array of a
// document, or -1 when it has none.
func countObjects(b []byte) int {
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if json.Unmarshal(b, &env) != nil || env.Objects == nil {
		return -1
	}
	return len(env.Objects)
}

// stixSeeds are STIX documents to start from: the repository's golden
// bundles and a few hand-made ones.
func stixSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, glob := range []string{"../iocfile/testdata/golden/*.stix.json", "../stix/testdata/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			// Small ones only: every new input is minimised, which is slow
			// for large ones when each run writes to SQLite.
			if b, err := os.ReadFile(p); err == nil && len(b) < 4<<10 {
				out = append(out, b)
			}
		}
	}
	ind := func(id, pattern, extra string) string {
		return `{"type":"indicator","spec_version":"2.1","id":"indicator--` + id + `","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":` + strconv.Quote(pattern) + `,"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"` + extra + `}`
	}
	for _, s := range []string{
		`{"type":"bundle","id":"bundle--1","objects":[` + ind("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "[domain-name:value = 'evil-fuzz.example-hdn.net']", "") + `]}`,
		`{"objects":[` + ind("0b1f8b3c-6a43-4d3a-9a0e-4c6f1f9e2a11", "[ipv4-addr:value = '10.0.0.1'] OR [url:value = 'http://evil-fuzz.example-hdn.net/a']", `,"object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]`) + `]}`,
		`{"objects":[` + ind("3a1f8b3c-6a43-4d3a-9a0e-4c6f1f9e2a11", "[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']", `,"revoked":true`) + `,{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"x","is_family":true}]}`,
		`{"objects":[{"type":"report","spec_version":"2.1","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"r","published":"2026-01-01T00:00:00Z","object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"],"object_marking_refs":["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]}]}`,
		`{"objects":[1,"x",null,{},{"type":"indicator"},{"id":"indicator--x"}]}`,
		`{"objects":{}}`, `{"type":"indicator"}`, `[]`, `{"objects":[`, "{\"objects\":[\"\xff\"]}",
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzTAXIIPost posts envelopes to the TAXII server's objects endpoint. The
// answer is never a 5xx; a refusal is TAXII's error shape and stores
// nothing; an acceptance is a complete status resource that accounts for
// every object of the envelope.
func FuzzTAXIIPost(f *testing.F) {
	for _, b := range stixSeeds(f) {
		f.Add(b, true)
	}
	f.Add([]byte(`{"objects":[]}`), false)
	s, key, lastSeq := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, taxiiType bool) {
		ct := "application/json"
		if taxiiType {
			ct = "application/taxii+json;version=2.1"
		}
		req := httptest.NewRequest("POST", "/taxii2/hdn/collections/"+taxiiCollectionID+"/objects/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", ct)
		before := lastSeq()
		w := httptest.NewRecorder()
		s.TAXII().ServeHTTP(w, req)
		if got := w.Header().Get("Content-Type"); got != taxiiMediaType {
			t.Fatalf("Content-Type %q", got)
		}
		if !taxiiType && w.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("a body sent as application/json got %d, want 415", w.Code)
		}
		switch w.Code {
		case http.StatusAccepted:
			var st taxiiStatus
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatalf("202 without a status resource: %v", err)
			}
			n := countObjects(body)
			if st.Status != "complete" || st.TotalCount != n || st.SuccessCount+st.FailureCount != n ||
				len(st.Successes) != st.SuccessCount || len(st.Failures) != st.FailureCount || st.PendingCount != 0 {
				t.Fatalf("status %+v for an envelope of %d objects", st, n)
			}
			for _, d := range append(st.Successes, st.Failures...) {
				if d.ID == "" {
					t.Fatalf("a status detail without an id: %+v", st)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var e taxiiErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Title == "" || e.Description == "" || e.HTTPStatus != strconv.Itoa(w.Code) {
				t.Fatalf("%d with body %q", w.Code, w.Body.Bytes())
			}
			if after := lastSeq(); after != before {
				t.Fatalf("a refused envelope (%d) stored changes %d..%d", w.Code, before, after)
			}
		default:
			t.Fatalf("status %d: %q", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzImportSTIXBundle posts documents to POST /api/v1/import/stix: never a
// 5xx; a refusal is the native error envelope and stores nothing; an
// acceptance accounts for every object.
func FuzzImportSTIXBundle(f *testing.F) {
	for _, b := range stixSeeds(f) {
		f.Add(b, "")
	}
	f.Add([]byte(`{"type":"bundle","objects":[]}`), "tlp=red")
	f.Add([]byte(`{"type":"bundle","objects":[]}`), "tlp=red&orgs=hospital-b")
	f.Add([]byte(`{"type":"bundle","objects":[]}`), "group=x&orgs=y")
	s, key, lastSeq := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		req := httptest.NewRequest("POST", "/api/v1/import/stix", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		before := lastSeq()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
			var res STIXImportResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatalf("200 without a result: %v", err)
			}
			if n := countObjects(body); len(res.Successes)+len(res.Failures) != n {
				t.Fatalf("%d successes and %d failures for %d objects", len(res.Successes), len(res.Failures), n)
			}
			if res.Created < 0 || res.Updated < 0 || res.Patterns > res.Created+res.Updated {
				t.Fatalf("counts %+v", res)
			}
		case w.Code >= 400 && w.Code < 500:
			if _, _, ok := nativeError(w.Body.Bytes()); !ok {
				t.Fatalf("%d without the error envelope: %q", w.Code, w.Body.Bytes())
			}
			if after := lastSeq(); after != before {
				t.Fatalf("a refused import (%d) stored changes %d..%d", w.Code, before, after)
			}
		default:
			t.Fatalf("status %d: %q", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzSubmitIndicators posts documents to POST /api/v1/indicators, atomic
// or not. Never a 5xx; a refusal is the error envelope and stores nothing
// (a 422 too); an acceptance has one result per item, and every stored value
// is canonical: canonicalising it again gives it back.
func FuzzSubmitIndicators(f *testing.F) {
	for _, s := range []string{
		`{"indicators": [{"value": "login-micros0ft-health[.]com", "tlp": "amber", "labels": ["phishing"], "confidence": 80}]}`,
		`{"indicators": [{"type": "sha256", "value": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}, {"value": "10.0.0.1"}]}`,
		`{"indicators": [{"value": "hxxps://Evil.Example-hdn.NET:443/a/../b?x=1#f", "tlp": "red", "audience": {"orgs": ["hospital-b"]}}]}`,
		`{"indicators": [{"value": "2001:db8::/7", "type": "cidr"}, {"value": "::ffff:203.0.113.9"}, {"value": "co.uk", "type": "domain"}]}`,
		`{"indicators": [{"value": 1}, {"colour": 2}, {"value": "a@b[.]example-hdn.net", "valid_until": "2020-01-01T00:00:00Z"}]}`,
		`{"indicators": [{"value": "bücher.example-hdn.net", "tags": ["x"], "description": "d", "anonymous": true}]}`,
		`{"indicators": [`, `{}`, `[]`, `{"indicators": []} {}`, "{\"indicators\": [{\"value\": \"\xff\"}]}",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	s, key, lastSeq := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, atomic bool) {
		path := "/api/v1/indicators"
		if atomic {
			path += "?atomic=true"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		before := lastSeq()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		var out struct {
			Results []ItemResult `json:"results"`
		}
		switch {
		case w.Code == http.StatusOK:
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("200 without results: %v", err)
			}
			stored := 0
			for i, r := range out.Results {
				if r.Index != i {
					t.Fatalf("result %d has index %d", i, r.Index)
				}
				switch r.Status {
				case "created", "updated":
					stored++
					if r.ID == "" {
						t.Fatalf("stored without an id: %+v", r)
					}
					if again, err := indicator.Canonicalize(indicator.Type(r.Type), r.Value); err != nil || again != r.Value {
						t.Fatalf("stored %s %q is not canonical: again %q, %v", r.Type, r.Value, again, err)
					}
				case "rejected":
					if r.Error == nil || r.Error.Code == "" || r.Error.Message == "" {
						t.Fatalf("rejected without a reason: %+v", r)
					}
				default:
					t.Fatalf("result status %q", r.Status)
				}
				if atomic && r.Status == "rejected" {
					t.Fatalf("an atomic request with a rejected item answered 200")
				}
			}
			if stored == 0 && lastSeq() != before {
				t.Fatalf("nothing stored, but the change sequence moved")
			}
		case w.Code >= 400 && w.Code < 500:
			if _, _, ok := nativeError(w.Body.Bytes()); !ok {
				t.Fatalf("%d without the error envelope: %q", w.Code, w.Body.Bytes())
			}
			if w.Code == http.StatusUnprocessableEntity && !atomic {
				t.Fatalf("422 for a request that is not atomic")
			}
			if after := lastSeq(); after != before {
				t.Fatalf("a refused submission (%d) stored changes %d..%d", w.Code, before, after)
			}
		default:
			t.Fatalf("status %d: %q", w.Code, w.Body.Bytes())
		}
	})
}
