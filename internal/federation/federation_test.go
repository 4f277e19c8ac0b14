package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/federation"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/open"
)

// These tests run a Manager of their own over a real SQLite store (the
// "local" hub: a store and an api.Server, no listener, since the Manager
// only calls out) against real hubs on loopback ports (hubtest), most of
// them behind a proxy that records every request and can be made to fail.

var quiet = slog.New(slog.DiscardHandler)

// local is the hub whose Manager is under test.
type local struct {
	dir   string
	st    store.Store
	api   *api.Server
	close func()
}

// openLocal opens (or reopens) the local hub's store in dir.
func openLocal(t *testing.T, dir string) *local {
	t.Helper()
	st, err := open.Open(context.Background(), dir, "")
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	l := &local{dir: dir, st: st, api: api.New(api.Config{Store: st, Logger: quiet,
		Limits: api.Limits{RateLimit: -1, MaxStreamsPerOrg: -1}})}
	l.close = sync.OnceFunc(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	t.Cleanup(l.close)
	if _, err := l.api.HubID(context.Background()); err != nil {
		t.Fatalf("hub id: %v", err)
	}
	return l
}

// reopen closes the store and opens it again, as a restarted hub does.
func (l *local) reopen(t *testing.T) *local {
	t.Helper()
	l.close()
	return openLocal(t, l.dir)
}

func (l *local) org(t *testing.T, name string, kind policy.OrgKind) model.Org {
	t.Helper()
	o, err := l.st.CreateOrg(context.Background(), model.Org{Name: name, Kind: kind})
	if err != nil {
		t.Fatalf("create org %s: %v", name, err)
	}
	return o
}

func (l *local) key(t *testing.T, o model.Org) string {
	t.Helper()
	plain, id, hash := auth.NewKey()
	if err := l.st.CreateKey(context.Background(), model.Key{ID: id, OrgID: o.ID, Role: policy.Analyst, Hash: hash, Created: time.Now().UTC()}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return plain
}

// submit shares green domains (value, confidence pairs) through the local
// API and returns their ids.
func (l *local) submit(t *testing.T, key string, conf int, values ...string) []string {
	t.Helper()
	var its []map[string]any
	for _, v := range values {
		its = append(its, map[string]any{"type": "domain", "value": v, "tlp": "green", "confidence": conf})
	}
	status, body := l.post(t, key, "/api/v1/indicators", map[string]any{"indicators": its})
	return submitted(t, status, body, len(values))
}

// post sends body as JSON to the local API and returns the answer.
func (l *local) post(t *testing.T, key, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	l.api.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func submitted(t *testing.T, status int, body []byte, n int) []string {
	t.Helper()
	var out struct {
		Results []api.ItemResult `json:"results"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || len(out.Results) != n {
		t.Fatalf("submit: %d %s", status, body)
	}
	ids := make([]string, n)
	for i, r := range out.Results {
		if r.ID == "" {
			t.Fatalf("submit: item %d not stored: %s", i, body)
		}
		ids[i] = r.ID
	}
	return ids
}

// addPeer makes the peer-hub organisation standing for a peer hub and the
// peer itself.
func (l *local) addPeer(t *testing.T, name, url, key string, pull, push, paused bool) model.Peer {
	t.Helper()
	o := l.org(t, name, policy.PeerHub)
	p, err := l.st.CreatePeer(context.Background(), model.Peer{Name: name, OrgID: o.ID, URL: url, Key: key, Pull: pull, Push: push, Paused: paused})
	if err != nil {
		t.Fatalf("create peer %s: %v", name, err)
	}
	return p
}

func (l *local) peer(t *testing.T, id string) model.Peer {
	t.Helper()
	p, err := l.st.Peer(context.Background(), id)
	if err != nil {
		t.Fatalf("peer %s: %v", id, err)
	}
	return p
}

// startManager runs a Manager on l until the returned stop is called (or
// the test ends). Everything is quick: the peer list is read every 50 ms,
// failures back off from 20 ms to 200 ms, requests time out after 1 s;
// tune changes that.
func startManager(t *testing.T, l *local, tune ...func(*federation.Config)) (m *federation.Manager, stop func()) {
	t.Helper()
	cfg := federation.Config{Store: l.st, API: l.api, Logger: quiet,
		Check: 50 * time.Millisecond, PushPoll: 20 * time.Millisecond, SightingsEvery: 100 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		HTTP:       &http.Client{Timeout: time.Second},
		StreamHTTP: &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: time.Second}}}
	for _, f := range tune {
		f(&cfg)
	}
	m = federation.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Manager.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the Manager did not stop within 10 s")
		}
	})
	t.Cleanup(stop)
	return m, stop
}

// remote is a real peer hub with a member organisation that shares, a
// coordinator that looks, and the peer-hub organisation standing for the
// local hub (with the key the local hub presents).
type remote struct {
	*hubtest.Hub
	member, cert, forLocal model.Org
	memberKey, localKey    string
}

func startRemote(t *testing.T) *remote {
	t.Helper()
	h := hubtest.Start(t, hub.Config{FederationCheck: -1, StreamHeartbeat: 200 * time.Millisecond, StreamPoll: 50 * time.Millisecond})
	r := &remote{Hub: h, member: h.Org("hosp", policy.Member, ""), cert: h.Org("cert", policy.Coordinator, ""),
		forLocal: h.Org("localhub", policy.PeerHub, "")}
	r.memberKey = h.Key(r.member, policy.Analyst)
	r.localKey = h.Key(r.forLocal, policy.Analyst)
	return r
}

func (r *remote) submit(t *testing.T, conf int, values ...string) []string {
	t.Helper()
	var its []map[string]any
	for _, v := range values {
		its = append(its, map[string]any{"type": "domain", "value": v, "tlp": "green", "confidence": conf})
	}
	resp := r.Do("POST", "/api/v1/indicators", r.memberKey, map[string]any{"indicators": its})
	return submitted(t, resp.Status, resp.Body, len(values))
}

// held is what the organisation orgID sees of value in st, revoked
// indicators included.
func held(t *testing.T, st store.Store, orgID, value string) []model.Indicator {
	t.Helper()
	ctx := context.Background()
	v, err := st.Viewer(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	inds, err := st.ListIndicators(ctx, v, store.Query{Value: value, IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	return inds
}

// one is the single indicator orgID holds of value (false: none, or more).
func one(t *testing.T, st store.Store, orgID, value string) (model.Indicator, bool) {
	t.Helper()
	inds := held(t, st, orgID, value)
	if len(inds) != 1 {
		return model.Indicator{}, false
	}
	return inds[0], true
}

func lastSeq(t *testing.T, st store.Store) int64 {
	t.Helper()
	n, err := st.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyState(t, within, what, func() (bool, string) { return cond(), "" })
}

// eventuallyState is eventually with a description of the last state seen,
// for the failure message.
func eventuallyState(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s; last seen: %s", within, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy is a real HTTP server in front of a peer hub. It records every
// request and, as told, forwards it, answers 500, answers truncated JSON,
// never answers, or applies a queue of one-off faults to the next requests
// of one route.
type proxy struct {
	srv  *httptest.Server
	rp   *httputil.ReverseProxy
	quit chan struct{}

	mu     sync.Mutex
	mode   string
	epoch  context.Context // forwarded requests end when the mode changes
	cancel context.CancelFunc
	log    []string
	faults map[string][]string // "POST /path" -> the next requests' actions
}

// The proxy's modes and one-off actions.
const (
	forward = "forward" // to the hub behind
	fail500 = "500"     // 500 with a text body
	garbage = "garbage" // 200 with JSON cut short (fewer bytes than Content-Length)
	hang    = "hang"    // never answer
	refuse  = "404"     // the peer refuses, as it does a sighting of an indicator it no longer shows
	cut     = "cut"     // read the request, close the connection without an answer
	lost    = "lost"    // forward, let the hub behind answer, then close the connection without the answer
)

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	p := &proxy{quit: make(chan struct{}), mode: forward, faults: map[string][]string{}}
	p.epoch, p.cancel = context.WithCancel(context.Background())
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = tr
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.Start()
	t.Cleanup(func() {
		p.srv.Close()
		tr.CloseIdleConnections()
	})
	t.Cleanup(func() { // first: end hung and forwarded requests
		close(p.quit)
		p.setMode(forward)
	})
	return p
}

func (p *proxy) URL() string { return p.srv.URL }

// setMode changes what the proxy does and ends the requests it forwards
// (an open stream included).
func (p *proxy) setMode(m string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.cancel()
	p.epoch, p.cancel = context.WithCancel(context.Background())
}

// fault queues one-off actions for the next requests of a route.
func (p *proxy) fault(route string, actions ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[route] = append(p.faults[route], actions...)
}

// clearFaults drops the one-off actions not yet taken.
func (p *proxy) clearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.faults)
}

// requests lists the requests so far ("GET /api/v1/stream?cursor=3").
func (p *proxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// count counts the requests that start with prefix.
func (p *proxy) count(prefix string) int {
	n := 0
	for _, r := range p.requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	p.mu.Lock()
	p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
	action, epoch := p.mode, p.epoch
	if q := p.faults[route]; len(q) > 0 {
		action, p.faults[route] = q[0], q[1:]
	}
	p.mu.Unlock()
	switch action {
	case fail500:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case refuse:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"indicator not found"}}`)
	case garbage:
		if r.URL.Path == "/api/v1/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: created\nid: 99\ndata: {\"kind\":\"created\",\"indicator\":{\"id\":\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "64")
		io.WriteString(w, `{"hub_id":"01`)
	case hang:
		select {
		case <-r.Context().Done():
		case <-p.quit:
		}
	case lost:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	case cut:
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(epoch, cancel)()
		p.rp.ServeHTTP(w, r.WithContext(ctx))
	}
}

// compactor is the store's change-log compaction (SQLite and PostgreSQL
// have it; the Store interface does not).
type compactor interface {
	CompactChanges(ctx context.Context, keepAfter int64) (int64, error)
}

// TestPushResyncsAfterCompaction: the push loop stopped with its cursor in
// the change log; meanwhile indicators were revoked, updated, created (one
// created and revoked) and the log compacted past the cursor. Started
// again, push must notice (store.ErrCursorGone), offer the peer everything
// it may see once more — revoked indicators included — and go on from the
// head of the log, so that the peer ends with exactly the right state.
func TestPushResyncsAfterCompaction(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	cert := l.org(t, "cert", policy.Coordinator)
	key := l.key(t, cert)
	b := startRemote(t)
	peer := l.addPeer(t, "b", b.URL, b.localKey, false, true, false)
	const (
		vA, vB, vC = "a.resync.example", "b.resync.example", "c.resync.example"
		vD, vE, vF = "d.resync.example", "e.resync.example", "f.resync.example"
	)
	ids := l.submit(t, key, 50, vA, vB, vC)

	_, stop := startManager(t, l)
	eventually(t, 10*time.Second, "the first three indicators reach the peer", func() bool {
		for _, v := range []string{vA, vB, vC} {
			if _, ok := one(t, b.Store, b.cert.ID, v); !ok {
				return false
			}
		}
		return l.peer(t, peer.ID).PushCursor == 3
	})
	stop()

	// While push is stopped: a revocation, an update, a new indicator, and
	// one created and revoked; then the log is compacted past the cursor.
	if _, err := l.st.Revoke(ctx, ids[0], time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	l.submit(t, key, 90, vB)
	l.submit(t, key, 50, vD)
	e := l.submit(t, key, 50, vE)
	if _, err := l.st.Revoke(ctx, e[0], time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	head := lastSeq(t, l.st)
	if _, err := l.st.(compactor).CompactChanges(ctx, head); err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.Changes(ctx, 3, 10); !errors.Is(err, store.ErrCursorGone) {
		t.Fatalf("Changes after the push cursor once compacted: %v, want ErrCursorGone (the test would not test the resync)", err)
	}

	startManager(t, l)
	l.submit(t, key, 50, vF) // after the compaction: follows the resync
	eventuallyState(t, 10*time.Second, "the peer holds exactly the local state", func() (bool, string) {
		a, okA := one(t, b.Store, b.cert.ID, vA)
		bb, okB := one(t, b.Store, b.cert.ID, vB)
		_, okC := one(t, b.Store, b.cert.ID, vC)
		_, okD := one(t, b.Store, b.cert.ID, vD)
		_, okF := one(t, b.Store, b.cert.ID, vF)
		return okA && a.Revoked && okB && !bb.Revoked && bb.Confidence == 90 && okC && okD && okF,
			fmt.Sprintf("a held %t revoked %t; b held %t confidence %d; c %t, d %t, f %t", okA, a.Revoked, okB, bb.Confidence, okC, okD, okF)
	})
	if got := held(t, b.Store, b.cert.ID, vE); len(got) != 0 {
		t.Errorf("the peer holds %s, created and revoked before it ever saw it: %+v", vE, got)
	}
	if c, _ := one(t, b.Store, b.cert.ID, vC); c.Revoked {
		t.Errorf("%s was revoked on the peer", vC)
	}
	eventually(t, 10*time.Second, "the push cursor reaches the head of the log", func() bool {
		return l.peer(t, peer.ID).PushCursor == lastSeq(t, l.st)
	})
}

// TestPullResumesAfterRestart: a Manager stopped and started again on the
// same (reopened) store follows the peer's stream from the stored cursor —
// no second snapshot — and applies what changed meanwhile exactly once.
func TestPullResumesAfterRestart(t *testing.T) {
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	peer := l.addPeer(t, "b", p.URL(), b.localKey, true, false, false)
	r := b.submit(t, 50, "r1.pull.example", "r2.pull.example", "r3.pull.example")

	_, stop := startManager(t, l)
	eventually(t, 10*time.Second, "the snapshot is applied and the cursor stored", func() bool {
		return len(held(t, l.st, soc.ID, "r3.pull.example")) == 1 && l.peer(t, peer.ID).PullCursor == lastSeq(t, b.Store)
	})
	stop()
	if n := lastSeq(t, l.st); n != 3 {
		t.Fatalf("the snapshot of 3 indicators wrote %d changes", n)
	}
	cursor := l.peer(t, peer.ID).PullCursor
	before := len(p.requests())

	// Meanwhile on the peer: two new indicators, an update, a revocation.
	b.submit(t, 50, "r4.pull.example", "r5.pull.example")
	b.submit(t, 90, "r1.pull.example")
	if resp := b.Do("POST", "/api/v1/indicators/"+r[1]+"/revoke", b.memberKey, nil); resp.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
	}

	l = l.reopen(t)
	startManager(t, l)
	eventually(t, 10*time.Second, "the changes made meanwhile arrive", func() bool {
		r1, ok1 := one(t, l.st, soc.ID, "r1.pull.example")
		r2, ok2 := one(t, l.st, soc.ID, "r2.pull.example")
		_, ok4 := one(t, l.st, soc.ID, "r4.pull.example")
		_, ok5 := one(t, l.st, soc.ID, "r5.pull.example")
		return ok1 && r1.Confidence == 90 && ok2 && r2.Revoked && ok4 && ok5 &&
			l.peer(t, peer.ID).PullCursor == lastSeq(t, b.Store)
	})
	var streams []string
	for _, req := range p.requests()[before:] {
		if strings.HasPrefix(req, "GET /api/v1/stream") {
			streams = append(streams, req)
		}
	}
	if want := fmt.Sprintf("GET /api/v1/stream?cursor=%d", cursor); len(streams) == 0 || streams[0] != want {
		t.Errorf("stream requests after the restart: %q, want the first to be %q", streams, want)
	}
	for _, s := range streams {
		if !strings.Contains(s, "cursor=") {
			t.Errorf("a snapshot was taken again after the restart: %q", s)
		}
	}
	// What the restart wrote: the two new indicators, the update and the
	// revocation (which ApplyFederated stores as the new version, then
	// revokes), each once; nothing of r3, which did not change.
	changes, err := l.st.Changes(context.Background(), 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]model.ChangeKind{}
	for _, c := range changes {
		kinds[c.Indicator.Value] = append(kinds[c.Indicator.Value], c.Kind)
	}
	want := map[string][]model.ChangeKind{"r1.pull.example": {model.Updated}, "r2.pull.example": {model.Updated, model.Revoked},
		"r4.pull.example": {model.Created}, "r5.pull.example": {model.Created}}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("changes written after the restart: %v, want %v", kinds, want)
	}
}

// TestFailingPeerDoesNotHoldUpOthers: one peer answers 500, then truncated
// JSON, then nothing at all, while another peer works. Indicators keep
// crossing to and from the working peer; the failing peer's state in the
// store shows each failure; its loops back off instead of hammering it; and
// when it heals everything held back crosses and its error clears.
func TestFailingPeerDoesNotHoldUpOthers(t *testing.T) {
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	key := l.key(t, soc)
	good := startRemote(t)
	bad := startRemote(t)
	p := newProxy(t, bad.URL)
	p.setMode(fail500)
	goodPeer := l.addPeer(t, "good", good.URL, good.localKey, true, true, false)
	badPeer := l.addPeer(t, "bad", p.URL(), bad.localKey, true, true, false)
	startManager(t, l, func(c *federation.Config) {
		c.HTTP = &http.Client{Timeout: 500 * time.Millisecond}
		c.StreamHTTP = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 500 * time.Millisecond}}
	})

	modes := []struct {
		mode string
		err  string // in the peer's last error
	}{
		{fail500, "peer answered 500"},
		{garbage, "unexpected EOF"},
		{hang, "Timeout exceeded"},
	}
	for i, m := range modes {
		p.setMode(m.mode)
		eventually(t, 10*time.Second, m.mode+": the failure shows in the failing peer's state", func() bool {
			return strings.Contains(l.peer(t, badPeer.ID).LastError, m.err)
		})
		mine := fmt.Sprintf("local-%d.fail.example", i)
		theirs := fmt.Sprintf("good-%d.fail.example", i)
		l.submit(t, key, 50, mine)
		good.submit(t, 50, theirs)
		eventually(t, 10*time.Second, m.mode+": indicators cross to and from the working peer", func() bool {
			return len(held(t, good.Store, good.cert.ID, mine)) == 1 && len(held(t, l.st, soc.ID, theirs)) == 1
		})
		// On a loaded machine a request to the working peer can itself
		// time out (500 ms here) before a retry works; what must hold is
		// that its state clears, while the failing peer's does not.
		eventuallyState(t, 10*time.Second, m.mode+": the working peer shows no error", func() (bool, string) {
			st := l.peer(t, goodPeer.ID)
			return st.LastError == "", st.LastError
		})
	}

	// Backing off: with failures waiting 20 ms doubling to 200 ms, pull
	// and push try at most about 10 times a second each, and sightings
	// (every 100 ms) 10 times; a loop that did not wait would try
	// thousands of times.
	p.setMode(fail500)
	time.Sleep(300 * time.Millisecond)
	n0 := len(p.requests())
	time.Sleep(time.Second)
	if n := len(p.requests()) - n0; n > 60 {
		t.Errorf("the failing peer got %d requests in 1 s: no back-off", n)
	}
	if st := l.peer(t, badPeer.ID); st.PullCursor != 0 || st.PushCursor != 0 {
		t.Errorf("cursors moved while the peer failed: pull %d, push %d", st.PullCursor, st.PushCursor)
	}

	healed := time.Now().UTC()
	p.setMode(forward)
	bad.submit(t, 50, "bad.fail.example")
	eventually(t, 10*time.Second, "the healed peer takes what was held back, and delivers", func() bool {
		for i := range modes {
			if len(held(t, bad.Store, bad.cert.ID, fmt.Sprintf("local-%d.fail.example", i))) != 1 {
				return false
			}
		}
		return len(held(t, l.st, soc.ID, "bad.fail.example")) == 1
	})
	eventually(t, 10*time.Second, "the healed peer's error clears", func() bool {
		st := l.peer(t, badPeer.ID)
		return st.LastError == "" && !st.LastOK.Before(healed) && st.PushCursor == lastSeq(t, l.st)
	})
}

