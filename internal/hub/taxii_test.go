package hub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

const (
	taxiiMedia      = "application/taxii+json;version=2.1"
	taxiiCollection = "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793/"
	// taxiiContextCollection holds the STIX objects hdn keeps unmodelled.
	taxiiContextCollection = "/taxii2/hdn/collections/7b8e8a6a-9c8c-51cc-b5c9-00e85aeb6bbe/"
	taxiiFixedCount        = 10 // 4 TLP 1.0 + 5 TLP 2.0 marking definitions + the TLP 2.0 extension-definition
)

// taxiiCall calls the TAXII server as a TAXII client does: Bearer key,
// TAXII media type accepted and sent.
func taxiiCall(h *hubtest.Hub, method, path, key string, body any) hubtest.Response {
	h.T.Helper()
	hdr := map[string]string{"Accept": taxiiMedia}
	if key != "" {
		hdr["Authorization"] = "Bearer " + key
	}
	if body != nil {
		hdr["Content-Type"] = taxiiMedia
	}
	return h.DoWith(method, path, hdr, body)
}

type taxiiEnvelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

type taxiiObj struct {
	Type              string   `json:"type"`
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Modified          string   `json:"modified"`
	Revoked           bool     `json:"revoked"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
}

type taxiiStatusResp struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	TotalCount   int    `json:"total_count"`
	SuccessCount int    `json:"success_count"`
	Successes    []struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Message string `json:"message"`
	} `json:"successes"`
	FailureCount int `json:"failure_count"`
	Failures     []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"failures"`
	PendingCount *int `json:"pending_count"`
}

func objectsOf(t *testing.T, r hubtest.Response) (taxiiEnvelope, []taxiiObj) {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("objects: %d %s", r.Status, r.Body)
	}
	var env taxiiEnvelope
	r.JSON(t, &env)
	objs := make([]taxiiObj, len(env.Objects))
	for i, raw := range env.Objects {
		if err := json.Unmarshal(raw, &objs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return env, objs
}

// wantTAXIIError checks status, media type and TAXII's error shape.
func wantTAXIIError(t *testing.T, what string, r hubtest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d (%s)", what, r.Status, status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != taxiiMedia {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	var e map[string]any
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Errorf("%s: body %q: %v", what, r.Body, err)
		return
	}
	if e["title"] == nil || e["title"] == "" || e["http_status"] != fmt.Sprint(status) {
		t.Errorf("%s: error body %s is not TAXII's shape with http_status %q", what, r.Body, fmt.Sprint(status))
	}
	if _, ok := e["description"].(string); !ok {
		t.Errorf("%s: error body %s has no description", what, r.Body)
	}
}

func envelopeBody(objs ...string) string {
	return `{"objects":[` + strings.Join(objs, ",") + `]}`
}

func stixIndicatorJSON(id, value string, markings ...string) string {
	refs := ""
	if len(markings) > 0 {
		b, _ := json.Marshal(markings)
		refs = `,"object_marking_refs":` + string(b)
	}
	return `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-02T00:00:00.000Z",` +
		`"name":"test","pattern":"[domain-name:value = '` + value + `']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","labels":["phishing"]` + refs + `}`
}

