package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestStreamEventCacheBytes: what the stream sends of a change through the
// shared cache is, for every kind of viewer, exactly the encoding of the
// uncached path (changeEvent, renderIndicator, json.Marshal), whatever the
// order in which viewers of different views read the same change — so the
// cache never serves one viewer's rendering to another.
func TestStreamEventCacheBytes(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mk := func(name string, kind policy.OrgKind) model.Org {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	src, other, coord, peer := mk("hospital-src", policy.Member), mk("hospital-other", policy.Member),
		mk("coordinator", policy.Coordinator), mk("peer-hub", policy.PeerHub)
	g, err := st.CreateGroup(ctx, model.Group{Name: "radiology-ring", Owner: src.ID, Members: []string{src.ID, other.ID, peer.ID}})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	s := New(Config{Store: st, Now: now})

	viewers := map[string]policy.Viewer{
		"source":      {OrgID: src.ID, Kind: policy.Member, Groups: []string{g.ID}},
		"other":       {OrgID: other.ID, Kind: policy.Member, Groups: []string{g.ID}},
		"coordinator": {OrgID: coord.ID, Kind: policy.Coordinator},
		"peer":        {OrgID: peer.ID, Kind: policy.PeerHub, Groups: []string{g.ID}},
	}
	network := policy.Audience{Kind: policy.Network}
	group := policy.Audience{Kind: policy.Group, Group: g.ID}
	ind := func(n int, anon bool, aud policy.Audience, validUntil time.Time) model.Indicator {
		i := model.Indicator{ID: fmt.Sprintf("ind-%d", n), Type: "domain", Value: fmt.Sprintf("x%d.example.org", n),
			TLP: policy.Amber, Audience: aud, Source: src.ID, SubmittedBy: src.ID, Anonymous: anon,
			Labels: []string{"phishing"}, Confidence: 70, ValidFrom: t0, ValidUntil: validUntil, FirstSeen: t0, LastSeen: t0,
			Created: t0, Modified: t0, Seq: int64(n)}
		if aud.Kind == policy.Group {
			i.GroupMembers = g.Members
		}
		return i
	}
	netItem := policy.Item{Source: src.ID, TLP: policy.Amber, Audience: network}
	changes := []model.Change{
		{Seq: 1, Kind: model.Created, Indicator: ind(1, true, network, time.Time{})},                 // anonymous
		{Seq: 2, Kind: model.Created, Indicator: ind(2, false, group, time.Time{})},                  // group audience
		{Seq: 3, Kind: model.Created, Indicator: ind(3, true, network, t0.Add(time.Minute))},         // expires in a minute
		{Seq: 4, Kind: model.Updated, Indicator: ind(4, true, group, time.Time{}), Before: &netItem}, // narrowed
		{Seq: 5, Kind: model.Revoked, Indicator: ind(5, false, network, time.Time{})},
	}
	// Narrowed to a group without the coordinator: it is told to remove it.
	changes[3].Indicator.GroupMembers = []string{src.ID, peer.ID}

	names := []string{"source", "other", "coordinator", "peer"}
	check := func(name string, c *model.Change) {
		t.Helper()
		v := viewers[name]
		want, ok := s.changeEvent(ctx, v, c, now())
		removed := false
		if !policy.CanSee(v, c.Indicator.PolicyItem()) {
			if c.Before == nil || !policy.CanSee(v, *c.Before) {
				if ok {
					t.Fatalf("%s, change %d: the uncached path sends it", name, c.Seq)
				}
				return
			}
			removed = true
		}
		wantData, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		kind, data, err := s.changeData(ctx, v, c, removed, now())
		if err != nil {
			t.Fatal(err)
		}
		if kind != want.Kind || !bytes.Equal(data, wantData) {
			t.Errorf("%s, change %d:\n got %s %s\nwant %s %s", name, c.Seq, kind, data, want.Kind, wantData)
		}
	}
	// Each order of viewers, so that each viewer reads some change first.
	for round := range 6 {
		rng := rand.New(rand.NewPCG(uint64(round), 1))
		for i := range changes {
			order := append([]string(nil), names...)
			rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			for _, name := range order {
				check(name, &changes[i])
			}
		}
	}
	// The views differ where they must.
	dataFor := func(name string, c *model.Change) string {
		_, d, err := s.changeData(ctx, viewers[name], c, false, now())
		if err != nil {
			t.Fatal(err)
		}
		return string(d)
	}
	if d := dataFor("other", &changes[0]); !strings.Contains(d, `"source":"anonymous"`) || strings.Contains(d, `"federation"`) {
		t.Errorf("another member sees the anonymous source or a federation block: %s", d)
	}
	if d := dataFor("source", &changes[0]); !strings.Contains(d, `"source":"hospital-src"`) {
		t.Errorf("the source does not see itself: %s", d)
	}
	if d := dataFor("coordinator", &changes[0]); !strings.Contains(d, `"source":"hospital-src"`) {
		t.Errorf("the coordinator does not see the true source: %s", d)
	}
	if d := dataFor("peer", &changes[0]); !strings.Contains(d, `"source":"anonymous"`) || !strings.Contains(d, `"federation":{`) {
		t.Errorf("a peer hub sees the source or no federation block: %s", d)
	}
	if d := dataFor("other", &changes[1]); !strings.Contains(d, `"group":"radiology-ring"`) {
		t.Errorf("group audience without the group's name: %s", d)
	}
	if d := dataFor("other", &changes[2]); !strings.Contains(d, `"expired":false`) {
		t.Errorf("expired before valid_until: %s", d)
	}
	// Past valid_until: expired, although the earlier encoding is cached.
	clock.Store(t0.Add(2 * time.Minute).UnixNano())
	if d := dataFor("other", &changes[2]); !strings.Contains(d, `"expired":true`) {
		t.Errorf("not expired after valid_until: %s", d)
	}
	for _, name := range names {
		for i := range changes {
			check(name, &changes[i])
		}
	}

	// Many subscribers at once: the same bytes, one encoding per view.
	s2 := New(Config{Store: st, Now: now})
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			name := names[w%len(names)]
			for i := range changes {
				c := &changes[i]
				v := viewers[name]
				want, ok := s2.changeEvent(ctx, v, c, now())
				if !ok || !policy.CanSee(v, c.Indicator.PolicyItem()) {
					continue
				}
				wantData, _ := json.Marshal(want)
				_, data, err := s2.changeData(ctx, v, c, false, now())
				if err != nil || !bytes.Equal(data, wantData) {
					t.Errorf("%s, change %d, concurrently: got %s (%v), want %s", name, c.Seq, data, err, wantData)
				}
			}
		})
	}
	wg.Wait()
	// At most one entry per change and distinct view (source shown or
	// hidden, federation or not): 4 for each of 5 changes.
	if n := s2.renderCache.events.len(); n > 4*len(changes) {
		t.Errorf("%d cached events for %d changes and 4 viewers", n, len(changes))
	}
}

