// Package webhook delivers the hub's events (campaign alerts, quarantines,
// new indicators) to the webhooks the coordinator configured: each a POST of
// a small JSON envelope, signed with an HMAC-SHA256 of the timestamp and
// body under the webhook's secret (docs/WEBHOOKS.md).
//
// The Dispatcher is the api.EventSink of the hub. Emit never blocks: events
// wait in a bounded queue and are dropped (and counted) when it is full.
// Run hands each event to a worker per webhook, so that one slow or dead
// receiver delays only its own deliveries.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// Headers of a delivery.
const (
	HeaderEvent     = "X-HDN-Event"
	HeaderDelivery  = "X-HDN-Delivery"
	HeaderTimestamp = "X-HDN-Timestamp"
	HeaderSignature = "X-HDN-Signature"
	UserAgent       = "hdn-webhook/1"
)

// DefaultMaxSkew is how far a receiver should let a delivery's timestamp be
// from its own clock (Verify with maxSkew 0).
const DefaultMaxSkew = 5 * time.Minute

// Options tune a Dispatcher; the zero value is the production setting.
type Options struct {
	HubName string // "hub" in every body (default "hdn")
	// QueueSize bounds the events waiting to be dispatched (default
	// 10,000); HookQueueSize bounds those waiting for one webhook (default
	// 1,000). Events beyond either are dropped and counted.
	QueueSize, HookQueueSize int
	// Attempts is how often a delivery is tried (default 3); Backoff[i] is
	// the wait before try i+2 (default 1 s, 5 s, 30 s; the last repeats).
	Attempts int
	Backoff  []time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Refresh is how long the list of webhooks is used before it is read
	// from the store again (default 5 s): a webhook added, removed,
	// enabled or disabled takes effect within it.
	Refresh time.Duration
	// Now is the hub's clock, for "at" and the recorded deliveries; the
	// X-HDN-Timestamp is always the wall clock, which receivers check it
	// against.
	Now func() time.Time
}

// Dispatcher queues events and delivers them to webhooks.
type Dispatcher struct {
	st     store.Webhooks
	client *http.Client
	log    *slog.Logger
	opt    Options
	queue  chan queued

	dropped   atomic.Uint64
	delivered atomic.Uint64
	failed    atomic.Uint64

	// Who wants what, for Wants (read by any goroutine).
	interest   atomic.Pointer[interest]
	interestMu sync.Mutex

	// Owned by Run's goroutine.
	hooks    []model.Webhook
	loaded   time.Time
	workers  map[string]*worker
	workerWG sync.WaitGroup
}

type queued struct {
	kind  string
	score int
	at    time.Time
	data  json.RawMessage
}

type worker struct {
	ch chan delivery
}

type delivery struct {
	hook model.Webhook
	ev   queued
}

var _ api.EventSink = (*Dispatcher)(nil)