func TestTAXIIConformance(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{MaxBodyBytes: 64 << 10}, Warninglists: wl})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	keyC, keyA, keyAro, keyB := h.Key(coord, policy.Analyst), h.Key(a, policy.Analyst), h.Key(a, policy.ReadOnly), h.Key(b, policy.Analyst)

	t.Run("auth", func(t *testing.T) {
		r := h.DoWith("GET", "/taxii2/", map[string]string{"Accept": taxiiMedia}, nil)
		wantTAXIIError(t, "no key", r, 401)
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="hdn"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
		wantTAXIIError(t, "wrong bearer", taxiiCall(h, "GET", "/taxii2/", "hdn_nokey", nil), 401)
		basic := func(user, pw string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
		}
		for name, hdr := range map[string]string{
			"basic":         basic("anyone", keyA),
			"basic no user": basic("", keyA),
			"bearer":        "Bearer " + keyA,
		} {
			r := h.DoWith("GET", "/taxii2/", map[string]string{"Accept": taxiiMedia, "Authorization": hdr}, nil)
			if r.Status != 200 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		for name, hdr := range map[string]string{
			"basic wrong password": basic(keyA, "nope"),
			"basic not base64":     "Basic ***",
			"basic no colon":       "Basic " + base64.StdEncoding.EncodeToString([]byte(keyA)),
			"raw key":              keyA,
		} {
			wantTAXIIError(t, name, h.DoWith("GET", "/taxii2/", map[string]string{"Accept": taxiiMedia, "Authorization": hdr}, nil), 401)
		}
	})

	t.Run("accept", func(t *testing.T) {
		for accept, want := range map[string]int{
			taxiiMedia:               200,
			"application/taxii+json": 200,
			"*/*":                    200,
			"":                       200,
			"application/json, application/taxii+json":   200,
			"application/json":                           406,
			"application/taxii+json;version=2.0":         406,
			"application/stix+json;version=2.1":          406,
			"text/html, application/taxii+json;q=0":      406,
			"application/taxii+json; version=2.1; q=0.9": 200,
		} {
			hdr := map[string]string{"Authorization": "Bearer " + keyA}
			if accept != "" {
				hdr["Accept"] = accept
			}
			r := h.DoWith("GET", "/taxii2/hdn/", hdr, nil)
			if want == 200 && (r.Status != 200 || r.Header.Get("Content-Type") != taxiiMedia) {
				t.Errorf("Accept %q: %d %q", accept, r.Status, r.Header.Get("Content-Type"))
			}
			if want != 200 {
				wantTAXIIError(t, "Accept "+accept, r, want)
			}
		}
	})

	t.Run("discovery and api root", func(t *testing.T) {
		var d struct {
			Title, Description, Default string
			APIRoots                    []string `json:"api_roots"`
		}
		r := taxiiCall(h, "GET", "/taxii2/", keyA, nil)
		r.JSON(t, &d)
		if d.Title == "" || d.Default != "/taxii2/hdn/" || len(d.APIRoots) != 1 || d.APIRoots[0] != "/taxii2/hdn/" {
			t.Errorf("discovery %s", r.Body)
		}
		var root struct {
			Title            string
			Versions         []string
			MaxContentLength int64 `json:"max_content_length"`
		}
		r = taxiiCall(h, "GET", "/taxii2/hdn/", keyA, nil)
		r.JSON(t, &root)
		if root.Title == "" || len(root.Versions) != 1 || root.Versions[0] != taxiiMedia || root.MaxContentLength != 64<<10 {
			t.Errorf("api root %s", r.Body)
		}
	})

	t.Run("collections", func(t *testing.T) {
		type coll struct {
			ID         string
			Title      string
			CanRead    bool     `json:"can_read"`
			CanWrite   bool     `json:"can_write"`
			MediaTypes []string `json:"media_types"`
		}
		for key, canWrite := range map[string]bool{keyA: true, keyAro: false} {
			var cs struct{ Collections []coll }
			taxiiCall(h, "GET", "/taxii2/hdn/collections/", key, nil).JSON(t, &cs)
			if len(cs.Collections) != 2 || cs.Collections[1].Title != "Context" || !cs.Collections[1].CanRead || cs.Collections[1].CanWrite != canWrite || !cs.Collections[0].CanRead || cs.Collections[0].CanWrite != canWrite ||
				cs.Collections[0].MediaTypes[0] != "application/stix+json;version=2.1" || "/taxii2/hdn/collections/"+cs.Collections[0].ID+"/" != taxiiCollection {
				t.Errorf("collections %+v (can_write want %v)", cs, canWrite)
			}
			var c coll
			taxiiCall(h, "GET", taxiiCollection, key, nil).JSON(t, &c)
			if c.ID != cs.Collections[0].ID || c.CanWrite != canWrite {
				t.Errorf("collection %+v", c)
			}
		}
		wantTAXIIError(t, "unknown collection", taxiiCall(h, "GET", "/taxii2/hdn/collections/nope/", keyA, nil), 404)
		wantTAXIIError(t, "unknown collection objects", taxiiCall(h, "GET", "/taxii2/hdn/collections/nope/objects/", keyA, nil), 404)
		wantTAXIIError(t, "unknown path", taxiiCall(h, "GET", "/taxii2/hdn/nothing/", keyA, nil), 404)
		r := taxiiCall(h, "PUT", taxiiCollection+"objects/", keyA, envelopeBody())
		wantTAXIIError(t, "PUT objects", r, 405)
		if r.Header.Get("Allow") != "GET, POST" {
			t.Errorf("Allow %q", r.Header.Get("Allow"))
		}
	})

	// POST, status, round trip.
	green2 := "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	idGreen := "indicator--11111111-1111-4111-8111-111111111111"
	idPlain := "indicator--22222222-2222-4222-8222-222222222222"
	idRefused := "indicator--33333333-3333-4333-8333-333333333333"
	idOwnMarking := "indicator--44444444-4444-4444-8444-444444444444"
	idRed := "indicator--77777777-7777-4777-8777-777777777777" // red needs a named audience, which TAXII cannot give
	// A marking definition the envelope defines itself, TLP 2.0-shaped.
	ownMarking := `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--55555555-5555-4555-8555-555555555555","created":"2022-10-01T00:00:00.000Z","name":"ours","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}`
	var status taxiiStatusResp
	t.Run("post", func(t *testing.T) {
		body := envelopeBody(
			stixIndicatorJSON(idGreen, "evil-green.taxii-test.example", green2),
			stixIndicatorJSON(idPlain, "evil-plain.taxii-test.example"),
			stixIndicatorJSON(idRefused, "google.com"),
			stixIndicatorJSON(idOwnMarking, "evil-strict.taxii-test.example", "marking-definition--55555555-5555-4555-8555-555555555555", green2),
			ownMarking,
			stixIndicatorJSON(idRed, "evil-red.taxii-test.example", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
			`{"type":"malware","spec_version":"2.1","id":"malware--66666666-6666-4666-8666-666666666666","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"x","is_family":true}`,
		)
		wantTAXIIError(t, "json content type", h.DoWith("POST", taxiiCollection+"objects/", map[string]string{"Authorization": "Bearer " + keyA, "Accept": taxiiMedia, "Content-Type": "application/json"}, body), 415)
		wantTAXIIError(t, "taxii 2.0 content type", h.DoWith("POST", taxiiCollection+"objects/", map[string]string{"Authorization": "Bearer " + keyA, "Accept": taxiiMedia, "Content-Type": "application/taxii+json;version=2.0"}, body), 415)
		wantTAXIIError(t, "too large", taxiiCall(h, "POST", taxiiCollection+"objects/", keyA, envelopeBody(`{"type":"note","x":"`+strings.Repeat("a", 70<<10)+`"}`)), 413)
		wantTAXIIError(t, "readonly key", taxiiCall(h, "POST", taxiiCollection+"objects/", keyAro, body), 403)
		wantTAXIIError(t, "not an envelope", taxiiCall(h, "POST", taxiiCollection+"objects/", keyA, `[1,2]`), 400)

		r := taxiiCall(h, "POST", taxiiCollection+"objects/", keyA, body)
		if r.Status != 202 || r.Header.Get("Content-Type") != taxiiMedia {
			t.Fatalf("post: %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		r.JSON(t, &status)
		if status.ID == "" || status.Status != "complete" || status.TotalCount != 7 || status.SuccessCount != 5 || status.FailureCount != 2 ||
			status.PendingCount == nil || *status.PendingCount != 0 || len(status.Successes) != 5 || len(status.Failures) != 2 {
			t.Fatalf("status %s", r.Body)
		}
		failed, succeeded := map[string]string{}, map[string]string{}
		for _, f := range status.Failures {
			failed[f.ID] = f.Message
		}
		for _, s := range status.Successes {
			succeeded[s.ID] = s.Message
		}
		if !strings.Contains(failed[idRefused], "google.com") || !strings.Contains(failed[idRed], "red") {
			t.Errorf("failures %+v", status.Failures)
		}
		// The malware is not modelled: it is kept as context, and served
		// back byte for byte from the context collection.
		if succeeded["malware--66666666-6666-4666-8666-666666666666"] != "kept as context" {
			t.Errorf("successes %+v", status.Successes)
		}
		for _, s := range status.Successes {
			if s.ID == idGreen && s.Version != "2026-01-02T00:00:00.000Z" || s.ID == idGreen && s.Message != "1 indicator value(s) stored" {
				t.Errorf("success %+v: version should be the object's modified", s)
			}
		}
		// The status resource: the posting organisation only.
		var again taxiiStatusResp
		r = taxiiCall(h, "GET", "/taxii2/hdn/status/"+status.ID+"/", keyAro, nil)
		r.JSON(t, &again)
		if r.Status != 200 || again.ID != status.ID || again.SuccessCount != 5 {
			t.Errorf("status get: %d %s", r.Status, r.Body)
		}
		wantTAXIIError(t, "status of another org", taxiiCall(h, "GET", "/taxii2/hdn/status/"+status.ID+"/", keyB, nil), 404)
		wantTAXIIError(t, "unknown status", taxiiCall(h, "GET", "/taxii2/hdn/status/nope/", keyA, nil), 404)

		// What was stored: TLP from the markings, amber by default, the
		// most restrictive of the envelope's own marking, source A.
		want := map[string]string{
			"evil-green.taxii-test.example":  "green",
			"evil-plain.taxii-test.example":  "amber",
			"evil-strict.taxii-test.example": "amber+strict",
		}
		for v, tlp := range want {
			var lr struct {
				Indicators []api.IndicatorJSON `json:"indicators"`
			}
			h.Do("GET", "/api/v1/indicators?value="+url.QueryEscape(v), keyA, nil).JSON(t, &lr)
			if len(lr.Indicators) != 1 || lr.Indicators[0].TLP != tlp || lr.Indicators[0].Source != "Hospital A" {
				t.Errorf("%s stored as %+v, want tlp %s from Hospital A", v, lr.Indicators, tlp)
			}
		}
	})

	// The object ids the hub gave the posted indicators.
	ids := map[string]string{}
	var all []taxiiObj
	t.Run("get objects", func(t *testing.T) {
		r := taxiiCall(h, "GET", taxiiCollection+"objects/", keyA, nil)
		env, objs := objectsOf(t, r)
		all = objs
		if env.More || env.Next != "" || len(objs) != taxiiFixedCount+3 {
			t.Fatalf("objects: more %v next %q, %d objects: %s", env.More, env.Next, len(objs), r.Body)
		}
		if r.Header.Get("X-TAXII-Date-Added-First") == "" || r.Header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Errorf("date added headers missing: %v", r.Header)
		}
		markings := map[string]bool{}
		for _, o := range objs {
			if o.Type == "marking-definition" {
				markings[o.ID] = true
			}
			if o.Type == "indicator" {
				ids[o.Name] = o.ID
			}
		}
		for _, o := range objs {
			for _, m := range o.ObjectMarkingRefs {
				if !markings[m] {
					t.Errorf("%s refers to %s, which is not in the collection", o.ID, m)
				}
			}
		}
		if len(ids) != 3 {
			t.Fatalf("indicators %v", ids)
		}
		// B, a member in the network audience, sees all three, amber+strict
		// included; the policy property test covers the rest of the rules.
		_, objsB := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/", keyB, nil))
		if len(objsB) != taxiiFixedCount+3 {
			t.Errorf("B sees %d objects", len(objsB))
		}
	})

	t.Run("filters", func(t *testing.T) {
		count := func(query string) int {
			t.Helper()
			_, objs := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/?"+query, keyA, nil))
			return len(objs)
		}
		green := ids["evil-green.taxii-test.example"]
		var greenObj taxiiObj
		for _, o := range all {
			if o.ID == green {
				greenObj = o
			}
		}
		sameVersion := 0 // objects made in the same millisecond share the version
		for _, o := range all {
			if o.Modified == greenObj.Modified {
				sameVersion++
			}
		}
		cases := map[string]int{
			"match[type]=indicator":                                                   3,
			"match[type]=marking-definition":                                          9,
			"match[type]=indicator,marking-definition":                                12,
			"match[type]=malware":                                                     0,
			"match[id]=" + green:                                                      1,
			"match[id]=" + green + "," + ids["evil-plain.taxii-test.example"]:         2,
			"match[id]=indicator--99999999-9999-4999-8999-999999999999":               0,
			"match[version]=last":                                                     taxiiFixedCount + 3,
			"match[version]=first":                                                    taxiiFixedCount + 3,
			"match[version]=all":                                                      taxiiFixedCount + 3,
			"match[version]=" + greenObj.Modified:                                     sameVersion,
			"match[version]=2001-01-01T00:00:00Z":                                     0,
			"match[spec_version]=2.1":                                                 taxiiFixedCount + 3,
			"match[spec_version]=2.0":                                                 0,
			"match[type]=indicator&match[id]=" + green + "&match[spec_version]=2.1":   1,
			"added_after=2025-01-01T00:00:00Z":                                        3,
			"added_after=2099-01-01T00:00:00Z":                                        0,
			"added_after=2020-01-01T00:00:00Z&match[type]=marking-definition":         5,
			"limit=2&match[type]=indicator":                                           2,
			"match[type]=indicator&limit=5000":                                        3,
			"match[id]=marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb":      1,
			"match[id]=extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":    1,
			"match[type]=extension-definition":                                        1,
			"unknown_param=1":                                                         taxiiFixedCount + 3,
			"added_after=" + url.QueryEscape(greenObj.Modified) + "&match[type]=url":  0,
			"match[version]=last,2001-01-01T00:00:00Z&match[type]=indicator":          3,
			"match[version]=2001-01-01T00:00:00Z," + greenObj.Modified + "&limit=100": sameVersion,
		}
		for q, want := range cases {
			if got := count(q); got != want {
				t.Errorf("%s: %d objects, want %d", q, got, want)
			}
		}
		for _, q := range []string{"limit=0", "limit=x", "next=abc", "added_after=yesterday", "match[version]=newest"} {
			wantTAXIIError(t, q, taxiiCall(h, "GET", taxiiCollection+"objects/?"+q, keyA, nil), 400)
		}
		// added_after with the last date added of a full read: nothing new.
		r := taxiiCall(h, "GET", taxiiCollection+"objects/", keyA, nil)
		last := r.Header.Get("X-TAXII-Date-Added-Last")
		if n := count("added_after=" + url.QueryEscape(last)); n != 0 {
			t.Errorf("added_after=%s (last date added): %d objects, want 0", last, n)
		}
	})

	t.Run("object, versions, manifest", func(t *testing.T) {
		green := ids["evil-green.taxii-test.example"]
		r := taxiiCall(h, "GET", taxiiCollection+"objects/"+green+"/", keyB, nil)
		env, objs := objectsOf(t, r)
		if env.More || len(objs) != 1 || objs[0].ID != green || r.Header.Get("X-TAXII-Date-Added-First") == "" {
			t.Errorf("object: %s", r.Body)
		}
		_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/"+green+"/?match[version]=2001-01-01T00:00:00Z", keyB, nil))
		if len(objs) != 0 {
			t.Errorf("object with another version: %d objects", len(objs))
		}
		wantTAXIIError(t, "unknown object", taxiiCall(h, "GET", taxiiCollection+"objects/indicator--99999999-9999-4999-8999-999999999999/", keyA, nil), 404)
		wantTAXIIError(t, "not an id", taxiiCall(h, "GET", taxiiCollection+"objects/nonsense/", keyA, nil), 404)

		var vs struct {
			More     bool
			Versions []string
		}
		r = taxiiCall(h, "GET", taxiiCollection+"objects/"+green+"/versions/", keyA, nil)
		r.JSON(t, &vs)
		if r.Status != 200 || vs.More || len(vs.Versions) != 1 || vs.Versions[0] != objs0Modified(all, green) {
			t.Errorf("versions: %d %s", r.Status, r.Body)
		}
		wantTAXIIError(t, "versions of unknown", taxiiCall(h, "GET", taxiiCollection+"objects/indicator--99999999-9999-4999-8999-999999999999/versions/", keyA, nil), 404)

		var man struct {
			More    bool
			Objects []struct {
				ID        string
				DateAdded string `json:"date_added"`
				Version   string
				MediaType string `json:"media_type"`
			}
		}
		r = taxiiCall(h, "GET", taxiiCollection+"manifest/?match[type]=indicator", keyA, nil)
		r.JSON(t, &man)
		if r.Status != 200 || len(man.Objects) != 3 || r.Header.Get("X-TAXII-Date-Added-Last") != man.Objects[2].DateAdded {
			t.Fatalf("manifest: %d %s", r.Status, r.Body)
		}
		for _, m := range man.Objects {
			if m.MediaType != "application/stix+json;version=2.1" || m.Version != objs0Modified(all, m.ID) || m.DateAdded == "" {
				t.Errorf("manifest entry %+v", m)
			}
		}
		r = taxiiCall(h, "GET", taxiiCollection+"manifest/?limit=2", keyA, nil)
		r.JSON(t, &man)
		if !man.More || len(man.Objects) != 2 {
			t.Errorf("manifest limit=2: %s", r.Body)
		}
	})

	// The objects hdn does not model are kept and served back unchanged.
	t.Run("context collection", func(t *testing.T) {
		malwareID := "malware--66666666-6666-4666-8666-666666666666"
		posted := `{"type":"malware","spec_version":"2.1","id":"malware--66666666-6666-4666-8666-666666666666","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"x","is_family":true}`
		r := taxiiCall(h, "GET", taxiiContextCollection+"objects/", keyB, nil)
		env, objs := objectsOf(t, r)
		var raw []string
		for _, o := range env.Objects {
			raw = append(raw, string(o))
		}
		// The ten TLP objects first, then the malware, byte for byte.
		if env.More || len(objs) != 11 || raw[10] != posted {
			t.Fatalf("context collection: %d objects, last %s", len(objs), raw[len(raw)-1])
		}
		if r.Header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Errorf("no X-TAXII-Date-Added-Last")
		}
		// Filters, object, versions, manifest.
		_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiContextCollection+"objects/?match[type]=malware", keyB, nil))
		if len(objs) != 1 || objs[0].ID != malwareID {
			t.Errorf("match[type]=malware: %+v", objs)
		}
		_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiContextCollection+"objects/?match[type]=malware&added_after="+url.QueryEscape(r.Header.Get("X-TAXII-Date-Added-Last")), keyB, nil))
		if len(objs) != 0 {
			t.Errorf("added_after the last: %+v", objs)
		}
		_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiContextCollection+"objects/"+malwareID+"/", keyB, nil))
		if len(objs) != 1 || objs[0].ID != malwareID {
			t.Errorf("object by id: %+v", objs)
		}
		var vs struct{ Versions []string }
		taxiiCall(h, "GET", taxiiContextCollection+"objects/"+malwareID+"/versions/", keyB, nil).JSON(t, &vs)
		if len(vs.Versions) != 1 || vs.Versions[0] != "2026-01-01T00:00:00.000Z" {
			t.Errorf("versions %+v", vs)
		}
		var man struct {
			Objects []struct{ ID, Version string }
		}
		taxiiCall(h, "GET", taxiiContextCollection+"manifest/?match[type]=malware", keyB, nil).JSON(t, &man)
		if len(man.Objects) != 1 || man.Objects[0].ID != malwareID || man.Objects[0].Version != "2026-01-01T00:00:00.000Z" {
			t.Errorf("manifest %+v", man)
		}
		// The indicators collection does not hold it.
		wantTAXIIError(t, "malware in the indicators collection", taxiiCall(h, "GET", taxiiCollection+"objects/"+malwareID+"/", keyB, nil), 404)
		// A newer version replaces it; an older one does not.
		newer := strings.Replace(strings.Replace(posted, `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-02-01T00:00:00.000Z"`, 1), `"name":"x"`, `"name":"y"`, 1)
		older := strings.Replace(posted, `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2025-12-01T00:00:00.000Z"`, 1)
		for _, body := range []string{newer, older} {
			if r := taxiiCall(h, "POST", taxiiContextCollection+"objects/", keyA, envelopeBody(body)); r.Status != 202 {
				t.Fatalf("post to the context collection: %d %s", r.Status, r.Body)
			}
		}
		_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiContextCollection+"objects/"+malwareID+"/", keyB, nil))
		if len(objs) != 1 || objs[0].Name != "y" {
			t.Errorf("after a newer and an older version: %+v", objs)
		}
		// Another organisation cannot replace or delete it; its source can.
		foreign := strings.Replace(newer, `"modified":"2026-02-01T00:00:00.000Z"`, `"modified":"2026-03-01T00:00:00.000Z"`, 1)
		var st taxiiStatusResp
		taxiiCall(h, "POST", taxiiContextCollection+"objects/", keyB, envelopeBody(strings.Replace(foreign, `"name":"y"`, `"name":"z"`, 1))).JSON(t, &st)
		if len(st.Successes) != 1 || !strings.Contains(st.Successes[0].Message, "another organisation") {
			t.Errorf("foreign version: %+v", st)
		}
		wantTAXIIError(t, "delete by another org", taxiiCall(h, "DELETE", taxiiContextCollection+"objects/"+malwareID+"/", keyB, nil), 403)
		wantTAXIIError(t, "delete by a readonly key", taxiiCall(h, "DELETE", taxiiContextCollection+"objects/"+malwareID+"/", keyAro, nil), 403)
		if r := taxiiCall(h, "DELETE", taxiiContextCollection+"objects/"+malwareID+"/", keyA, nil); r.Status != 200 {
			t.Errorf("delete by its source: %d %s", r.Status, r.Body)
		}
		wantTAXIIError(t, "deleted object", taxiiCall(h, "GET", taxiiContextCollection+"objects/"+malwareID+"/", keyA, nil), 404)
	})

	t.Run("delete", func(t *testing.T) {
		green, plain := ids["evil-green.taxii-test.example"], ids["evil-plain.taxii-test.example"]
		wantTAXIIError(t, "not the source", taxiiCall(h, "DELETE", taxiiCollection+"objects/"+green+"/", keyB, nil), 403)
		wantTAXIIError(t, "readonly key", taxiiCall(h, "DELETE", taxiiCollection+"objects/"+green+"/", keyAro, nil), 403)
		wantTAXIIError(t, "marking", taxiiCall(h, "DELETE", taxiiCollection+"objects/marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb/", keyC, nil), 403)
		wantTAXIIError(t, "unknown", taxiiCall(h, "DELETE", taxiiCollection+"objects/indicator--99999999-9999-4999-8999-999999999999/", keyA, nil), 404)
		for key, id := range map[string]string{keyA: green, keyC: plain} {
			r := taxiiCall(h, "DELETE", taxiiCollection+"objects/"+id+"/", key, nil)
			if r.Status != 200 {
				t.Fatalf("delete %s: %d %s", id, r.Status, r.Body)
			}
			_, objs := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/"+id+"/", keyB, nil))
			if len(objs) != 1 || !objs[0].Revoked {
				t.Errorf("after delete, %s: %+v", id, objs)
			}
		}
		// A revoked indicator is a new version at the end of the collection.
		env, objs := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/?match[type]=indicator", keyB, nil))
		if env.More || len(objs) != 3 || !objs[1].Revoked || !objs[2].Revoked || objs[0].Revoked {
			t.Errorf("after deletes: %+v", objs)
		}
	})
}

