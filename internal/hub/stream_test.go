package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// collector follows a stream in the background and records its events.
type collector struct {
	mu     sync.Mutex
	events []streamclient.Event
	client *streamclient.Client
	cancel context.CancelFunc
	done   chan error
}

func follow(t *testing.T, urls []string, key string, resume bool, cursor int64) *collector {
	t.Helper()
	c := &collector{done: make(chan error, 1)}
	c.client = streamclient.New(streamclient.Config{URLs: urls, Key: key, Resume: resume, Cursor: cursor,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		c.done <- c.client.Run(ctx, func(ev streamclient.Event) error {
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) stop() {
	c.cancel()
	<-c.done
	c.done <- nil // let a second stop return
}

func (c *collector) snapshot() []streamclient.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]streamclient.Event(nil), c.events...)
}

// waitFor waits until some event satisfies ok.
func (c *collector) waitFor(t *testing.T, what string, ok func(streamclient.Event) bool) streamclient.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range c.snapshot() {
			if ok(ev) {
				return ev
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s within 10 s; got %d events", what, len(c.snapshot()))
	return streamclient.Event{}
}

func valueIs(kind, value string) func(streamclient.Event) bool {
	return func(ev streamclient.Event) bool {
		return ev.Kind == kind && ev.Indicator != nil && ev.Indicator.Value == value
	}
}

// sources maps each value the stream carried to the source it showed.
func (c *collector) sources() map[string]string {
	got := map[string]string{}
	for _, ev := range c.snapshot() {
		if ev.Indicator != nil {
			got[ev.Indicator.Value] = ev.Indicator.Source
		}
	}
	return got
}

// indicatorEvents counts, per value, the events that carry an indicator.
func indicatorEvents(evs []streamclient.Event) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		if ev.Indicator != nil {
			n[ev.Indicator.Value]++
		}
	}
	return n
}

