package hub_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Limits and hardening (docs/HARDENING.md), through a real hub.

func hkKeyID(t *testing.T, plain string) string {
	t.Helper()
	id, _, err := auth.Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// wantRateLimited checks a 429 with a whole-second Retry-After and the
// native error envelope.
func wantRateLimited(t *testing.T, what string, r hubtest.Response, code string) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != code {
		t.Errorf("%s: %d %s, want 429 %s", what, r.Status, r.Body, code)
		return
	}
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds, at least 1", what, r.Header.Get("Retry-After"))
	}
}

// TestRateLimits: each key has its own bucket, on the native, MISP and TAXII
// APIs alike; requests without a key (enrolment, the web UI's sign-in) are
// limited by remote address. One token comes every 1,000 s, so the test
// never races the refill.
func TestRateLimits(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{RateLimit: 0.001, RateBurst: 3, AnonRateLimit: 0.001, AnonRateBurst: 2}})
	a := h.Org("hospital-a", policy.Member, "")
	k1, k2 := h.Key(a, policy.Analyst), h.Key(a, policy.Analyst)

	for i := range 3 {
		if r := h.Do("GET", "/api/v1/me", k1, nil); r.Status != 200 {
			t.Fatalf("request %d of the burst: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := h.Do("GET", "/api/v1/me", k1, nil)
	wantRateLimited(t, "native API over the burst", r, api.CodeRateLimited)
	if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); n < 900 {
		t.Errorf("Retry-After %d s; at one token per 1,000 s, want about 1,000", n)
	}
	wantRateLimited(t, "MISP API, same key", h.DoWith("GET", "/servers/getVersion", map[string]string{"Authorization": k1, "Accept": "application/json"}, nil), api.CodeRateLimited)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+k1))
	wantRateLimited(t, "TAXII API, same key", h.DoWith("GET", "/taxii2/", map[string]string{"Authorization": basic, "Accept": "application/taxii+json;version=2.1"}, nil), api.CodeRateLimited)

	// Another key of the same organisation has its own bucket.
	if r := h.Do("GET", "/api/v1/me", k2, nil); r.Status != 200 {
		t.Errorf("another key: %d %s", r.Status, r.Body)
	}
	// A wrong key is 401, not charged to anyone's bucket.
	if r := h.Do("GET", "/api/v1/me", "hdn_nope", nil); r.Status != 401 {
		t.Errorf("a wrong key: %d", r.Status)
	}

	// Without a key: by remote address (all of the test's requests come
	// from 127.0.0.1).
	for i := range 2 {
		r := h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": "hdn_bogus", "name": "s"})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("enrolment %d: %d %s, want 401", i+1, r.Status, r.Body)
		}
	}
	wantRateLimited(t, "enrolment over the address's burst", h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": "hdn_bogus", "name": "s"}), api.CodeRateLimited)
	form := url.Values{"email": {"a@example.org"}, "password": {"wrong password"}}.Encode()
	wantRateLimited(t, "web UI sign-in from the same address", h.DoWith("POST", "/ui/signin", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form), api.CodeRateLimited)
	// Keys still work: their buckets are their own.
	if r := h.Do("GET", "/api/v1/me", k2, nil); r.Status != 200 {
		t.Errorf("a key after the address was limited: %d %s", r.Status, r.Body)
	}
}

// TestRateLimitsOff: a negative rate (hdn hub --rate-limit 0) limits
// nothing.
func TestRateLimitsOff(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{RateLimit: -1, RateBurst: 1}})
	k := h.Key(h.Org("hospital-a", policy.Member, ""), policy.Analyst)
	for i := range 20 {
		if r := h.Do("GET", "/api/v1/me", k, nil); r.Status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
}

// hkOpenStream opens GET /api/v1/stream and waits for its first event; the
// caller closes the body.
func hkOpenStream(t *testing.T, h *hubtest.Hub, key string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := h.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("stream: first line: %v", err)
	}
	return resp, br
}

