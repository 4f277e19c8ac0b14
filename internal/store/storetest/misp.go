package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testReportUpdate: a report keeps its tags and context, takes a given id,
// and UpdateReport replaces what it says (audience too) but not its source.
func testReportUpdate(e *env) {
	a := e.org(e.unique("org"), policy.Member, "")
	b := e.org(e.unique("org"), policy.Member, "")
	const id = "5f3b2c1e-8a4d-4c6b-9e2f-1a2b3c4d5e6f"
	r, err := e.st.CreateReport(e.ctx, model.Report{
		ID: id, Title: "Phishing wave", TLP: policy.Amber, Audience: policy.NetworkAudience(), Source: a.ID,
		Tags: []string{"phishing", `misp-galaxy:threat-actor="APT X"`},
		Context: []model.ContextAttribute{
			{ID: "0c9a1e7a-1111-4c6b-9e2f-1a2b3c4d5e6f", Type: "link", Category: "External analysis", Value: "https://example.org/blog"},
			{ID: "0c9a1e7a-2222-4c6b-9e2f-1a2b3c4d5e6f", Type: "filename", Value: "invoice.pdf.exe", Comment: "dropper", Object: "file"},
		},
	})
	if err != nil {
		e.Fatalf("CreateReport: %v", err)
	}
	if r.ID != id {
		e.Fatalf("CreateReport gave id %q, want the given %q", r.ID, id)
	}
	got, err := e.st.ReportByID(e.ctx, id)
	if err != nil {
		e.Fatalf("ReportByID: %v", err)
	}
	if !reflect.DeepEqual(got.Tags, r.Tags) || !reflect.DeepEqual(got.Context, r.Context) {
		e.Errorf("stored tags %q context %+v, want %q %+v", got.Tags, got.Context, r.Tags, r.Context)
	}
	if _, err := e.st.CreateReport(e.ctx, model.Report{ID: id, Title: "again", TLP: policy.Amber, Source: a.ID}); !errors.Is(err, store.ErrConflict) {
		e.Errorf("CreateReport with a taken id: %v, want ErrConflict", err)
	}

	up := got
	up.Title, up.Tags, up.Context = "Phishing wave (update)", nil, r.Context[:1]
	up.TLP, up.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{b.ID}}
	up.Source = b.ID // must not move the report to another source
	up.Modified = got.Modified.Add(time.Hour)
	after, err := e.st.UpdateReport(e.ctx, up)
	if err != nil {
		e.Fatalf("UpdateReport: %v", err)
	}
	got, err = e.st.ReportByID(e.ctx, id)
	if err != nil {
		e.Fatalf("ReportByID after update: %v", err)
	}
	switch {
	case got.Title != up.Title || got.Tags != nil || len(got.Context) != 1 || got.TLP != policy.Red:
		e.Errorf("after update: %+v", got)
	case got.Source != a.ID || after.Source != a.ID:
		e.Errorf("update moved the source to %q/%q, want %q", got.Source, after.Source, a.ID)
	case !reflect.DeepEqual(got.Audience.Orgs, []string{b.ID}):
		e.Errorf("audience after update %+v", got.Audience)
	case !got.Modified.Equal(up.Modified) || !got.Created.Equal(r.Created):
		e.Errorf("times after update: created %v modified %v", got.Created, got.Modified)
	}
	// b is now named; a network viewer that is not would not see it.
	c := e.org(e.unique("org"), policy.Member, "")
	if _, err := e.st.Report(e.ctx, e.viewer(c.ID), id); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("an organisation outside the red audience sees the updated report: %v", err)
	}
	if _, err := e.st.Report(e.ctx, e.viewer(b.ID), id); err != nil {
		e.Errorf("the named organisation does not see the updated report: %v", err)
	}
	if _, err := e.st.UpdateReport(e.ctx, model.Report{ID: "00000000-0000-4000-8000-000000000000", Title: "x", TLP: policy.Green, Source: a.ID}); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("UpdateReport of an unknown report: %v, want ErrNotFound", err)
	}
	bad := got
	bad.Audience = policy.NetworkAudience() // red to the network
	if _, err := e.st.UpdateReport(e.ctx, bad); err == nil {
		e.Errorf("UpdateReport accepted red to the whole network")
	}
}

