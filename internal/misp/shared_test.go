package misp

import (
	"bufio"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests in this file read the real TweetFeed MISP feed in the shared
// data folder (CC0-1.0; see shared/data/README.iocs-logs.md). They are
// skipped where the folder is absent. Every number was counted by hand
// (jq, awk, Python) when the test was written.

// sharedData is the shared/ data folder beside the repository, or
// HDN_SHARED_DATA.
var sharedData = func() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data")
}()

func sharedFeed(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(sharedData, "iocs", "tweetfeed_misp_feed")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Skipf("the shared TweetFeed MISP feed is not at %s (%v): skipping; set HDN_SHARED_DATA to the shared data folder", dir, err)
	}
	return dir
}

func TestSharedTweetFeedManifest(t *testing.T) {
	src := DirSource(sharedFeed(t))
	man, err := ReadManifest(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(man) != 365 {
		t.Errorf("%d events in the manifest, want 365", len(man))
	}
	changed := man.Changed(nil)
	if len(changed) != 365 {
		t.Fatalf("Changed(nil) lists %d", len(changed))
	}
	// by timestamp, oldest first: 2025-08-23 first, and last the event of
	// 2026-06-28, which was updated after all others
	first, last := man[changed[0]], man[changed[364]]
	if first.Info != "TweetFeed IOCs 2025-08-23" || first.Timestamp != "1755989538" ||
		last.Info != "TweetFeed IOCs 2026-06-28" || last.Timestamp != "1787422222" {
		t.Errorf("first %+v, last %+v", first, last)
	}
	for u, e := range man {
		if e.Orgc == nil || e.Orgc.Name != "TweetFeed" || len(e.Tag) != 3 || e.Tag[2].Name != "tlp:clear" || e.Distribution != "3" {
			t.Errorf("%s: %+v", u, e)
			break
		}
	}
	// Having seen the oldest hundred, the other 265 changed.
	seen := map[string]int64{}
	for _, u := range changed[:100] {
		seen[u] = man[u].Unix()
	}
	if got := man.Changed(seen); len(got) != 265 || got[0] != changed[100] {
		t.Errorf("after 100 seen: %d changed", len(got))
	}
}

// TestSharedTweetFeedEvents reads the three event files of the feed and
// imports them: 734 attributes, all to_ids, none in objects, each a usable
// indicator; labels from the attribute tags.
func TestSharedTweetFeedEvents(t *testing.T) {
	src := DirSource(sharedFeed(t))
	type counts struct {
		attrs   int
		types   map[string]int
		labels  map[string]int // indicators carrying the label
		context int
	}
	want := map[string]counts{
		"01d7d459-91ef-5fa0-8bf8-1e682f4c5c93": {140, map[string]int{"url": 69, "domain": 38, "ipv4": 22, "md5": 11},
			map[string]int{"phishing": 19, "stealer": 10, "espionage": 4, "malware": 7, "c2": 2}, 0},
		"02622617-5775-515b-9de5-00ff222acff6": {320, map[string]int{"url": 155, "domain": 140, "ipv4": 15, "md5": 7, "sha256": 3}, nil, 0},
		"030d893e-dc3b-52b8-93ee-bb31af6fa9e5": {274, map[string]int{"url": 139, "domain": 118, "ipv4": 10, "sha256": 5, "md5": 2}, nil, 0},
	}
	total := 0
	for u, w := range want {
		ev, err := ReadEvent(context.Background(), src, u)
		if err != nil {
			t.Fatal(err)
		}
		im, err := Import(ev, ImportOptions{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		total += len(ev.Attribute)
		if len(ev.Attribute) != w.attrs || len(ev.Object) != 0 {
			t.Errorf("%s: %d attributes, %d objects", u, len(ev.Attribute), len(ev.Object))
		}
		if len(im.Indicators) != w.attrs || len(im.Report.Context) != w.context || len(im.Problems) != 0 || len(im.Sightings) != 0 {
			t.Errorf("%s: %d indicators, %d context, problems %v", u, len(im.Indicators), len(im.Report.Context), im.Problems)
		}
		types, labels := map[string]int{}, map[string]int{}
		for _, ii := range im.Indicators {
			types[string(ii.Sub.Type)]++
			for _, l := range ii.Sub.Labels {
				labels[l]++
			}
			if ii.Sub.TLP != "clear" || ii.Sub.Audience.Kind != "network" || !strings.HasPrefix(ii.Sub.Description, "https://x.com/") || ii.Sub.ID == "" {
				t.Errorf("%s %s: %+v", u, ii.Where, ii.Sub)
			}
		}
		if !mapsEqual(types, w.types) {
			t.Errorf("%s: types %v, want %v", u, types, w.types)
		}
		if w.labels != nil && !mapsEqual(labels, w.labels) {
			t.Errorf("%s: labels %v, want %v", u, labels, w.labels)
		}
		r := im.Report
		if r.ID != u || r.TLP != "clear" || r.Audience.Kind != "network" || strings.Join(r.Tags, ",") != "TweetFeed,type:OSINT" ||
			!strings.HasPrefix(r.Title, "TweetFeed IOCs 20") {
			t.Errorf("%s: report %+v", u, r)
		}
	}
	if total != 734 {
		t.Errorf("%d attributes, want 734", total)
	}
}

// TestSharedTweetFeedHashes checks hashes.csv of the real feed, and that the
// MD5 of a plain value, as WriteFeed computes it, is what the real feed
// lists: the feed's hashes.csv covers its last 31 days, the same days as
// tweetfeed_month.csv.
func TestSharedTweetFeedHashes(t *testing.T) {
	dir := sharedFeed(t)
	f, err := os.Open(filepath.Join(dir, "hashes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	man, err := ReadManifest(context.Background(), DirSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	hashes, events, lines := map[string]bool{}, map[string]bool{}, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines++
		h, u, ok := strings.Cut(sc.Text(), ",")
		if !ok || len(h) != 32 || !isUUID(u) {
			t.Fatalf("line %d: %q", lines, sc.Text())
		}
		if _, ok := man[u]; !ok {
			t.Errorf("line %d: event %s is not in the manifest", lines, u)
		}
		hashes[h], events[u] = true, true
	}
	if lines != 12092 || len(events) != 31 {
		t.Errorf("%d lines for %d events, want 12092 for 31", lines, len(events))
	}
	mf, err := os.Open(filepath.Join(sharedData, "iocs", "tweetfeed_month.csv"))
	if err != nil {
		t.Skipf("tweetfeed_month.csv: %v", err)
	}
	defer mf.Close()
	rd := csv.NewReader(mf)
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, row := range rows {
		if len(row) > 3 && hashes[valueHashes(&Attribute{Type: row[2], Value: row[3]})[0]] {
			found++
		}
	}
	if len(rows) != 12092 || found != 12092 {
		t.Errorf("%d of %d values of the month found in hashes.csv, want all 12092", found, len(rows))
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
