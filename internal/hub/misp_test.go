package hub_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the MISP round trip")

// mispClock is the hub's clock in the MISP tests.
var mispClock = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// mispCall calls the MISP-compatible API as MISP tools do: the raw key in
// Authorization, JSON accepted.
func mispCall(h *hubtest.Hub, method, path, key string, body any) hubtest.Response {
	h.T.Helper()
	hdr := map[string]string{"Accept": "application/json"}
	if key != "" {
		hdr["Authorization"] = key
	}
	return h.DoWith(method, path, hdr, body)
}

// mispOK calls and decodes a 200 answer.
func mispOK(t *testing.T, h *hubtest.Hub, method, path, key string, body any, out any) hubtest.Response {
	t.Helper()
	r := mispCall(h, method, path, key, body)
	if r.Status != 200 {
		t.Fatalf("%s %s: status %d: %s", method, path, r.Status, r.Body)
	}
	if out != nil {
		r.JSON(t, out)
	}
	return r
}

func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mispRequest reads a request example.
func mispRequest(t *testing.T, name string) []byte {
	return readTestdata(t, filepath.Join("testdata", "misp", "requests", name))
}

// mispOmitsWhenEmpty are the members MISP leaves out of an attribute that
// has no tags or sightings.
var mispOmitsWhenEmpty = map[string]bool{"Tag": true, "Sighting": true}

// assertShape checks that got has every member of the MISP example want,
// with the same JSON type; a null in the example admits any value. Arrays
// are checked element by element against the example's first element.
func assertShape(t *testing.T, where string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case nil:
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: want an object, got %s", where, jsonKind(got))
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok && mispOmitsWhenEmpty[k] {
				continue
			}
			if !ok {
				t.Errorf("%s: member %q is missing", where, k)
				continue
			}
			assertShape(t, where+"."+k, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: want an array, got %s", where, jsonKind(got))
			return
		}
		if len(w) == 0 {
			return
		}
		for i, gv := range g {
			assertShape(t, fmt.Sprintf("%s[%d]", where, i), w[0], gv)
		}
	default:
		if jsonKind(want) != jsonKind(got) {
			t.Errorf("%s: want a %s (like %v), got a %s (%v)", where, jsonKind(want), want, jsonKind(got), got)
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// assertMISPShape compares an answer with a response example.
func assertMISPShape(t *testing.T, example string, r hubtest.Response) {
	t.Helper()
	var want, got any
	if err := json.Unmarshal(readTestdata(t, filepath.Join("testdata", "misp", "responses", example)), &want); err != nil {
		t.Fatalf("%s: %v", example, err)
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("%s: answer is not JSON: %v: %s", example, err, clipBody(r.Body))
	}
	assertShape(t, strings.TrimSuffix(example, ".json"), want, got)
}

func clipBody(b []byte) string {
	if len(b) > 800 {
		return string(b[:800]) + "…"
	}
	return string(b)
}

// mispNet is a small network for the MISP tests.
type mispNet struct {
	h                                *hubtest.Hub
	coord, member, other, sensor, ro string // keys
	coordOrg, memberOrg, otherOrg    model.Org
}

func newMISPNet(t *testing.T, cfg hub.Config) *mispNet {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return mispClock }
	}
	h := hubtest.Start(t, cfg)
	n := &mispNet{h: h}
	n.coordOrg = h.Org("Z-CERT", policy.Coordinator, "")
	n.memberOrg = h.Org("Ziekenhuis Noord", policy.Member, "")
	n.otherOrg = h.Org("St Elsewhere", policy.Member, "")
	n.coord = h.Key(n.coordOrg, policy.Analyst)
	n.member = h.Key(n.memberOrg, policy.Analyst)
	n.other = h.Key(n.otherOrg, policy.Analyst)
	n.sensor = h.Key(n.memberOrg, policy.Sensor)
	n.ro = h.Key(n.memberOrg, policy.ReadOnly)
	return n
}

// addEvent posts an event and decodes the answer.
type addEventResp struct {
	Event misp.Event `json:"Event"`
	HDN   struct {
		Created  int              `json:"created"`
		Updated  int              `json:"updated"`
		Rejected int              `json:"rejected"`
		Context  int              `json:"context"`
		Results  []api.ItemResult `json:"results"`
		Problems []string         `json:"problems"`
	} `json:"hdn"`
}

func addEvent(t *testing.T, h *hubtest.Hub, key string, body []byte) addEventResp {
	t.Helper()
	var out addEventResp
	mispOK(t, h, "POST", "/events/add", key, body, &out)
	return out
}

func viewEvent(t *testing.T, h *hubtest.Hub, key, id string) (*misp.Event, hubtest.Response) {
	t.Helper()
	r := mispCall(h, "GET", "/events/view/"+id, key, nil)
	if r.Status != 200 {
		return nil, r
	}
	ev, err := misp.ParseEvent(r.Body)
	if err != nil {
		t.Fatalf("events/view/%s: %v", id, err)
	}
	return ev, r
}