// testWishedIDs: a submission's ID is taken for a new indicator when free,
// ignored for an existing one, and replaced when taken or malformed.
func testWishedIDs(e *env) {
	a := e.org(e.unique("org"), policy.Member, "")
	const want = "7d1c5a8e-3f2b-4a6c-8d9e-0f1a2b3c4d5e"
	s1 := sub(a.ID, indicator.Domain, e.unique("wish")+".example")
	s1.ID = want
	res := e.ingest(s1)
	if res[0].ID != want || res[0].Status != store.StatusCreated {
		e.Fatalf("new indicator with a wished id: %+v, want id %s created", res[0], want)
	}
	// The same id wished by another value: taken, so a fresh one.
	s2 := sub(a.ID, indicator.Domain, e.unique("wish")+".example")
	s2.ID = want
	// An upper-case spelling of a free id is taken in canonical form.
	s3 := sub(a.ID, indicator.Domain, e.unique("wish")+".example")
	s3.ID = "9E1C5A8E-3F2B-4A6C-8D9E-0F1A2B3C4D5E"
	// Not a UUID: ignored.
	s4 := sub(a.ID, indicator.Domain, e.unique("wish")+".example")
	s4.ID = "not-a-uuid"
	// The existing indicator re-submitted with another wish keeps its id.
	s5 := s1
	s5.ID = "1d1c5a8e-3f2b-4a6c-8d9e-0f1a2b3c4d5e"
	res = e.ingest(s2, s3, s4, s5)
	switch {
	case res[0].ID == want || res[0].ID == "":
		e.Errorf("a taken wished id was given again: %+v", res[0])
	case res[1].ID != "9e1c5a8e-3f2b-4a6c-8d9e-0f1a2b3c4d5e":
		e.Errorf("wished id in upper case: got %q", res[1].ID)
	case res[2].ID == "" || res[2].ID == "not-a-uuid":
		e.Errorf("a malformed wished id: got %q", res[2].ID)
	case res[3].ID != want || res[3].Status != store.StatusUpdated:
		e.Errorf("an update with another wished id: %+v, want %s updated", res[3], want)
	}
	for _, r := range res {
		e.byID(r.ID)
	}
}