// TestEventCacheBounded: the cache keeps the encodings of the newest
// eventCacheEntries changes and at most eventCacheBytes, and renders again
// after the time to live.
func TestEventCacheBounded(t *testing.T) {
	var c eventCache
	t0 := time.Now()
	renders := 0
	for i := range eventCacheEntries + 100 {
		c.get(eventKey{seq: int64(i)}, t0, func() ([]byte, bool, error) { renders++; return []byte("x"), true, nil })
	}
	if n := c.len(); n != eventCacheEntries {
		t.Errorf("%d events cached, want %d", n, eventCacheEntries)
	}
	// The newest are kept, the oldest dropped.
	hit := func(seq int64, at time.Time) bool {
		before := renders
		c.get(eventKey{seq: seq}, at, func() ([]byte, bool, error) { renders++; return []byte("x"), true, nil })
		return renders == before
	}
	if !hit(eventCacheEntries+99, t0) {
		t.Error("the newest event was rendered again")
	}
	if hit(0, t0) {
		t.Error("the oldest event was kept beyond the bound")
	}
	if !hit(eventCacheEntries, t0) {
		t.Error("reading a change behind the ring dropped a newer one")
	}
	if !hit(eventCacheEntries+99, t0.Add(-time.Millisecond)) {
		t.Error("a subscriber whose clock is a little behind the encoding's rendered it again")
	}
	if hit(eventCacheEntries+99, t0.Add(eventCacheTTL)) {
		t.Error("an event was served after its time to live")
	}
	// A rendering that may not be kept is not served again.
	c.get(eventKey{seq: eventCacheEntries + 200}, t0, func() ([]byte, bool, error) { return []byte("degraded"), false, nil })
	if hit(eventCacheEntries+200, t0) {
		t.Error("a rendering marked not to keep was served again")
	}
	// Bytes are bounded too.
	var big eventCache
	blob := make([]byte, 1<<20)
	for i := range 64 {
		big.get(eventKey{seq: int64(i)}, t0, func() ([]byte, bool, error) { return blob, true, nil })
	}
	if big.bytes > eventCacheBytes {
		t.Errorf("%d bytes cached, bound %d", big.bytes, eventCacheBytes)
	}
}

// fixedBroker serves a fixed list of changes.
type fixedBroker struct{ chs []model.Change }

func (b *fixedBroker) Attach()                              {}
func (b *fixedBroker) Detach()                              {}
func (b *fixedBroker) Head() int64                          { return b.chs[len(b.chs)-1].Seq }
func (b *fixedBroker) Wait() <-chan struct{}                { return make(chan struct{}) }
func (b *fixedBroker) Viewer(v policy.Viewer) policy.Viewer { return v }
func (b *fixedBroker) Read(_ context.Context, after int64, max int) ([]model.Change, error) {
	var out []model.Change
	for _, c := range b.chs {
		if c.Seq > after && len(out) < max {
			out = append(out, c)
		}
	}
	return out, nil
}