// TestMISPEndpointShapes replays, for every endpoint, a request as MISP
// tools send it and checks the answer has the members and JSON types of
// MISP's documented answer.
func TestMISPEndpointShapes(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h

	r := mispOK(t, h, "GET", "/servers/getVersion", n.member, nil, nil)
	assertMISPShape(t, "get_version.json", r)
	var ver struct {
		Version string `json:"version"`
		HDN     bool   `json:"hdn"`
	}
	r.JSON(t, &ver)
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(ver.Version) || !ver.HDN {
		t.Errorf("getVersion: %s: PyMISP reads the version as numbers", r.Body)
	}
	r = mispOK(t, h, "GET", "/servers/getPyMISPVersion.json", n.member, nil, nil)
	if !strings.Contains(string(r.Body), api.MISPVersion) {
		t.Errorf("getPyMISPVersion: %s", r.Body)
	}

	r = mispOK(t, h, "GET", "/users/view/me", n.member, nil, nil)
	assertMISPShape(t, "users_view_me.json", r)
	if strings.Contains(string(r.Body), n.member) || strings.Contains(strings.ToLower(string(r.Body)), "authkey") {
		t.Errorf("users/view/me shows a secret: %s", r.Body)
	}
	var me struct {
		Role         map[string]any `json:"Role"`
		Organisation struct {
			Name string `json:"name"`
		} `json:"Organisation"`
	}
	r.JSON(t, &me)
	if me.Organisation.Name != "Ziekenhuis Noord" || me.Role["perm_add"] != true || me.Role["perm_site_admin"] != false {
		t.Errorf("users/view/me: %s", r.Body)
	}
	var sensorMe struct {
		Role map[string]any `json:"Role"`
	}
	mispOK(t, h, "GET", "/users/view/me.json", n.sensor, nil, &sensorMe)
	if sensorMe.Role["perm_add"] != false || sensorMe.Role["perm_sighting"] != true {
		t.Errorf("a sensor key's role: %v", sensorMe.Role)
	}

	r = mispOK(t, h, "GET", "/attributes/describeTypes.json", n.member, nil, nil)
	assertMISPShape(t, "describe_types.json", r)

	add := mispOK(t, h, "POST", "/events/add", n.member, mispRequest(t, "events_add.json"), nil)
	assertMISPShape(t, "event_view.json", add)
	const evUUID = "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b"

	r = mispOK(t, h, "GET", "/events/view/"+evUUID, n.member, nil, nil)
	assertMISPShape(t, "event_view.json", r)
	ev, err := misp.ParseEvent(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The numeric id finds the event as well.
	r = mispOK(t, h, "GET", "/events/view/"+ev.ID, n.member, nil, nil)
	assertMISPShape(t, "event_view.json", r)

	r = mispOK(t, h, "POST", "/events/index", n.member, mispRequest(t, "events_index.json"), nil)
	assertMISPShape(t, "events_index.json", r)
	var idx []map[string]any
	r.JSON(t, &idx)
	if len(idx) != 1 || idx[0]["uuid"] != evUUID || idx[0]["attribute_count"] != "5" {
		t.Errorf("events/index: %s", r.Body)
	}
	r = mispOK(t, h, "POST", "/events/index", n.member, mispRequest(t, "events_index_minimal.json"), nil)
	assertMISPShape(t, "events_index_minimal.json", r)

	r = mispOK(t, h, "POST", "/events/restSearch", n.member, mispRequest(t, "events_restsearch.json"), nil)
	assertMISPShape(t, "events_restsearch.json", r)
	var es struct {
		Response []struct {
			Event misp.Event `json:"Event"`
		} `json:"response"`
	}
	r.JSON(t, &es)
	if len(es.Response) != 1 || es.Response[0].Event.UUID != evUUID {
		t.Errorf("events/restSearch: %s", clipBody(r.Body))
	}

	r = mispOK(t, h, "POST", "/attributes/restSearch", n.member, mispRequest(t, "attributes_restsearch.json"), nil)
	var as struct {
		Response struct {
			Attribute []map[string]any `json:"Attribute"`
		} `json:"response"`
	}
	r.JSON(t, &as)
	if len(as.Response.Attribute) != 1 || as.Response.Attribute[0]["value"] != "invoice-portal.example" {
		t.Fatalf("attributes/restSearch: %s", clipBody(r.Body))
	}

	r = mispOK(t, h, "POST", "/sightings/add", n.sensor, mispRequest(t, "sightings_add.json"), nil)
	assertMISPShape(t, "sightings_add.json", r)
	// With the sighting, the attribute search shows one.
	r = mispOK(t, h, "POST", "/attributes/restSearch", n.member, mispRequest(t, "attributes_restsearch.json"), nil)
	assertMISPShape(t, "attributes_restsearch.json", r)

	r = mispOK(t, h, "POST", "/tags/attachTagToObject", n.member, mispRequest(t, "attach_tag.json"), nil)
	assertMISPShape(t, "attach_tag.json", r)

	r = mispCall(h, "GET", "/events/view/9f0e4b1c-0000-4000-8000-000000000000", n.member, nil)
	if r.Status != 404 {
		t.Fatalf("events/view of an unknown event: %d %s", r.Status, r.Body)
	}
	assertMISPShape(t, "error_404.json", r)
	var e404 map[string]string
	r.JSON(t, &e404)
	if e404["name"] != "Invalid event" || e404["message"] != "Invalid event" || e404["url"] != "/events/view/9f0e4b1c-0000-4000-8000-000000000000" {
		t.Errorf("404 body: %s", r.Body)
	}
	r = mispCall(h, "POST", "/attributes/restSearch", "", []byte(`{}`))
	assertMISPShape(t, "error_403.json", r)
}

// TestMISPAuth: the raw key in Authorization, "Bearer <key>" too; every
// failure is MISP's 403; roles decide what a key may do.
func TestMISPAuth(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h
	var authMsg struct {
		Name, Message, URL string
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no key", map[string]string{"Accept": "application/json"}},
		{"wrong key", map[string]string{"Authorization": "hdn_nope_0123456789"}},
		{"wrong key, Bearer", map[string]string{"Authorization": "Bearer hdn_nope_0123456789"}},
		{"a key that is not one", map[string]string{"Authorization": strings.Repeat("x", 40)}},
	} {
		r := h.DoWith("GET", "/servers/getVersion", tc.hdr, nil)
		if r.Status != 403 {
			t.Errorf("%s: status %d, want 403: %s", tc.name, r.Status, r.Body)
			continue
		}
		r.JSON(t, &authMsg)
		if !strings.HasPrefix(authMsg.Message, "Authentication failed.") || authMsg.Name != authMsg.Message || authMsg.URL != "/servers/getVersion" {
			t.Errorf("%s: %s", tc.name, r.Body)
		}
	}
	// A revoked organisation's key and an unknown path say the same.
	for _, hdr := range []map[string]string{
		{"Authorization": n.member},
		{"Authorization": "Bearer " + n.member},
		{"Authorization": " " + n.member + " "},
		{"X-MISP-AUTH": n.member},
	} {
		if r := h.DoWith("GET", "/servers/getVersion", hdr, nil); r.Status != 200 {
			t.Errorf("%v: %d %s", hdr, r.Status, r.Body)
		}
	}
	if r := h.DoWith("GET", "/events/nosuchaction", nil, nil); r.Status != 403 {
		t.Errorf("an unknown path without a key: %d, want 403", r.Status)
	}
	if r := mispCall(h, "GET", "/events/nosuchaction", n.member, nil); r.Status != 404 || !strings.Contains(string(r.Body), `"url":"/events/nosuchaction"`) {
		t.Errorf("an unknown path: %d %s", r.Status, r.Body)
	}
	if r := mispCall(h, "GET", "/events/add", n.member, nil); r.Status != 405 {
		t.Errorf("GET /events/add: %d %s", r.Status, r.Body)
	}

	body := mispRequest(t, "events_add.json")
	for _, key := range []string{n.sensor, n.ro} {
		r := mispCall(h, "POST", "/events/add", key, body)
		if r.Status != 403 || !strings.Contains(string(r.Body), "permission") {
			t.Errorf("a sensor or read-only key adds an event: %d %s", r.Status, r.Body)
		}
		r = mispCall(h, "POST", "/tags/attachTagToObject", key, mispRequest(t, "attach_tag.json"))
		if r.Status != 403 {
			t.Errorf("a sensor or read-only key tags: %d %s", r.Status, r.Body)
		}
	}
	if got := countIndicators(t, h); got != 0 {
		t.Fatalf("%d indicators stored by keys that may not", got)
	}
	addEvent(t, h, n.member, body)
	// Both may read; the sensor may report sightings, the read-only key not.
	for _, key := range []string{n.sensor, n.ro} {
		if _, r := viewEvent(t, h, key, "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b"); r.Status != 200 {
			t.Errorf("read: %d %s", r.Status, r.Body)
		}
	}
	if r := mispCall(h, "POST", "/sightings/add", n.sensor, map[string]any{"value": "203.0.113.45"}); r.Status != 200 {
		t.Errorf("sensor sighting: %d %s", r.Status, r.Body)
	}
	if r := mispCall(h, "POST", "/sightings/add", n.ro, map[string]any{"value": "203.0.113.45"}); r.Status != 403 {
		t.Errorf("read-only sighting: %d %s", r.Status, r.Body)
	}
}

// TestMISPBadInput: bad JSON is MISP's 400 saying where; bodies are
// bounded; unknown members are tolerated.
func TestMISPBadInput(t *testing.T) {
	n := newMISPNet(t, hub.Config{Limits: api.Limits{MaxBodyBytes: 64 << 10}})
	h := n.h
	for _, tc := range []struct {
		path, body, want string
		status           int
	}{
		{"/events/add", `{"Event": {"info": "x", "Attribute": [}`, "byte offset", 400},
		{"/events/add", `{"Event": {"info": "", "Attribute": []}}`, "no info", 400},
		{"/events/add", `{"Event": {"info": "x", "uuid": "not-a-uuid"}}`, "not a UUID", 400},
		{"/events/add", ``, "empty", 400},
		{"/events/add", `{"Event": {"info": "x", "Attribute": [{"type": "domain", "value": "a.example", "to_ids": "maybe"}]}}`, "to_ids", 400},
		{"/attributes/restSearch", `{"value": `, "byte offset", 400},
		{"/attributes/restSearch", `[1, 2]`, "JSON object", 400},
		{"/attributes/restSearch", `{"limit": 20000}`, "limit", 400},
		{"/attributes/restSearch", `{"limit": "many"}`, "whole number", 400},
		{"/attributes/restSearch", `{"returnFormat": "stix-xml"}`, "returnFormat", 400},
		{"/attributes/restSearch", `{"to_ids": "perhaps"}`, "to_ids", 400},
		{"/attributes/restSearch", `{"last": "yesterday"}`, "last", 400},
		{"/attributes/restSearch", `{"tags": {"MAYBE": ["x"]}}`, "MAYBE", 400},
		{"/events/restSearch", `{"from": "last spring"}`, "from", 400},
		{"/sightings/add", `{}`, "give a value", 400},
		{"/sightings/add", `{"value": "203.0.113.9", "type": "2"}`, "expiration", 400},
		{"/tags/attachTagToObject", `{"uuid": "nope", "tag": "x"}`, "Invalid UUID", 400},
		{"/tags/attachTagToObject", `{"uuid": "5a0b2b4e-8f3c-4d1e-9a7b-000000000001"}`, "Invalid tag", 400},
		{"/events/add", `{"Event": {"info": "` + strings.Repeat("a", 70<<10) + `"}}`, "larger than the limit", 413},
	} {
		r := mispCall(h, "POST", tc.path, n.member, []byte(tc.body))
		var e map[string]any
		if r.Status != tc.status || json.Unmarshal(r.Body, &e) != nil || !strings.Contains(fmt.Sprint(e["message"]), tc.want) || e["url"] != tc.path {
			t.Errorf("%s %q: %d %s, want %d with %q", tc.path, clipBody([]byte(tc.body)), r.Status, clipBody(r.Body), tc.status, tc.want)
		}
	}
	// Unknown members, as newer MISP versions and PyMISP send them, pass.
	r := mispCall(h, "POST", "/attributes/restSearch", n.member, []byte(`{"returnFormat": "json", "quickFilter": null, "includeDecayScore": 0, "someFutureOption": {"a": [1]}}`))
	if r.Status != 200 {
		t.Errorf("unknown members: %d %s", r.Status, r.Body)
	}
	// {"request": …} wraps parameters, as MISP accepts.
	r = mispCall(h, "POST", "/attributes/restSearch", n.member, []byte(`{"request": {"returnFormat": "text"}}`))
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("wrapped request: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// TestMISPWarninglistedAttributeRefused: an attribute on a refusing
// warninglist is not stored and is reported; one on a flagging list is
// stored with the list named.
func TestMISPWarninglistedAttributeRefused(t *testing.T) {
	n := newMISPNet(t, hub.Config{Warninglists: shippedWarninglists(t)})
	h := n.h
	res := addEvent(t, h, n.member, mispRequest(t, "events_add_warninglisted.json"))
	if res.HDN.Created != 2 || res.HDN.Rejected != 2 {
		t.Fatalf("created %d, rejected %d, want 2 and 2: %+v", res.HDN.Created, res.HDN.Rejected, res.HDN)
	}
	rejected := map[string]api.ItemResult{}
	for _, it := range res.HDN.Results {
		if it.Status == "rejected" {
			rejected[it.Value] = it
		}
	}
	for _, v := range []string{"google.com", "8.8.8.8"} {
		it, ok := rejected[v]
		if !ok || it.Error == nil || it.Error.Code != api.CodeWarninglisted || len(it.Warninglists) == 0 {
			t.Errorf("%s: %+v", v, it)
		}
	}
	flagged := false
	for _, it := range res.HDN.Results {
		if it.Value == "login-verify.duckdns.org" && it.Status == "created" && len(it.Warninglists) > 0 {
			flagged = true
		}
	}
	if !flagged {
		t.Errorf("the duckdns host is not reported as flagged: %+v", res.HDN.Results)
	}
	ev, _ := viewEvent(t, h, n.other, "6b1c3c5f-9a4d-4e2f-8b8c-2d3e4f5a6b7c")
	var values []string
	for _, a := range ev.Attribute {
		values = append(values, a.Value)
	}
	sort.Strings(values)
	if !slices.Equal(values, []string{"login-verify.duckdns.org", "secure-login-check.example"}) {
		t.Errorf("stored attributes %v", values)
	}
	// The coordinator may store them anyway.
	r := mispCall(h, "POST", "/events/add?override_warninglists=true", n.member, mispRequest(t, "events_add_warninglisted.json"))
	if r.Status != 403 {
		t.Errorf("a member overrides warninglists: %d %s", r.Status, r.Body)
	}
	body := strings.ReplaceAll(string(mispRequest(t, "events_add_warninglisted.json")), "6b1c3c5f-9a4d-4e2f-8b8c", "7c2d4d6a-9a4d-4e2f-8b8c")
	var res2 addEventResp
	mispOK(t, h, "POST", "/events/add?override_warninglists=true", n.coord, []byte(body), &res2)
	if res2.HDN.Created != 4 || res2.HDN.Rejected != 0 {
		t.Errorf("coordinator override: %+v", res2.HDN)
	}
}

// tweetFeedEvents lists the TweetFeed event files: the copy in the
// repository, and the real feed in ../shared/data when it is there.
func tweetFeedEvents(t *testing.T) (files []string, shared bool) {
	files = []string{filepath.Join("..", "misp", "testdata", "events", "tweetfeed-01d7d459.json")}
	dir := os.Getenv("HDN_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	feed := filepath.Join(dir, "iocs", "tweetfeed_misp_feed")
	more, _ := filepath.Glob(filepath.Join(feed, "*-*-*-*-*.json"))
	if len(more) == 0 {
		t.Logf("the real TweetFeed MISP feed is not at %s (set HDN_SHARED_DATA): only the copy in the repository is imported", feed)
		return files, false
	}
	sort.Strings(more)
	return append(files, more...), true
}

// TestMISPImportTweetFeed posts the real TweetFeed events to /events/add
// and checks what became of every attribute.
func TestMISPImportTweetFeed(t *testing.T) {
	n := newMISPNet(t, hub.Config{Warninglists: shippedWarninglists(t)})
	h := n.h
	files, shared := tweetFeedEvents(t)
	total, sharedAttrs := 0, 0
	for _, f := range files {
		raw := readTestdata(t, f)
		ev, err := misp.ParseEvent(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		im, err := misp.Import(ev, misp.ImportOptions{DefaultTLP: policy.Amber, Now: mispClock})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if shared && !strings.Contains(f, filepath.Join("misp", "testdata")) {
			sharedAttrs += len(im.Indicators)
		}
		distinct := map[string]bool{}
		for _, ii := range im.Indicators {
			distinct[string(ii.Sub.Type)+" "+ii.Sub.Value] = true
		}
		res := addEvent(t, h, n.member, raw)
		got := res.HDN.Created + res.HDN.Updated + res.HDN.Rejected
		if got != len(im.Indicators) {
			t.Errorf("%s: %d created + %d updated + %d rejected, want %d indicators", filepath.Base(f), res.HDN.Created, res.HDN.Updated, res.HDN.Rejected, len(im.Indicators))
		}
		for _, it := range res.HDN.Results {
			if it.Status == "rejected" && (it.Error == nil || it.Error.Code != api.CodeWarninglisted) {
				t.Errorf("%s: %s rejected for another reason than a warninglist: %+v", filepath.Base(f), it.Value, it.Error)
			}
		}
		// Every stored indicator is an attribute of the event, for another
		// member too (TweetFeed is tlp:clear, the whole network).
		view, r := viewEvent(t, h, n.other, ev.UUID)
		if view == nil {
			t.Fatalf("%s: events/view: %d %s", f, r.Status, r.Body)
		}
		stored := 0
		for _, a := range view.Attribute {
			if a.ToIDS {
				stored++
			}
		}
		rejectedDistinct := map[string]bool{}
		for _, it := range res.HDN.Results {
			if it.Status == "rejected" {
				rejectedDistinct[it.Type+" "+it.Value] = true
			}
		}
		if stored != len(distinct)-len(rejectedDistinct) {
			t.Errorf("%s: the event shows %d attributes, want %d distinct stored", filepath.Base(f), stored, len(distinct)-len(rejectedDistinct))
		}
		if view.Info != ev.Info || view.Orgc == nil || view.Orgc.Name != "Ziekenhuis Noord" {
			t.Errorf("%s: info %q, Orgc %+v", f, view.Info, view.Orgc)
		}
		total += res.HDN.Created
		t.Logf("%s: %d attributes, %d created, %d updated, %d rejected (warninglists)", filepath.Base(f), len(im.Indicators), res.HDN.Created, res.HDN.Updated, res.HDN.Rejected)
	}
	if total == 0 {
		t.Fatal("nothing imported")
	}
	// docs/MISP.md: the three event files of the real feed hold 734
	// attributes, all indicators.
	if shared && sharedAttrs != 734 {
		t.Errorf("the shared TweetFeed events hold %d indicators, want 734", sharedAttrs)
	}
	// The same event again only updates.
	res := addEvent(t, h, n.member, readTestdata(t, files[0]))
	if res.HDN.Created != 0 {
		t.Errorf("posting an event again created %d indicators", res.HDN.Created)
	}
	// Another organisation may not take its uuid.
	r := mispCall(h, "POST", "/events/add", n.other, readTestdata(t, files[0]))
	if r.Status != 409 || !strings.Contains(string(r.Body), "another organisation") {
		t.Errorf("another organisation posts the event: %d %s", r.Status, clipBody(r.Body))
	}
}

// normaliseGolden replaces what the hub assigns — times near the test's
// clocks, organisation ids and uuids, sighting uuids — so that the golden
// files compare across runs.
func normaliseGolden(v any, key string, now time.Time) any {
	near := func(t time.Time) bool {
		for _, c := range []time.Time{now, mispClock} {
			if t.After(c.Add(-48*time.Hour)) && t.Before(c.Add(16*24*time.Hour)) {
				return true
			}
		}
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch {
			case key == "Org" || key == "Orgc" || key == "Organisation":
				if k == "uuid" || k == "id" {
					x[k] = "<org " + k + ">"
					continue
				}
			case k == "org_id" || k == "orgc_id":
				x[k] = "<org id>"
				continue
			case key == "Sighting" && (k == "uuid" || k == "id"):
				x[k] = "<sighting " + k + ">"
				continue
			}
			x[k] = normaliseGolden(e, k, now)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normaliseGolden(e, key, now)
		}
		return x
	case string:
		switch key {
		case "timestamp", "publish_timestamp", "date_sighting":
			if n, err := strconv.ParseInt(x, 10, 64); err == nil && near(time.Unix(n, 0)) {
				return "<time>"
			}
		case "date":
			if t, err := time.Parse(time.DateOnly, x); err == nil && near(t.Add(12*time.Hour)) {
				return "<date>"
			}
		case "first_seen", "last_seen":
			if t, err := time.Parse("2006-01-02T15:04:05.000000-07:00", x); err == nil && near(t) {
				return "<time>"
			}
		}
	}
	return v
}

// normaliseHubIDs replaces the uuids the store gives out (version 7: an
// attribute that came without one) and the ids derived from them.
func normaliseHubIDs(v any) {
	hubIDs := map[string]bool{}
	var collect, replace func(v any)
	collect = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if u, ok := x["uuid"].(string); ok && len(u) == 36 && u[14] == '7' {
				x["uuid"] = "<hub uuid>"
				if id, ok := x["id"].(string); ok {
					hubIDs[id] = true
				}
			}
			for _, e := range x {
				collect(e)
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	replace = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "id" || k == "attribute_id") && hubIDs[s] {
					x[k] = "<hub id>"
					continue
				}
				replace(e)
			}
		case []any:
			for _, e := range x {
				replace(e)
			}
		}
	}
	collect(v)
	replace(v)
}

// TestMISPRoundTrip: MISP JSON → POST /events/add → GET /events/view →
// MISP JSON, against golden files. Attribute and event uuids are kept.
func TestMISPRoundTrip(t *testing.T) {
	// Without warninglists: the events use documentation names and
	// addresses, which the shipped lists refuse (see
	// TestMISPWarninglistedAttributeRefused).
	n := newMISPNet(t, hub.Config{})
	h := n.h
	// The sharing group of sharing-group.json, known to the hub by its uuid.
	if _, err := h.Store.CreateGroup(t.Context(), model.Group{ID: "32a19f69-2a36-488e-a5ec-ed085431a84d", Name: "Healthcare NL", Owner: n.memberOrg.ID, Members: []string{n.memberOrg.ID, n.otherOrg.ID}}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "misp", "testdata", "events")
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no events in %s: %v", dir, err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw := readTestdata(t, path)
			src, err := misp.ParseEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			res := addEvent(t, h, n.member, raw)
			ev, r := viewEvent(t, h, n.member, src.UUID)
			if ev == nil {
				t.Fatalf("events/view: %d %s", r.Status, r.Body)
			}
			if ev.UUID != strings.ToLower(src.UUID) || ev.Info != strings.TrimSpace(src.Info) {
				t.Errorf("uuid %s info %q, want %s %q", ev.UUID, ev.Info, src.UUID, src.Info)
			}
			// Every attribute uuid of a stored indicator is kept.
			uuids := map[string]bool{}
			for _, a := range ev.Attribute {
				uuids[a.UUID] = true
			}
			for _, it := range res.HDN.Results {
				if it.Status != "rejected" && it.ID != "" && !uuids[it.ID] {
					t.Errorf("stored indicator %s (%s) is not an attribute of the event", it.ID, it.Value)
				}
			}
			var got any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			got = normaliseGolden(got, "", time.Now())
			normaliseHubIDs(got)
			notStored := []string{}
			for _, it := range res.HDN.Results {
				if it.Status == "rejected" {
					notStored = append(notStored, it.Type+" "+it.Value+": "+it.Error.Code)
				}
			}
			out, err := json.MarshalIndent(map[string]any{"hdn": map[string]any{
				"created": res.HDN.Created, "updated": res.HDN.Updated, "rejected": res.HDN.Rejected,
				"context": res.HDN.Context, "problems": res.HDN.Problems, "not_stored": notStored,
			}, "view": got}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden := filepath.Join("testdata", "misp", "golden", name)
			if *updateGolden {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(want, out) {
				t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, firstDiff(string(want), string(out)))
			}
			// What the hub exports imports again to the same indicators.
			again, err := misp.ParseEvent(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			im1, _ := misp.Import(src, misp.ImportOptions{DefaultTLP: policy.Amber, Now: mispClock})
			im2, _ := misp.Import(again, misp.ImportOptions{DefaultTLP: policy.Amber, Now: mispClock})
			rejected := map[string]bool{}
			for _, it := range res.HDN.Results {
				if it.Status == "rejected" {
					rejected[it.Type+" "+it.Value] = true
				}
			}
			want1 := map[string]bool{}
			for _, ii := range im1.Indicators {
				if !rejected[string(ii.Sub.Type)+" "+ii.Sub.Value] {
					want1[string(ii.Sub.Type)+" "+ii.Sub.Value+" "+string(ii.Sub.TLP)] = true
				}
			}
			got2 := map[string]bool{}
			for _, ii := range im2.Indicators {
				got2[string(ii.Sub.Type)+" "+ii.Sub.Value+" "+string(ii.Sub.TLP)] = true
			}
			for k := range want1 {
				if !got2[k] {
					t.Errorf("round trip lost %s", k)
				}
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

// searchAttrs runs attributes/restSearch and returns the values found.
func searchAttrs(t *testing.T, h *hubtest.Hub, key string, params map[string]any) []string {
	t.Helper()
	var out struct {
		Response struct {
			Attribute []misp.Attribute `json:"Attribute"`
		} `json:"response"`
	}
	mispOK(t, h, "POST", "/attributes/restSearch", key, params, &out)
	var vs []string
	for _, a := range out.Response.Attribute {
		vs = append(vs, a.Value)
	}
	sort.Strings(vs)
	return vs
}

// TestMISPRestSearchFilters checks every filter and returnFormat of the
// searches.
func TestMISPRestSearchFilters(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h
	addEvent(t, h, n.member, mispRequest(t, "events_add.json"))
	res := submit(t, h, n.member,
		map[string]any{"type": "domain", "value": "c2-panel.example", "labels": []string{"c2"}, "tags": []string{"qakbot"}, "tlp": "green"},
		map[string]any{"value": "198.51.100.77", "tags": []string{"qakbot", "botnet-infra"}},
		map[string]any{"value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856", "type": "sha256"},
		map[string]any{"type": "domain", "value": "gone.example"},
	)
	if r := h.Do("POST", "/api/v1/indicators/"+res[3].ID+"/revoke", n.member, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	all := []string{"0cc175b9c0f1b6a831c399e269772661", "198.51.100.77", "203.0.113.45", "c2-panel.example",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856", "https://invoice-portal.example/pay?id=7", "invoice-portal.example"}
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"everything", map[string]any{}, all},
		{"value", map[string]any{"type": "domain", "value": "c2-panel.example"}, []string{"c2-panel.example"}},
		{"value defanged", map[string]any{"value": "203.0.113[.]45"}, []string{"203.0.113.45"}},
		{"value OR", map[string]any{"value": "c2-panel.example||198.51.100.77"}, []string{"198.51.100.77", "c2-panel.example"}},
		{"value list", map[string]any{"value": []string{"c2-panel.example", "198.51.100.77"}}, []string{"198.51.100.77", "c2-panel.example"}},
		{"value wildcard", map[string]any{"value": "%invoice-portal%"}, []string{"https://invoice-portal.example/pay?id=7", "invoice-portal.example"}},
		{"value NOT", map[string]any{"value": "!c2-panel.example", "type": "domain"}, []string{"invoice-portal.example"}},
		{"type", map[string]any{"type": "domain"}, []string{"c2-panel.example", "invoice-portal.example"}},
		{"type ip-src is ip-dst", map[string]any{"type": "ip-src"}, []string{"198.51.100.77", "203.0.113.45"}},
		{"type list", map[string]any{"type": []string{"md5", "sha256"}}, []string{"0cc175b9c0f1b6a831c399e269772661", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856"}},
		{"category", map[string]any{"category": "Payload delivery"}, []string{"0cc175b9c0f1b6a831c399e269772661", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856"}},
		{"tags", map[string]any{"tags": "qakbot"}, []string{"198.51.100.77", "c2-panel.example"}},
		{"tags label", map[string]any{"tags": []string{"c2"}}, []string{"c2-panel.example"}},
		{"tags AND", map[string]any{"tags": "qakbot&&botnet-infra"}, []string{"198.51.100.77"}},
		{"tags negation", map[string]any{"tags": []string{"qakbot", "!botnet-infra"}}, []string{"c2-panel.example"}},
		{"tags negation string", map[string]any{"tags": "!qakbot", "type": "domain"}, []string{"invoice-portal.example"}},
		{"tags NOT object", map[string]any{"tags": map[string]any{"NOT": []string{"tlp:amber"}}}, []string{"c2-panel.example", "invoice-portal.example"}},
		{"tags tlp", map[string]any{"tags": "tlp:green"}, []string{"c2-panel.example", "invoice-portal.example"}},
		{"tags event", map[string]any{"tags": "phishing"}, []string{"0cc175b9c0f1b6a831c399e269772661", "203.0.113.45", "https://invoice-portal.example/pay?id=7", "invoice-portal.example"}},
		{"tags wildcard", map[string]any{"tags": "qak%"}, []string{"198.51.100.77", "c2-panel.example"}},
		{"to_ids 1", map[string]any{"to_ids": 1}, all},
		{"to_ids false", map[string]any{"to_ids": false}, nil},
		{"deleted", map[string]any{"deleted": 1, "value": "gone.example"}, []string{"gone.example"}},
		{"last", map[string]any{"last": "1d"}, all},
		{"last in the future", map[string]any{"timestamp": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}, nil},
		{"from", map[string]any{"from": "2020-01-01", "to": time.Now().Add(48 * time.Hour).Format(time.DateOnly)}, all},
		{"to", map[string]any{"to": "2020-01-01"}, nil},
		{"published", map[string]any{"published": 0}, nil},
		{"eventid", map[string]any{"eventid": "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b"}, []string{"0cc175b9c0f1b6a831c399e269772661", "203.0.113.45", "https://invoice-portal.example/pay?id=7", "invoice-portal.example"}},
		{"uuid", map[string]any{"uuid": "5a0b2b4e-8f3c-4d1e-9a7b-000000000002"}, []string{"203.0.113.45"}},
	} {
		got := searchAttrs(t, h, n.other, tc.params)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: got %v, want %v", tc.name, tc.params, got, tc.want)
		}
	}

	// limit and page walk through everything once.
	var paged []string
	for page := 1; page < 10; page++ {
		got := searchAttrs(t, h, n.other, map[string]any{"limit": 3, "page": page})
		if len(got) > 3 {
			t.Fatalf("page %d: %d attributes, limit 3", page, len(got))
		}
		paged = append(paged, got...)
		if len(got) < 3 {
			break
		}
	}
	sort.Strings(paged)
	if !slices.Equal(paged, all) {
		t.Errorf("paged %v, want %v", paged, all)
	}

	// returnFormat.
	formats := map[string]hubtest.Response{}
	for _, f := range []string{"csv", "text", "hashes", "suricata", "snort", "rpz"} {
		r := mispCall(h, "POST", "/attributes/restSearch", n.other, map[string]any{"returnFormat": f})
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", f, r.Status, r.Body)
		}
		formats[f] = r
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimSpace(formats["csv"].Body))).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if strings.Join(recs[0], ",") != "uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag,object_uuid,object_name,object_meta_category" || len(recs) != len(all)+1 {
		t.Errorf("csv header %v, %d rows", recs[0], len(recs))
	}
	if !regexp.MustCompile(`(?m)^"5a0b2b4e-8f3c-4d1e-9a7b-000000000001",\d+,"Network activity","domain","invoice-portal.example","landing page",1,\d+,"","[^"]*tlp:green[^"]*","","",""$`).Match(formats["csv"].Body) {
		t.Errorf("csv row as MISP writes it:\n%s", formats["csv"].Body)
	}
	var text []string
	for _, l := range strings.Split(strings.TrimSpace(string(formats["text"].Body)), "\n") {
		text = append(text, l)
	}
	sort.Strings(text)
	if !slices.Equal(text, all) {
		t.Errorf("text %v", text)
	}
	if got := strings.Fields(string(formats["hashes"].Body)); !slices.Equal(got, []string{"0cc175b9c0f1b6a831c399e269772661", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856"}) &&
		!slices.Equal(got, []string{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856", "0cc175b9c0f1b6a831c399e269772661"}) {
		t.Errorf("hashes %v", got)
	}
	if b := string(formats["suricata"].Body); !strings.Contains(b, "alert dns") || !strings.Contains(b, "c2-panel.example") || strings.Contains(b, "gone.example") {
		t.Errorf("suricata:\n%s", b)
	}
	if b := string(formats["snort"].Body); !strings.Contains(b, "alert ") || !strings.Contains(b, "198.51.100.77") {
		t.Errorf("snort:\n%s", b)
	}
	if b := string(formats["rpz"].Body); !strings.Contains(b, "SOA") || !strings.Contains(b, "c2-panel.example") {
		t.Errorf("rpz:\n%s", b)
	}
	// A format narrowed by a filter.
	r := mispCall(h, "POST", "/attributes/restSearch", n.other, map[string]any{"returnFormat": "text", "type": "domain"})
	if got := strings.Fields(string(r.Body)); len(got) != 2 {
		t.Errorf("text of domains: %q", r.Body)
	}

	// events/restSearch: events with their matching attributes.
	var es struct {
		Response []struct {
			Event misp.Event `json:"Event"`
		} `json:"response"`
	}
	mispOK(t, h, "POST", "/events/restSearch", n.other, map[string]any{"type": "domain"}, &es)
	events := map[string][]string{}
	for _, e := range es.Response {
		for _, a := range e.Event.Attribute {
			events[e.Event.Info] = append(events[e.Event.Info], a.Value)
		}
	}
	if len(events) != 2 || !slices.Equal(events["Phishing wave against hospital finance departments: fake supplier invoices"], []string{"invoice-portal.example"}) ||
		!slices.Equal(events["Indicators shared by Ziekenhuis Noord, without a report"], []string{"c2-panel.example"}) {
		t.Errorf("events/restSearch type=domain: %v", events)
	}
	for _, tc := range []struct {
		params map[string]any
		want   int
	}{
		{map[string]any{}, 2},
		{map[string]any{"eventinfo": "supplier"}, 1},
		{map[string]any{"eventid": "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b"}, 1},
		{map[string]any{"tags": "phishing"}, 1},
		{map[string]any{"tags": "!phishing"}, 1},
		{map[string]any{"org": "Ziekenhuis Noord"}, 2},
		{map[string]any{"org": "St Elsewhere"}, 0},
		{map[string]any{"limit": 1, "page": 2}, 1},
		{map[string]any{"limit": 1, "page": 3}, 0},
		{map[string]any{"to_ids": 0}, 1}, // the link, context of the report
		{map[string]any{"published": false}, 0},
		{map[string]any{"last": "1d"}, 2},
	} {
		mispOK(t, h, "POST", "/events/restSearch", n.other, tc.params, &es)
		if len(es.Response) != tc.want {
			t.Errorf("events/restSearch %v: %d events, want %d", tc.params, len(es.Response), tc.want)
		}
	}
	r = mispCall(h, "POST", "/events/restSearch", n.other, map[string]any{"returnFormat": "text", "eventinfo": "supplier", "to_ids": 1})
	if got := strings.Fields(string(r.Body)); len(got) != 4 {
		t.Errorf("events/restSearch text: %q", r.Body)
	}

	// events/index.
	for _, tc := range []struct {
		params map[string]any
		want   int
	}{
		{map[string]any{}, 2},
		{map[string]any{"eventinfo": "Phishing"}, 1},
		{map[string]any{"eventinfo": "%without a report"}, 1},
		{map[string]any{"tags": []string{"phishing"}}, 1},
		{map[string]any{"tags": []string{"!phishing"}}, 1},
		{map[string]any{"published": true}, 2},
		{map[string]any{"published": 0}, 0},
		{map[string]any{"limit": 1, "page": 1}, 1},
		{map[string]any{"timestamp": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}, 0},
		{map[string]any{"datefrom": "2020-01-01"}, 2},
		{map[string]any{"dateuntil": "2020-01-01"}, 0},
	} {
		var idx []map[string]any
		mispOK(t, h, "POST", "/events/index", n.other, tc.params, &idx)
		if len(idx) != tc.want {
			t.Errorf("events/index %v: %d events, want %d", tc.params, len(idx), tc.want)
		}
	}
	var idx []map[string]any
	mispOK(t, h, "GET", "/events/index", n.member, nil, &idx)
	if len(idx) != 2 {
		t.Errorf("GET events/index: %d", len(idx))
	}
}

// TestMISPPolicyAndAnonymity: what the MISP API shows follows the sharing
// policy; an anonymous source is hidden from everyone but itself and the
// coordinator; who sighted is shown only to the source and the coordinator.
func TestMISPPolicyAndAnonymity(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h
	res := submit(t, h, n.member,
		map[string]any{"type": "domain", "value": "anon-source.example", "anonymous": true},
		map[string]any{"type": "domain", "value": "only-other.example", "tlp": "red", "audience": map[string]any{"orgs": []string{"St Elsewhere"}}},
		map[string]any{"type": "domain", "value": "plain.example"},
	)
	anonID := res[0].ID
	for _, tc := range []struct {
		key, who string
		want     map[string]string // value → source shown
		events   int
	}{
		{n.member, "the source", map[string]string{"anon-source.example": "Ziekenhuis Noord", "only-other.example": "Ziekenhuis Noord", "plain.example": "Ziekenhuis Noord"}, 1},
		{n.coord, "the coordinator", map[string]string{"anon-source.example": "Ziekenhuis Noord", "plain.example": "Ziekenhuis Noord"}, 1},
		{n.other, "another member", map[string]string{"anon-source.example": api.AnonymousSource, "only-other.example": "Ziekenhuis Noord", "plain.example": "Ziekenhuis Noord"}, 2},
	} {
		got := map[string]string{}
		var idx []map[string]any
		mispOK(t, h, "GET", "/events/index", tc.key, nil, &idx)
		for _, e := range idx {
			ev, r := viewEvent(t, h, tc.key, e["uuid"].(string))
			if ev == nil {
				t.Fatalf("%s: view %s: %d %s", tc.who, e["uuid"], r.Status, r.Body)
			}
			for _, a := range ev.Attribute {
				got[a.Value] = ev.Orgc.Name
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s sees %v, want %v", tc.who, got, tc.want)
		}
		if len(idx) != tc.events {
			t.Errorf("%s: %d events in the index, want %d (a virtual event per shown source)", tc.who, len(idx), tc.events)
		}
	}
	// The anonymous event is one for everyone who may not know; its uuid
	// does not depend on the source.
	var anonEvent *misp.Event
	var idx []map[string]any
	mispOK(t, h, "GET", "/events/index", n.other, nil, &idx)
	for _, e := range idx {
		if e["Orgc"].(map[string]any)["name"] == api.AnonymousSource {
			anonEvent, _ = viewEvent(t, h, n.other, e["uuid"].(string))
		}
	}
	if anonEvent == nil || len(anonEvent.Attribute) != 1 || strings.Contains(string(mustJSON(t, anonEvent)), n.memberOrg.ID) {
		t.Fatalf("anonymous event: %+v", anonEvent)
	}
	if _, r := viewEvent(t, h, n.member, anonEvent.UUID); r.Status != 404 {
		t.Errorf("the source sees the anonymous event of others: %d", r.Status)
	}

	// Sightings: the other member and the coordinator sight it; the
	// source and the coordinator see who, the other member how many.
	for _, key := range []string{n.other, n.coord} {
		var sg struct {
			Sighting map[string]any `json:"Sighting"`
		}
		mispOK(t, h, "POST", "/sightings/add", key, map[string]any{"uuid": anonID}, &sg)
		if sg.Sighting["attribute_uuid"] != anonID || sg.Sighting["type"] != "0" {
			t.Errorf("sighting: %v", sg)
		}
	}
	mispOK(t, h, "POST", "/sightings/add", n.other, map[string]any{"value": "plain.example", "type": "1"}, nil)
	for _, tc := range []struct {
		key   string
		named bool
	}{{n.member, true}, {n.coord, true}, {n.other, false}} {
		vs := searchAttrsFull(t, h, tc.key, map[string]any{"type": "domain", "value": "anon-source.example", "includeSightings": 1})
		if len(vs) != 1 || len(vs[0].Sighting) != 2 {
			t.Fatalf("sightings of the anonymous indicator: %+v", vs)
		}
		for _, s := range vs[0].Sighting {
			if (s.Org != nil) != tc.named {
				t.Errorf("sighting organisation shown %v, want %v: %+v", s.Org != nil, tc.named, s)
			}
		}
		if tc.named && !strings.Contains(string(mustJSON(t, vs[0].Sighting)), "St Elsewhere") {
			t.Errorf("the source does not see who sighted: %+v", vs[0].Sighting)
		}
	}
	// A sighting of what the organisation may not see is refused.
	r := mispCall(h, "POST", "/sightings/add", n.coord, map[string]any{"value": "only-other.example"})
	if r.Status != 404 || !strings.Contains(string(r.Body), "No valid attributes") {
		t.Errorf("sighting of an invisible indicator: %d %s", r.Status, r.Body)
	}
	// The red indicator is invisible to the coordinator on every path.
	for _, path := range []string{"/attributes/restSearch", "/events/restSearch"} {
		r := mispOK(t, h, "POST", path, n.coord, map[string]any{}, nil)
		if strings.Contains(string(r.Body), "only-other.example") {
			t.Errorf("%s leaks a red indicator to the coordinator", path)
		}
	}
	if r := mispOK(t, h, "POST", "/attributes/restSearch", n.coord, map[string]any{"returnFormat": "text"}, nil); strings.Contains(string(r.Body), "only-other.example") {
		t.Error("text leaks a red indicator")
	}
	// Filtering by the organisation of an anonymous indicator does not
	// find it.
	var es struct {
		Response []struct {
			Event misp.Event `json:"Event"`
		} `json:"response"`
	}
	mispOK(t, h, "POST", "/events/restSearch", n.other, map[string]any{"org": "Ziekenhuis Noord", "value": "anon-source.example"}, &es)
	if len(es.Response) != 0 {
		t.Errorf("org filter finds an anonymous indicator: %+v", es.Response)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func searchAttrsFull(t *testing.T, h *hubtest.Hub, key string, params map[string]any) []misp.Attribute {
	t.Helper()
	var out struct {
		Response struct {
			Attribute []misp.Attribute `json:"Attribute"`
		} `json:"response"`
	}
	mispOK(t, h, "POST", "/attributes/restSearch", key, params, &out)
	return out.Response.Attribute
}

// TestMISPSightingsAdd: by value, by uuid, by numeric id; hour by hour.
func TestMISPSightingsAdd(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h
	addEvent(t, h, n.member, mispRequest(t, "events_add.json"))
	ev, _ := viewEvent(t, h, n.member, "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b")
	var ipID string
	for _, a := range ev.Attribute {
		if a.Value == "203.0.113.45" {
			ipID = a.ID
		}
	}
	for _, body := range []map[string]any{
		{"value": "203.0.113.45"},
		{"values": []string{"203.0.113.45"}},
		{"uuid": "5a0b2b4e-8f3c-4d1e-9a7b-000000000002"},
		{"id": ipID},
		{"Sighting": map[string]any{"value": "203.0.113.45", "timestamp": strconv.FormatInt(mispClock.Add(-3*time.Hour).Unix(), 10)}},
	} {
		mispOK(t, h, "POST", "/sightings/add", n.sensor, body, nil)
	}
	mispOK(t, h, "POST", "/sightings/add/5a0b2b4e-8f3c-4d1e-9a7b-000000000002", n.other, map[string]any{"type": "1"}, nil)
	var sj api.SightingsJSON
	h.Do("GET", "/api/v1/indicators/5a0b2b4e-8f3c-4d1e-9a7b-000000000002/sightings", n.member, nil).JSON(t, &sj)
	if sj.Total != 5 || sj.FalsePositives != 1 || sj.Organisations != 1 {
		t.Errorf("sightings: %+v", sj)
	}
	r := mispCall(h, "POST", "/sightings/add", n.sensor, map[string]any{"value": "203.0.113.45", "timestamp": strconv.FormatInt(mispClock.Add(48*time.Hour).Unix(), 10)})
	if r.Status != 400 {
		t.Errorf("a sighting in the future: %d %s", r.Status, r.Body)
	}
}

// TestMISPAttachTag: the source tags its attribute (submitted again through
// the normal checks; a tlp: tag changes the TLP) and its event; nobody else
// may.
func TestMISPAttachTag(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	h := n.h
	addEvent(t, h, n.member, mispRequest(t, "events_add.json"))
	const ip = "5a0b2b4e-8f3c-4d1e-9a7b-000000000002"
	mispOK(t, h, "POST", "/tags/attachTagToObject", n.member, map[string]any{"uuid": ip, "tag": "ransomware"}, nil)
	var ind api.IndicatorJSON
	h.Do("GET", "/api/v1/indicators/"+ip, n.member, nil).JSON(t, &ind)
	if !slices.Contains(ind.Tags, "ransomware") || ind.Report != "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b" || ind.TLP != "amber" {
		t.Errorf("tagged indicator: %+v", ind)
	}
	var out map[string]any
	mispOK(t, h, "POST", "/tags/attachTagToObject", n.member, map[string]any{"uuid": ip, "tag": "ransomware"}, &out)
	if !strings.Contains(fmt.Sprint(out["message"]), "already has") {
		t.Errorf("tagging again: %v", out)
	}
	// A tlp: tag changes the TLP, through the same checks.
	mispOK(t, h, "POST", "/tags/attachTagToObject", n.member, map[string]any{"uuid": ip, "tag": "tlp:clear"}, nil)
	h.Do("GET", "/api/v1/indicators/"+ip, n.member, nil).JSON(t, &ind)
	if ind.TLP != "clear" {
		t.Errorf("tlp:clear tag: TLP %s", ind.TLP)
	}
	r := mispCall(h, "POST", "/tags/attachTagToObject", n.member, map[string]any{"uuid": ip, "tag": "tlp:red"})
	if r.Status != 400 || !strings.Contains(string(r.Body), "red") {
		t.Errorf("tlp:red on a network indicator: %d %s", r.Status, r.Body)
	}
	// Another organisation may not; the coordinator may.
	r = mispCall(h, "POST", "/tags/attachTagToObject", n.other, map[string]any{"uuid": ip, "tag": "mine"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "orgc") {
		t.Errorf("another organisation tags: %d %s", r.Status, r.Body)
	}
	mispOK(t, h, "POST", "/tags/attachTagToObject", n.coord, map[string]any{"uuid": ip, "tag": "z-cert:reviewed"}, nil)
	h.Do("GET", "/api/v1/indicators/"+ip, n.member, nil).JSON(t, &ind)
	if !slices.Contains(ind.Tags, "z-cert:reviewed") || ind.Source != "Ziekenhuis Noord" {
		t.Errorf("coordinator's tag: %+v", ind)
	}
	if got := searchAttrs(t, h, n.member, map[string]any{"value": "203.0.113.45"}); len(got) != 1 {
		t.Errorf("the coordinator's tag made a second indicator: %v", got)
	}
	// The event.
	mispOK(t, h, "POST", "/tags/attachTagToObject", n.member, map[string]any{"uuid": "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b", "tag": []string{"finance", "invoice-fraud"}}, nil)
	ev, _ := viewEvent(t, h, n.other, "5a0b2b4e-8f3c-4d1e-9a7b-1c2d3e4f5a6b")
	var tags []string
	for _, tg := range ev.Tag {
		tags = append(tags, tg.Name)
	}
	if !slices.Contains(tags, "finance") || !slices.Contains(tags, "invoice-fraud") || len(ev.Attribute) != 5 {
		t.Errorf("event tags %v, %d attributes", tags, len(ev.Attribute))
	}
	for _, tc := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"uuid": "9f0e4b1c-0000-4000-8000-000000000000", "tag": "x"}, 404},
		{map[string]any{"uuid": ip, "tag": "hdn:source=\"me\""}, 400},
		{map[string]any{"uuid": ip, "tag": "x", "local": true}, 400},
		{map[string]any{"uuid": ip, "tag": "17"}, 400},
	} {
		if r := mispCall(h, "POST", "/tags/attachTagToObject", n.member, tc.body); r.Status != tc.status {
			t.Errorf("%v: %d %s, want %d", tc.body, r.Status, r.Body, tc.status)
		}
	}
}

// mispSources reads the source shown for every attribute of a MISP answer:
// its hdn:source tag, or its event's Orgc.
func mispSources(got map[string]string, ev *misp.Event) {
	for _, a := range ev.Attribute {
		if !a.ToIDS {
			continue
		}
		src := ""
		if ev.Orgc != nil {
			src = ev.Orgc.Name
		}
		for _, tg := range a.Tag {
			if s, ok := strings.CutPrefix(tg.Name, `hdn:source="`); ok {
				src = strings.TrimSuffix(s, `"`)
			}
		}
		got[a.Value] = src
	}
}

// The MISP API's read paths, for the policy property test (readPaths in
// policy_test.go). They report the source shown per value as a MISP tool
// reads it: an attribute's hdn:source tag, else its event's Orgc.

func readMISPEventsView(t *testing.T, n *policyNet, org string) map[string]string {
	got := map[string]string{}
	var idx []map[string]any
	mispOK(t, n.h, "POST", "/events/index", n.keys[org], map[string]any{}, &idx)
	for _, e := range idx {
		ev, r := viewEvent(t, n.h, n.keys[org], e["uuid"].(string))
		if ev == nil {
			t.Fatalf("events/view %s: %d %s", e["uuid"], r.Status, r.Body)
		}
		mispSources(got, ev)
	}
	return got
}

func readMISPEventSearch(t *testing.T, n *policyNet, org string) map[string]string {
	got := map[string]string{}
	for page := 1; ; page++ {
		var es struct {
			Response []struct {
				Event misp.Event `json:"Event"`
			} `json:"response"`
		}
		mispOK(t, n.h, "POST", "/events/restSearch", n.keys[org], map[string]any{"limit": 2, "page": page}, &es)
		for i := range es.Response {
			mispSources(got, &es.Response[i].Event)
		}
		if len(es.Response) < 2 {
			return got
		}
	}
}

func readMISPAttributeSearch(t *testing.T, n *policyNet, org string) map[string]string {
	got := map[string]string{}
	for page := 1; ; page++ {
		var out struct {
			Response struct {
				Attribute []json.RawMessage `json:"Attribute"`
			} `json:"response"`
		}
		mispOK(t, n.h, "POST", "/attributes/restSearch", n.keys[org], map[string]any{"returnFormat": "json", "limit": 7, "page": page}, &out)
		for _, raw := range out.Response.Attribute {
			var a misp.Attribute
			var ev struct {
				Event struct {
					Orgc misp.Org `json:"Orgc"`
				} `json:"Event"`
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			mispSources(got, &misp.Event{Orgc: &ev.Event.Orgc, Attribute: []misp.Attribute{a}})
		}
		if len(out.Response.Attribute) < 7 {
			return got
		}
	}
}

func readMISPAttributeText(t *testing.T, n *policyNet, org string) map[string]string {
	r := mispOK(t, n.h, "POST", "/attributes/restSearch", n.keys[org], map[string]any{"returnFormat": "text"}, nil)
	got := map[string]string{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			got[line] = ""
		}
	}
	return got
}