// testFeeds: feeds are created, listed, switched and remember their runs
// and events.
func testFeeds(e *env) {
	a := e.org(e.unique("org"), policy.Coordinator, "")
	f, err := e.st.CreateFeed(e.ctx, model.Feed{Name: "TweetFeed", Kind: "misp", URL: "https://example.org/feed/", OrgID: a.ID,
		TLP: policy.Clear, Interval: time.Hour, Enabled: true})
	if err != nil {
		e.Fatalf("CreateFeed: %v", err)
	}
	if f.ID == "" || f.Created.IsZero() {
		e.Errorf("CreateFeed returned %+v: want ID and Created", f)
	}
	if _, err := e.st.CreateFeed(e.ctx, model.Feed{Name: "tweetfeed", Kind: "misp", URL: "x", OrgID: a.ID, TLP: policy.Clear, Interval: time.Hour}); !errors.Is(err, store.ErrConflict) {
		e.Errorf("CreateFeed with a taken name (other case): %v, want ErrConflict", err)
	}
	for _, bad := range []model.Feed{
		{Kind: "misp", URL: "x", OrgID: a.ID, TLP: policy.Clear, Interval: time.Hour},
		{Name: "n1", URL: "x", OrgID: a.ID, TLP: policy.Clear, Interval: time.Hour},
		{Name: "n2", Kind: "misp", OrgID: a.ID, TLP: policy.Clear, Interval: time.Hour},
		{Name: "n3", Kind: "misp", URL: "x", OrgID: a.ID, TLP: "purple", Interval: time.Hour},
		{Name: "n4", Kind: "misp", URL: "x", OrgID: a.ID, TLP: policy.Clear},
	} {
		if _, err := e.st.CreateFeed(e.ctx, bad); err == nil {
			e.Errorf("CreateFeed accepted %+v", bad)
		}
	}
	got, err := e.st.Feed(e.ctx, "TWEETFEED")
	if err != nil || got.ID != f.ID || got.Interval != time.Hour || !got.Enabled || got.TLP != policy.Clear || got.OrgID != a.ID {
		e.Errorf("Feed by name: %+v, %v", got, err)
	}
	if err := e.st.SetFeedEnabled(e.ctx, f.ID, false); err != nil {
		e.Fatalf("SetFeedEnabled: %v", err)
	}
	run := f
	run.LastRun, run.LastError, run.LastCount = time.Unix(1_800_000_000, 0).UTC(), "manifest.json: 404", 3
	if err := e.st.RecordFeedRun(e.ctx, run); err != nil {
		e.Fatalf("RecordFeedRun: %v", err)
	}
	fs, err := e.st.ListFeeds(e.ctx)
	if err != nil || len(fs) != 1 {
		e.Fatalf("ListFeeds: %+v, %v", fs, err)
	}
	if g := fs[0]; g.HasSecret || g.Audience.Kind != policy.Network || g.Collection != "" {
		e.Errorf("a misp feed read back with taxii fields: %+v", g)
	}
	if g := fs[0]; g.Enabled || !g.LastRun.Equal(run.LastRun) || g.LastError != run.LastError || g.LastCount != 3 {
		e.Errorf("feed after a run: %+v", g)
	}
	if err := e.st.SetFeedEnabled(e.ctx, "no-such-feed", true); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("SetFeedEnabled of an unknown feed: %v", err)
	}
	seen, err := e.st.FeedEvents(e.ctx, f.ID)
	if err != nil || len(seen) != 0 {
		e.Fatalf("FeedEvents of a new feed: %v, %v", seen, err)
	}
	for _, ev := range []struct {
		uuid string
		ts   int64
	}{{"ev-1", 100}, {"ev-2", 200}, {"ev-1", 150}} {
		if err := e.st.SetFeedEvent(e.ctx, f.ID, ev.uuid, ev.ts); err != nil {
			e.Fatalf("SetFeedEvent: %v", err)
		}
	}
	seen, err = e.st.FeedEvents(e.ctx, f.ID)
	if err != nil || !reflect.DeepEqual(seen, map[string]int64{"ev-1": 150, "ev-2": 200}) {
		e.Errorf("FeedEvents: %v, %v", seen, err)
	}
	testTAXIIFeeds(e)
}

