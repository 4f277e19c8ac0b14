package hub_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/taxiiclient"
)

// hdnCollection is the id of the hub's one TAXII collection (docs/TAXII.md).
const hdnCollection = "74141eb7-8275-54de-ae20-ecc45829b793"

func addTAXIIFeed(t *testing.T, h *hubtest.Hub, f model.Feed) model.Feed {
	t.Helper()
	f.Name = "taxii-" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
	f.Kind, f.Interval, f.Enabled = "taxii", time.Hour, true
	if f.TLP == "" {
		f.TLP = policy.Amber
	}
	f, err := h.Store.CreateFeed(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// visible lists, by value, the indicators org may see.
func visible(t *testing.T, h *hubtest.Hub, org model.Org) map[string]model.Indicator {
	t.Helper()
	v, err := h.Store.Viewer(t.Context(), org.ID)
	if err != nil {
		t.Fatal(err)
	}
	inds, err := h.Store.ListIndicators(t.Context(), v, store.Query{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]model.Indicator{}
	for _, in := range inds {
		m[in.Value] = in
	}
	return m
}

// TestTAXIIFeedFromAnotherHub: one hub reads another hub's TAXII
// collection as a feed, with an API key as the Basic password. The
// indicators arrive under the feed's organisation, with the TLP of their
// markings (not the feed's default) and the feed's audience; a second run
// brings only what was added since; a wrong key and a server that is down
// are recorded on the feed, and the secret is in no error.
func TestTAXIIFeedFromAnotherHub(t *testing.T) {
	src := hubtest.Start(t, hub.Config{FeedCheck: -1})
	a := src.Org("hospital-a", policy.Member, "")
	ka := src.Key(a, policy.Analyst)
	want := []string{"c2-1.badhost-example.net", "c2-2.badhost-example.net", "c2-3.badhost-example.net"}
	for _, v := range want {
		submit(t, src, ka, map[string]any{"type": "domain", "value": v, "tlp": "green"})
	}
	// The source reads what it shares through a key of another organisation.
	reader := src.Org("z-cert-reader", policy.Coordinator, "")
	kr := src.Key(reader, policy.ReadOnly)

	dst := hubtest.Start(t, hub.Config{FeedCheck: -1})
	zc := dst.Org("Z-CERT", policy.Coordinator, "")
	hb := dst.Org("Hospital B", policy.Member, "")
	hc := dst.Org("Hospital C", policy.Member, "")
	collURL := src.URL + "/taxii2/hdn/collections/" + hdnCollection + "/"
	f := addTAXIIFeed(t, dst, model.Feed{URL: collURL, Collection: hdnCollection, OrgID: zc.ID, TLP: policy.Amber,
		Auth: "basic", User: "z-cert", Secret: kr, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{zc.ID, hb.ID}}})

	n, err := dst.Hub.RunFeed(t.Context(), f)
	if err != nil || n < len(want) {
		t.Fatalf("first run: %d objects, %v; want at least the %d indicators", n, err, len(want))
	}
	t.Logf("first run: %d objects taken", n)
	got := visible(t, dst, zc)
	if len(got) != len(want) {
		t.Errorf("Z-CERT sees %d indicators, want %d: %v", len(got), len(want), got)
	}
	for _, v := range want {
		in, ok := got[v]
		switch {
		case !ok:
			t.Errorf("%s did not arrive", v)
		case in.Source != zc.ID:
			t.Errorf("%s: source %q, want the feed's organisation %q", v, in.Source, zc.ID)
		case in.TLP != policy.Green:
			t.Errorf("%s: TLP %s, want green (the object's marking wins over the feed's amber)", v, in.TLP)
		case in.Audience.Kind != policy.Orgs || !slices.Equal(sorted(in.Audience.Orgs), sorted([]string{zc.ID, hb.ID})):
			t.Errorf("%s: audience %+v, want the feed's", v, in.Audience)
		}
	}
	if len(visible(t, dst, hb)) != len(want) {
		t.Errorf("Hospital B, in the feed's audience, does not see the indicators")
	}
	if c := visible(t, dst, hc); len(c) != 0 {
		t.Errorf("Hospital C, outside the feed's audience, sees %v", c)
	}
	rec, err := dst.Store.Feed(t.Context(), f.ID)
	if err != nil || rec.LastRun.IsZero() || rec.LastCount != n || rec.LastError != "" {
		t.Errorf("feed after the first run: %+v, %v", rec, err)
	}

	// Incremental: one more indicator on the source, and only it comes.
	time.Sleep(2 * time.Millisecond)
	submit(t, src, ka, map[string]any{"type": "domain", "value": "late.badhost-example.net", "tlp": "clear"})
	n, err = dst.Hub.RunFeed(t.Context(), rec)
	if err != nil || n != 1 {
		t.Errorf("second run: %d objects, %v; want exactly the one added since", n, err)
	}
	got = visible(t, dst, zc)
	if in, ok := got["late.badhost-example.net"]; !ok || in.TLP != policy.Clear || len(got) != len(want)+1 {
		t.Errorf("after the second run Z-CERT sees %d indicators (late one: %+v, %v)", len(got), in, ok)
	}
	if n, err := dst.Hub.RunFeed(t.Context(), rec); err != nil || n != 0 {
		t.Errorf("third run: %d objects, %v; want nothing", n, err)
	}

	// A wrong key: a clear error on the feed, without the key.
	const wrong = "hdn_wrongkeywrongkeywrongkey"
	bad := addTAXIIFeed(t, dst, model.Feed{URL: collURL, OrgID: zc.ID, Auth: "basic", User: "z-cert", Secret: wrong})
	if _, err := dst.Hub.RunFeed(t.Context(), bad); err == nil {
		t.Error("a feed with a wrong key ran without an error")
	}
	rec, _ = dst.Store.Feed(t.Context(), bad.ID)
	t.Logf("wrong key recorded as %q", rec.LastError)
	if !strings.Contains(rec.LastError, "401") || !strings.Contains(rec.LastError, "credential") || strings.Contains(rec.LastError, wrong) {
		t.Errorf("wrong key recorded as %q; want a 401 naming the credential, without the key", rec.LastError)
	}

	// A server that is down: recorded, and tried again next time.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/taxii2/hdn/collections/" + hdnCollection + "/"
	down.Close()
	off := addTAXIIFeed(t, dst, model.Feed{URL: downURL, OrgID: zc.ID, Auth: "bearer", Secret: kr})
	if _, err := dst.Hub.RunFeed(t.Context(), off); err == nil {
		t.Error("a feed whose server is down ran without an error")
	}
	rec, _ = dst.Store.Feed(t.Context(), off.ID)
	if rec.LastError == "" || rec.LastRun.IsZero() || strings.Contains(rec.LastError, kr) {
		t.Errorf("down server recorded as %+v", rec)
	}
	if seen, _ := dst.Store.FeedEvents(t.Context(), off.ID); len(seen) != 0 {
		t.Errorf("a failed run stored a cursor: %v", seen)
	}
}

func sorted(xs []string) []string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs
}

// medallionServer serves one collection of medallion's default data
// (internal/taxiiclient/testdata, BSD-3-Clause), the "High Value Indicator
// Collection", as medallion does: the last version of each object, by
// date_added, pages of pageSize with next, Basic authentication. failPage,
// when set, makes that page (counted over the server's life) a 503.
type medallionServer struct {
	t        *testing.T
	objects  []json.RawMessage
	added    []time.Time
	pageSize int
	mu       sync.Mutex
	pages    int
	failPage int
}

const medallionColl = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"

func newMedallionServer(t *testing.T) (*medallionServer, *httptest.Server) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "taxiiclient", "testdata", "medallion_default_data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]struct {
		Collections []struct {
			ID       string            `json:"id"`
			Objects  []json.RawMessage `json:"objects"`
			Manifest []struct {
				ID        string `json:"id"`
				DateAdded string `json:"date_added"`
				Version   string `json:"version"`
			} `json:"manifest"`
		} `json:"collections"`
	}
	json.Unmarshal(raw, &data) // the discovery entry does not fit; the roots do
	m := &medallionServer{t: t, pageSize: 2}
	for _, c := range data["trustgroup1"].Collections {
		if c.ID != medallionColl {
			continue
		}
		added := map[string]string{}
		for _, e := range c.Manifest {
			added[e.ID+" "+e.Version] = e.DateAdded
		}
		type version struct {
			obj      json.RawMessage
			modified string
			added    time.Time
		}
		last := map[string]version{}
		for _, o := range c.Objects {
			var x struct{ ID, Modified, Created string }
			json.Unmarshal(o, &x)
			v := cmpOr(x.Modified, x.Created)
			at, err := time.Parse(time.RFC3339Nano, added[x.ID+" "+v])
			if err != nil {
				t.Fatalf("%s %s: no date_added", x.ID, v)
			}
			if cur, ok := last[x.ID]; !ok || v > cur.modified {
				last[x.ID] = version{o, v, at}
			}
		}
		var vs []version
		for _, v := range last {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].added.Before(vs[j].added) })
		for _, v := range vs {
			m.objects, m.added = append(m.objects, v.obj), append(m.added, v.added)
		}
	}
	if len(m.objects) == 0 {
		t.Fatal("no objects in the medallion collection")
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *medallionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", taxiiclient.MediaType)
	if u, p, ok := r.BasicAuth(); !ok || u != "analyst" || p != "s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"title":"Unauthorized","http_status":"401"}`)
		return
	}
	if r.URL.Path != "/trustgroup1/collections/"+medallionColl+"/objects/" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"title":"Not Found","http_status":"404"}`)
		return
	}
	m.mu.Lock()
	m.pages++
	fail := m.pages == m.failPage
	m.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"title":"Service Unavailable","http_status":"503"}`)
		return
	}
	var after time.Time
	if s := r.URL.Query().Get("added_after"); s != "" {
		var err error
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	var idx []int
	for i, at := range m.added {
		if at.After(after) {
			idx = append(idx, i)
		}
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("next"))
	end := min(start+m.pageSize, len(idx))
	start = min(start, end)
	env := map[string]any{"more": end < len(idx)}
	if end < len(idx) {
		env["next"] = strconv.Itoa(end)
	}
	var objs []json.RawMessage
	for _, i := range idx[start:end] {
		objs = append(objs, m.objects[i])
	}
	if len(objs) > 0 {
		env["objects"] = objs
		w.Header().Set("X-TAXII-Date-Added-First", m.added[idx[start]].Format("2006-01-02T15:04:05.000000Z"))
		w.Header().Set("X-TAXII-Date-Added-Last", m.added[idx[end-1]].Format("2006-01-02T15:04:05.000000Z"))
	}
	json.NewEncoder(w).Encode(env)
}