// TestPullStreamFailures: a peer whose stream fails while the rest of its
// API answers. Answering 500, it is not reported healthy: the failure shows
// in its state (the stream client reconnects on its own; pull records what
// each connection got). Sending an event cut short, nothing is applied and
// the cursor does not jump to the broken event's id. In both, the cursor
// stays; when the stream works again the change made meanwhile arrives and
// the error clears.
func TestPullStreamFailures(t *testing.T) {
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	peer := l.addPeer(t, "b", p.URL(), b.localKey, true, false, false)
	b.submit(t, 50, "x.stream.example")
	// Sightings (and their hello, which marks the peer in contact) once a
	// minute, as in production: the hello must not hide the failure.
	startManager(t, l, func(c *federation.Config) { c.SightingsEvery = time.Minute })
	eventually(t, 10*time.Second, "the stream is followed", func() bool {
		st := l.peer(t, peer.ID)
		return st.PullCursor == 1 && st.LastError == "" && !st.LastOK.IsZero()
	})

	for _, mode := range []string{fail500, garbage} {
		for range 1000 {
			p.fault("GET /api/v1/stream", mode)
		}
		p.setMode(forward) // ends the open stream
		if mode == fail500 {
			b.submit(t, 50, "y.stream.example")
		}
		from := p.count("GET /api/v1/stream")
		eventually(t, 10*time.Second, mode+": the stream is tried again and again", func() bool {
			return p.count("GET /api/v1/stream") >= from+3
		})
		if mode == fail500 {
			eventually(t, 10*time.Second, "the stream's failure shows in the peer's state", func() bool {
				return strings.Contains(l.peer(t, peer.ID).LastError, "500")
			})
		}
		if st := l.peer(t, peer.ID); st.PullCursor != 1 {
			t.Errorf("%s: the cursor moved to %d while the stream failed", mode, st.PullCursor)
		}
		if got := held(t, l.st, soc.ID, "y.stream.example"); len(got) != 0 {
			t.Fatalf("%s: an indicator arrived through a failing stream", mode)
		}
		p.clearFaults()
	}

	eventually(t, 10*time.Second, "the stream heals: the change arrives and the error clears", func() bool {
		st := l.peer(t, peer.ID)
		return len(held(t, l.st, soc.ID, "y.stream.example")) == 1 && st.LastError == "" && st.PullCursor == lastSeq(t, b.Store)
	})
	if n := lastSeq(t, l.st); n != 2 {
		t.Errorf("the local hub wrote %d changes for 2 indicators", n)
	}
}