// testTAXIIFeeds: a taxii feed keeps its collection, credential and
// audience; the secret is read back for the hub but never in the feed's
// JSON; a taxii feed needs an http(s) URL and a consistent credential; its
// poll cursor is kept under a reserved event key.
func testTAXIIFeeds(e *env) {
	a := e.org(e.unique("org"), policy.Coordinator, "")
	b := e.org(e.unique("org"), policy.Member, "")
	g := e.group(e.unique("group"), a.ID, a.ID, b.ID)
	const secret = "hdn_s3cret-never-shown"
	in := model.Feed{Name: e.unique("cert-taxii"), Kind: "taxii", URL: "https://taxii.example.org/api1/collections/91a7b528/",
		OrgID: a.ID, TLP: policy.Amber, Interval: time.Hour, Enabled: true,
		Collection: "91a7b528", Auth: "basic", User: "analyst", Secret: secret,
		Audience: policy.Audience{Kind: policy.Group, Group: g.ID}}
	f, err := e.st.CreateFeed(e.ctx, in)
	if err != nil {
		e.Fatalf("CreateFeed taxii: %v", err)
	}
	if !f.HasSecret {
		e.Errorf("CreateFeed returned HasSecret false")
	}
	got, err := e.st.Feed(e.ctx, f.ID)
	if err != nil {
		e.Fatalf("Feed: %v", err)
	}
	if got.Kind != "taxii" || got.URL != in.URL || got.Collection != in.Collection || got.Auth != "basic" || got.User != "analyst" ||
		got.Secret != secret || !got.HasSecret || !reflect.DeepEqual(got.Audience, in.Audience) || got.TLP != policy.Amber {
		e.Errorf("taxii feed read back as %+v", got)
	}
	if b, err := json.Marshal(got); err != nil || strings.Contains(string(b), secret) || !strings.Contains(string(b), `"credential":true`) {
		e.Errorf("the feed's JSON %s (%v): want no secret and credential true", b, err)
	}
	// A bearer token and an explicit list of organisations (red needs one).
	bearer, err := e.st.CreateFeed(e.ctx, model.Feed{Name: e.unique("bearer"), Kind: "taxii", URL: "http://taxii.example.org/c/", OrgID: a.ID,
		TLP: policy.Red, Interval: time.Minute, Auth: "bearer", Secret: "tok", Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{a.ID, b.ID}}})
	if err != nil {
		e.Fatalf("CreateFeed bearer: %v", err)
	}
	if got, err := e.st.Feed(e.ctx, bearer.Name); err != nil || got.Auth != "bearer" || got.Secret != "tok" || got.User != "" ||
		!reflect.DeepEqual(got.Audience.Orgs, []string{a.ID, b.ID}) || got.Audience.Kind != policy.Orgs {
		e.Errorf("bearer feed read back as %+v, %v", got, err)
	}
	// No credential at all.
	open, err := e.st.CreateFeed(e.ctx, model.Feed{Name: e.unique("open"), Kind: "taxii", URL: "https://taxii.example.org/c/", OrgID: a.ID, TLP: policy.Clear, Interval: time.Hour})
	if err != nil || open.HasSecret {
		e.Errorf("feed without a credential: %+v, %v", open, err)
	}
	for _, bad := range []model.Feed{
		{Kind: "taxii", URL: "/var/lib/feed"},                                                    // not http(s)
		{Kind: "taxii", URL: "ftp://taxii.example.org/c/"},                                       // not http(s)
		{Kind: "taxii", URL: "https://u:p@taxii.example.org/c/"},                                 // credentials in the URL
		{Kind: "taxii", URL: "https://taxii.example.org/c/", Auth: "digest", Secret: "sekrit-x"}, // unknown auth
		{Kind: "taxii", URL: "https://taxii.example.org/c/", Auth: "bearer", User: "u", Secret: "sekrit-x"},
		{Kind: "taxii", URL: "https://taxii.example.org/c/", Auth: "bearer"},                               // no token
		{Kind: "taxii", URL: "https://taxii.example.org/c/", Secret: "sekrit-x"},                           // secret without auth
		{Kind: "taxii", URL: "https://taxii.example.org/c/", TLP: policy.Red},                              // red to the whole network
		{Kind: "taxii", URL: "https://taxii.example.org/c/", Audience: policy.Audience{Kind: policy.Orgs}}, // empty list
		{Kind: "misp", URL: "https://example.org/feed/", Auth: "basic", Secret: "sekrit-x"},                // misp feeds carry no credential
		{Kind: "rss", URL: "https://example.org/feed/"},                                                    // unknown kind
	} {
		bad.Name, bad.OrgID, bad.Interval = e.unique("bad"), a.ID, time.Hour
		if bad.TLP == "" {
			bad.TLP = policy.Clear
		}
		if _, err := e.st.CreateFeed(e.ctx, bad); err == nil {
			e.Errorf("CreateFeed accepted %+v", bad)
		} else if strings.Contains(err.Error(), "sekrit") {
			e.Errorf("CreateFeed's error quotes the secret: %v", err)
		}
	}
	// The poll cursor, kept as a reserved event (unix microseconds).
	cursor := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC).UnixMicro()
	if err := e.st.SetFeedEvent(e.ctx, f.ID, "taxii:added_after", cursor); err != nil {
		e.Fatalf("SetFeedEvent cursor: %v", err)
	}
	if seen, err := e.st.FeedEvents(e.ctx, f.ID); err != nil || seen["taxii:added_after"] != cursor {
		e.Errorf("cursor read back: %v, %v", seen, err)
	}
}