func TestStreamSnapshotThenLiveWithPolicy(t *testing.T) {
	n := newSharingNet(t)
	submit(t, n.h, n.a, map[string]any{"value": "before.example.org", "tlp": "green"})
	submit(t, n.h, n.b, map[string]any{"value": "red-to-b.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"hospital-b"}}})
	a := follow(t, []string{n.h.URL}, n.a, false, 0)
	cust := follow(t, []string{n.h.URL}, n.cust1, false, 0)
	a.waitFor(t, "snapshot of before.example.org", valueIs("snapshot", "before.example.org"))
	a.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	cust.waitFor(t, "customer snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })

	submit(t, n.h, n.b, map[string]any{"value": "live.example.org", "tlp": "amber"})
	submit(t, n.h, n.b, map[string]any{"value": "strict.example.org", "tlp": "amber+strict"})
	submit(t, n.h, n.b, map[string]any{"value": "red-live.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"national-cert"}}})
	a.waitFor(t, "live created", valueIs("created", "live.example.org"))
	a.waitFor(t, "amber+strict for a member", valueIs("created", "strict.example.org"))
	cust.waitFor(t, "amber for a customer", valueIs("created", "live.example.org"))
	// A marker after everything, so that the absence checks below are not racy.
	marker := submit(t, n.h, n.b, map[string]any{"value": "marker.example.org", "tlp": "green"})[0].ID
	a.waitFor(t, "marker", valueIs("created", "marker.example.org"))
	cust.waitFor(t, "marker", valueIs("created", "marker.example.org"))
	for _, ev := range a.snapshot() {
		if ev.Indicator != nil && (ev.Indicator.Value == "red-to-b.example.org" || ev.Indicator.Value == "red-live.example.org") {
			t.Fatalf("hospital A received a red indicator not meant for it: %+v", ev)
		}
	}
	for _, ev := range cust.snapshot() {
		if ev.Indicator != nil && ev.Indicator.Value == "strict.example.org" {
			t.Fatal("a partner's customer received amber+strict shared with the network")
		}
	}
	// Revocation reaches the stream.
	if r := n.h.Do("POST", "/api/v1/indicators/"+marker+"/revoke", n.b, nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	a.waitFor(t, "revoked", valueIs("revoked", "marker.example.org"))
	// Re-submitting with a narrower audience makes it vanish for A: a removal.
	live := submit(t, n.h, n.b, map[string]any{"value": "live.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"national-cert"}}})[0].ID
	a.waitFor(t, "removed", func(ev streamclient.Event) bool { return ev.Kind == "removed" && ev.ID == live })
}

func TestStreamExactlyOnceAcrossReconnects(t *testing.T) {
	n := newSharingNet(t)
	first := follow(t, []string{n.h.URL}, n.a, false, 0)
	first.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	for i := range 30 {
		submit(t, n.h, n.b, map[string]any{"value": fmt.Sprintf("r%d.example.org", i), "tlp": "green"})
	}
	first.waitFor(t, "r29", valueIs("created", "r29.example.org"))
	first.stop()
	cursor := first.client.Cursor()
	// Changes while disconnected, then resume from the cursor.
	for i := 30; i < 60; i++ {
		submit(t, n.h, n.b, map[string]any{"value": fmt.Sprintf("r%d.example.org", i), "tlp": "green"})
	}
	second := follow(t, []string{n.h.URL}, n.a, true, cursor)
	second.waitFor(t, "r59", valueIs("created", "r59.example.org"))
	got := indicatorEvents(append(first.snapshot(), second.snapshot()...))
	for i := range 60 {
		v := fmt.Sprintf("r%d.example.org", i)
		if got[v] != 1 {
			t.Errorf("%s received %d times across the reconnect, want once", v, got[v])
		}
	}
	for _, ev := range second.snapshot() {
		if ev.Kind == "snapshot" || ev.Cursor <= cursor {
			t.Fatalf("resumed stream sent %s at cursor %d (resumed after %d)", ev.Kind, ev.Cursor, cursor)
		}
	}
}

// TestStreamCurrentOnlyAfterEveryCommittedChange: the first heartbeat
// tells a subscriber it is current (a sensor run with --once then reads its
// logs), so it comes only after every change committed when the stream
// opened — also one the broker has not read yet (it learns of changes by
// notification or by polling, here once an hour). It once came at once,
// and a --once run matched without the newest indicators.
func TestStreamCurrentOnlyAfterEveryCommittedChange(t *testing.T) {
	h := hubtest.Start(t, hub.Config{StreamPoll: time.Hour})
	a := h.Org("hospital-a", policy.Member, "")
	key := h.Key(a, policy.Analyst)
	id := submit(t, h, key, map[string]any{"value": "quiet-revoke.example.org", "tlp": "green"})[0].ID
	first := follow(t, []string{h.URL}, key, false, 0)
	first.waitFor(t, "the first heartbeat", func(ev streamclient.Event) bool { return ev.Kind == "heartbeat" })
	first.stop()
	cursor := first.client.Cursor()
	// Committed without telling the broker (as a change of another replica
	// whose notification is late).
	if _, err := h.Store.Revoke(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	second := follow(t, []string{h.URL}, key, true, cursor)
	second.waitFor(t, "a heartbeat", func(ev streamclient.Event) bool { return ev.Kind == "heartbeat" })
	for _, ev := range second.snapshot() {
		if ev.Kind == "heartbeat" {
			t.Fatalf("the first heartbeat came before the revocation committed when the stream opened: %+v", second.snapshot())
		}
		if ev.Indicator != nil && ev.Indicator.ID == id && ev.Indicator.Revoked {
			break
		}
	}
}

func TestStreamResumesAcrossHubRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	h1 := startOn(t, ctx, dir, addr)
	a := h1.Org("a", policy.Member, "")
	ka := h1.Key(a, policy.Analyst)
	c := follow(t, []string{h1.URL}, ka, false, 0)
	c.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	submit(t, h1.Hub, ka, map[string]any{"value": "one.example.org"})
	c.waitFor(t, "one", valueIs("created", "one.example.org"))
	cancel() // stop the hub; the client keeps retrying
	h1.stop()
	h2 := startOn(t, context.Background(), dir, addr)
	submit(t, h2.Hub, ka, map[string]any{"value": "two.example.org"})
	c.waitFor(t, "two after the restart", valueIs("created", "two.example.org"))
	got := indicatorEvents(c.snapshot())
	if got["one.example.org"] != 1 || got["two.example.org"] != 1 {
		t.Fatalf("events across the restart: %v", got)
	}
}

type runningHub struct {
	*hubtest.Hub
	stop func()
}

// startOn runs a hub on a fixed address and data directory until ctx ends.
func startOn(t *testing.T, ctx context.Context, dir, addr string) *runningHub {
	t.Helper()
	h, err := hub.New(ctx, hub.Config{DataDir: dir, Listen: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoWarninglists: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("hub: %v", err)
	}
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub.Run: %v", err)
		}
	})
	t.Cleanup(stop)
	th := &hubtest.Hub{T: t, Hub: h, URL: h.URL(), DataDir: dir, Store: h.Store(), Client: hubtestClient()}
	return &runningHub{Hub: th, stop: stop}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestStreamExpiry(t *testing.T) {
	h := hubtest.Start(t, hub.Config{ExpirySweep: 50 * time.Millisecond})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	c := follow(t, []string{h.URL}, k, false, 0)
	c.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	until := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	submit(t, h, k, map[string]any{"value": "short-lived.example.org", "valid_until": until})
	c.waitFor(t, "created", valueIs("created", "short-lived.example.org"))
	ev := c.waitFor(t, "expired without anyone acting", valueIs("expired", "short-lived.example.org"))
	if !ev.Indicator.Expired {
		t.Fatalf("expired event carries expired=false: %+v", ev.Indicator)
	}
	// A fresh subscriber's snapshot leaves it out.
	d := follow(t, []string{h.URL}, k, false, 0)
	d.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	if got := indicatorEvents(d.snapshot()); got["short-lived.example.org"] != 0 {
		t.Fatal("the snapshot carries an expired indicator")
	}
}

// TestStreamResubmittedAfterExpiry: a source submitting again, without a
// valid_until, an indicator that expired makes it live again, as it
// re-activates a revoked one: the stream announces it live and the export
// lists it.
func TestStreamResubmittedAfterExpiry(t *testing.T) {
	h := hubtest.Start(t, hub.Config{ExpirySweep: 50 * time.Millisecond})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	c := follow(t, []string{h.URL}, k, false, 0)
	c.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	until := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	const value = "back-again.example.org"
	submit(t, h, k, map[string]any{"value": value, "valid_until": until})
	c.waitFor(t, "expired", valueIs("expired", value))
	if l := string(h.Do("GET", "/api/v1/export/list", k, nil).Body); strings.Contains(l, value) {
		t.Fatalf("the export lists the expired indicator:\n%s", l)
	}

	res := submit(t, h, k, map[string]any{"value": value})
	if res[0].Status != "updated" {
		t.Fatalf("re-submission: %+v", res[0])
	}
	ev := c.waitFor(t, "updated after the expiry", func(ev streamclient.Event) bool {
		return valueIs("updated", value)(ev) && !ev.Indicator.Expired
	})
	if ev.Indicator.ValidUntil != nil {
		t.Errorf("live again with valid_until %v (it passed)", ev.Indicator.ValidUntil)
	}
	if l := string(h.Do("GET", "/api/v1/export/list", k, nil).Body); !strings.Contains(l, value) {
		t.Errorf("the export does not list the indicator live again:\n%s", l)
	}
	// And it stays live: the expiry sweep does not take it again.
	time.Sleep(200 * time.Millisecond)
	if l := string(h.Do("GET", "/api/v1/export/list", k, nil).Body); !strings.Contains(l, value) {
		t.Errorf("the indicator expired again after its re-submission")
	}
}

// TestStreamSlowSubscriber: a subscriber that never reads neither slows the
// writers nor another subscriber, and is cut off.
func TestStreamSlowSubscriber(t *testing.T) {
	h := hubtest.Start(t, hub.Config{StreamWriteTimeout: 500 * time.Millisecond})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	conn, err := net.Dial("tcp", h.Hub.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", k)
	fast := follow(t, []string{h.URL}, k, false, 0)
	fast.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	long := make([]byte, 4000)
	for i := range long {
		long[i] = 'x'
	}
	start := time.Now()
	for i := range 40 {
		var its []map[string]any
		for j := range 100 {
			its = append(its, map[string]any{"value": fmt.Sprintf("s%d-%d.example.org", i, j), "description": string(long)})
		}
		submit(t, h, k, its...)
	}
	writeTime := time.Since(start)
	fast.waitFor(t, "the last change", valueIs("created", "s39-99.example.org"))
	if got := len(indicatorEvents(fast.snapshot())); got != 4000 {
		t.Fatalf("fast subscriber got %d indicators, want 4000", got)
	}
	// The hub cut the stalled subscriber off: only the fast stream is left.
	deadline := time.Now().Add(10 * time.Second)
	for h.Hub.ActiveStreams() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams active, want 1: the stalled subscriber was not cut off", h.Hub.ActiveStreams())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("4,000 submissions with a stalled subscriber took %v", writeTime)
}

// TestStreamAcrossReplicasWithNATS: with a NATS bus, a change written
// through one hub replica reaches a stream served by another at once (the
// polling safety net is turned off to prove it is the bus).
func TestStreamAcrossReplicasWithNATS(t *testing.T) {
	url, stream := natsForTest(t)
	dir := t.TempDir()
	cfg := hub.Config{DataDir: dir, NATS: url, NATSStream: stream, NATSPrefix: stream, StreamPoll: time.Hour}
	ha := hubtest.Start(t, cfg)
	hb := hubtest.Start(t, cfg)
	o := ha.Org("a", policy.Member, "")
	k := ha.Key(o, policy.Analyst)
	c := follow(t, []string{hb.URL}, k, false, 0)
	c.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	submit(t, ha, k, map[string]any{"value": "via-replica-a.example.org"})
	c.waitFor(t, "a change written through replica A, on replica B's stream", valueIs("created", "via-replica-a.example.org"))
	// And failover: the client lists both replicas and resumes on A when B goes.
	c2 := follow(t, []string{hb.URL, ha.URL}, k, true, c.client.Cursor())
	submit(t, hb, k, map[string]any{"value": "via-replica-b.example.org"})
	c2.waitFor(t, "change via B", valueIs("created", "via-replica-b.example.org"))
	if got := indicatorEvents(c2.snapshot()); got["via-replica-a.example.org"] != 0 {
		t.Fatalf("resumed client received an earlier change again: %v", got)
	}
}

// natsForTest gives a NATS URL: the external server of HDN_TEST_NATS_URL
// when set, or an embedded one; and a unique stream name.
func natsForTest(t *testing.T) (string, string) {
	t.Helper()
	name := fmt.Sprintf("HDNTEST%d", time.Now().UnixNano())
	if url := os.Getenv("HDN_TEST_NATS_URL"); url != "" {
		t.Logf("using external NATS at %s (stream %s)", url, name)
		t.Cleanup(func() { deleteStream(t, url, name) })
		return url, name
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL(), name
}

// TestStreamResetAfterCompaction: a cursor older than the compacted change
// log gets a reset, then a fresh snapshot on the same connection.
func TestStreamResetAfterCompaction(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("a", policy.Member, "")
	k := h.Key(a, policy.Analyst)
	for i := range 5 {
		submit(t, h, k, map[string]any{"value": fmt.Sprintf("c%d.example.org", i)})
	}
	head, _ := h.Store.LastSeq(t.Context())
	compactor, ok := h.Store.(interface {
		CompactChanges(ctx context.Context, keepAfter int64) (int64, error)
	})
	if !ok {
		t.Skip("this store cannot compact its change log")
	}
	if _, err := compactor.CompactChanges(t.Context(), head-1); err != nil {
		t.Fatal(err)
	}
	c := follow(t, []string{h.URL}, k, true, 1)
	c.waitFor(t, "reset", func(ev streamclient.Event) bool { return ev.Kind == "reset" })
	c.waitFor(t, "the fresh snapshot's end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	got := indicatorEvents(c.snapshot())
	for i := range 5 {
		if v := fmt.Sprintf("c%d.example.org", i); got[v] != 1 {
			t.Errorf("%s in the fresh snapshot %d times, want once", v, got[v])
		}
	}
}
