package taxiiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixture is a small TAXII 2.1 server of the tests' own, serving medallion's
// default data (testdata/README.md): discovery, API roots, collections, and
// objects with added_after, limit and next paging. It checks Accept and
// credentials as a server must.
type fixture struct {
	t        *testing.T
	data     map[string]json.RawMessage
	user     string
	password string
	// noNext makes object pages say "more" without "next", so that the
	// client must page with added_after.
	noNext bool
	extra  []json.RawMessage // more objects for the paging test
	pages  int
}

type manifestEntry struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
}

func newFixture(t *testing.T) (*fixture, *httptest.Server) {
	t.Helper()
	raw, err := os.ReadFile("testdata/medallion_default_data.json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, user: "analyst", password: "s3cret"}
	if err := json.Unmarshal(raw, &f.data); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fixture) fail(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"title": title, "http_status": strconv.Itoa(status)})
}

func (f *fixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.password {
		w.Header().Set("WWW-Authenticate", `Basic realm="fixture"`)
		f.fail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Accept"), "application/taxii+json") {
		f.fail(w, http.StatusNotAcceptable, "Not Acceptable")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	write := func(v any, hdr map[string]string) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", MediaType)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case len(parts) == 1 && parts[0] == "taxii2":
		write(f.data["/discovery"], nil)
	case len(parts) == 1:
		var root struct {
			Information json.RawMessage `json:"information"`
		}
		if raw, ok := f.data[parts[0]]; !ok || json.Unmarshal(raw, &root) != nil {
			f.fail(w, http.StatusNotFound, "Not Found")
			return
		}
		write(root.Information, nil)
	case len(parts) == 2 && parts[1] == "collections":
		if _, ok := f.data[parts[0]]; !ok {
			f.fail(w, http.StatusNotFound, "Not Found")
			return
		}
		cs := f.collections(parts[0])
		out := make([]map[string]any, 0, len(cs))
		for _, c := range cs {
			m := map[string]any{}
			for k, v := range c {
				if k != "objects" && k != "manifest" {
					m[k] = v
				}
			}
			out = append(out, m)
		}
		write(map[string]any{"collections": out}, nil)
	case len(parts) == 4 && parts[1] == "collections" && parts[3] == "objects":
		f.objects(w, r, parts[0], parts[2], write)
	default:
		f.fail(w, http.StatusNotFound, "Not Found")
	}
}

func (f *fixture) collections(root string) []map[string]json.RawMessage {
	var r struct {
		Collections []map[string]json.RawMessage `json:"collections"`
	}
	json.Unmarshal(f.data[root], &r)
	return r.Collections
}

func (f *fixture) objects(w http.ResponseWriter, r *http.Request, root, id string, write func(any, map[string]string)) {
	f.pages++
	var coll map[string]json.RawMessage
	for _, c := range f.collections(root) {
		var cid string
		json.Unmarshal(c["id"], &cid)
		if cid == id {
			coll = c
		}
	}
	if coll == nil {
		f.fail(w, http.StatusNotFound, "Not Found")
		return
	}
	var objs []json.RawMessage
	var man []manifestEntry
	json.Unmarshal(coll["objects"], &objs)
	json.Unmarshal(coll["manifest"], &man)
	added := map[string]string{}
	for _, m := range man {
		added[m.ID+" "+m.Version] = m.DateAdded
	}
	for i, o := range f.extra {
		objs = append(objs, o)
		var x struct{ ID string }
		json.Unmarshal(o, &x)
		added[x.ID+" "] = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000Z")
	}
	type item struct {
		obj   json.RawMessage
		added time.Time
	}
	var items []item
	after := time.Time{}
	if s := r.URL.Query().Get("added_after"); s != "" {
		var err error
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			f.fail(w, http.StatusBadRequest, "bad added_after")
			return
		}
	}
	for _, o := range objs {
		var x struct {
			ID, Type, Modified, Created string
		}
		json.Unmarshal(o, &x)
		if m := r.URL.Query().Get("match[type]"); m != "" && m != x.Type {
			continue
		}
		v := x.Modified
		if v == "" {
			v = x.Created
		}
		t, _ := time.Parse(time.RFC3339Nano, added[x.ID+" "+v])
		if t.After(after) {
			items = append(items, item{o, t})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].added.Before(items[j].added) })
	start := 0
	if n := r.URL.Query().Get("next"); n != "" {
		start, _ = strconv.Atoi(n)
	}
	limit := len(items)
	if l := r.URL.Query().Get("limit"); l != "" {
		limit, _ = strconv.Atoi(l)
	}
	end := min(start+limit, len(items))
	page := items[start:end]
	env := map[string]any{"more": end < len(items)}
	if end < len(items) && !f.noNext {
		env["next"] = strconv.Itoa(end)
	}
	out := make([]json.RawMessage, 0, len(page))
	for _, it := range page {
		out = append(out, it.obj)
	}
	if len(out) > 0 {
		env["objects"] = out
	}
	hdr := map[string]string{}
	if len(page) > 0 {
		hdr["X-TAXII-Date-Added-First"] = page[0].added.Format("2006-01-02T15:04:05.000000Z")
		hdr["X-TAXII-Date-Added-Last"] = page[len(page)-1].added.Format("2006-01-02T15:04:05.000000Z")
	}
	write(env, hdr)
}