// TestLoopErrorsKeptApart: one loop's success does not clear another's
// failure. With every push refused while pull and the sightings round
// work, the peer's last error keeps naming push after indicators were
// pulled (so it is not reported healthy); once push works, it clears.
func TestLoopErrorsKeptApart(t *testing.T) {
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	key := l.key(t, soc)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	for range 100_000 {
		p.fault("POST /api/v1/federation/indicators", fail500)
	}
	peer := l.addPeer(t, "b", p.URL(), b.localKey, true, true, false)
	l.submit(t, key, 50, "mine.loops.example")
	startManager(t, l)
	eventually(t, 10*time.Second, "push fails", func() bool {
		return strings.Contains(l.peer(t, peer.ID).LastError, "push: ")
	})
	pulledAt := time.Now().UTC()
	b.submit(t, 50, "theirs.loops.example")
	eventually(t, 10*time.Second, "pull goes on", func() bool {
		return len(held(t, l.st, soc.ID, "theirs.loops.example")) == 1
	})
	// A few more rounds of every loop (sightings every 100 ms, push
	// retries at most 200 ms apart).
	time.Sleep(500 * time.Millisecond)
	st := l.peer(t, peer.ID)
	if !strings.Contains(st.LastError, "push: ") || strings.Contains(st.LastError, "pull: ") {
		t.Errorf("after a pull and with push failing, the last error is %q", st.LastError)
	}
	if st.LastOK.Before(pulledAt) {
		t.Errorf("last ok %v is before the pull at %v", st.LastOK, pulledAt)
	}
	if st.PushCursor != 0 {
		t.Errorf("the push cursor moved to %d while every push failed", st.PushCursor)
	}
	p.clearFaults()
	eventually(t, 10*time.Second, "push heals and the error clears", func() bool {
		st := l.peer(t, peer.ID)
		return st.LastError == "" && len(held(t, b.Store, b.cert.ID, "mine.loops.example")) == 1
	})
}