// TestTAXIIFeedFromMedallionData: a feed reads an independent TAXII
// server's collection (medallion's test data, not written for hdn): its two
// unmarked indicators arrive with the feed's default TLP; an outage in the
// middle of a run is recorded and the next run resumes from the last page
// taken; a run after that brings nothing.
func TestTAXIIFeedFromMedallionData(t *testing.T) {
	m, srv := newMedallionServer(t)
	m.failPage = 2 // the first run stops at its second page
	h := hubtest.Start(t, hub.Config{FeedCheck: -1})
	zc := h.Org("Z-CERT", policy.Coordinator, "")
	f := addTAXIIFeed(t, h, model.Feed{URL: srv.URL + "/trustgroup1/collections/" + medallionColl + "/", Collection: medallionColl,
		OrgID: zc.ID, TLP: policy.Amber, Auth: "basic", User: "analyst", Secret: "s3cret"})

	n, err := h.Hub.RunFeed(t.Context(), f)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("first run: %d, %v; want the 503 of the second page", n, err)
	}
	rec, _ := h.Store.Feed(t.Context(), f.ID)
	if !strings.Contains(rec.LastError, "503") || strings.Contains(rec.LastError, "s3cret") {
		t.Errorf("the outage recorded as %q", rec.LastError)
	}
	seen, _ := h.Store.FeedEvents(t.Context(), f.ID)
	if seen["taxii:added_after"] == 0 {
		t.Errorf("no cursor after the first page was taken: %v", seen)
	}
	n, err = h.Hub.RunFeed(t.Context(), rec)
	if err != nil || n == 0 {
		t.Fatalf("run after the outage: %d objects, %v", n, err)
	}
	t.Logf("the outage recorded as %q; the run after it took %d objects", rec.LastError, n)
	got := visible(t, h, zc)
	hash := "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"
	var url model.Indicator
	for v, in := range got {
		if strings.Contains(v, "x4z9arb.cn") {
			url = in
		}
	}
	if in, ok := got[hash]; !ok || in.TLP != policy.Amber || in.Source != zc.ID {
		t.Errorf("the file hash indicator: %+v, %v (all: %v)", in, ok, got)
	}
	if url.Value == "" || url.TLP != policy.Amber || url.Source != zc.ID || !strings.Contains(url.Value, "/4712") {
		t.Errorf("the URL indicator (its last version, x4z9arb.cn): %+v (all: %v)", url, got)
	}
	if len(got) != 2 {
		t.Errorf("Z-CERT sees %d indicators, want the 2 of the collection: %v", len(got), got)
	}
	if n, err := h.Hub.RunFeed(t.Context(), rec); err != nil || n != 0 {
		t.Errorf("run with nothing new: %d objects, %v", n, err)
	}
	if rec, _ := h.Store.Feed(t.Context(), f.ID); rec.LastError != "" {
		t.Errorf("after a clean run the feed still says %q", rec.LastError)
	}
}

