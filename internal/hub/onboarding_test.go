package hub_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestPartnersManageOnlyTheirCustomers: a partner's admin creates a
// customer (pending until the coordinator approves it), its keys and
// enrolment tokens, suspends and resumes it; another partner can neither
// see nor manage it, and a member cannot either.
func TestPartnersManageOnlyTheirCustomers(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	p1 := h.Org("Shield MSSP", policy.Partner, "")
	p2 := h.Org("Other MSSP", policy.Partner, "")
	m := h.Org("Hospital A", policy.Member, "")
	kc, k1, k2, km := h.Key(coord, policy.Admin), h.Key(p1, policy.Admin), h.Key(p2, policy.Admin), h.Key(m, policy.Admin)
	k1analyst := h.Key(p1, policy.Analyst)

	// The partner creates a customer: pending.
	r := h.Do("POST", "/api/v1/orgs", k1, map[string]any{"name": "Care Home North"})
	var c struct {
		ID, Name, Kind, Partner, Status string
	}
	r.JSON(t, &c)
	if r.Status != 201 || c.Kind != "customer" || c.Partner != "Shield MSSP" || c.Status != "pending" {
		t.Fatalf("create customer: %d %s", r.Status, r.Body)
	}
	for _, bad := range []struct {
		key  string
		body map[string]any
	}{
		{k1, map[string]any{"name": "Not A Customer", "kind": "member"}},
		{k1, map[string]any{"name": "Someone Else's", "partner": "Other MSSP"}},
		{k1analyst, map[string]any{"name": "By An Analyst"}},
		{km, map[string]any{"name": "By A Member"}},
	} {
		if r := h.Do("POST", "/api/v1/orgs", bad.key, bad.body); r.Status != 403 {
			t.Errorf("create %v: %d %s", bad.body, r.Status, r.Body)
		}
	}
	// Keys and tokens for the pending customer; its keys do not work yet.
	r = h.Do("POST", "/api/v1/orgs/Care Home North/keys", k1, map[string]any{"role": "analyst", "name": "soc"})
	var key struct{ Key, ID string }
	r.JSON(t, &key)
	if r.Status != 201 || key.Key == "" {
		t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", "/api/v1/me", key.Key, nil); r.Status != 403 || !strings.Contains(string(r.Body), "pending") {
		t.Errorf("a pending customer's key: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/orgs/"+c.ID+"/approve", k1, nil); r.Status != 403 {
		t.Errorf("a partner approved its own customer: %d", r.Status)
	}
	if r := h.Do("POST", "/api/v1/orgs/"+c.ID+"/approve", kc, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"active"`) {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", "/api/v1/me", key.Key, nil); r.Status != 200 {
		t.Errorf("an approved customer's key: %d %s", r.Status, r.Body)
	}
	// The other partner and the member: not found (they may not even know
	// of it), nothing managed.
	cpath := "/api/v1/orgs/" + c.ID
	for _, k := range []string{k2, km} {
		for _, call := range [][2]string{
			{"GET", cpath}, {"GET", cpath + "/keys"}, {"POST", cpath + "/keys"}, {"POST", cpath + "/enrolments"},
			{"POST", cpath + "/suspend"}, {"POST", cpath + "/keys/" + key.ID + "/revoke"},
		} {
			var body any
			if call[0] == "POST" {
				body = map[string]any{"role": "sensor"}
				if strings.HasSuffix(call[1], "/suspend") || strings.HasSuffix(call[1], "/revoke") {
					body = nil
				}
			}
			if r := h.Do(call[0], call[1], k, body); r.Status != 404 {
				t.Errorf("%s %s by an outsider: %d %s", call[0], call[1], r.Status, r.Body)
			}
		}
		var list struct{ Orgs []struct{ Name string } }
		h.Do("GET", "/api/v1/orgs", k, nil).JSON(t, &list)
		for _, o := range list.Orgs {
			if o.Name == "Care Home North" {
				t.Errorf("an outsider lists another partner's customer")
			}
		}
		if r := h.Do("GET", "/api/v1/sensors?org="+c.ID, k, nil); r.Status != 404 {
			t.Errorf("an outsider reads the customer's sensors: %d", r.Status)
		}
	}
	// Its own partner lists and manages it.
	var list struct {
		Orgs []struct{ Name, Status string }
	}
	h.Do("GET", "/api/v1/orgs", k1, nil).JSON(t, &list)
	found := false
	for _, o := range list.Orgs {
		found = found || o.Name == "Care Home North" && o.Status == "active"
	}
	if !found {
		t.Errorf("the partner does not list its customer: %+v", list)
	}
	var keys struct{ Keys []struct{ ID, Role string } }
	h.Do("GET", cpath+"/keys", k1, nil).JSON(t, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].ID != key.ID {
		t.Errorf("the customer's keys: %+v", keys)
	}
	if r := h.Do("POST", cpath+"/suspend", k1, nil); r.Status != 200 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", "/api/v1/me", key.Key, nil); r.Status != 403 || !strings.Contains(string(r.Body), "suspended") {
		t.Errorf("a suspended customer's key: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", cpath+"/suspend", k1, nil); r.Status != 409 {
		t.Errorf("suspending twice: %d", r.Status)
	}
	if r := h.Do("POST", cpath+"/resume", k1, nil); r.Status != 200 {
		t.Errorf("resume: %d %s", r.Status, r.Body)
	}
	// The coordinator moves it to the other partner: now that one manages
	// it, and the first does not see it any more.
	if r := h.Do("POST", cpath+"/move", k1, map[string]any{"partner": "Other MSSP"}); r.Status != 403 {
		t.Errorf("a partner moved a customer: %d", r.Status)
	}
	if r := h.Do("POST", cpath+"/move", kc, map[string]any{"partner": "Other MSSP"}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", cpath+"/keys", k2, nil); r.Status != 200 {
		t.Errorf("the new partner: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", cpath, k1, nil); r.Status != 404 {
		t.Errorf("the old partner still sees the customer: %d", r.Status)
	}
	if r := h.Do("POST", cpath+"/move", kc, map[string]any{"partner": "Hospital A"}); r.Status != 400 {
		t.Errorf("moved to a member: %d", r.Status)
	}
	// Audit: every step is there.
	var audit struct{ Entries []struct{ Action string } }
	h.Do("GET", "/api/v1/audit?limit=100", kc, nil).JSON(t, &audit)
	actions := map[string]bool{}
	for _, e := range audit.Entries {
		actions[e.Action] = true
	}
	for _, a := range []string{"org.create", "key.create", "org.approve", "org.suspend", "org.resume", "org.move"} {
		if !actions[a] {
			t.Errorf("no %s in the audit log (%v)", a, actions)
		}
	}
}

// TestEnrolmentTokens: a token is exchanged once for a sensor key; a used,
// expired or made-up token gets the same refusal; a pending organisation's
// token waits for approval.
func TestEnrolmentTokens(t *testing.T) {
	clock := struct {
		sync.Mutex
		now time.Time
	}{now: time.Now().UTC()}
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	advance := func(d time.Duration) { clock.Lock(); clock.now = clock.now.Add(d); clock.Unlock() }
	h := hubtest.Start(t, hub.Config{Now: now})
	m := h.Org("Hospital A", policy.Member, "")
	admin, analyst := h.Key(m, policy.Admin), h.Key(m, policy.Analyst)

	token := func(expires string) string {
		t.Helper()
		body := map[string]any{}
		if expires != "" {
			body["expires_in"] = expires
		}
		r := h.Do("POST", "/api/v1/orgs/Hospital A/enrolments", admin, body)
		var tok struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
		}
		r.JSON(t, &tok)
		if r.Status != 201 || tok.Token == "" {
			t.Fatalf("enrolment token: %d %s", r.Status, r.Body)
		}
		return tok.Token
	}
	if r := h.Do("POST", "/api/v1/orgs/Hospital A/enrolments", analyst, nil); r.Status != 403 {
		t.Errorf("an analyst made an enrolment token: %d", r.Status)
	}
	if r := h.Do("POST", "/api/v1/orgs/Hospital A/enrolments", admin, map[string]any{"expires_in": "48h"}); r.Status != 400 {
		t.Errorf("a token for 48 hours: %d", r.Status)
	}
	enrol := func(tok string) hubtest.Response {
		return h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": tok, "name": "edge-sensor"})
	}
	tok := token("")
	r := enrol(tok)
	var got struct{ Key, KeyID, Org, Role string }
	r.JSON(t, &got)
	if r.Status != 200 || got.Key == "" || got.Org != "Hospital A" || got.Role != "sensor" {
		t.Fatalf("enrol: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), tok) {
		t.Errorf("the answer repeats the token")
	}
	// The key is a sensor key: it reads, it may not submit.
	if r := h.Do("GET", "/api/v1/me", got.Key, nil); r.Status != 200 {
		t.Errorf("the enrolled key: %d", r.Status)
	}
	if r := h.Do("POST", "/api/v1/indicators", got.Key, items(map[string]any{"type": "domain", "value": "x.evil.example"})); r.Status != 403 {
		t.Errorf("a sensor key submitted: %d", r.Status)
	}
	// Once only.
	if r := enrol(tok); r.Status != 401 || r.ErrorCode() != "invalid_token" {
		t.Errorf("a used token: %d %s", r.Status, r.Body)
	}
	// Expiry: a 5-minute token, 5 minutes later.
	tok5 := token("5m")
	advance(5 * time.Minute)
	if r := enrol(tok5); r.Status != 401 || r.ErrorCode() != "invalid_token" {
		t.Errorf("an expired token: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"", "hdn_nope", tok + "x", strings.Replace(tok, tok[len(tok)-4:], "aaaa", 1)} {
		if r := enrol(bad); r.Status != 401 {
			t.Errorf("token %q: %d %s", bad, r.Status, r.Body)
		}
	}
	// A pending customer's token waits for the coordinator's approval.
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	kc := h.Key(coord, policy.Admin)
	p := h.Org("Shield MSSP", policy.Partner, "")
	kp := h.Key(p, policy.Admin)
	r = h.Do("POST", "/api/v1/orgs", kp, map[string]any{"name": "Clinic South"})
	if r.Status != 201 {
		t.Fatal(r.Status)
	}
	r = h.Do("POST", "/api/v1/orgs/Clinic South/enrolments", kp, nil)
	var ptok struct{ Token string }
	r.JSON(t, &ptok)
	if r := enrol(ptok.Token); r.Status != 403 {
		t.Errorf("a pending organisation's sensor enrolled: %d %s", r.Status, r.Body)
	}
	h.Do("POST", "/api/v1/orgs/Clinic South/approve", kc, nil)
	if r := enrol(ptok.Token); r.Status != 200 {
		t.Errorf("after approval: %d %s", r.Status, r.Body)
	}
	// The token never reaches the audit log.
	var audit struct{ Entries []map[string]any }
	h.Do("GET", "/api/v1/audit?limit=100", kc, nil).JSON(t, &audit)
	if s := fmt.Sprint(audit.Entries); strings.Contains(s, tok) || strings.Contains(s, ptok.Token) || strings.Contains(s, got.Key) {
		t.Errorf("a secret in the audit log")
	}
}

// TestEnrolmentTokenOfFormerManager: a token made by a partner for its
// customer no longer enrols a sensor once the coordinator has moved the
// customer to another partner (the move voids it, and a token the old
// partner made meanwhile is refused for its maker); nor does a token made
// by a key revoked since. Tokens made with hdn admin hold.
func TestEnrolmentTokenOfFormerManager(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	kc := h.Key(coord, policy.Admin)
	oldPartner, newPartner := h.Org("Old MSSP", policy.Partner, ""), h.Org("New MSSP", policy.Partner, "")
	kOld, kOld2 := h.Key(oldPartner, policy.Admin), h.Key(oldPartner, policy.Admin)
	clinic := h.Org("Clinic North", policy.Customer, "Old MSSP")
	h.Org("Clinic South", policy.Customer, "Old MSSP")
	token := func(org, key string) string {
		t.Helper()
		r := h.Do("POST", "/api/v1/orgs/"+org+"/enrolments", key, nil)
		var tok struct{ Token string }
		r.JSON(t, &tok)
		if r.Status != 201 || tok.Token == "" {
			t.Fatalf("enrolment token for %s: %d %s", org, r.Status, r.Body)
		}
		return tok.Token
	}
	enrol := func(tok string) hubtest.Response {
		return h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": tok, "name": "edge-sensor"})
	}
	refused := func(what string, r hubtest.Response, want string) {
		t.Helper()
		if r.Status != 401 || r.ErrorCode() != "invalid_token" || !strings.Contains(string(r.Body), want) {
			t.Errorf("%s: %d %s, want 401 invalid_token saying %q", what, r.Status, r.Body, want)
		}
	}
	// The old partner's token, the customer moved.
	tok := token("Clinic North", kOld)
	if r := h.Do("POST", "/api/v1/orgs/Clinic North/move", kc, map[string]any{"partner": "New MSSP"}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	refused("the old partner's token after the move", enrol(tok), "void")
	// A token the old partner's key made (as in a race with the move) is
	// refused for its maker.
	plain, id, hash := auth.NewKey()
	now := time.Now().UTC()
	if err := h.Store.CreateEnrolToken(t.Context(), model.EnrolToken{ID: id, OrgID: clinic.ID, Hash: hash, CreatedBy: hkKeyID(t, kOld),
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	refused("a token of the old partner's key after the move", enrol(plain), "may no longer manage Clinic North")
	// A token of a key revoked since.
	tok = token("Clinic South", kOld2)
	if r := h.Do("POST", "/api/v1/orgs/Old MSSP/keys/"+hkKeyID(t, kOld2)+"/revoke", kOld, nil); r.Status != 200 && r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	refused("a token of a key revoked since", enrol(tok), "revoked")
	// Tokens of keys that may still manage the customer, and of the
	// operator, enrol.
	if r := enrol(token("Clinic North", h.Key(newPartner, policy.Admin))); r.Status != 200 {
		t.Errorf("the new partner's token: %d %s", r.Status, r.Body)
	}
	if r := enrol(token("Clinic South", kOld)); r.Status != 200 {
		t.Errorf("the old partner's token for its remaining customer: %d %s", r.Status, r.Body)
	}
	plain, id, hash = auth.NewKey()
	if err := h.Store.CreateEnrolToken(t.Context(), model.EnrolToken{ID: id, OrgID: clinic.ID, Hash: hash, CreatedBy: "cli",
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r := enrol(plain); r.Status != 200 {
		t.Errorf("a token made with hdn admin: %d %s", r.Status, r.Body)
	}
}

// openStream follows /api/v1/stream and reports when the server ends it.
func openStream(t *testing.T, h *hubtest.Hub, key string) (ended <-chan time.Time) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := h.Client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ready := make(chan struct{})
	done := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		once := false
		for sc.Scan() {
			if !once && strings.HasPrefix(sc.Text(), "event: heartbeat") {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
		done <- time.Now()
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not catch up")
	}
	return done
}

// TestOffboardingCutsStreams: offboarding an organisation revokes its keys
// and ends its open streams — through the API at once, and when done on the
// store directly (as `hdn admin` does from another process) through the
// authentication epoch the hub polls every second. What it shared stays,
// anonymised when the coordinator says so. Other streams go on.
func TestOffboardingCutsStreams(t *testing.T) {
	h := hubtest.Start(t, hub.Config{StreamHeartbeat: time.Hour}) // no heartbeat ends a stream by chance
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	kc := h.Key(coord, policy.Admin)
	leaving := h.Org("Hospital Leaving", policy.Member, "")
	staying := h.Org("Hospital Staying", policy.Member, "")
	kl, ks := h.Key(leaving, policy.Analyst), h.Key(staying, policy.Sensor)
	res := submit(t, h, kl, map[string]any{"type": "domain", "value": "c2.leaving-shared.example", "tlp": "green"})

	staysOpen := openStream(t, h, ks)
	ended := openStream(t, h, kl)
	start := time.Now()
	r := h.Do("POST", "/api/v1/orgs/Hospital Leaving/offboard", kc, map[string]any{"source": "anonymise"})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"keys_revoked":1`) {
		t.Fatalf("offboard: %d %s", r.Status, r.Body)
	}
	select {
	case at := <-ended:
		t.Logf("the stream ended %v after the offboarding request", at.Sub(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the offboarded organisation's stream is still open after 5 s")
	}
	select {
	case <-staysOpen:
		t.Error("another organisation's stream ended")
	default:
	}
	if r := h.Do("GET", "/api/v1/me", kl, nil); r.Status != 401 {
		t.Errorf("an offboarded key: %d", r.Status)
	}
	// What it shared stays, anonymised: the others see it without a name.
	var lr listResp
	h.Do("GET", "/api/v1/indicators?value=c2.leaving-shared.example", ks, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || lr.Indicators[0].ID != res[0].ID || !lr.Indicators[0].Anonymous || lr.Indicators[0].Revoked {
		t.Errorf("what the offboarded organisation shared: %+v", lr.Indicators)
	}

	// The same through the store, as `hdn admin org revoke` does.
	other := h.Org("Hospital Other", policy.Member, "")
	ko := h.Key(other, policy.Sensor)
	ended = openStream(t, h, ko)
	start = time.Now()
	if _, _, err := h.Store.RevokeOrg(t.Context(), other.ID, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-ended:
		t.Logf("the stream ended %v after the store revoked the organisation", at.Sub(start))
	case <-time.After(5 * time.Second):
		t.Fatal("a stream of an organisation revoked in the store is still open after 5 s")
	}
	// Suspending and a key revocation end streams too; the customer moved
	// to another partner gets its stream ended (it reconnects with its new
	// view).
	h.Org("P1", policy.Partner, "")
	h.Org("P2", policy.Partner, "")
	c := h.Org("Clinic", policy.Customer, "P1")
	kcust := h.Key(c, policy.Sensor)
	ended = openStream(t, h, kcust)
	if r := h.Do("POST", "/api/v1/orgs/Clinic/move", kc, map[string]any{"partner": "P2"}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("a moved customer's stream was not ended")
	}
	if r := h.Do("GET", "/api/v1/me", kcust, nil); r.Status != 200 {
		t.Errorf("the moved customer's key: %d", r.Status)
	}
	ended = openStream(t, h, kcust)
	if err := h.Store.SetOrgStatus(t.Context(), c.ID, model.OrgSuspended); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("a suspended customer's stream was not ended")
	}
	select {
	case <-staysOpen:
		t.Error("another organisation's stream ended")
	default:
	}
}

// TestCoverageReport builds a network of 100 organisations through the hub —
// a coordinator, a national CERT, three partners, 60 members and 35
// customers — whose sensors send heartbeats through the API, and checks the
// coordinator's coverage report against figures known by construction:
//
//   - member i has a sensor with a fresh heartbeat when i mod 3 ≠ 0 (40),
//     a stale one (20 minutes old) when i mod 6 = 0 (10), none otherwise;
//     members with i mod 10 = 0 share an indicator (6);
//   - customer j, of partner j mod 3, has a fresh heartbeat when j is even
//     (18), none otherwise.
//
// Protected: 40 + 18 of 60 + 35 = 58 of 95, 61.1%. Per partner (customers,
// protected): P0 12, 6 (j = 0, 6, …, 30 even: 0, 6, 12, 18, 24, 30);
// P1 12, 6; P2 11, 6.
func TestCoverageReport(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(tm time.Time) { mu.Lock(); now = tm; mu.Unlock() }
	h := hubtest.Start(t, hub.Config{Now: clock})
	base := clock()
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	h.Org("National CERT", policy.NationalCERT, "")
	for p := range 3 {
		h.Org(fmt.Sprintf("P%d", p), policy.Partner, "")
	}
	beat := func(org model.Org, at time.Time) {
		t.Helper()
		setClock(at)
		k := h.Key(org, policy.Sensor)
		r := h.Do("POST", "/api/v1/sensors/heartbeat", k, map[string]any{"name": "s-" + org.Name, "version": "test",
			"inputs": []map[string]any{{"path": "/var/log/suricata/eve.json", "format": "eve", "events": 10, "lag_seconds": 0}}, "events_per_second": 1.5})
		if r.Status != 204 {
			t.Fatalf("heartbeat: %d %s", r.Status, r.Body)
		}
	}
	for i := range 60 {
		o := h.Org(fmt.Sprintf("Member %02d", i), policy.Member, "")
		switch {
		case i%3 != 0:
			beat(o, base)
		case i%6 == 0:
			beat(o, base.Add(-20*time.Minute))
		}
		if i%10 == 0 {
			setClock(base)
			submit(t, h, h.Key(o, policy.Analyst), map[string]any{"type": "domain", "value": fmt.Sprintf("m%d.coverage-test.example", i), "tlp": "green"})
		}
	}
	for j := range 35 {
		o := h.Org(fmt.Sprintf("Customer %02d", j), policy.Customer, fmt.Sprintf("P%d", j%3))
		if j%2 == 0 {
			beat(o, base.Add(-time.Minute))
		}
	}
	setClock(base)
	kc := h.Key(coord, policy.Analyst)
	r := h.Do("GET", "/api/v1/coverage", kc, nil)
	var rep struct {
		Protected struct {
			Count, Of int
			Percent   float64
		}
		ByKind map[string]struct {
			Total, Active, Sharing int
			LiveSensor             int `json:"live_sensor"`
			ReceivingOnly          int `json:"receiving_only"`
		} `json:"by_kind"`
		ByPartner []struct {
			Partner   string
			Customers int
			Protected struct{ Count, Of int }
		} `json:"by_partner"`
		Orgs []struct{ Name string }
	}
	r.JSON(t, &rep)
	if r.Status != 200 {
		t.Fatalf("coverage: %d %s", r.Status, r.Body)
	}
	if rep.Protected.Count != 58 || rep.Protected.Of != 95 || rep.Protected.Percent != 61.1 {
		t.Errorf("protected %+v, want 58 of 95, 61.1%%", rep.Protected)
	}
	if m := rep.ByKind["member"]; m.Total != 60 || m.LiveSensor != 40 || m.Sharing != 6 || m.ReceivingOnly != 54 {
		t.Errorf("members %+v", m)
	}
	if c := rep.ByKind["customer"]; c.Total != 35 || c.LiveSensor != 18 {
		t.Errorf("customers %+v", c)
	}
	want := map[string][2]int{"P0": {12, 6}, "P1": {12, 6}, "P2": {11, 6}}
	for _, p := range rep.ByPartner {
		if w := want[p.Partner]; p.Customers != w[0] || p.Protected.Count != w[1] {
			t.Errorf("partner %s: %d customers, %d protected; want %v", p.Partner, p.Customers, p.Protected.Count, w)
		}
	}
	if len(rep.Orgs) != 100 || len(rep.ByPartner) != 3 {
		t.Errorf("%d organisations, %d partners in the report", len(rep.Orgs), len(rep.ByPartner))
	}
	// Only the coordinator reads coverage; a partner reads its customers'
	// sensors, not others'.
	p0 := h.Key(must(h.Store.Org(t.Context(), "P0")), policy.Admin)
	if r := h.Do("GET", "/api/v1/coverage", p0, nil); r.Status != 403 {
		t.Errorf("a partner read coverage: %d", r.Status)
	}
	var sensors struct {
		Sensors []struct {
			OrgName string `json:"org_name"`
			Live    bool
		}
	}
	h.Do("GET", "/api/v1/sensors", p0, nil).JSON(t, &sensors)
	if len(sensors.Sensors) != 6 {
		t.Errorf("P0 sees %d sensors, want its 6 customers' (%+v)", len(sensors.Sensors), sensors)
	}
	for _, s := range sensors.Sensors {
		var j int
		if _, err := fmt.Sscanf(s.OrgName, "Customer %d", &j); err != nil || j%3 != 0 || !s.Live {
			t.Errorf("P0 sees sensor of %q (live %v)", s.OrgName, s.Live)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOtherPartnersCustomersNotFound: naming another partner's customer in
// an audience, in on_behalf_of or as a group member is answered exactly as
// naming an organisation that does not exist, so that the answer does not
// tell that the customer exists; its own partner and the coordinator may
// name it.
func TestOtherPartnersCustomersNotFound(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	p1 := h.Org("Shield MSSP", policy.Partner, "")
	p2 := h.Org("Other MSSP", policy.Partner, "")
	m := h.Org("Hospital A", policy.Member, "")
	h.Org("Care Home North", policy.Customer, "Shield MSSP")
	kc, k1, k2, km := h.Key(coord, policy.Analyst), h.Key(p1, policy.Analyst), h.Key(p2, policy.Analyst), h.Key(m, policy.Analyst)

	answer := func(key, method, path string, body any, name string) string {
		t.Helper()
		r := h.Do(method, path, key, body)
		return fmt.Sprintf("%d %s", r.Status, strings.ReplaceAll(string(r.Body), name, "NAME"))
	}
	red := func(name string) map[string]any {
		return items(map[string]any{"type": "domain", "value": "care-" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".example", "tlp": "red",
			"audience": map[string]any{"orgs": []string{name}}})
	}
	for who, key := range map[string]string{"another partner": k2, "a member": km} {
		for what, call := range map[string]func(name string) string{
			"an audience": func(name string) string {
				return answer(key, "POST", "/api/v1/indicators?atomic=true", red(name), name)
			},
			"on_behalf_of": func(name string) string {
				return answer(key, "POST", "/api/v1/indicators", items(map[string]any{"type": "domain", "value": "obo.example", "on_behalf_of": name}), name)
			},
			"a new group's members": func(name string) string {
				return answer(key, "POST", "/api/v1/groups", map[string]any{"name": "g-" + who + "-" + name, "members": []string{name}}, name)
			},
		} {
			hidden, unknown := call("Care Home North"), call("No Such Home")
			if hidden != strings.ReplaceAll(unknown, "g-"+who+"-No Such Home", "g-"+who+"-Care Home North") || strings.Contains(hidden, `"created"`) {
				t.Errorf("%s naming another partner's customer in %s: %s\n  naming nobody: %s", who, what, hidden, unknown)
			}
		}
	}
	// Its partner and the coordinator may name it.
	for who, key := range map[string]string{"its partner": k1, "the coordinator": kc} {
		if res := submit(t, h, key, map[string]any{"type": "domain", "value": "for-care-" + strings.ReplaceAll(who, " ", "-") + ".example", "tlp": "red",
			"audience": map[string]any{"orgs": []string{"Care Home North"}}}); res[0].Status != "created" {
			t.Errorf("%s naming the customer: %+v", who, res[0])
		}
	}
}

// TestAuditWithholdsWhatTheCoordinatorMayNotSee: the coordinator reads
// every organisation's audit entries, but not the value or title an entry
// names when the coordinator may not see its target (a RED indicator or
// report not addressed to it); the organisation's own admin reads them.
func TestAuditWithholdsWhatTheCoordinatorMayNotSee(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	a := h.Org("Hospital A", policy.Member, "")
	h.Org("Hospital B", policy.Member, "")
	kc, ka, kaAdmin := h.Key(coord, policy.Admin), h.Key(a, policy.Analyst), h.Key(a, policy.Admin)
	red := map[string]any{"orgs": []string{"Hospital B"}}
	if r := h.Do("POST", "/api/v1/reports", ka, map[string]any{"title": "Quiet ward findings", "tlp": "red", "audience": red}); r.Status != 201 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	res := submit(t, h, ka, map[string]any{"type": "domain", "value": "red-only.audit-test.example.org", "tlp": "red", "audience": red})
	if r := h.Do("POST", "/api/v1/indicators/"+res[0].ID+"/revoke", ka, map[string]any{}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	read := func(key string) string {
		t.Helper()
		r := h.Do("GET", "/api/v1/audit?limit=1000", key, nil)
		if r.Status != 200 {
			t.Fatalf("audit: %d %s", r.Status, r.Body)
		}
		return string(r.Body)
	}
	if got := read(kc); strings.Contains(got, "Quiet ward") || strings.Contains(got, "red-only.audit-test") || !strings.Contains(got, "withheld") {
		t.Errorf("the coordinator's audit log names a RED report or value not addressed to it:\n%s", got)
	}
	if got := read(kaAdmin); !strings.Contains(got, "Quiet ward") || !strings.Contains(got, "red-only.audit-test") {
		t.Errorf("the organisation's own audit log lacks its entries' details:\n%s", got)
	}
}

// TestOrgStatusOnlyToThoseConcerned: another member reads an organisation's
// name and kind, not whether it is suspended, and does not find one that
// was offboarded; the coordinator reads both.
func TestOrgStatusOnlyToThoseConcerned(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("Sector CERT", policy.Coordinator, "")
	h.Org("Hospital A", policy.Member, "")
	b := h.Org("Hospital B", policy.Member, "")
	kc, kb := h.Key(coord, policy.Admin), h.Key(b, policy.Analyst)
	if r := h.Do("POST", "/api/v1/orgs/Hospital A/suspend", kc, map[string]any{}); r.Status != 200 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	var seen struct{ Name, Status string }
	h.Do("GET", "/api/v1/orgs/Hospital A", kb, nil).JSON(t, &seen)
	if seen.Name != "Hospital A" || seen.Status != "" {
		t.Errorf("another member reads %+v; want the name without the status", seen)
	}
	h.Do("GET", "/api/v1/orgs/Hospital A", kc, nil).JSON(t, &seen)
	if seen.Status != "suspended" {
		t.Errorf("the coordinator reads %+v; want the status", seen)
	}
	if r := h.Do("POST", "/api/v1/orgs/Hospital A/offboard", kc, map[string]any{"source": "keep"}); r.Status != 200 {
		t.Fatalf("offboard: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", "/api/v1/orgs/Hospital A", kb, nil); r.Status != 404 {
		t.Errorf("another member reads an offboarded organisation: %d %s", r.Status, r.Body)
	}
}