// TestPausedPeer: a paused peer is neither pulled from nor pushed to, nor
// even contacted; resumed, it catches up from its cursors; paused again,
// nothing more crosses and its cursors stay.
func TestPausedPeer(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	key := l.key(t, soc)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	peer := l.addPeer(t, "b", p.URL(), b.localKey, true, true, true)
	l.submit(t, key, 50, "l1.paused.example")
	b.submit(t, 50, "r1.paused.example")
	m, _ := startManager(t, l)

	// Nothing to wait for: a paused peer does nothing. Give the Manager
	// ten rounds of reading the peer list.
	time.Sleep(500 * time.Millisecond)
	if reqs := p.requests(); len(reqs) != 0 {
		t.Fatalf("a paused peer was contacted: %q", reqs)
	}
	if len(m.Active()) != 0 || len(held(t, b.Store, b.cert.ID, "l1.paused.example")) != 0 || len(held(t, l.st, soc.ID, "r1.paused.example")) != 0 {
		t.Fatalf("something crossed to or from a paused peer (active: %q)", m.Active())
	}

	setPaused := func(paused bool) {
		t.Helper()
		pr := l.peer(t, peer.ID)
		pr.Paused = paused
		if err := l.st.UpdatePeer(ctx, pr); err != nil {
			t.Fatal(err)
		}
	}
	setPaused(false)
	eventually(t, 10*time.Second, "resumed, it catches up both ways", func() bool {
		return len(held(t, b.Store, b.cert.ID, "l1.paused.example")) == 1 && len(held(t, l.st, soc.ID, "r1.paused.example")) == 1 &&
			l.peer(t, peer.ID).PullCursor == lastSeq(t, b.Store)
	})

	setPaused(true)
	eventually(t, 10*time.Second, "paused again, its loops stop", func() bool { return len(m.Active()) == 0 })
	st := l.peer(t, peer.ID)
	n := len(p.requests())
	l.submit(t, key, 50, "l2.paused.example")
	b.submit(t, 50, "r2.paused.example")
	time.Sleep(500 * time.Millisecond)
	if reqs := p.requests()[n:]; len(reqs) != 0 {
		t.Errorf("a paused peer was contacted: %q", reqs)
	}
	if len(held(t, b.Store, b.cert.ID, "l2.paused.example")) != 0 || len(held(t, l.st, soc.ID, "r2.paused.example")) != 0 {
		t.Fatal("something crossed to or from a paused peer")
	}
	if now := l.peer(t, peer.ID); now.PullCursor != st.PullCursor || now.PushCursor != st.PushCursor {
		t.Errorf("cursors moved while paused: pull %d -> %d, push %d -> %d", st.PullCursor, now.PullCursor, st.PushCursor, now.PushCursor)
	}

	setPaused(false)
	eventually(t, 10*time.Second, "resumed again, it continues where it stopped", func() bool {
		return len(held(t, b.Store, b.cert.ID, "l2.paused.example")) == 1 && len(held(t, l.st, soc.ID, "r2.paused.example")) == 1
	})
	for _, req := range p.requests()[n:] {
		if req == "GET /api/v1/stream" {
			t.Errorf("resumed, the pull took a snapshot again instead of continuing from its cursor %d", st.PullCursor)
		}
	}
}