// TestStreamsPerOrg: an organisation's open streams are bounded apart from
// the hub's; over the bound is 429, and a closed stream frees its slot.
func TestStreamsPerOrg(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Limits: api.Limits{MaxStreamsPerOrg: 1}})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	ka1, ka2, kb := h.Key(a, policy.Sensor), h.Key(a, policy.Sensor), h.Key(b, policy.Sensor)

	first, _ := hkOpenStream(t, h, ka1)
	wantRateLimited(t, "a second stream of hospital-a", h.Do("GET", "/api/v1/stream", ka2, nil), api.CodeTooManyStreams)
	other, _ := hkOpenStream(t, h, kb) // another organisation is not held back
	other.Body.Close()
	first.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", h.URL+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+ka2)
		resp, err := h.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 429 || time.Now().After(deadline) {
			t.Fatalf("after the first stream closed: %d, want 200 once its slot is free", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamsPerParty: a partner, whose admins may make keys for each of
// its customers, holds at most half the hub's streams with them; the
// other organisations keep the rest.
func TestStreamsPerParty(t *testing.T) {
	h := hubtest.Start(t, hub.Config{MaxStreams: 4, Limits: api.Limits{MaxStreamsPerOrg: 2}})
	partner := h.Org("mssp", policy.Partner, "")
	c1, c2 := h.Org("clinic", policy.Customer, partner.ID), h.Org("care-home", policy.Customer, partner.ID)
	member := h.Key(h.Org("hospital-a", policy.Member, ""), policy.Sensor)
	for _, k := range []string{h.Key(partner, policy.Sensor), h.Key(c1, policy.Sensor)} {
		resp, _ := hkOpenStream(t, h, k)
		defer resp.Body.Close()
	}
	// Asked with a deadline: a stream given (the bug) would never end.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+h.Key(c2, policy.Sensor))
	third, err := h.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	third.Body.Close()
	if third.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third stream of the partner's party: %d, want 429", third.StatusCode)
	}
	resp, _ := hkOpenStream(t, h, member) // another organisation still gets one
	resp.Body.Close()
}

// TestKeyScopes walks every endpoint that writes — native, MISP and TAXII —
// with a sensor and a readonly key: a sensor key reports sightings,
// heartbeats and auto-share proposals and nothing else; a readonly key
// writes nothing. Refusals are 403 (the key's role), never a 2xx. A new
// writing endpoint fails this test until it is in the table.
func TestKeyScopes(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	h.Org("sector-cert", policy.Coordinator, "")
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	h.Org("secureops", policy.Partner, "")
	h.Org("clinic", policy.Customer, "secureops")
	analyst := h.Key(a, policy.Analyst)
	admin := h.Key(a, policy.Admin)
	keys := map[policy.Role]string{policy.Sensor: h.Key(a, policy.Sensor), policy.ReadOnly: h.Key(a, policy.ReadOnly)}

	var sub struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": "scope-c2.example.net", "tlp": "green"}}}).JSON(t, &sub)
	if len(sub.Results) != 1 || sub.Results[0].ID == "" {
		t.Fatalf("fixture indicator: %+v", sub)
	}
	ind := sub.Results[0].ID
	var prop struct {
		ID string `json:"id"`
	}
	if r := h.Do("POST", "/api/v1/proposals", analyst, map[string]any{"value": "scope-proposal.example.net"}); r.Status != 201 {
		t.Fatalf("fixture proposal: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &prop)
	}
	if r := h.Do("POST", "/api/v1/groups", analyst, map[string]any{"name": "scope-group", "members": []string{"hospital-b"}}); r.Status != 201 {
		t.Fatalf("fixture group: %d %s", r.Status, r.Body)
	}
	var rep struct {
		ID string `json:"id"`
	}
	h.Do("POST", "/api/v1/reports", analyst, map[string]any{"title": "scope report", "tlp": "green"}).JSON(t, &rep)
	analystID := hkKeyID(t, analyst)
	_ = admin

	item := map[string]any{"value": "scope-new.example.net", "tlp": "green"}
	bundle := map[string]any{"type": "bundle", "id": "bundle--6f2d6b2e-7bd5-4b1e-9e0b-3a4f1f3c9d01", "objects": []any{map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--9b7f3f4e-2a1c-4b6e-8f0d-1c2b3a4d5e6f",
		"created": "2026-11-27T10:00:00Z", "modified": "2026-11-27T10:00:00Z", "pattern": "[domain-name:value = 'scope-stix.example.net']",
		"pattern_type": "stix", "valid_from": "2026-11-27T10:00:00Z"}}}
	mispEvent := map[string]any{"Event": map[string]any{"info": "scope", "distribution": "1", "Attribute": []any{map[string]any{"type": "domain", "value": "scope-misp.example.net"}}}}
	coll := "/taxii2/hdn/collections/74141eb7-8275-54de-ae20-ecc45829b793"
	var objs struct {
		Objects []struct{ Type, ID string } `json:"objects"`
	}
	h.DoWith("GET", coll+"/objects/", map[string]string{"Authorization": "Bearer " + analyst, "Accept": "application/taxii+json;version=2.1"}, nil).JSON(t, &objs)
	stixID := ""
	for _, o := range objs.Objects {
		if o.Type == "indicator" {
			stixID = o.ID
		}
	}
	if stixID == "" {
		t.Fatalf("no indicator in the TAXII collection: %+v", objs)
	}

	type call struct {
		method, path string
		body         any
		sensorMay    bool // a sensor key may (readonly never may)
	}
	native := map[string]call{
		"POST /api/v1/indicators":                          {"POST", "/api/v1/indicators", map[string]any{"indicators": []any{item}}, false},
		"POST /api/v1/sightings":                           {"POST", "/api/v1/sightings", map[string]any{"sightings": []any{map[string]any{"indicator": ind}}}, true},
		"POST /api/v1/proposals":                           {"POST", "/api/v1/proposals", map[string]any{"value": "scope-sensor.example.net"}, true},
		"POST /api/v1/proposals/{id}/approve":              {"POST", "/api/v1/proposals/" + prop.ID + "/approve", map[string]any{"tlp": "green"}, false},
		"POST /api/v1/proposals/{id}/reject":               {"POST", "/api/v1/proposals/" + prop.ID + "/reject", map[string]any{}, false},
		"POST /api/v1/indicators/{id}/revoke":              {"POST", "/api/v1/indicators/" + ind + "/revoke", nil, false},
		"POST /api/v1/indicators/{id}/release":             {"POST", "/api/v1/indicators/" + ind + "/release", nil, false},
		"POST /api/v1/indicators/preview":                  {"POST", "/api/v1/indicators/preview", map[string]any{"indicators": []any{item}}, false},
		"POST /api/v1/reports":                             {"POST", "/api/v1/reports", map[string]any{"title": "t", "tlp": "green"}, false},
		"POST /api/v1/orgs":                                {"POST", "/api/v1/orgs", map[string]any{"name": "clinic-2", "kind": "customer"}, false},
		"POST /api/v1/orgs/{org}/approve":                  {"POST", "/api/v1/orgs/hospital-a/approve", nil, false},
		"POST /api/v1/orgs/{org}/suspend":                  {"POST", "/api/v1/orgs/hospital-a/suspend", nil, false},
		"POST /api/v1/orgs/{org}/resume":                   {"POST", "/api/v1/orgs/hospital-a/resume", nil, false},
		"POST /api/v1/orgs/{org}/move":                     {"POST", "/api/v1/orgs/hospital-a/move", map[string]any{"partner": "secureops"}, false},
		"POST /api/v1/orgs/{org}/offboard":                 {"POST", "/api/v1/orgs/hospital-b/offboard", map[string]any{"source": "keep"}, false},
		"POST /api/v1/orgs/{org}/keys":                     {"POST", "/api/v1/orgs/hospital-a/keys", map[string]any{"role": "admin"}, false},
		"POST /api/v1/orgs/{org}/keys/{key}/revoke":        {"POST", "/api/v1/orgs/hospital-a/keys/" + analystID + "/revoke", nil, false},
		"POST /api/v1/orgs/{org}/keys/{key}/rotate":        {"POST", "/api/v1/orgs/hospital-a/keys/" + analystID + "/rotate", nil, false},
		"POST /api/v1/orgs/{org}/enrolments":               {"POST", "/api/v1/orgs/hospital-a/enrolments", map[string]any{}, false},
		"POST /api/v1/orgs/{org}/users":                    {"POST", "/api/v1/orgs/hospital-a/users", map[string]any{"email": "x@example.org", "role": "admin", "password": "a long enough password 1!"}, false},
		"POST /api/v1/orgs/{org}/users/{user}/disable":     {"POST", "/api/v1/orgs/hospital-a/users/nobody/disable", nil, false},
		"POST /api/v1/orgs/{org}/users/{user}/enable":      {"POST", "/api/v1/orgs/hospital-a/users/nobody/enable", nil, false},
		"POST /api/v1/sensors/heartbeat":                   {"POST", "/api/v1/sensors/heartbeat", map[string]any{"name": "edge-1", "version": "test"}, true},
		"POST /api/v1/groups":                              {"POST", "/api/v1/groups", map[string]any{"name": "scope-group-2"}, false},
		"PUT /api/v1/groups/{group}/members/{org}":         {"PUT", "/api/v1/groups/scope-group/members/" + b.Name, nil, false},
		"DELETE /api/v1/groups/{group}/members/{org}":      {"DELETE", "/api/v1/groups/scope-group/members/" + b.Name, nil, false},
		"POST /api/v1/import/text":                         {"POST", "/api/v1/import/text", map[string]any{"text": "scope-text.example.net", "tlp": "green"}, false},
		"POST /api/v1/import/stix":                         {"POST", "/api/v1/import/stix", bundle, false},
		"POST /api/v1/orgs/{org}/keys/{key}/rotate#grace0": {"POST", "/api/v1/orgs/hospital-a/keys/" + analystID + "/rotate", map[string]any{"grace": "0s"}, false},
		"POST /api/v1/federation/indicators":               {"POST", "/api/v1/federation/indicators", map[string]any{}, false},
		// A read by POST, for peer-hub keys only: refused to these.
		"POST /api/v1/federation/visible": {"POST", "/api/v1/federation/visible", map[string]any{"ids": []string{ind}}, false},
	}
	// Every writing route must be in the table (a read is a GET; the one
	// public write, enrolment, takes a token, not a key).
	for _, rt := range h.Hub.API().Routes() {
		if rt.Method == "GET" || rt.Public {
			continue
		}
		if _, ok := native[rt.Method+" "+rt.Pattern]; !ok {
			t.Errorf("%s %s writes but is not in this test's table: add it, with whether a sensor key may", rt.Method, rt.Pattern)
		}
	}
	for role, key := range keys {
		for name, c := range native {
			r := h.Do(c.method, c.path, key, c.body)
			may := role == policy.Sensor && c.sensorMay
			switch {
			case may && r.Status/100 != 2:
				t.Errorf("%s key, %s: %d %s; want it allowed", role, name, r.Status, r.Body)
			case !may && r.Status != http.StatusForbidden:
				t.Errorf("%s key, %s: %d %s; want 403", role, name, r.Status, r.Body)
			}
		}
	}

	// MISP and TAXII: what writes there.
	type extCall struct {
		method, path string
		hdr          func(key string) map[string]string
		body         any
		sensorMay    bool
	}
	mispHdr := func(key string) map[string]string {
		return map[string]string{"Authorization": key, "Accept": "application/json"}
	}
	taxiiHdr := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + key, "Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"}
	}
	ext := map[string]extCall{
		"POST /events/add":                {"POST", "/events/add", mispHdr, mispEvent, false},
		"POST /events/add/{opts...}":      {"POST", "/events/add/metadata:1", mispHdr, mispEvent, false},
		"POST /sightings/add":             {"POST", "/sightings/add", mispHdr, map[string]any{"value": "scope-c2.example.net"}, true},
		"POST /sightings/add/{id}":        {"POST", "/sightings/add/" + ind, mispHdr, map[string]any{}, true},
		"POST /tags/attachTagToObject":    {"POST", "/tags/attachTagToObject", mispHdr, map[string]any{"uuid": ind, "tag": "tlp:green"}, false},
		"POST objects":                    {"POST", coll + "/objects/", taxiiHdr, map[string]any{"objects": bundle["objects"]}, false},
		"DELETE objects/{object}":         {"DELETE", coll + "/objects/" + stixID + "/", taxiiHdr, nil, false},
		"POST /events/restSearch (read)":  {"POST", "/events/restSearch", mispHdr, map[string]any{"value": "scope-c2.example.net"}, true},
		"POST /attributes/restSearch (r)": {"POST", "/attributes/restSearch", mispHdr, map[string]any{"value": "scope-c2.example.net"}, true},
	}
	for role, key := range keys {
		for name, c := range ext {
			r := h.DoWith(c.method, c.path, c.hdr(key), c.body)
			may := c.sensorMay && (role == policy.Sensor || strings.Contains(name, "restSearch"))
			switch {
			case may && r.Status/100 != 2:
				t.Errorf("%s key, %s: %d %s; want it allowed", role, name, r.Status, r.Body)
			case !may && r.Status != http.StatusForbidden:
				t.Errorf("%s key, %s: %d %s; want 403", role, name, r.Status, r.Body)
			}
		}
	}
	// Nothing the refused calls tried is there.
	for _, v := range []string{"scope-new.example.net", "scope-text.example.net", "scope-misp.example.net", "scope-stix.example.net"} {
		var list struct {
			Indicators []api.IndicatorJSON `json:"indicators"`
		}
		h.Do("GET", "/api/v1/indicators?value="+v, analyst, nil).JSON(t, &list)
		if len(list.Indicators) != 0 {
			t.Errorf("%s was stored by a refused call", v)
		}
	}
	if k, err := h.Store.KeyByID(context.Background(), analystID); err != nil || !k.Usable(time.Now()) {
		t.Errorf("the analyst key after refused revocations and rotations: %+v, %v", k, err)
	}
}

