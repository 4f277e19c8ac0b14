package misp

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testEvents parses every event of testdata/events.
func testEvents(t *testing.T) []*Event {
	t.Helper()
	files, err := filepath.Glob("testdata/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("%v %v", files, err)
	}
	var evs []*Event
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEvent(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestDirSourceNames(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(outside, []byte(`{"secret":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	const u = "39049dc3-df40-408d-9d87-9bec7025f959"
	if err := os.Symlink(outside, filepath.Join(dir, u+".json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := DirSource(dir)
	ctx := context.Background()
	for _, name := range []string{"../x", "../manifest.json", "x.json", "/etc/passwd", "manifest.json/../x",
		"../" + u + ".json", u + ".json/..", strings.ToUpper(u) + ".JSON", "", "hashes.csv.bak"} {
		if _, err := src.Open(ctx, name); !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q): %v, want ErrBadName", name, err)
		}
	}
	if _, err := src.Open(ctx, u+".json"); err == nil {
		t.Error("a symbolic link out of the feed directory was followed")
	}
	rc, err := src.Open(ctx, "manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := src.Open(cancelled, "manifest.json"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestWriteFeedRoundTrip writes the test events as a feed and reads them
// back as a poller would.
func TestWriteFeedRoundTrip(t *testing.T) {
	evs := testEvents(t)
	dir := filepath.Join(t.TempDir(), "feed")
	if err := WriteFeed(dir, evs); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode())
		}
	}
	if len(names) != len(evs)+2 || !slices.Contains(names, "manifest.json") || !slices.Contains(names, "hashes.csv") {
		t.Errorf("files %q (no temporary file may remain)", names)
	}

	ctx := context.Background()
	src := DirSource(dir)
	man, err := ReadManifest(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(man) != len(evs) {
		t.Fatalf("manifest has %d events, want %d", len(man), len(evs))
	}
	for _, want := range evs {
		e, ok := man[want.UUID]
		if !ok || e.Info != want.Info || e.Timestamp != want.Timestamp || e.Date != want.Date {
			t.Errorf("manifest entry of %s: %+v", want.UUID, e)
		}
		got, err := ReadEvent(ctx, src, want.UUID)
		if err != nil {
			t.Fatal(err)
		}
		a, errA := Import(want, ImportOptions{Now: fixedNow})
		b, errB := Import(got, ImportOptions{Now: fixedNow})
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if fmt.Sprint(renderLines(a)) != fmt.Sprint(renderLines(b)) || a.Report.Title != b.Report.Title {
			t.Errorf("%s imports differently from the feed", want.UUID)
		}
	}
	if e := man[evs[0].UUID]; e.Unix() == 0 || fmt.Sprint(e.Unix()) != e.Timestamp {
		t.Errorf("Unix() = %d for %q", e.Unix(), e.Timestamp)
	}
	if got := man.Changed(nil); len(got) != len(evs) {
		t.Errorf("Changed(nil) = %d events", len(got))
	}

	// Writing again replaces the files in place.
	evs[0].Info = "changed"
	if err := WriteFeed(dir, evs); err != nil {
		t.Fatal(err)
	}
	if man, _ := ReadManifest(ctx, src); man[evs[0].UUID].Info != "changed" {
		t.Error("rewriting did not replace the manifest")
	}
}

func TestWriteFeedHashes(t *testing.T) {
	ev := &Event{UUID: "4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c", Info: "h", Timestamp: "1", Attribute: []Attribute{
		{Type: "domain", Value: "a.example.com"},
		{Type: "filename|md5", Value: "x.exe|d41d8cd98f00b204e9800998ecf8427e"},
		{Type: "domain|ip", Value: "b.example.com|198.51.100.1"},
		{Type: "malware-sample", Value: "y.exe|6f5902ac237024bdd0c176cb93063dc4"},
		{Type: "domain", Value: "gone.example.com", Deleted: true},
		{Type: "text", Value: "a|b"},
	}, Object: []Object{
		{Name: "file", Attribute: []Attribute{{Type: "sha1", Value: "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"}}},
		{Name: "file", Deleted: true, Attribute: []Attribute{{Type: "sha1", Value: "deleted"}}},
	}}
	dir := t.TempDir()
	if err := WriteFeed(dir, []*Event{ev}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "hashes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, v := range []string{"a.example.com", "x.exe", "d41d8cd98f00b204e9800998ecf8427e", "b.example.com", "198.51.100.1",
		"y.exe", "6f5902ac237024bdd0c176cb93063dc4", "a|b", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"} {
		sum := md5.Sum([]byte(v))
		want.WriteString(hex.EncodeToString(sum[:]) + "," + ev.UUID + "\n")
	}
	if string(data) != want.String() {
		t.Errorf("hashes.csv:\n%s\nwant\n%s", data, want.String())
	}
	// one known value, spelled out: md5("a.example.com")
	if !strings.HasPrefix(string(data), "fd7093adaa663688ce5f4e060a1830ca,") {
		t.Errorf("first line %q", strings.SplitN(string(data), "\n", 2)[0])
	}
}

func TestWriteFeedRefuses(t *testing.T) {
	dir := t.TempDir()
	u := "4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c"
	for _, evs := range [][]*Event{
		{{UUID: "../x", Info: "x"}},
		{nil},
		{{UUID: u, Info: "a"}, {UUID: strings.ToUpper(u), Info: "b"}},
	} {
		if err := WriteFeed(dir, evs); err == nil {
			t.Errorf("%v written", evs)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused feed left %d files", len(entries))
	}
}

func TestReadManifestErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ in, want string }{
		{`{"not-a-uuid":{"info":"x"}}`, `key "not-a-uuid" is not an event uuid`},
		{`{"39049dc3-df40-408d-9d87-9bec7025f959":{"info":["x"]}}`, `39049dc3-df40-408d-9d87-9bec7025f959: info: is a list, want a string`},
		{"\n\n{\"39049dc3-df40-408d-9d87-9bec7025f959\" {}}", "invalid JSON at byte offset 43"},
		{`[1]`, "not an object of events"},
		{``, "empty"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(c.in), 0o644)
		_, err := ReadManifest(ctx, DirSource(dir))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(` [] `), 0o644)
	if m, err := ReadManifest(ctx, DirSource(dir)); err != nil || len(m) != 0 {
		t.Errorf("PHP's empty manifest: %v %v", m, err)
	}
	if _, err := ReadManifest(ctx, DirSource(t.TempDir())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no manifest: %v", err)
	}
}

func TestReadEventChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const u = "39049dc3-df40-408d-9d87-9bec7025f959"
	os.WriteFile(filepath.Join(dir, u+".json"), []byte(`{"Event":{"uuid":"ab5128c3-f9a2-4fdd-9ac3-8578e328c102","info":"x"}}`), 0o644)
	if _, err := ReadEvent(ctx, DirSource(dir), u); err == nil || !strings.Contains(err.Error(), "holds event") {
		t.Errorf("another event in the file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, u+".json"), []byte(`{"Event":{"info":"x"}}`), 0o644)
	if ev, err := ReadEvent(ctx, DirSource(dir), u); err != nil || ev.UUID != u {
		t.Errorf("no uuid in the file: %v %v", ev, err)
	}
	if _, err := ReadEvent(ctx, DirSource(dir), "../"+u); err == nil {
		t.Error("a bad uuid was read")
	}
	os.WriteFile(filepath.Join(dir, u+".json"), []byte(`{"Event":{"info":"x","Attribute":[{"to_ids":"?"}]}}`), 0o644)
	if _, err := ReadEvent(ctx, DirSource(dir), u); err == nil || !strings.Contains(err.Error(), u+".json: misp: Event.Attribute[0].to_ids") {
		t.Errorf("broken event: %v", err)
	}
}

func TestManifestChanged(t *testing.T) {
	m := Manifest{
		"a0000000-0000-4000-8000-000000000000": {Timestamp: "300"},
		"b0000000-0000-4000-8000-000000000000": {Timestamp: "100"},
		"c0000000-0000-4000-8000-000000000000": {Timestamp: "200"},
		"d0000000-0000-4000-8000-000000000000": {Timestamp: "200"},
		"e0000000-0000-4000-8000-000000000000": {Timestamp: "soon"},
	}
	for _, c := range []struct {
		seen map[string]int64
		want []string
	}{
		{nil, []string{"e", "b", "c", "d", "a"}},
		{map[string]int64{"a0000000-0000-4000-8000-000000000000": 300, "c0000000-0000-4000-8000-000000000000": 150,
			"d0000000-0000-4000-8000-000000000000": 200, "e0000000-0000-4000-8000-000000000000": 1}, []string{"b", "c"}},
		{map[string]int64{"a0000000-0000-4000-8000-000000000000": 299}, []string{"e", "b", "c", "d", "a"}},
	} {
		var got []string
		for _, u := range m.Changed(c.seen) {
			got = append(got, u[:1])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Changed(%v) = %q, want %q", c.seen, got, c.want)
		}
	}
}

// TestHTTPSource serves a feed written by WriteFeed with net/http's file
// server and reads it back, then checks the failures.
func TestHTTPSource(t *testing.T) {
	evs := testEvents(t)
	dir := t.TempDir()
	if err := WriteFeed(dir, evs); err != nil {
		t.Fatal(err)
	}
	var requests []string
	srv := httptest.NewServer(http.StripPrefix("/feeds/tf", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.Path)
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	})))
	defer srv.Close()
	ctx := context.Background()
	src := HTTPSource(srv.URL+"/feeds/tf/", srv.Client())
	man, err := ReadManifest(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range man.Changed(nil) {
		ev, err := ReadEvent(ctx, src, u)
		if err != nil || ev.UUID != u {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if len(requests) != len(evs)+1 {
		t.Errorf("%d requests: %q", len(requests), requests)
	}

	const missing = "00000000-0000-4000-8000-000000000000"
	_, err = ReadEvent(ctx, src, missing)
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/feeds/tf/"+missing+".json") || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("missing event: %v", err)
	}
	n := len(requests)
	if _, err := src.Open(ctx, "../../etc/passwd"); !errors.Is(err, ErrBadName) || len(requests) != n {
		t.Errorf("a bad name: %v, %d requests", err, len(requests)-n)
	}

	// Over the size limit: refused by Content-Length, and while reading a
	// body that has none.
	defer func(e, m int64) { maxEventSize, maxManifestSize = e, m }(maxEventSize, maxManifestSize)
	maxEventSize, maxManifestSize = 1000, 100
	if _, err := ReadManifest(ctx, src); !errors.Is(err, ErrTooLarge) {
		t.Errorf("manifest over the limit: %v", err)
	}
	big := evs[0].UUID
	if _, err := ReadEvent(ctx, src, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("event over the limit: %v", err)
	}
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"Event":{"info":"`)
		w.(http.Flusher).Flush() // no Content-Length from here on
		io.WriteString(w, strings.Repeat("x", 2000)+`"}}`)
	}))
	defer chunked.Close()
	if _, err := ReadEvent(ctx, HTTPSource(chunked.URL, nil), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("chunked body over the limit: %v", err)
	}

	// A password in the base URL stays out of errors.
	withPass := strings.Replace(srv.URL, "http://", "http://feeduser:s3cret@", 1)
	_, err = ReadEvent(ctx, HTTPSource(withPass, srv.Client()), missing)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error with credentials: %v", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if _, err := ReadManifest(ctx, HTTPSource(down.URL, nil)); err == nil || !strings.Contains(err.Error(), "GET "+down.URL+"/manifest.json") {
		t.Errorf("server down: %v", err)
	}
}