// TestStreamBytesPerViewer: subscribers of different kinds — the source of an
// anonymous indicator and another member, the coordinator, a peer hub — read
// the same changes through GET /api/v1/stream at the same time and each
// receives exactly the events of the uncached path: changeEvent for it,
// encoded with json.Marshal, as server-sent events.
func TestStreamBytesPerViewer(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type sub struct {
		org model.Org
		key string
	}
	mk := func(name string, kind policy.OrgKind) sub {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		plain, id, hash := auth.NewKey()
		if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: o.ID, Role: policy.Sensor, Hash: hash, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return sub{o, plain}
	}
	subs := map[string]sub{"source": mk("hospital-src", policy.Member), "other": mk("hospital-other", policy.Member),
		"coordinator": mk("coordinator", policy.Coordinator), "peer": mk("peer-hub", policy.PeerHub)}
	src := subs["source"].org.ID
	g, err := st.CreateGroup(ctx, model.Group{Name: "radiology-ring", Owner: src, Members: []string{src, subs["peer"].org.ID}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ind := func(n int, anon bool, aud policy.Audience, members []string) model.Indicator {
		return model.Indicator{ID: fmt.Sprintf("ind-%d", n), Type: "domain", Value: fmt.Sprintf("x%d.example.org", n),
			TLP: policy.Amber, Audience: aud, GroupMembers: members, Source: src, SubmittedBy: src, Anonymous: anon,
			Confidence: 50, ValidFrom: t0, FirstSeen: t0, LastSeen: t0, Created: t0, Modified: t0, Seq: int64(n)}
	}
	network := policy.Audience{Kind: policy.Network}
	netItem := policy.Item{Source: src, TLP: policy.Amber, Audience: network}
	var chs []model.Change
	for n := 1; n <= 40; n++ {
		switch n % 4 {
		case 0:
			chs = append(chs, model.Change{Seq: int64(n), Kind: model.Created, Indicator: ind(n, true, network, nil)})
		case 1:
			chs = append(chs, model.Change{Seq: int64(n), Kind: model.Created, Indicator: ind(n, false, network, nil)})
		case 2:
			chs = append(chs, model.Change{Seq: int64(n), Kind: model.Updated, Before: &netItem,
				Indicator: ind(n, true, policy.Audience{Kind: policy.Group, Group: g.ID}, g.Members)})
		case 3:
			chs = append(chs, model.Change{Seq: int64(n), Kind: model.Revoked, Indicator: ind(n, true, network, nil)})
		}
	}
	s := New(Config{Store: st, Broker: &fixedBroker{chs}, Now: func() time.Time { return t0 }})
	srv := httptest.NewServer(s)
	defer srv.Close()

	read := func(key string) string {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream?cursor=0", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return ""
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if sc.Text() == "event: heartbeat" {
				break
			}
			b.WriteString(sc.Text() + "\n")
		}
		out := b.String()
		i := strings.LastIndex(out, "id: ")
		if i < 0 {
			t.Errorf("no heartbeat: %d %s", resp.StatusCode, out)
			return ""
		}
		return out[:i] // up to the heartbeat's id line
	}
	got := make(map[string]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, sb := range subs {
		for range 3 { // several subscribers of each kind at once
			wg.Go(func() {
				r := read(sb.key)
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := got[name]; ok && prev != r {
					t.Errorf("two subscribers of %s read different streams", name)
				}
				got[name] = r
			})
		}
	}
	wg.Wait()
	for name, sb := range subs {
		v, err := st.Viewer(ctx, sb.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for i := range chs {
			ev, ok := s.changeEvent(ctx, v, &chs[i], t0)
			if !ok {
				continue
			}
			data, _ := json.Marshal(ev)
			fmt.Fprintf(&want, "id: %d\nevent: %s\ndata: %s\n\n", chs[i].Seq, ev.Kind, data)
		}
		if got[name] != want.String() {
			t.Errorf("%s received:\n%s\nthe uncached path sends:\n%s", name, got[name], want.String())
		}
	}
	for _, want := range []struct{ name, frag string }{{"other", `"source":"anonymous"`}, {"source", `"source":"hospital-src"`},
		{"peer", `"federation":{`}, {"other", `"kind":"removed"`}, {"coordinator", `"source":"hospital-src"`}} {
		if !strings.Contains(got[want.name], want.frag) {
			t.Errorf("%s received nothing with %s", want.name, want.frag)
		}
	}
	// ind-4 is anonymous: only its source and the coordinator see who.
	line := func(name string) string {
		for l := range strings.Lines(got[name]) {
			if strings.Contains(l, `"id":"ind-4"`) {
				return l
			}
		}
		return ""
	}
	for name, anon := range map[string]bool{"source": false, "coordinator": false, "other": true, "peer": true} {
		if l := line(name); strings.Contains(l, `"source":"anonymous"`) != anon || strings.Contains(l, `"federation"`) != (name == "peer") {
			t.Errorf("%s received the wrong rendering of an anonymous indicator: %s", name, l)
		}
	}
}