// TestKeyRotation: an organisation's admin rotates a key through the API;
// the new key has the same role and name; the old one works for the grace
// period and then gets the same 401 as an unknown key; a stream of the old
// key ends when it expires.
func TestKeyRotation(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	adminA, adminB := h.Key(a, policy.Admin), h.Key(b, policy.Admin)
	analystA := h.Key(a, policy.Analyst)

	var created struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}
	if r := h.Do("POST", "/api/v1/orgs/hospital-a/keys", adminA, map[string]any{"role": "sensor", "name": "edge-1", "expires_in": "2160h"}); r.Status != 201 {
		t.Fatalf("create key: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &created)
	}
	path := "/api/v1/orgs/hospital-a/keys/" + created.ID + "/rotate"
	for _, tc := range []struct {
		name string
		key  string
		path string
		body any
		want int
	}{
		{"an analyst", analystA, path, nil, 403},
		{"another organisation's admin", adminB, path, nil, 403},
		{"a key of another organisation through one's own", adminB, "/api/v1/orgs/hospital-b/keys/" + created.ID + "/rotate", nil, 404},
		{"a grace too long", adminA, path, map[string]any{"grace": "800h"}, 400},
		{"an unknown field", adminA, path, map[string]any{"grace": "1h", "role": "admin"}, 400},
	} {
		if r := h.Do("POST", tc.path, tc.key, tc.body); r.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
		}
	}

	var rot struct {
		Key          string    `json:"key"`
		ID           string    `json:"id"`
		Role         string    `json:"role"`
		Name         string    `json:"name"`
		ExpiresAt    time.Time `json:"expires_at"`
		Replaces     string    `json:"replaces"`
		OldExpiresAt time.Time `json:"old_expires_at"`
	}
	before := time.Now()
	r := h.Do("POST", path, adminA, map[string]any{"grace": "1h"})
	if r.Status != 201 {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &rot)
	if rot.Role != "sensor" || rot.Name != "edge-1" || rot.Replaces != created.ID || rot.ID == created.ID || rot.Key == "" {
		t.Errorf("rotation: %s", r.Body)
	}
	if d := rot.OldExpiresAt.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("old key expires %v after the rotation, want an hour", d)
	}
	if d := rot.ExpiresAt.Sub(before); d < 2159*time.Hour || d > 2161*time.Hour {
		t.Errorf("new key expires %v from now, want the old key's lifetime, 2160h", d)
	}
	for name, k := range map[string]string{"new key": rot.Key, "old key in its grace period": created.Key} {
		if r := h.Do("GET", "/api/v1/me", k, nil); r.Status != 200 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}

	// The old key's stream ends when the key stops: a second rotation with
	// no grace.
	resp, br := hkOpenStream(t, h, created.Key)
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	if r := h.Do("POST", path, adminA, map[string]any{"grace": "0s"}); r.Status != 201 {
		t.Fatalf("rotate with no grace: %d %s", r.Status, r.Body)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream of a key rotated with no grace did not end")
	}
	unknown := h.Do("GET", "/api/v1/me", "hdn_"+strings.Repeat("a", 20)+"_"+strings.Repeat("b", 40), nil)
	old := h.Do("GET", "/api/v1/me", created.Key, nil)
	if old.Status != 401 || string(old.Body) != string(unknown.Body) {
		t.Errorf("an expired key: %d %s; want what an unknown key gets: %d %s", old.Status, old.Body, unknown.Status, unknown.Body)
	}
	if r := h.Do("POST", path, adminA, nil); r.Status != 409 {
		t.Errorf("rotating an expired key: %d %s, want 409", r.Status, r.Body)
	}
	// The grace of a rotation never makes a key live longer than it would.
	k, err := h.Store.KeyByID(context.Background(), rot.ID)
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(30 * time.Minute)
	if err := h.Store.SetKeyExpiry(context.Background(), rot.ID, soon); err != nil {
		t.Fatal(err)
	}
	var rot2 struct {
		OldExpiresAt time.Time `json:"old_expires_at"`
	}
	h.Do("POST", "/api/v1/orgs/hospital-a/keys/"+k.ID+"/rotate", adminA, map[string]any{"grace": "24h"}).JSON(t, &rot2)
	if !rot2.OldExpiresAt.Equal(soon.UTC().Truncate(time.Microsecond)) && !rot2.OldExpiresAt.Equal(soon.UTC()) {
		t.Errorf("rotating a key that expires in 30 min with 24h grace: old expires %v, want %v", rot2.OldExpiresAt, soon)
	}

	entries, err := h.Store.ListAudit(context.Background(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "key.rotate" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d key.rotate audit entries, want 3", n)
	}
}