func objs0Modified(objs []taxiiObj, id string) string {
	for _, o := range objs {
		if o.ID == id {
			return o.Modified
		}
	}
	return ""
}

// TestTAXIIPaging reads 10,000 indicators 100 at a time: every object comes
// exactly once, and the last page says there is no more.
func TestTAXIIPaging(t *testing.T) {
	const n = 10_000
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	keyA, keyB := h.Key(a, policy.Analyst), h.Key(b, policy.ReadOnly)
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"type": "domain", "value": fmt.Sprintf("p%05d.taxii-paging.example", i), "tlp": "green"}
	}
	if r := h.Do("POST", "/api/v1/indicators", keyA, map[string]any{"indicators": items}); r.Status != 200 {
		t.Fatalf("submit: %d %.500s", r.Status, r.Body)
	}
	seen := map[string]int{}
	next, pages := "", 0
	for {
		path := taxiiCollection + "objects/?limit=100"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		env, objs := objectsOf(t, taxiiCall(h, "GET", path, keyB, nil))
		pages++
		if len(objs) > 100 {
			t.Fatalf("page %d has %d objects", pages, len(objs))
		}
		for _, o := range objs {
			seen[o.ID]++
		}
		if !env.More {
			if env.Next != "" {
				t.Errorf("last page has next %q", env.Next)
			}
			break
		}
		if env.Next == "" || pages > n {
			t.Fatalf("page %d: more without next", pages)
		}
		next = env.Next
	}
	if len(seen) != n+taxiiFixedCount {
		t.Errorf("%d distinct objects, want %d", len(seen), n+taxiiFixedCount)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s seen %d times", id, c)
		}
	}
	if want := (n+taxiiFixedCount+99)/100 + 0; pages != want && pages != want+1 {
		t.Errorf("%d pages, want about %d", pages, want)
	}
	// limit is capped at 1,000.
	_, objs := objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"objects/?limit=5000", keyB, nil))
	if len(objs) != 1000 {
		t.Errorf("limit=5000 gave %d objects, want the cap 1000", len(objs))
	}
	// The default page is 100.
	_, objs = objectsOf(t, taxiiCall(h, "GET", taxiiCollection+"manifest/", keyB, nil))
	if len(objs) != 100 {
		t.Errorf("default page: %d entries, want 100", len(objs))
	}
}

