package api

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/stream"
)

// TestStreamRunsDecideLikeThePolicy: bulk writes make runs of changes with
// the same policy facts, and a subscriber that may see none of a run's
// first change skips the run (model.Change.SameAhead). Through a real store,
// broker and GET /api/v1/stream, runs of random length and audience —
// network, two groups, a list, red, amber+strict, from two sources, then
// updates that narrow the audience of earlier runs — go to subscribers of
// every kind, and each receives exactly the events the policy gives
// change by change: its visible changes, and "removed" for those it could
// see before an update and cannot now.
func TestStreamRunsDecideLikeThePolicy(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgs := map[string]model.Org{}
	mk := func(name string, kind policy.OrgKind, partner string) {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: kind, Partner: partner})
		if err != nil {
			t.Fatal(err)
		}
		orgs[name] = o
	}
	mk("src1", policy.Member, "")
	mk("src2", policy.Member, "")
	mk("a", policy.Member, "")
	mk("b", policy.Member, "")
	mk("c", policy.Member, "")
	mk("outsider", policy.Member, "")
	mk("cert", policy.Coordinator, "")
	mk("mssp", policy.Partner, "")
	mk("clinic", policy.Customer, orgs["mssp"].ID)
	id := func(name string) string { return orgs[name].ID }
	g1, err := st.CreateGroup(ctx, model.Group{Name: "g1", Owner: id("src1"), Members: []string{id("src1"), id("a"), id("b")}})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := st.CreateGroup(ctx, model.Group{Name: "g2", Owner: id("src2"), Members: []string{id("src2"), id("c"), id("clinic")}})
	if err != nil {
		t.Fatal(err)
	}
	type profile struct {
		src string
		tlp policy.TLP
		aud policy.Audience
	}
	profiles := []profile{
		{"src1", policy.Amber, policy.Audience{Kind: policy.Network}},
		{"src2", policy.Green, policy.Audience{Kind: policy.Network}},
		{"src1", policy.Amber, policy.Audience{Kind: policy.Group, Group: g1.ID}},
		{"src2", policy.AmberStrict, policy.Audience{Kind: policy.Group, Group: g2.ID}},
		{"src2", policy.Amber, policy.Audience{Kind: policy.Group, Group: g2.ID}},
		{"src1", policy.Amber, policy.Audience{Kind: policy.Orgs, Orgs: []string{id("a"), id("clinic")}}},
		{"src2", policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{id("b")}}},
		{"src1", policy.Clear, policy.Audience{Kind: policy.Network}},
		{"src1", policy.AmberStrict, policy.Audience{Kind: policy.Network}},
		{"src1", policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{id("b")}}},
		{"src1", policy.Amber, policy.Audience{Kind: policy.Group, Group: g2.ID}},
		{"src1", policy.Amber, policy.Audience{Kind: policy.Orgs, Orgs: []string{id("a"), id("c")}}},
	}

	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	br := stream.NewBroker(st, b, stream.Options{Poll: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go br.Run(ctx)
	br.Attach() // so that the changes go through the window, where runs are marked
	defer br.Detach()

	rng := rand.New(rand.NewPCG(3, 5))
	put := func(subs []model.Submission) {
		t.Helper()
		ing, err := st.BeginIngest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ing.Put(ctx, subs); err != nil {
			t.Fatal(err)
		}
		if err := ing.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	sub := func(n int, p profile) model.Submission {
		return model.Submission{Type: indicator.Domain, Value: fmt.Sprintf("run-%d.example.org", n), TLP: p.tlp, Audience: p.aud,
			Source: id(p.src), SubmittedBy: id(p.src), Confidence: 50}
	}
	// A run of every profile after a run of every other, 1 to 5 long, and
	// runs of 100 to 250 that cross the stream's batches of 500.
	var subs []model.Submission
	var used []profile // of each value, the profile it was stored with
	run := func(p profile, n int) {
		for range n {
			subs = append(subs, sub(len(subs), p))
			used = append(used, p)
		}
	}
	for i, p := range profiles {
		for j, q := range profiles {
			if i != j {
				run(p, 1+rng.IntN(5))
				run(q, 1+rng.IntN(5))
			}
		}
		run(p, 100+rng.IntN(150))
	}
	for start := 0; start < len(subs); start += 700 {
		put(subs[start:min(start+700, len(subs))])
	}
	// Updates: stretches of earlier values stored again with a narrower or
	// another audience, so that their changes carry Before.
	var updates []model.Submission
	for range 80 {
		p := profiles[rng.IntN(len(profiles))]
		from := rng.IntN(len(subs) - 100)
		for n := from; n < from+1+rng.IntN(100); n++ {
			if used[n].src != p.src {
				continue // a value is updated by its own source
			}
			updates = append(updates, sub(n, p))
		}
	}
	put(updates)
	head, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	br.Notify(ctx, head)
	for deadline := time.Now().Add(10 * time.Second); br.Head() < head; {
		if time.Now().After(deadline) {
			t.Fatalf("broker head %d, want %d", br.Head(), head)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var window []model.Change
	for after := int64(0); after < head; {
		chs, err := br.Read(ctx, after, 1000)
		if err != nil || len(chs) == 0 {
			t.Fatalf("reading the window after %d: %d changes, %v", after, len(chs), err)
		}
		window = append(window, chs...)
		after = chs[len(chs)-1].Seq
	}
	longest, withBefore := 0, 0
	for i := range window {
		longest = max(longest, window[i].SameAhead)
		if window[i].Before != nil {
			withBefore++
		}
	}
	if longest < 100 || withBefore < 100 {
		t.Fatalf("the window holds runs of at most %d and %d changes with Before: the test does not test", longest+1, withBefore)
	}

	srv := httptest.NewServer(New(Config{Store: st, Broker: br}))
	defer srv.Close()
	read := func(key string) []string {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream?cursor=0", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		defer resp.Body.Close()
		var got []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		id := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case line == "event: heartbeat":
				return got
			case strings.HasPrefix(line, "event: "):
				got = append(got, id+" "+strings.TrimPrefix(line, "event: "))
			}
		}
		t.Errorf("the stream ended without its heartbeat (status %d)", resp.StatusCode)
		return got
	}
	var wg sync.WaitGroup
	for name, o := range orgs {
		wg.Go(func() {
			plain, keyID, hash := auth.NewKey()
			if err := st.CreateKey(ctx, model.Key{ID: keyID, OrgID: o.ID, Role: policy.Sensor, Hash: hash, Created: time.Now()}); err != nil {
				t.Error(err)
				return
			}
			v, err := st.Viewer(ctx, o.ID)
			if err != nil {
				t.Error(err)
				return
			}
			var want []string
			for i := range window {
				c := &window[i]
				switch {
				case policy.CanSee(v, c.Indicator.PolicyItem()):
					want = append(want, fmt.Sprintf("%d %s", c.Seq, c.Kind))
				case c.Before != nil && policy.CanSee(v, *c.Before):
					want = append(want, fmt.Sprintf("%d %s", c.Seq, EventRemoved))
				}
			}
			got := read(plain)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s received %d events, the policy gives %d; first difference at %d", name, len(got), len(want), firstDiff(got, want))
			}
			if len(want) == 0 && name != "outsider" {
				t.Errorf("%s may see nothing: the test does not test it", name)
			}
		})
	}
	wg.Wait()
}

// firstDiff is the index of the first element where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