// TestSightingsReturnedOnce: what the local hub's organisations sighted of
// indicators a peer delivered goes back to the peer once: not again in
// later rounds, not again after a restart, only the increase when more is
// sighted — and not twice, nor never, when the peer refuses a batch and a
// request of the one-at-a-time retry that follows fails (a connection cut,
// a 500).
func TestSightingsReturnedOnce(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	l.addPeer(t, "b", p.URL(), b.localKey, true, false, false)
	values := []string{"x.sight.example", "y.sight.example", "z.sight.example"}
	ids := b.submit(t, 50, values...)

	// A return carries an Idempotency-Key, so Go's transport would send
	// it again by itself when a reused connection is cut, taking the next
	// of the faults below; without keep-alives each fault meets the
	// request it is meant for.
	noReuse := func(c *federation.Config) {
		c.HTTP = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	_, stop := startManager(t, l, noReuse)
	copies := make([]string, len(values))
	eventually(t, 10*time.Second, "the indicators arrive", func() bool {
		for i, v := range values {
			ind, ok := one(t, l.st, soc.ID, v)
			if !ok {
				return false
			}
			copies[i] = ind.ID
		}
		return true
	})
	hour := time.Now().UTC().Truncate(time.Hour)
	sight := func(counts ...int64) {
		t.Helper()
		var ss []model.Sighting
		for i, n := range counts {
			if n > 0 {
				ss = append(ss, model.Sighting{IndicatorID: copies[i], Org: soc.ID, Kind: model.Sighted, Hour: hour, Count: n})
			}
		}
		if err := l.st.AddSightings(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	// returned is what the peer recorded as sighted by the local hub.
	returned := func() []int64 {
		out := make([]int64, len(ids))
		for i, id := range ids {
			cs, err := b.Store.SightingCounts(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.Org == b.forLocal.ID && c.Kind == model.Sighted {
					out[i] += c.Count
				}
			}
		}
		return out
	}
	// rounds waits for n more sightings rounds (each starts with a hello).
	rounds := func(n int) {
		t.Helper()
		from := p.count("GET /api/v1/federation/hub")
		eventually(t, 10*time.Second, fmt.Sprintf("%d sightings rounds", n), func() bool {
			return p.count("GET /api/v1/federation/hub") >= from+n
		})
	}
	want := func(what string, w ...int64) {
		t.Helper()
		eventuallyState(t, 10*time.Second, fmt.Sprintf("%s: the peer counts %v", what, w), func() (bool, string) {
			got := returned()
			return slices.Equal(got, w), fmt.Sprint(got)
		})
		rounds(3)
		if got := returned(); !slices.Equal(got, w) {
			t.Fatalf("%s: the peer counts %v after more rounds, want %v (returned twice?)", what, got, w)
		}
	}

	sight(3, 4, 5)
	want("first return", 3, 4, 5)

	stop()
	l = l.reopen(t)
	_, stop = startManager(t, l, noReuse)
	rounds(3)
	if got := returned(); !slices.Equal(got, []int64{3, 4, 5}) {
		t.Fatalf("after a restart the peer counts %v, want [3 4 5] (returned again?)", got)
	}
	sight(2, 0, 0)
	want("the increase after a restart", 5, 4, 5)

	// The peer refuses the batch; the one-at-a-time retry gets one answer,
	// then a cut connection; the next round's retry one answer, then a 500.
	p.fault("POST /api/v1/sightings", refuse, forward, cut, refuse, forward, fail500)
	sight(1, 1, 1)
	want("through failures in the retry", 6, 5, 6)

	// The peer stores a return and its answer is lost: the next round
	// sends the same return, with the same Idempotency-Key, and the peer
	// counts it once.
	p.fault("POST /api/v1/sightings", lost)
	sight(1, 0, 2)
	want("an answer lost after the peer stored the return", 7, 5, 8)

	// The peer stores a return and its answer is lost, and this hub stops
	// before it gets through again; more sightings arrive meanwhile.
	// Restarted, it sends the saved return first, as it was and under its
	// key (counted once), then the increase. Before, it summed everything
	// anew under another key and the peer counted the lost return twice.
	p.fault("POST /api/v1/sightings", lost, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut, cut)
	sight(2, 2, 0)
	eventuallyState(t, 10*time.Second, "the return reaches the peer, its answer lost", func() (bool, string) {
		got := returned()
		return slices.Equal(got, []int64{9, 7, 8}), fmt.Sprint(got)
	})
	stop()
	p.clearFaults()
	sight(1, 0, 0)
	l = l.reopen(t)
	_, stop = startManager(t, l, noReuse)
	want("a stop after a lost answer, with more sightings meanwhile", 10, 7, 8)
	stop()
}

// narrow shares value again from its source as amber to the named
// organisation only: the same indicator, out of every other's sight.
func narrow(t *testing.T, do func(body map[string]any) (int, []byte), value, to string) string {
	t.Helper()
	status, body := do(map[string]any{"indicators": []any{map[string]any{"type": "domain", "value": value, "tlp": "amber",
		"audience": map[string]any{"orgs": []string{to}}}}})
	return submitted(t, status, body, 1)[0]
}

// TestPullResyncRevokesWhatThePeerStoppedShowing: while this hub did not
// pull, the peer revoked one indicator, narrowed another out of this hub's
// sight, and compacted its change log past this hub's cursor. The stream
// can only send a reset and a snapshot, which carries neither; after it,
// this hub asks the peer which of the copies it holds it still shows, and
// revokes the two others. Before, both stayed live here for good.
func TestPullResyncRevokesWhatThePeerStoppedShowing(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	soc := l.org(t, "soc", policy.Coordinator)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	peer := l.addPeer(t, "b", p.URL(), b.localKey, true, false, false)
	const vGone, vNarrowed, vKept = "gone.pullresync.example", "narrowed.pullresync.example", "kept.pullresync.example"
	ids := b.submit(t, 50, vGone, vNarrowed, vKept)
	_, stop := startManager(t, l)
	eventually(t, 10*time.Second, "the snapshot is applied and the cursor stored", func() bool {
		for _, v := range []string{vGone, vNarrowed, vKept} {
			if _, ok := one(t, l.st, soc.ID, v); !ok {
				return false
			}
		}
		return l.peer(t, peer.ID).PullCursor == lastSeq(t, b.Store)
	})
	stop()
	cursor := l.peer(t, peer.ID).PullCursor
	// Until the peer has let go of the stream, its broker keeps the
	// changes in memory and a resumed stream would get them from there.
	eventually(t, 10*time.Second, "the peer closes the stream", func() bool { return b.Hub.Hub.API().ActiveStreams() == 0 })

	if resp := b.Do("POST", "/api/v1/indicators/"+ids[0]+"/revoke", b.memberKey, nil); resp.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
	}
	if id := narrow(t, func(body map[string]any) (int, []byte) {
		resp := b.Do("POST", "/api/v1/indicators", b.memberKey, body)
		return resp.Status, resp.Body
	}, vNarrowed, b.cert.Name); id != ids[1] {
		t.Fatalf("narrowing made indicator %s, want the same %s", id, ids[1])
	}
	if _, err := b.Store.(compactor).CompactChanges(ctx, lastSeq(t, b.Store)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Store.Changes(ctx, cursor, 10); !errors.Is(err, store.ErrCursorGone) {
		t.Fatalf("the peer's changes after the pull cursor once compacted: %v, want ErrCursorGone (the test would not test the resync)", err)
	}

	asked := p.count("POST /api/v1/federation/visible")
	startManager(t, l)
	eventuallyState(t, 10*time.Second, "the copies the peer no longer shows are revoked, the other kept", func() (bool, string) {
		g, okG := one(t, l.st, soc.ID, vGone)
		n, okN := one(t, l.st, soc.ID, vNarrowed)
		k, okK := one(t, l.st, soc.ID, vKept)
		return okG && g.Revoked && okN && n.Revoked && okK && !k.Revoked && l.peer(t, peer.ID).PullCursor == lastSeq(t, b.Store),
			fmt.Sprintf("gone %t revoked %t; narrowed %t revoked %t; kept %t revoked %t; cursor %d of %d",
				okG, g.Revoked, okN, n.Revoked, okK, k.Revoked, l.peer(t, peer.ID).PullCursor, lastSeq(t, b.Store))
	})
	if p.count("POST /api/v1/federation/visible") == asked {
		t.Error("the copies were revoked without asking the peer: the stream did not reset, and the test tests nothing")
	}
}

// TestPushResyncRemovesWhatThePeerMayNoLongerSee: while push was stopped,
// an indicator was narrowed out of the peer's sight and the change log
// compacted past the push cursor. The resynchronisation offers only what
// the peer may see; it then lists what the peer holds from this hub and
// sends a removal of the narrowed one, which the peer revokes. Before, it
// stayed live on the peer.
func TestPushResyncRemovesWhatThePeerMayNoLongerSee(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	cert := l.org(t, "cert", policy.Coordinator)
	key := l.key(t, cert)
	b := startRemote(t)
	p := newProxy(t, b.URL)
	peer := l.addPeer(t, "b", p.URL(), b.localKey, false, true, false)
	const vNarrowed, vKept = "narrowed.pushresync.example", "kept.pushresync.example"
	ids := l.submit(t, key, 50, vNarrowed, vKept)
	_, stop := startManager(t, l)
	eventually(t, 10*time.Second, "both reach the peer", func() bool {
		_, okN := one(t, b.Store, b.cert.ID, vNarrowed)
		_, okK := one(t, b.Store, b.cert.ID, vKept)
		return okN && okK && l.peer(t, peer.ID).PushCursor == lastSeq(t, l.st)
	})
	stop()

	if id := narrow(t, func(body map[string]any) (int, []byte) {
		return l.post(t, key, "/api/v1/indicators", body)
	}, vNarrowed, cert.Name); id != ids[0] {
		t.Fatalf("narrowing made indicator %s, want the same %s", id, ids[0])
	}
	head := lastSeq(t, l.st)
	if _, err := l.st.(compactor).CompactChanges(ctx, head); err != nil {
		t.Fatal(err)
	}

	startManager(t, l)
	eventuallyState(t, 10*time.Second, "the peer revokes the narrowed copy and keeps the other", func() (bool, string) {
		n, okN := one(t, b.Store, b.cert.ID, vNarrowed)
		k, okK := one(t, b.Store, b.cert.ID, vKept)
		return okN && n.Revoked && okK && !k.Revoked && l.peer(t, peer.ID).PushCursor == head,
			fmt.Sprintf("narrowed %t revoked %t; kept %t revoked %t; push cursor %d of %d", okN, n.Revoked, okK, k.Revoked, l.peer(t, peer.ID).PushCursor, head)
	})
	if p.count("GET /api/v1/federation/held") == 0 {
		t.Error("the peer's copy was revoked without listing what it holds")
	}
}