// TestRotatedKeyStreamEndsAfterGrace: a stream of a key rotated with a grace
// period goes on until the grace is over, then ends.
func TestRotatedKeyStreamEndsAfterGrace(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	admin, sensorKey := h.Key(a, policy.Admin), h.Key(a, policy.Sensor)
	resp, br := hkOpenStream(t, h, sensorKey)
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	if r := h.Do("POST", "/api/v1/orgs/hospital-a/keys/"+hkKeyID(t, sensorKey)+"/rotate", admin, map[string]any{"grace": "2s"}); r.Status != 201 {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	select {
	case <-ended:
	case <-time.After(60 * time.Second):
		t.Fatal("the stream of a key whose grace is over did not end")
	}
	if r := h.Do("GET", "/api/v1/me", sensorKey, nil); r.Status != 401 {
		t.Errorf("the old key after its grace: %d", r.Status)
	}
}

// TestStreamOutlivesWriteTimeout: the server's write timeout bounds ordinary
// responses, but a stream sets its own deadline on every write and so lives
// on past it (ten heartbeats 100 ms apart outlast a 300 ms write timeout).
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	h := hubtest.Start(t, hub.Config{WriteTimeout: 300 * time.Millisecond, StreamHeartbeat: 100 * time.Millisecond})
	k := h.Key(h.Org("hospital-a", policy.Member, ""), policy.Sensor)
	resp, br := hkOpenStream(t, h, k)
	defer resp.Body.Close()
	for beats := 0; beats < 10; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended after %d heartbeats: %v", beats, err)
		}
		if strings.HasPrefix(line, "event: heartbeat") {
			beats++
		}
	}
	if r := h.Do("GET", "/api/v1/me", k, nil); r.Status != 200 {
		t.Errorf("an ordinary request under the write timeout: %d", r.Status)
	}
}
