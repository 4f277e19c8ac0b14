package hub_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// sharedData is ../shared/data beside the repository, or HDN_SHARED_DATA;
// "" when absent.
func sharedData() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}

// copiedFeed writes a feed of the events in internal/misp/testdata/events
// (one of them a real TweetFeed event, CC0) to a temporary directory.
func copiedFeed(t *testing.T) (string, []*misp.Event) {
	t.Helper()
	var events []*misp.Event
	for _, name := range []string{"tweetfeed-01d7d459.json", "spearphish.json"} {
		data, err := os.ReadFile(filepath.Join("..", "misp", "testdata", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := misp.ParseEvent(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		events = append(events, ev)
	}
	dir := t.TempDir()
	if err := misp.WriteFeed(dir, events); err != nil {
		t.Fatalf("WriteFeed: %v", err)
	}
	return dir, events
}

func addFeed(t *testing.T, h *hubtest.Hub, org model.Org, url string) model.Feed {
	t.Helper()
	f, err := h.Store.CreateFeed(t.Context(), model.Feed{Name: "feed-" + strconv.Itoa(int(time.Now().UnixNano()%1e6)), Kind: "misp", URL: url,
		OrgID: org.ID, TLP: policy.Clear, Interval: time.Hour, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFeedImportsNewAndChangedEvents: a MISP feed (a directory, then the
// same over HTTP) is read once; a second run takes nothing; an event whose
// timestamp moved is taken again and updates what it gave.
func TestFeedImportsNewAndChangedEvents(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t), FeedCheck: -1})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	member := h.Key(h.Org("Hospital A", policy.Member, ""), policy.ReadOnly)
	dir, events := copiedFeed(t)
	f := addFeed(t, h, org, dir)

	n, err := h.Hub.RunFeed(t.Context(), f)
	if err != nil || n != len(events) {
		t.Fatalf("first run: %d events, %v; want %d", n, err, len(events))
	}
	stored := countIndicators(t, h)
	if stored == 0 {
		t.Fatal("the feed stored no indicators")
	}
	// Every event became a report with its uuid, visible to a member.
	for _, ev := range events {
		r := h.Do("GET", "/api/v1/reports/"+ev.UUID, member, nil)
		if r.Status != 200 {
			t.Errorf("report of event %s: %d %s", ev.UUID, r.Status, r.Body)
		}
	}
	got, err := h.Store.Feed(t.Context(), f.ID)
	if err != nil || got.LastRun.IsZero() || got.LastCount != len(events) || got.LastError != "" {
		t.Errorf("feed after the first run: %+v, %v", got, err)
	}
	// Nothing new: nothing taken.
	if n, err := h.Hub.RunFeed(t.Context(), got); err != nil || n != 0 {
		t.Errorf("second run: %d events, %v; want 0", n, err)
	}
	if c := countIndicators(t, h); c != stored {
		t.Errorf("second run changed the store: %d changes, had %d", c, stored)
	}
	// The TweetFeed event changes: taken again.
	events[0].Timestamp = strconv.FormatInt(time.Now().Unix()+10, 10)
	if err := misp.WriteFeed(dir, events); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Hub.RunFeed(t.Context(), got); err != nil || n != 1 {
		t.Errorf("run after a change: %d events, %v; want 1", n, err)
	}
	if c := countIndicators(t, h); c <= stored {
		t.Errorf("a changed event wrote no updates (%d changes, had %d)", c, stored)
	}

	// The same feed over HTTP, as another organisation's feed: its events
	// become that organisation's own copies, beside the first's.
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	other := h.Org("NCSC", policy.NationalCERT, "")
	hf := addFeed(t, h, other, srv.URL+"/")
	if n, err := h.Hub.RunFeed(t.Context(), hf); err != nil || n != len(events) {
		t.Errorf("HTTP feed: %d events, %v; want %d", n, err, len(events))
	}
	for _, ev := range events {
		own, err := h.Store.ReportByID(t.Context(), api.OwnCopyID(other.ID, ev.UUID))
		if err != nil || own.Source != other.ID {
			t.Errorf("NCSC's copy of event %s: %+v, %v", ev.UUID, own, err)
		}
		first, err := h.Store.ReportByID(t.Context(), ev.UUID)
		if err != nil || first.Source != org.ID {
			t.Errorf("the first importer's report of %s: source %q, %v", ev.UUID, first.Source, err)
		}
	}
	// A feed that is not there: the error is recorded on the feed.
	bad := addFeed(t, h, org, srv.URL+"/no-such-feed/")
	if _, err := h.Hub.RunFeed(t.Context(), bad); err == nil {
		t.Error("a missing feed ran without an error")
	}
	if got, _ := h.Store.Feed(t.Context(), bad.ID); !strings.Contains(got.LastError, "404") {
		t.Errorf("missing feed's recorded error %q, want it to name the 404", got.LastError)
	}
}

// TestFeedTweetFeed reads the real TweetFeed MISP feed (../shared/data): its
// manifest lists 365 events of which the copy holds 3 files; those 3 are
// imported (734 attributes: each stored or refused by a warninglist, none
// lost) and the 362 missing ones are reported and tried again next run.
func TestFeedTweetFeed(t *testing.T) {
	data := sharedData()
	if data == "" {
		t.Skip("../shared/data (or HDN_SHARED_DATA) is absent: the real TweetFeed feed is not checked")
	}
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t), FeedCheck: -1})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	f := addFeed(t, h, org, filepath.Join(data, "iocs", "tweetfeed_misp_feed"))
	n, err := h.Hub.RunFeed(t.Context(), f)
	if n != 3 {
		t.Fatalf("imported %d events, want the 3 present", n)
	}
	if err == nil || !strings.Contains(err.Error(), "362 events failed") {
		t.Errorf("run error %v, want the 362 missing event files reported", err)
	}
	// The oracle: every attribute canonicalised and screened on its own.
	wl := shippedWarninglists(t)
	var attrs, stored, wantStored int
	for _, name := range []string{"01d7d459-91ef-5fa0-8bf8-1e682f4c5c93", "02622617-5775-515b-9de5-00ff222acff6", "030d893e-dc3b-52b8-93ee-bb31af6fa9e5"} {
		raw, err := os.ReadFile(filepath.Join(data, "iocs", "tweetfeed_misp_feed", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := misp.ParseEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		distinct := map[string]bool{}
		for _, a := range ev.Attribute {
			attrs++
			parts, err := misp.Split(a.Type, a.Value)
			if err != nil {
				continue
			}
			for _, p := range parts {
				if p.Err != nil {
					continue
				}
				refused := false
				for _, hit := range wl.Check(p.Type, p.Value) {
					refused = refused || hit.Kind == warninglist.Refuse
				}
				if !refused {
					distinct[string(p.Type)+" "+p.Value] = true
				}
			}
		}
		wantStored += len(distinct)
		inds, err := h.Store.ListIndicators(t.Context(), policy.Viewer{OrgID: org.ID, Kind: policy.Coordinator}, store.Query{ReportID: name, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		stored += len(inds)
	}
	if attrs != 734 {
		t.Fatalf("the three events hold %d attributes, want 734", attrs)
	}
	t.Logf("TweetFeed: %d attributes, %d indicators stored, %d refused by warninglists or duplicates", attrs, stored, attrs-stored)
	if stored != wantStored {
		t.Errorf("%d indicators stored, want %d (each attribute canonicalised and screened on its own)", stored, wantStored)
	}
}

// TestFeedLoopRunsDueFeeds: the hub's own loop runs an enabled feed that is
// due, and leaves a disabled one alone.
func TestFeedLoopRunsDueFeeds(t *testing.T) {
	h := hubtest.Start(t, hub.Config{FeedCheck: 20 * time.Millisecond})
	org := h.Org("Z-CERT", policy.Coordinator, "")
	dir, events := copiedFeed(t)
	// The disabled feed is stored disabled: enabling and then disabling it
	// would let the loop run it in between.
	off, err := h.Store.CreateFeed(t.Context(), model.Feed{Name: "feed-off", Kind: "misp", URL: dir,
		OrgID: h.Org("NCSC", policy.NationalCERT, "").ID, TLP: policy.Clear, Interval: time.Hour, Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	on := addFeed(t, h, org, dir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		f, err := h.Store.Feed(t.Context(), on.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !f.LastRun.IsZero() {
			if f.LastCount != len(events) || f.LastError != "" {
				t.Errorf("the loop's run: %d events, error %q; want %d", f.LastCount, f.LastError, len(events))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the feed loop did not run the due feed within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f, _ := h.Store.Feed(t.Context(), off.ID); !f.LastRun.IsZero() {
		t.Errorf("the loop ran a disabled feed")
	}
}