func TestDiscoveryRootsCollections(t *testing.T) {
	f, srv := newFixture(t)
	c := &Client{User: f.user, Password: f.password}
	d, err := c.Discover(t.Context(), srv.URL+"/taxii2/")
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "Some TAXII Server" || len(d.APIRoots) != 3 {
		t.Errorf("discovery %+v", d)
	}
	root, err := c.APIRoot(t.Context(), srv.URL+"/trustgroup1")
	if err != nil || root.Title != "Malware Research Group" || root.MaxContentLength != 9765625 || len(root.Versions) != 1 || root.Versions[0] != MediaType {
		t.Errorf("API root %+v, %v", root, err)
	}
	cs, err := c.Collections(t.Context(), srv.URL+"/trustgroup1/")
	if err != nil || len(cs) != 5 {
		t.Fatalf("collections %+v, %v", cs, err)
	}
	var hv *Collection
	for i := range cs {
		if cs[i].ID == "91a7b528-80eb-42ed-a74d-c6fbd5a26116" {
			hv = &cs[i]
		}
	}
	if hv == nil || !hv.CanRead || !hv.CanWrite || len(hv.MediaTypes) != 2 {
		t.Errorf("high value collection %+v", hv)
	}
}

func TestPollPagesThroughEverythingOnce(t *testing.T) {
	for _, noNext := range []bool{false, true} {
		t.Run(fmt.Sprintf("next=%v", !noNext), func(t *testing.T) {
			f, srv := newFixture(t)
			f.noNext = noNext
			for i := range 25 {
				f.extra = append(f.extra, json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","pattern":"[domain-name:value = 'x%d.example']"}`, i, i)))
			}
			c := &Client{User: f.user, Password: f.password}
			coll := CollectionURL(srv.URL+"/trustgroup1/", "91a7b528-80eb-42ed-a74d-c6fbd5a26116")
			seen := map[string]int{}
			last, err := c.Poll(t.Context(), coll, time.Time{}, 4, nil, func(objs []json.RawMessage) error {
				if len(objs) > 4 {
					t.Errorf("a page of %d objects for limit 4", len(objs))
				}
				for _, o := range objs {
					var x struct{ ID, Modified string }
					json.Unmarshal(o, &x)
					seen[x.ID+" "+x.Modified]++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// medallion's collection holds 8 object versions (of 5 objects).
			if len(seen) != 8+25 {
				t.Errorf("saw %d distinct object versions, want %d", len(seen), 8+25)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", id, n)
				}
			}
			if want := time.Date(2030, 1, 1, 0, 0, 24, 0, time.UTC); !last.Equal(want) {
				t.Errorf("newest date_added %v, want %v", last, want)
			}
			// Polling again from there brings nothing new.
			pages := f.pages
			n := 0
			again, err := c.Poll(t.Context(), coll, last, 4, nil, func(objs []json.RawMessage) error { n += len(objs); return nil })
			if err != nil || n != 0 || !again.Equal(last) || f.pages != pages+1 {
				t.Errorf("second poll: %d objects, %v, newest %v, %d requests", n, err, again, f.pages-pages)
			}
			// A filter reaches the server.
			n = 0
			if _, err := c.Poll(t.Context(), coll, time.Time{}, 100, map[string]string{"type": "malware"}, func(objs []json.RawMessage) error { n += len(objs); return nil }); err != nil || n != 2 {
				t.Errorf("match[type]=malware: %d object versions, %v; want the 2", n, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	f, srv := newFixture(t)
	bad := &Client{User: f.user, Password: "wrong"}
	_, err := bad.Discover(t.Context(), srv.URL+"/taxii2/")
	var te *Error
	if !errors.As(err, &te) || te.Status != http.StatusUnauthorized || te.Title != "Unauthorized" {
		t.Errorf("wrong password: %v", err)
	}
	c := &Client{User: f.user, Password: f.password}
	if _, err := c.Collections(t.Context(), srv.URL+"/nowhere/"); !errors.As(err, &te) || te.Status != 404 {
		t.Errorf("unknown API root: %v", err)
	}
	small := &Client{User: f.user, Password: f.password, MaxBody: 100}
	if _, err := small.Discover(t.Context(), srv.URL+"/taxii2/"); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("over-size answer: %v", err)
	}
	// A server that answers with something else than TAXII.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>login</html>"))
	}))
	defer html.Close()
	if _, err := c.Discover(t.Context(), html.URL+"/taxii2/"); err == nil || !strings.Contains(err.Error(), "text/html") {
		t.Errorf("HTML answer: %v", err)
	}
	// A server that says more for ever without a way on.
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		w.Write([]byte(`{"more": true, "objects": [{"type":"indicator","id":"indicator--1"}]}`))
	}))
	defer stuck.Close()
	if _, err := c.Poll(t.Context(), stuck.URL+"/api/collections/x/", time.Time{}, 10, nil, func([]json.RawMessage) error { return nil }); err == nil {
		t.Error("a server that says more without next or dates did not stop the poll")
	}
}

// TestPollTiesAtAPageBoundary: a server that pages by added_after only, with
// objects added at the same instant across a page boundary: none is lost,
// none given twice; more ties than a page is an error, not a loop.
func TestPollTiesAtAPageBoundary(t *testing.T) {
	at := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	newServer := func(times []time.Time) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			after, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("added_after"))
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			var objs []string
			var first, last time.Time
			more := false
			for i, ts := range times {
				if !ts.After(after) {
					continue
				}
				if len(objs) == limit {
					more = true
					break
				}
				if first.IsZero() {
					first = ts
				}
				last = ts
				objs = append(objs, fmt.Sprintf(`{"type":"indicator","id":"indicator--%d","modified":"2031-01-01T00:00:00Z"}`, i))
			}
			w.Header().Set("Content-Type", MediaType)
			if len(objs) > 0 {
				w.Header().Set("X-TAXII-Date-Added-First", first.Format(time.RFC3339Nano))
				w.Header().Set("X-TAXII-Date-Added-Last", last.Format(time.RFC3339Nano))
			}
			fmt.Fprintf(w, `{"more": %v, "objects": [%s]}`, more, strings.Join(objs, ","))
		}))
	}
	// Objects 0–1 early, 2–4 at one instant, 5 later; pages of 3 cut the tie.
	times := []time.Time{at.Add(-2 * time.Second), at.Add(-time.Second), at, at, at, at.Add(time.Second)}
	srv := newServer(times)
	defer srv.Close()
	seen := map[string]int{}
	c := &Client{}
	if _, err := c.Poll(t.Context(), srv.URL+"/c/", time.Time{}, 3, nil, func(objs []json.RawMessage) error {
		for _, o := range objs {
			var x struct{ ID string }
			json.Unmarshal(o, &x)
			seen[x.ID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(times) {
		t.Errorf("saw %d objects, want %d: %v", len(seen), len(times), seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s given %d times", id, n)
		}
	}
	// Four at one instant with pages of two: the client asks for a larger
	// page to get past them.
	tied := newServer([]time.Time{at, at, at, at})
	defer tied.Close()
	n := 0
	if _, err := c.Poll(t.Context(), tied.URL+"/c/", time.Time{}, 2, nil, func(objs []json.RawMessage) error { n += len(objs); return nil }); err != nil || n != 4 {
		t.Errorf("four ties, pages of two: %d objects, %v", n, err)
	}
	// More ties than the largest page: an error, not a loop.
	many := make([]time.Time, MaxTieLimit+1)
	for i := range many {
		many[i] = at
	}
	huge := newServer(many)
	defer huge.Close()
	if _, err := c.Poll(t.Context(), huge.URL+"/c/", time.Time{}, 1000, nil, func([]json.RawMessage) error { return nil }); err == nil || !strings.Contains(err.Error(), "cannot get past them") {
		t.Errorf("more ties than the largest page: %v", err)
	}
}

// FuzzPollAnswers: whatever a server answers, Poll ends with objects or an
// error, never a panic or a loop.
func FuzzPollAnswers(f *testing.F) {
	f.Add(`{"more": false, "objects": [{"type":"indicator","id":"indicator--1"}]}`, "2031-05-01T12:00:00Z", 200)
	f.Add(`{"more": true}`, "", 200)
	f.Add(`{"title": "x", "http_status": "500"}`, "", 500)
	f.Add(`{"more": true, "next": "", "objects": [1, "a", null]}`, "not a time", 200)
	f.Add(`{"more": true, "next": "again", "objects": []}`, "2031-05-01T12:00:00Z", 200)
	f.Fuzz(func(t *testing.T, body, added string, status int) {
		if status < 100 || status > 599 {
			status = 200
		}
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.Header().Set("Content-Type", MediaType)
			if added != "" {
				w.Header().Set("X-TAXII-Date-Added-Last", added)
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		defer srv.Close()
		c := &Client{MaxBody: 1 << 16}
		c.Poll(t.Context(), srv.URL+"/c/", time.Time{}, 10, nil, func([]json.RawMessage) error { return nil })
		if calls > 20 {
			t.Fatalf("%d requests for one fixed answer", calls)
		}
	})
}
