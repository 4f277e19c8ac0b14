package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
	"github.com/hdnetwork/hdn/internal/webhook"
)

const secret = "3f1c9a0d5e7b2486a1c3e5f7091b2d4f6a8c0e2f4b6d8f0a1c3e5f7091b2d4f6"

// received is one request a receiver took, verified as a receiver would.
type received struct {
	header http.Header
	body   map[string]any
	raw    []byte
	err    error // from webhook.Verify
}

// receiver is an httptest server that verifies every request with
// webhook.Verify and answers with the next status of a script (200 when the
// script is used up).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	got    []received
	hits   chan struct{}
}

func newReceiver(t *testing.T, secret string, script ...int) *receiver {
	r := &receiver{script: script, hits: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		rec := received{header: req.Header.Clone(), raw: raw}
		rec.err = webhook.Verify([]byte(secret), req.Header.Get("X-HDN-Timestamp"), req.Header.Get("X-HDN-Signature"), raw, time.Minute, time.Now())
		json.Unmarshal(raw, &rec.body)
		r.mu.Lock()
		r.got = append(r.got, rec)
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		r.hits <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wait waits for n more requests.
func (r *receiver) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.hits:
		case <-time.After(10 * time.Second):
			t.Fatalf("receiver: %d requests so far, waited for more", len(r.requests()))
		}
	}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addHook(t *testing.T, st *sqlite.Store, w model.Webhook) model.Webhook {
	t.Helper()
	if w.Secret == "" {
		w.Secret = secret
	}
	w.Enabled = true
	w, err := st.CreateWebhook(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// start runs a Dispatcher until the test ends; it logs into logs.
func start(t *testing.T, st *sqlite.Store, logs *syncBuffer, opts webhook.Options) *webhook.Dispatcher {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond}
	}
	if opts.Refresh == 0 {
		opts.Refresh = time.Millisecond
	}
	if logs == nil {
		logs = &syncBuffer{}
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := webhook.New(st, nil, log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return d
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitHook waits until the store shows what cond wants of the webhook.
func waitHook(t *testing.T, st *sqlite.Store, id string, what string, cond func(model.Webhook) bool) model.Webhook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := st.Webhook(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(w) {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s never %s: %+v", w.Name, what, w)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDelivery: a campaign event reaches the webhook subscribed to
// campaigns, signed (verified with Verify), with the documented headers and
// body; two 500s are retried under the same delivery id and the success is
// recorded; the webhook subscribed to quarantines only, and a disabled one,
// receive nothing; a delivery that fails every attempt, or is redirected,
// is recorded as a failure; the secret never appears in the logs.
func TestDelivery(t *testing.T) {
	st := openStore(t)
	soc := newReceiver(t, secret, 500, 500, 200)
	other := newReceiver(t, secret)
	off := newReceiver(t, secret)
	hook := addHook(t, st, model.Webhook{Name: "soc", URL: soc.URL + "/hook", Events: []string{"campaign"}})
	addHook(t, st, model.Webhook{Name: "quarantines", URL: other.URL, Events: []string{"quarantine"}})
	offHook := addHook(t, st, model.Webhook{Name: "off", URL: off.URL, Events: []string{"campaign"}})
	if err := st.SetWebhookEnabled(context.Background(), offHook.ID, false); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	d := start(t, st, logs, webhook.Options{HubName: "sector-hub"})

	before := time.Now()
	d.Emit(context.Background(), api.Event{Kind: api.EventCampaign, Payload: map[string]any{"alert": map[string]any{"id": "a-1", "orgs": 3}}})
	soc.wait(t, 3)
	got := waitHook(t, st, hook.ID, "recorded the delivery", func(w model.Webhook) bool { return !w.LastDelivery.IsZero() })
	if got.LastStatus != 200 || got.LastError != "" || got.Failures != 0 {
		t.Errorf("after a delivery that succeeded on the third attempt: %+v", got)
	}
	reqs := soc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	id := reqs[0].header.Get("X-HDN-Delivery")
	for i, r := range reqs {
		if r.err != nil {
			t.Errorf("request %d: Verify: %v", i, r.err)
		}
		h := r.header
		if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "hdn-webhook/1" || h.Get("X-HDN-Event") != "campaign" ||
			h.Get("X-HDN-Delivery") != id || !strings.HasPrefix(h.Get("X-HDN-Signature"), "sha256=") {
			t.Errorf("request %d headers: %v", i, h)
		}
		ts, err := strconv.ParseInt(h.Get("X-HDN-Timestamp"), 10, 64)
		if err != nil || time.Unix(ts, 0).Before(before.Add(-time.Second)) {
			t.Errorf("request %d timestamp %q", i, h.Get("X-HDN-Timestamp"))
		}
		at, err := time.Parse(time.RFC3339, r.body["at"].(string))
		if r.body["id"] != id || r.body["kind"] != "campaign" || r.body["hub"] != "sector-hub" || err != nil || at.Before(before.Add(-time.Second)) {
			t.Errorf("request %d body: %s", i, r.raw)
		}
		if data, _ := json.Marshal(r.body["data"]); string(data) != `{"alert":{"id":"a-1","orgs":3}}` {
			t.Errorf("request %d data: %s", i, data)
		}
		if bytes.Contains(r.raw, []byte(secret)) {
			t.Errorf("request %d carries the secret", i)
		}
	}
	// A forged or altered request fails verification.
	r := reqs[2]
	if err := webhook.Verify([]byte("another secret of at least 32 bytes!!"), r.header.Get("X-HDN-Timestamp"), r.header.Get("X-HDN-Signature"), r.raw, time.Minute, time.Now()); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("Verify under another secret: %v", err)
	}
	tampered := bytes.Replace(r.raw, []byte("a-1"), []byte("a-2"), 1)
	if err := webhook.Verify([]byte(secret), r.header.Get("X-HDN-Timestamp"), r.header.Get("X-HDN-Signature"), tampered, time.Minute, time.Now()); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("Verify of an altered body: %v", err)
	}

	// Every attempt fails: the failure is recorded, then a redirect (not
	// followed) is another.
	soc.mu.Lock()
	soc.script = []int{503, 503, 503, 302, 302, 302}
	soc.mu.Unlock()
	d.Emit(context.Background(), api.Event{Kind: api.EventCampaign, Payload: map[string]any{"alert": "second"}})
	soc.wait(t, 3)
	got = waitHook(t, st, hook.ID, "recorded a failure", func(w model.Webhook) bool { return w.Failures == 1 })
	if got.LastStatus != 503 || !strings.Contains(got.LastError, "503") {
		t.Errorf("after a failed delivery: %+v", got)
	}
	d.Emit(context.Background(), api.Event{Kind: api.EventCampaign, Payload: map[string]any{"alert": "third"}})
	soc.wait(t, 3)
	got = waitHook(t, st, hook.ID, "recorded a second failure", func(w model.Webhook) bool { return w.Failures == 2 })
	if got.LastStatus != 302 {
		t.Errorf("after a redirected delivery: %+v", got)
	}
	for _, r := range soc.requests() {
		if r.header.Get("X-HDN-Delivery") == "" {
			t.Errorf("a request without a delivery id (a followed redirect?): %v", r.header)
		}
	}
	if n := len(soc.requests()); n != 9 {
		t.Errorf("%d requests to the receiver, want 9 (a redirect was followed?)", n)
	}
	if d.Delivered() != 1 || d.Failed() != 2 {
		t.Errorf("Delivered %d, Failed %d; want 1, 2", d.Delivered(), d.Failed())
	}

	if n := len(other.requests()); n != 0 {
		t.Errorf("the webhook subscribed to quarantines received %d campaign deliveries", n)
	}
	if n := len(off.requests()); n != 0 {
		t.Errorf("the disabled webhook received %d deliveries", n)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the logs hold the secret:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "delivery failed") {
		t.Errorf("the failed delivery was not logged:\n%s", logs)
	}
}

// TestMinScore: an indicator event reaches a webhook only at or above its
// minimum score; a webhook subscribed to indicators without a minimum gets
// every one.
func TestMinScore(t *testing.T) {
	st := openStore(t)
	high := newReceiver(t, secret)
	all := newReceiver(t, secret)
	addHook(t, st, model.Webhook{Name: "high", URL: high.URL, Events: []string{"indicator"}, MinScore: 80})
	addHook(t, st, model.Webhook{Name: "all", URL: all.URL, Events: []string{"indicator", "quarantine"}})
	d := start(t, st, nil, webhook.Options{})
	for _, score := range []int{50, 79, 80, 95} {
		d.Emit(context.Background(), api.Event{Kind: api.EventNew, Score: score,
			Payload: map[string]any{"indicator": map[string]any{"value": "evil.example"}, "score": score}})
	}
	all.wait(t, 4)
	high.wait(t, 2) // deliveries to one webhook keep their order: had 50 or 79 come, they would be first
	var scores []float64
	for _, r := range high.requests() {
		if r.err != nil || r.header.Get("X-HDN-Event") != "indicator" {
			t.Errorf("request: %v %v", r.err, r.header)
		}
		scores = append(scores, r.body["data"].(map[string]any)["score"].(float64))
	}
	if len(scores) != 2 || scores[0] != 80 || scores[1] != 95 {
		t.Errorf("the webhook with minimum score 80 received scores %v, want [80 95]", scores)
	}
}

// TestQueueFull: Emit never blocks; beyond the queue events are dropped and
// counted, and those queued are delivered once Run runs.
func TestQueueFull(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, secret)
	addHook(t, st, model.Webhook{Name: "q", URL: rcv.URL, Events: []string{"quarantine"}})
	d := webhook.New(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		webhook.Options{QueueSize: 3, Refresh: time.Millisecond})
	done := make(chan struct{})
	go func() {
		for i := range 50 {
			d.Emit(context.Background(), api.Event{Kind: api.EventQuarantine, Payload: map[string]any{"n": i}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit blocked on a full queue")
	}
	if n := d.Dropped(); n != 47 {
		t.Errorf("Dropped %d, want 47", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	rcv.wait(t, 3)
	var ns []float64
	for _, r := range rcv.requests() {
		ns = append(ns, r.body["data"].(map[string]any)["n"].(float64))
	}
	if len(ns) != 3 || ns[0] != 0 || ns[1] != 1 || ns[2] != 2 {
		t.Errorf("delivered %v, want the first three", ns)
	}
	// An event of an unknown kind is dropped too.
	d.Emit(context.Background(), api.Event{Kind: "sighting"})
	if n := d.Dropped(); n != 48 {
		t.Errorf("Dropped %d after an unknown kind, want 48", n)
	}
}

// TestVerify: what a receiver refuses.
func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"x","kind":"campaign"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := webhook.Sign([]byte(secret), ts, body)
	if err := webhook.Verify([]byte(secret), ts, sig, body, time.Minute, now.Add(30*time.Second)); err != nil {
		t.Errorf("Verify of a good delivery: %v", err)
	}
	for _, tc := range []struct {
		name    string
		ts, sig string
		body    []byte
		now     time.Time
		want    error
	}{
		{"stale", ts, sig, body, now.Add(2 * time.Minute), webhook.ErrStale},
		{"from the future", ts, sig, body, now.Add(-2 * time.Minute), webhook.ErrStale},
		{"another timestamp", strconv.FormatInt(now.Unix()+1, 10), sig, body, now, webhook.ErrBadSignature},
		{"altered body", ts, sig, append(body, ' '), now, webhook.ErrBadSignature},
		{"no prefix", ts, strings.TrimPrefix(sig, "sha256="), body, now, webhook.ErrBadSignature},
		{"not hex", ts, "sha256=zz", body, now, webhook.ErrBadSignature},
		{"empty", ts, "", body, now, webhook.ErrBadSignature},
	} {
		if err := webhook.Verify([]byte(secret), tc.ts, tc.sig, tc.body, time.Minute, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := webhook.Verify([]byte(secret), "yesterday", sig, body, time.Minute, now); err == nil {
		t.Error("Verify accepted a timestamp that is not a number")
	}
}

// TestDisableStopsQueuedDeliveries: deliveries queued for a webhook that is
// then disabled or removed are not sent, nor retried, even when no new
// event comes to refresh the dispatcher's list.
func TestDisableStopsQueuedDeliveries(t *testing.T) {
	for _, how := range []string{"disabled", "removed"} {
		t.Run(how, func(t *testing.T) {
			st := openStore(t)
			release := make(chan struct{})
			var mu sync.Mutex
			var got []float64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				var env struct {
					Data struct{ N float64 } `json:"data"`
				}
				raw, _ := io.ReadAll(req.Body)
				json.Unmarshal(raw, &env)
				mu.Lock()
				got = append(got, env.Data.N)
				first := len(got) == 1
				mu.Unlock()
				if first {
					<-release // the receiver is slow: the rest queue up
					w.WriteHeader(http.StatusInternalServerError)
				}
			}))
			defer srv.Close()
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			h := addHook(t, st, model.Webhook{Name: "slow", URL: srv.URL, Events: []string{"quarantine"}})
			d := start(t, st, nil, webhook.Options{Refresh: time.Hour})
			for i := range 5 {
				d.Emit(context.Background(), api.Event{Kind: api.EventQuarantine, Payload: map[string]any{"n": i}})
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first delivery never came")
				}
				time.Sleep(5 * time.Millisecond)
			}
			var err error
			if how == "disabled" {
				err = st.SetWebhookEnabled(context.Background(), h.ID, false)
			} else {
				err = st.DeleteWebhook(context.Background(), h.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			close(release) // the first attempt fails: it would be retried
			time.Sleep(500 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Errorf("the receiver got %v after the webhook was %s; want only the delivery in flight", got, how)
			}
		})
	}
}