// readTAXIIObjects pages through the TAXII collection as org and returns
// the value of every indicator object (its name) with no source.
func readTAXIIObjects(t *testing.T, n *policyNet, org string) map[string]string {
	got := map[string]string{}
	next := ""
	for {
		path := taxiiCollection + "objects/?match[type]=indicator&limit=50"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		env, objs := objectsOf(t, taxiiCall(n.h, "GET", path, n.keys[org], nil))
		for _, o := range objs {
			got[o.Name] = ""
		}
		if !env.More {
			return got
		}
		next = env.Next
	}
}

// keepContextLike keeps a STIX malware object named value, shared exactly as
// the indicator id is (source, submitter, TLP, audience), so that the policy
// property test can check the context collection with the indicators'
// oracle.
func keepContextLike(t *testing.T, h *hubtest.Hub, id, value string) {
	t.Helper()
	ind, err := h.Store.IndicatorByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	sid := "malware--" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(value)).String()
	raw := fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":%q,"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":%q,"is_family":false}`, sid, value)
	in, err := h.Store.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Rollback()
	if _, err := in.PutSTIXObjects(t.Context(), []model.STIXObject{{ID: sid, Type: "malware", Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Raw: json.RawMessage(raw), TLP: ind.TLP, Audience: ind.Audience, Source: ind.Source, SubmittedBy: ind.SubmittedBy}}); err != nil {
		t.Fatal(err)
	}
	if err := in.Commit(); err != nil {
		t.Fatal(err)
	}
}