// TestFeedLoopSurvivesAFailingTAXIIFeed: the hub's own loop runs a taxii
// feed whose server is down, records the error, and goes on to the next
// feed.
func TestFeedLoopSurvivesAFailingTAXIIFeed(t *testing.T) {
	h := hubtest.Start(t, hub.Config{FeedCheck: 20 * time.Millisecond})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/api/collections/x/"
	down.Close()
	bad := addTAXIIFeed(t, h, model.Feed{URL: downURL, OrgID: org.ID})
	dir, events := copiedFeed(t)
	good := addFeed(t, h, org, dir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err1 := h.Store.Feed(t.Context(), bad.ID)
		g, err2 := h.Store.Feed(t.Context(), good.ID)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !b.LastRun.IsZero() && !g.LastRun.IsZero() {
			if b.LastError == "" {
				t.Error("the failing taxii feed recorded no error")
			}
			if g.LastCount != len(events) || g.LastError != "" {
				t.Errorf("the misp feed after the failing one: %d events, %q", g.LastCount, g.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop did not run both feeds within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// panicTransport stands for a bug deep in a feed run: it panics.
type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }

// TestFeedRunRecoversAPanic: a panic inside a run, TAXII or MISP, is
// recovered and recorded as the feed's error.
func TestFeedRunRecoversAPanic(t *testing.T) {
	h := hubtest.Start(t, hub.Config{FeedCheck: -1, FeedClient: &http.Client{Transport: panicTransport{}}})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	for _, f := range []model.Feed{
		addTAXIIFeed(t, h, model.Feed{URL: "http://taxii.invalid/api/collections/x/", OrgID: org.ID, Auth: "bearer", Secret: "tok"}),
		addFeed(t, h, org, "http://misp.invalid/feed/"),
	} {
		if _, err := h.Hub.RunFeed(t.Context(), f); err == nil || !strings.Contains(err.Error(), "panic") {
			t.Errorf("%s feed: %v, want the panic as an error", f.Kind, err)
		}
		if rec, _ := h.Store.Feed(t.Context(), f.ID); !strings.Contains(rec.LastError, "transport bug") || rec.LastRun.IsZero() {
			t.Errorf("%s feed recorded %+v", f.Kind, rec)
		}
	}
}

// TestFeedRedirectToAnotherOriginRefused: a TAXII feed server that answers
// with a redirect to another origin (here another port of loopback, where
// an internal service would be) is not followed: the internal address is
// never asked, and never given the feed's credential; the feed records why.
func TestFeedRedirectToAnotherOriginRefused(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	var asked atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		fmt.Fprint(w, `{"title":"metadata","description":"secret-token-123"}`)
	}))
	defer internal.Close()
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer feed.Close()
	f := addTAXIIFeed(t, h, model.Feed{URL: feed.URL + "/api/collections/x/", OrgID: org.ID, Auth: "bearer", Secret: "feed-credential"})
	if _, err := h.Hub.RunFeed(t.Context(), f); err == nil || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("a feed redirected to another origin: %v, want the redirect refused", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the internal address was asked %d times", n)
	}
}