// New builds a Dispatcher over the store's webhooks; client sends the
// requests (nil: a new client; redirects are never followed whatever the
// client says).
func New(st store.Webhooks, client *http.Client, log *slog.Logger, opts Options) *Dispatcher {
	if opts.HubName == "" {
		opts.HubName = "hdn"
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10_000
	}
	if opts.HookQueueSize <= 0 {
		opts.HookQueueSize = 1_000
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	c := &http.Client{}
	if client != nil {
		cc := *client
		c = &cc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Dispatcher{st: st, client: c, log: log, opt: opts, queue: make(chan queued, opts.QueueSize), workers: map[string]*worker{}}
}

// Emit queues an event; it never blocks. An event of an unknown kind, one
// whose payload cannot be encoded, or one that finds the queue full is
// dropped (and counted).
func (d *Dispatcher) Emit(_ context.Context, ev api.Event) {
	if !knownKind(ev.Kind) {
		d.log.Warn("webhook: event of an unknown kind dropped", "kind", ev.Kind)
		d.dropped.Add(1)
		return
	}
	// Encoded now, so that the emitter may change the payload afterwards.
	data, err := json.Marshal(ev.Payload)
	if err != nil {
		d.log.Error("webhook: event payload cannot be encoded", "kind", ev.Kind, "err", err)
		d.dropped.Add(1)
		return
	}
	select {
	case d.queue <- queued{kind: ev.Kind, score: ev.Score, at: d.opt.Now().UTC(), data: data}:
	default:
		if n := d.dropped.Add(1); n == 1 || n%1000 == 0 {
			d.log.Warn("webhook: queue full, events dropped", "dropped", n)
		}
	}
}

// interest is who wants what, as last read from the store.
type interest struct {
	at       time.Time
	kinds    map[string]bool
	minScore int // the lowest MinScore of the webhooks that want new indicators
}

// Wants says whether an enabled webhook subscribes to kind (read from the
// store at most every Options.Refresh), and for new indicators the lowest
// score one asks for.
func (d *Dispatcher) Wants(ctx context.Context, kind string) (bool, int) {
	in := d.interest.Load()
	if in == nil || time.Since(in.at) >= d.opt.Refresh {
		d.interestMu.Lock()
		if in = d.interest.Load(); in == nil || time.Since(in.at) >= d.opt.Refresh {
			hooks, err := d.st.ListWebhooks(ctx)
			if err != nil {
				d.interestMu.Unlock()
				return true, 0 // cannot tell: let the event through; dispatch decides
			}
			in = &interest{at: time.Now(), kinds: map[string]bool{}, minScore: 101}
			for _, h := range hooks {
				if !h.Enabled {
					continue
				}
				for _, k := range model.WebhookEvents {
					if h.Subscribed(k) {
						in.kinds[k] = true
					}
				}
				if h.Subscribed(api.EventNew) {
					in.minScore = min(in.minScore, h.MinScore)
				}
			}
			d.interest.Store(in)
		}
		d.interestMu.Unlock()
	}
	return in.kinds[kind], in.minScore
}

func knownKind(k string) bool {
	for _, e := range model.WebhookEvents {
		if e == k {
			return true
		}
	}
	return false
}

// Dropped is the number of events dropped so far (queue full, unknown kind,
// payload not encodable, a webhook's own queue full).
func (d *Dispatcher) Dropped() uint64 { return d.dropped.Load() }

// Delivered and Failed count deliveries that ended in a 2xx, and those that
// did not after every attempt.
func (d *Dispatcher) Delivered() uint64 { return d.delivered.Load() }
func (d *Dispatcher) Failed() uint64    { return d.failed.Load() }

// Run dispatches queued events until ctx ends; deliveries under way are
// abandoned then, and events still queued are not sent.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer func() {
		for id, w := range d.workers {
			close(w.ch)
			delete(d.workers, id)
		}
		d.workerWG.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-d.queue:
			d.dispatch(ctx, ev)
		}
	}
}

// dispatch hands an event to the worker of every enabled webhook that
// subscribed to it.
func (d *Dispatcher) dispatch(ctx context.Context, ev queued) {
	d.refresh(ctx)
	for _, h := range d.hooks {
		if !h.Enabled || !h.Subscribed(ev.kind) || (ev.kind == api.EventNew && ev.score < h.MinScore) {
			continue
		}
		w := d.workers[h.ID]
		if w == nil {
			w = &worker{ch: make(chan delivery, d.opt.HookQueueSize)}
			d.workers[h.ID] = w
			d.workerWG.Add(1)
			go func() {
				defer d.workerWG.Done()
				for dl := range w.ch {
					if ctx.Err() != nil {
						return // the hub is stopping; nobody sends after Run ends
					}
					if d.withdrawn(ctx, dl.hook) {
						continue
					}
					d.deliver(ctx, dl.hook, dl.ev)
				}
			}()
		}
		select {
		case w.ch <- delivery{hook: h, ev: ev}:
		default:
			if n := d.dropped.Add(1); n == 1 || n%1000 == 0 {
				d.log.Warn("webhook: receiver too slow, events dropped", "webhook", h.Name, "id", h.ID, "dropped", n)
			}
		}
	}
}

// refresh reads the webhooks again when the list is older than
// Options.Refresh, and stops the workers of webhooks that are gone or
// disabled (once they have sent what they hold).
func (d *Dispatcher) refresh(ctx context.Context) {
	now := time.Now()
	if !d.loaded.IsZero() && now.Sub(d.loaded) < d.opt.Refresh {
		return
	}
	hooks, err := d.st.ListWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhook: list webhooks", "err", err)
		}
		return // keep the list we have; try again on the next event
	}
	d.hooks, d.loaded = hooks, now
	live := map[string]bool{}
	for _, h := range hooks {
		if h.Enabled {
			live[h.ID] = true
		}
	}
	for id, w := range d.workers {
		if !live[id] {
			close(w.ch)
			delete(d.workers, id)
		}
	}
}