// readTAXIIContext reads the malware objects of the context collection by
// name, page by page.
func readTAXIIContext(t *testing.T, n *policyNet, org string) map[string]string {
	got := map[string]string{}
	next := ""
	for {
		path := taxiiContextCollection + "objects/?match[type]=malware&limit=7"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		env, objs := objectsOf(t, taxiiCall(n.h, "GET", path, n.keys[org], nil))
		for _, o := range objs {
			got[o.Name] = ""
		}
		if !env.More {
			return got
		}
		next = env.Next
	}
}

// TestTAXIIRoutesDocumented checks that docs/TAXII.md lists every endpoint.
func TestTAXIIRoutesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/TAXII.md")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("/taxii2/hdn/collections/{collection}/", "…/collections/{id}/", "{collection}", "{id}", "{object}", "{object-id}", "{status}", "{status-id}")
	for _, rt := range api.TAXIIRoutes() {
		path := r.Replace(rt[1])
		if path == "…/collections/{id}/" {
			path = "/taxii2/hdn/collections/{id}/"
		}
		row := "| " + rt[0] + " | `" + path + "` |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/TAXII.md has no row %s", row)
		}
	}
}

// TestTAXIIDefaultTLP: an unmarked object posted to a hub configured with
// another default TLP is stored at that level; a marked one keeps its own.
func TestTAXIIDefaultTLP(t *testing.T) {
	h := hubtest.Start(t, hub.Config{TAXIIDefaultTLP: policy.Green})
	key := h.Key(h.Org("Hospital A", policy.Member, ""), policy.Analyst)
	// A TLP marking on part of an object (a granular marking) counts for
	// the whole: sharing never widens what the producer marked.
	granular := strings.Replace(stixIndicatorJSON("indicator--aaaaaaaa-3333-4333-8333-333333333333", "granular.taxii-test.example",
		"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"), `"labels"`,
		`"granular_markings":[{"marking_ref":"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82","selectors":["pattern"]}],"labels"`, 1)
	body := envelopeBody(
		stixIndicatorJSON("indicator--aaaaaaaa-1111-4111-8111-111111111111", "unmarked.taxii-test.example"),
		stixIndicatorJSON("indicator--aaaaaaaa-2222-4222-8222-222222222222", "marked.taxii-test.example", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
		granular,
	)
	if r := taxiiCall(h, "POST", taxiiCollection+"objects/", key, body); r.Status != 202 {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	for value, want := range map[string]string{"unmarked.taxii-test.example": "green", "marked.taxii-test.example": "amber",
		"granular.taxii-test.example": "amber"} {
		var lr listResp
		h.Do("GET", "/api/v1/indicators?value="+value, key, nil).JSON(t, &lr)
		if len(lr.Indicators) != 1 || string(lr.Indicators[0].TLP) != want {
			t.Errorf("%s: %+v, want tlp %s", value, lr.Indicators, want)
		}
	}
}

// TestTAXIIStatusSurvivesRestart: status resources are kept in the
// database, so a hub restarted on it (or another replica) answers for a
// status posted before, as it was answered, to its organisation only.
func TestTAXIIStatusSurvivesRestart(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	h1 := startOn(t, ctx, dir, addr)
	a, b := h1.Org("Hospital A", policy.Member, ""), h1.Org("Hospital B", policy.Member, "")
	ka, kb := h1.Key(a, policy.Analyst), h1.Key(b, policy.Analyst)
	posted := taxiiCall(h1.Hub, "POST", taxiiCollection+"objects/", ka, envelopeBody(
		stixIndicatorJSON("indicator--0d1a2b3c-4d5e-4f60-8172-839405a6b7c8", "restart-status.taxii-test.example"),
		`{"type":"indicator","id":"not-a-stix-id"}`))
	var status taxiiStatusResp
	posted.JSON(t, &status)
	if posted.Status != 202 || status.SuccessCount != 1 || status.FailureCount != 1 {
		t.Fatalf("POST: %d %s", posted.Status, posted.Body)
	}
	cancel()
	h1.stop()

	h2 := startOn(t, context.Background(), dir, addr)
	r := taxiiCall(h2.Hub, "GET", "/taxii2/hdn/status/"+status.ID+"/", ka, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != taxiiMedia {
		t.Fatalf("the status after a restart: %d %s", r.Status, r.Body)
	}
	if !bytes.Equal(r.Body, posted.Body) {
		t.Errorf("the status after a restart differs from the POST's answer:\n%s\n%s", r.Body, posted.Body)
	}
	wantTAXIIError(t, "another organisation's status after a restart", taxiiCall(h2.Hub, "GET", "/taxii2/hdn/status/"+status.ID+"/", kb, nil), 404)
}

// TestSTIXRevocationRevokesEveryValue: a STIX indicator whose pattern gave
// several values, sent again marked revoked, revokes every one of them (not
// only the first, which took the STIX id).
func TestSTIXRevocationRevokesEveryValue(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("Hospital A", policy.Member, "")
	key := h.Key(org, policy.Analyst)
	obj := func(modified string, revoked bool) string {
		return `{"type":"indicator","spec_version":"2.1","id":"indicator--7a1f3c9e-2b4d-4e6f-8a0b-1c2d3e4f5a6b","created":"2026-01-01T00:00:00.000Z",` +
			`"modified":"` + modified + `","name":"two domains","pattern":"[domain-name:value = 'one.multi-revoke.example.org' OR domain-name:value = 'two.multi-revoke.example.org']",` +
			`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","revoked":` + strconv.FormatBool(revoked) + `}`
	}
	if r := taxiiCall(h, "POST", taxiiCollection+"objects/", key, envelopeBody(obj("2026-01-02T00:00:00.000Z", false))); r.Status != 202 {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	values := []string{"one.multi-revoke.example.org", "two.multi-revoke.example.org"}
	v, err := h.Store.Viewer(t.Context(), org.ID)
	if err != nil {
		t.Fatal(err)
	}
	state := func(value string) (found, revoked bool) {
		t.Helper()
		inds, err := h.Store.ListIndicators(t.Context(), v, store.Query{Value: value, IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(inds) == 1, len(inds) == 1 && inds[0].Revoked
	}
	for _, value := range values {
		if found, revoked := state(value); !found || revoked {
			t.Fatalf("%s after the import: found %v, revoked %v", value, found, revoked)
		}
	}
	r := taxiiCall(h, "POST", taxiiCollection+"objects/", key, envelopeBody(obj("2026-01-03T00:00:00.000Z", true)))
	var status taxiiStatusResp
	r.JSON(t, &status)
	if r.Status != 202 || status.SuccessCount != 1 || !strings.Contains(string(r.Body), "2 indicators revoked") {
		t.Fatalf("the revoked version: %d %s", r.Status, r.Body)
	}
	for _, value := range values {
		if found, revoked := state(value); !found || !revoked {
			t.Errorf("%s after the revoked version: found %v, revoked %v; want revoked", value, found, revoked)
		}
	}
}

// TestCoordinatorCannotRemarkHiddenReport: a coordinator that imports a STIX
// report (or posts a MISP event) with the id of a RED report it may not see
// neither re-marks nor replaces that report: the STIX import makes the
// coordinator its own copy, the MISP event is refused, and the report stays
// as its source made it.
func TestCoordinatorCannotRemarkHiddenReport(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	a, b := h.Org("Hospital A", policy.Member, ""), h.Org("Hospital B", policy.Member, "")
	kc, ka := h.Key(coord, policy.Analyst), h.Key(a, policy.Analyst)
	h.Key(b, policy.Analyst)
	var rep struct{ ID, Title, TLP string }
	r := h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "Ward 7 incident", "narrative": "for B only", "tlp": "red",
		"audience": map[string]any{"orgs": []string{"Hospital B"}}})
	if r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &rep)
	bundle := `{"type":"bundle","id":"bundle--5d0d1a6e-8f3b-4c2a-9e7d-1b2c3d4e5f60","objects":[{"type":"report","spec_version":"2.1",` +
		`"id":"report--` + rep.ID + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-05T00:00:00.000Z","name":"Renamed by the coordinator",` +
		`"published":"2026-01-05T00:00:00Z","object_refs":["identity--5d0d1a6e-8f3b-4c2a-9e7d-1b2c3d4e5f61"],` +
		`"object_marking_refs":["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]}]}`
	if r := h.DoWith("POST", "/api/v1/import/stix", map[string]string{"Authorization": "Bearer " + kc, "Content-Type": "application/json"}, bundle); r.Status != 200 {
		t.Fatalf("STIX import by the coordinator: %d %s", r.Status, r.Body)
	}
	event := `{"Event":{"uuid":"` + rep.ID + `","info":"Renamed through MISP","Tag":[{"name":"tlp:clear"}],"Attribute":[]}}`
	if r := h.DoWith("POST", "/events/add", map[string]string{"Authorization": kc, "Content-Type": "application/json", "Accept": "application/json"}, event); r.Status != 409 {
		t.Errorf("a MISP event with the uuid of a report the coordinator may not see: %d %s, want 409", r.Status, r.Body)
	}
	var got struct{ Title, TLP string }
	h.Do("GET", "/api/v1/reports/"+rep.ID, ka, nil).JSON(t, &got)
	if got.Title != "Ward 7 incident" || got.TLP != "red" {
		t.Errorf("the source's RED report after the coordinator's imports: %+v, want it unchanged", got)
	}
	if r := h.Do("GET", "/api/v1/reports/"+rep.ID, kc, nil); r.Status != 404 {
		t.Errorf("the coordinator reads the RED report not addressed to it: %d %s", r.Status, r.Body)
	}
}