// withdrawn says whether webhook h was disabled or removed since its
// delivery was queued: the store is asked before every attempt, so that
// nothing queued goes out after an administrator turned the webhook off
// (the list the dispatcher keeps is refreshed only when events come). A
// store that cannot answer withdraws nothing.
func (d *Dispatcher) withdrawn(ctx context.Context, h model.Webhook) bool {
	cur, err := d.st.Webhook(ctx, h.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		if ctx.Err() == nil {
			d.log.Warn("webhook: reading the webhook before a delivery; sending it", "webhook", h.Name, "id", h.ID, "err", err)
		}
		return false
	case cur.Enabled:
		return false
	}
	d.log.Debug("webhook: disabled or removed; a queued event is not sent", "webhook", h.Name, "id", h.ID)
	return true
}

// envelope is the body of every delivery.
type envelope struct {
	ID   string          `json:"id"`
	Kind string          `json:"kind"`
	At   string          `json:"at"`
	Hub  string          `json:"hub"`
	Data json.RawMessage `json:"data"`
}

// deliver sends one event to one webhook, retrying, and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context, h model.Webhook, ev queued) {
	id := uuid.NewString() // one per delivery, the same for its retries
	body, err := json.Marshal(envelope{ID: id, Kind: ev.kind, At: ev.at.Format(time.RFC3339), Hub: d.opt.HubName, Data: ev.data})
	if err != nil {
		d.log.Error("webhook: encode body", "err", err)
		return
	}
	var status, attempt int
	var errText string
	for attempt = 1; ; attempt++ {
		status, err = d.attempt(ctx, h, ev.kind, id, body)
		if err == nil {
			break
		}
		errText = err.Error()
		if ctx.Err() != nil {
			return // the hub is stopping: nothing to record
		}
		d.log.Debug("webhook: attempt failed", "webhook", h.Name, "id", h.ID, "delivery", id, "event", ev.kind,
			"attempt", attempt, "status", status, "err", errText)
		if attempt >= d.opt.Attempts {
			break
		}
		wait := d.opt.Backoff[min(attempt-1, len(d.opt.Backoff)-1)]
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if d.withdrawn(ctx, h) {
			return // disabled or removed between two attempts: nothing more to send or record
		}
	}
	ok := err == nil
	if ok {
		d.delivered.Add(1)
		errText = ""
	} else {
		d.failed.Add(1)
		d.log.Warn("webhook: delivery failed", "webhook", h.Name, "id", h.ID, "delivery", id, "event", ev.kind,
			"attempts", attempt, "status", status, "err", errText)
	}
	if err := d.st.RecordDelivery(ctx, h.ID, d.opt.Now().UTC(), status, errText, ok); err != nil && ctx.Err() == nil &&
		!errors.Is(err, store.ErrNotFound) { // removed meanwhile
		d.log.Error("webhook: record delivery", "webhook", h.Name, "id", h.ID, "err", err)
	}
}

// attempt POSTs the body once. It returns the status (0 when no response
// came) and an error unless the status was 2xx. Errors name neither the
// secret nor the URL (which may hold a token of the receiver's).
func (d *Dispatcher) attempt(ctx context.Context, h model.Webhook, kind, id string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("bad webhook URL")
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, kind)
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign([]byte(h.Secret), ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", d.opt.Timeout)
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// Sign is the X-HDN-Signature of a body sent at timestamp (unix seconds, as
// in X-HDN-Timestamp): "sha256=" and the hex HMAC-SHA256 under secret of
// timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp too far from now")
)

// Verify checks a delivery as its receiver should: signature is
// X-HDN-Signature, timestamp X-HDN-Timestamp and body the raw request body.
// A timestamp more than maxSkew from now is refused (maxSkew 0:
// DefaultMaxSkew), so that a captured delivery cannot be replayed later;
// the signature is compared in constant time.
func Verify(secret []byte, timestamp, signature string, body []byte, maxSkew time.Duration, now time.Time) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad timestamp %q", timestamp)
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > maxSkew || skew < -maxSkew {
		return ErrStale
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrBadSignature
	}
	want := Sign(secret, timestamp, body)
	wantRaw, _ := hex.DecodeString(strings.TrimPrefix(want, "sha256="))
	if !hmac.Equal(got, wantRaw) {
		return ErrBadSignature
	}
	return nil
}
