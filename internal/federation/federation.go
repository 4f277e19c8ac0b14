// Package federation peers this hub with other hdn hubs (docs/FEDERATION.md).
// For every peer the operator added (hdn admin peer add), the Manager runs up
// to three loops, each on its own so that a peer that is down or slow never
// holds up local work or another peer:
//
//   - pull follows the peer's stream from a persisted cursor and applies what
//     arrives through api.Server.ApplyFederated (loop prevention, newest
//     version wins, this hub's canonical forms, warninglists and policy);
//   - push offers the peer every local change its organisation may see under
//     this hub's policy, in order, from a persisted cursor, by POSTing to the
//     peer's /api/v1/federation/indicators;
//   - sightings return to the peer, aggregated per indicator, kind and hour,
//     what this hub's organisations sighted of the indicators it delivered —
//     counts only, never the events.
//
// The Manager re-reads the peer list every few seconds, so that peers added,
// paused or removed with hdn admin while the hub runs take effect.
package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/streamclient"
	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// Config wires a Manager.
type Config struct {
	Store  store.Store
	API    *api.Server
	Logger *slog.Logger
	// Check is how often the peer list is re-read (default 5 s).
	Check time.Duration
	// PushPoll is how often push looks for new local changes (default 500 ms).
	PushPoll time.Duration
	// SightingsEvery is how often sightings are returned (default 1 min);
	// SightingsWindow how far back hours are summed (default 48 h).
	SightingsEvery, SightingsWindow time.Duration
	// HTTP makes the push and sightings requests (default: 30 s timeout);
	// StreamHTTP follows peers' streams (default: no overall timeout, the
	// stream client cuts silent connections).
	HTTP, StreamHTTP *http.Client
	// MinBackoff and MaxBackoff bound the wait after a failure (defaults
	// 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	Now                    func() time.Time
}

// Manager runs the federation loops of every peer.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	running map[string]*peerRun
}

// New makes a Manager.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Check <= 0 {
		cfg.Check = 5 * time.Second
	}
	if cfg.PushPoll <= 0 {
		cfg.PushPoll = 500 * time.Millisecond
	}
	if cfg.SightingsEvery <= 0 {
		cfg.SightingsEvery = time.Minute
	}
	if cfg.SightingsWindow <= 0 {
		cfg.SightingsWindow = 48 * time.Hour
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: tlsconf.SameOriginRedirects}
	}
	if cfg.StreamHTTP == nil {
		cfg.StreamHTTP = &http.Client{CheckRedirect: tlsconf.SameOriginRedirects}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, log: cfg.Logger, running: map[string]*peerRun{}}
}

// Run keeps the loops of every peer going until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Check)
	defer t.Stop()
	for {
		if err := m.reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("federation: read peers", "err", err)
		}
		select {
		case <-ctx.Done():
			m.stopAll()
			return nil
		case <-t.C:
		}
	}
}

// Active lists the names of the peers whose loops run now.
func (m *Manager) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, r := range m.running {
		names = append(names, r.peer.Name)
	}
	slices.Sort(names)
	return names
}

// configKey is what restarts a peer's loops when it changes.
func configKey(p model.Peer) string {
	return fmt.Sprintf("%s|%s|%t|%t|%t|%s", p.URL, p.Key, p.Pull, p.Push, p.Paused, strings.Join(p.Audience, ","))
}

func (m *Manager) reconcile(ctx context.Context) error {
	peers, err := m.cfg.Store.ListPeers(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range peers {
		seen[p.ID] = true
		r, ok := m.running[p.ID]
		if ok && r.key == configKey(p) {
			continue
		}
		if ok {
			r.stop()
			delete(m.running, p.ID)
		}
		if p.Paused {
			continue
		}
		m.running[p.ID] = m.start(ctx, p)
	}
	for id, r := range m.running {
		if !seen[id] {
			r.stop()
			delete(m.running, id)
		}
	}
	return nil
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.running {
		r.stop()
		delete(m.running, id)
	}
}

// peerRun is the running loops of one peer and the state they share.
type peerRun struct {
	m      *Manager
	peer   model.Peer
	key    string
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	state model.PeerState
	// errs holds each loop's current failure ("pull", "push", "return
	// sightings"): a loop's success clears its own, and the state's
	// LastError lists those left, so that one working loop does not hide
	// another's failure.
	errs map[string]string
}

func (m *Manager) start(ctx context.Context, p model.Peer) *peerRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &peerRun{m: m, peer: p, key: configKey(p), cancel: cancel, state: p.PeerState,
		log: m.log.With("peer", p.Name), errs: map[string]string{}}
	if p.Pull {
		r.wg.Go(func() { r.pullLoop(ctx) })
	}
	if p.Push {
		r.wg.Go(func() { r.pushLoop(ctx) })
	}
	r.wg.Go(func() { r.sightingsLoop(ctx) })
	r.log.Info("federation: peer started", "url", p.URL, "pull", p.Pull, "push", p.Push)
	return r
}

func (r *peerRun) stop() {
	r.cancel()
	r.wg.Wait()
}

// update changes the shared state and stores it.
func (r *peerRun) update(ctx context.Context, fn func(st *model.PeerState)) {
	r.mu.Lock()
	fn(&r.state)
	st := r.state
	r.mu.Unlock()
	if err := r.m.cfg.Store.SetPeerState(ctx, r.peer.ID, st); err != nil && ctx.Err() == nil {
		r.log.Error("federation: store peer state", "err", err)
	}
}

func (r *peerRun) snapshot() model.PeerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// The loops, as they name their failures.
const (
	loopPull      = "pull"
	loopPush      = "push"
	loopSightings = "return sightings"
)

// failed records loop's failure in the peer's state, beside the other
// loops' current ones.
func (r *peerRun) failed(ctx context.Context, loop string, err error) {
	r.log.Warn("federation: "+loop+" failed", "err", err)
	msg := loop + ": " + err.Error()
	r.update(ctx, func(st *model.PeerState) {
		r.errs[loop] = msg
		st.LastError = r.lastError()
	})
}

// ok records loop's success: its own failure clears, another loop's stays.
func (r *peerRun) ok(ctx context.Context, loop string, fn func(st *model.PeerState)) {
	now := r.m.cfg.Now().UTC()
	r.update(ctx, func(st *model.PeerState) {
		fn(st)
		delete(r.errs, loop)
		st.LastOK, st.LastError = now, r.lastError()
	})
}

// lastError joins the loops' current failures, in a stable order; r.mu is
// held.
func (r *peerRun) lastError() string {
	var msgs []string
	for _, loop := range []string{loopPull, loopPush, loopSightings} {
		if m := r.errs[loop]; m != "" {
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, "; ")
}

// sleep waits d (jittered by up to a half) or until ctx ends; false when
// ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// call sends a JSON request to the peer with this hub's key for it.
func (r *peerRun) call(ctx context.Context, method, path string, body, out any) error {
	return r.callKeyed(ctx, method, path, "", body, out)
}

// callKeyed is call with an Idempotency-Key ("" for none).
func (r *peerRun) callKeyed(ctx context.Context, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.peer.URL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.peer.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := r.m.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(data[:min(len(data), 300)]))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("peer answered %d: %s", e.status, e.body) }

// remoteHub learns the peer's hub id once.
func (r *peerRun) remoteHub(ctx context.Context) (string, error) {
	if id := r.snapshot().RemoteHub; id != "" {
		return id, nil
	}
	var out struct {
		HubID string `json:"hub_id"`
	}
	if err := r.call(ctx, "GET", "/api/v1/federation/hub", nil, &out); err != nil {
		return "", err
	}
	if out.HubID == "" {
		return "", errors.New("the peer did not say its hub id")
	}
	r.update(ctx, func(st *model.PeerState) { st.RemoteHub = out.HubID })
	return out.HubID, nil
}

// pullLoop follows the peer's stream.
func (r *peerRun) pullLoop(ctx context.Context) {
	backoff := r.m.cfg.MinBackoff
	for ctx.Err() == nil {
		began := time.Now()
		err := r.pull(ctx)
		if ctx.Err() != nil {
			return
		}
		r.failed(ctx, loopPull, err)
		if time.Since(began) > r.m.cfg.MaxBackoff {
			backoff = r.m.cfg.MinBackoff // it worked for a while: start over
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, r.m.cfg.MaxBackoff)
	}
}

func (r *peerRun) pull(ctx context.Context) error {
	if _, err := r.remoteHub(ctx); err != nil {
		return err
	}
	if _, err := r.m.cfg.API.PrincipalForPeer(ctx, r.peer); err != nil {
		return err
	}
	cursor := r.snapshot().PullCursor
	c := streamclient.New(streamclient.Config{URLs: []string{r.peer.URL}, Key: r.peer.Key, Cursor: cursor, Resume: cursor > 0,
		HTTP: r.m.cfg.StreamHTTP, Logger: r.log, MinBackoff: r.m.cfg.MinBackoff, MaxBackoff: r.m.cfg.MaxBackoff,
		// The stream client reconnects on its own: without this a peer
		// whose stream fails (refused, cut off, or sending what does not
		// parse) while the rest of its API answers would look healthy.
		OnInterrupt: func(err error) { r.failed(ctx, loopPull, err) }})
	// The stream is read here and applied by applyLoop in batches of what
	// has arrived, so that a snapshot or a catch-up is stored hundreds at a
	// time. The cursor kept in the database moves only after a batch is
	// stored; when applying fails, the stream stops here and starts again
	// from that cursor.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan streamclient.Event, 2*pullBatch)
	failed := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.applyLoop(ctx, queue, cursor == 0); err != nil {
			failed <- err
			cancel()
		}
	}()
	err := c.Run(ctx, func(ev streamclient.Event) error {
		select {
		case queue <- ev:
			return nil
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	cancel()
	<-done
	select {
	case ferr := <-failed:
		return ferr
	default:
	}
	return err
}

// pullBatch bounds the stream events applied in one transaction.
const pullBatch = 500

// applyLoop applies what the stream delivers, a batch at a time.
func (r *peerRun) applyLoop(ctx context.Context, queue <-chan streamclient.Event, inSnapshot bool) error {
	p, err := r.m.cfg.API.PrincipalForPeer(ctx, r.peer)
	if err != nil {
		return err
	}
	refreshed := time.Now()
	var items []api.FederatedItem
	var lastCursor int64
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		if time.Since(refreshed) > 30*time.Second {
			// The principal carries the peer organisation's viewer; take
			// it again now and then (groups may change).
			if p, err = r.m.cfg.API.PrincipalForPeer(ctx, r.peer); err != nil {
				return err
			}
			refreshed = time.Now()
		}
		res, err := r.m.cfg.API.ApplyFederated(ctx, p, items)
		if err != nil {
			return err
		}
		if res.Refused > 0 {
			r.log.Warn("federation: refused indicators from the peer", "count", res.Refused, "errors", res.Errors)
		}
		items = items[:0]
		if !inSnapshot {
			r.ok(ctx, loopPull, func(st *model.PeerState) { st.PullCursor = lastCursor })
		}
		return nil
	}
	for {
		var batch []streamclient.Event
		select {
		case <-ctx.Done():
			return nil
		case ev := <-queue:
			batch = append(batch, ev)
		}
	drain:
		for len(batch) < pullBatch {
			select {
			case ev := <-queue:
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		for _, ev := range batch {
			switch ev.Kind {
			case api.EventHeartbeat:
				if err := flush(); err != nil {
					return err
				}
				if !inSnapshot {
					r.ok(ctx, loopPull, func(st *model.PeerState) { st.PullCursor = ev.Cursor })
				}
			case api.EventReset:
				if err := flush(); err != nil {
					return err
				}
				inSnapshot = true
			case api.EventSnapshotEnd:
				if err := flush(); err != nil {
					return err
				}
				// A snapshot tells nothing of what the peer stopped
				// showing: compare the copies held from it (resync.go).
				// When that fails, the stream starts again from the
				// cursor kept before the snapshot.
				if err := r.reconcilePull(ctx); err != nil {
					return err
				}
				inSnapshot = false
				r.ok(ctx, loopPull, func(st *model.PeerState) { st.PullCursor = ev.Cursor })
			default:
				items = append(items, api.FederatedItem{Kind: ev.Kind, ID: ev.ID, Indicator: ev.Indicator})
				lastCursor = ev.Cursor
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
}

// pushBatch bounds the changes offered in one request.
const pushBatch = 500

// pushLoop offers the peer every local change it may see.
func (r *peerRun) pushLoop(ctx context.Context) {
	backoff := r.m.cfg.MinBackoff
	for ctx.Err() == nil {
		sent, err := r.pushOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.failed(ctx, loopPush, err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, r.m.cfg.MaxBackoff)
		case sent == 0:
			backoff = r.m.cfg.MinBackoff
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.m.cfg.PushPoll):
			}
		default:
			backoff = r.m.cfg.MinBackoff
		}
	}
}

// pushOnce offers one batch of changes after the push cursor; it returns
// how many changes it went through.
func (r *peerRun) pushOnce(ctx context.Context) (int, error) {
	remote, err := r.remoteHub(ctx)
	if err != nil {
		return 0, err
	}
	st := r.m.cfg.Store
	cursor := r.snapshot().PushCursor
	changes, err := st.Changes(ctx, cursor, pushBatch)
	if errors.Is(err, store.ErrCursorGone) {
		// The change log was compacted past the cursor: offer everything
		// the peer may see again (it keeps what it has as new or newer).
		return r.resync(ctx, remote)
	}
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	v, err := st.Viewer(ctx, r.peer.OrgID)
	if err != nil {
		return 0, err
	}
	items, err := r.offer(ctx, v, remote, changes)
	if err != nil {
		return 0, err
	}
	if len(items) > 0 {
		if err := r.call(ctx, "POST", "/api/v1/federation/indicators", map[string]any{"items": items}, nil); err != nil {
			return 0, err
		}
	}
	last := changes[len(changes)-1].Seq
	r.ok(ctx, loopPush, func(st *model.PeerState) { st.PushCursor = last })
	return len(changes), nil
}

// offer turns local changes into what the peer may receive, leaving out
// what came from the peer or passed through it.
func (r *peerRun) offer(ctx context.Context, v policy.Viewer, remote string, changes []model.Change) ([]api.FederatedItem, error) {
	ids := make([]string, len(changes))
	for i := range changes {
		ids[i] = changes[i].Indicator.ID
	}
	origins, err := r.m.cfg.Store.Origins(ctx, ids)
	if err != nil {
		return nil, err
	}
	var items []api.FederatedItem
	for i := range changes {
		c := &changes[i]
		if o, ok := origins[c.Indicator.ID]; ok && (o.OriginHub == remote || slices.Contains(o.Hops, remote)) {
			continue
		}
		if it, ok := r.m.cfg.API.FederatedChange(ctx, v, c); ok {
			items = append(items, it)
		}
	}
	return items, nil
}

// resync offers every indicator the peer may see, then moves the push
// cursor to the head of the change log. Revoked indicators are offered too:
// a revocation may be among the changes compacted away, and the peer keeps
// its copy live until it is told (one it never held, it ignores).
func (r *peerRun) resync(ctx context.Context, remote string) (int, error) {
	st := r.m.cfg.Store
	head, err := st.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	v, err := st.Viewer(ctx, r.peer.OrgID)
	if err != nil {
		return 0, err
	}
	n := 0
	for after := int64(0); ; {
		inds, err := st.ListIndicators(ctx, v, store.Query{After: after, Limit: pushBatch, IncludeRevoked: true})
		if err != nil {
			return n, err
		}
		if len(inds) == 0 {
			break
		}
		changes := make([]model.Change, len(inds))
		for i := range inds {
			changes[i] = model.Change{Seq: inds[i].Seq, Kind: model.Updated, Indicator: inds[i]}
			after = inds[i].Seq
		}
		items, err := r.offer(ctx, v, remote, changes)
		if err != nil {
			return n, err
		}
		if len(items) > 0 {
			if err := r.call(ctx, "POST", "/api/v1/federation/indicators", map[string]any{"items": items}, nil); err != nil {
				return n, err
			}
		}
		n += len(inds)
	}
	// What the peer may no longer see was not offered: it is compared
	// with what the peer holds from this hub and removed (resync.go).
	removed, err := r.removeStale(ctx, v)
	if err != nil {
		return n, err
	}
	r.ok(ctx, loopPush, func(s *model.PeerState) { s.PushCursor = head })
	r.log.Info("federation: resynchronised the peer after the change log was compacted", "indicators", n, "removed", removed)
	return max(n, 1), nil
}

// sightingsLoop returns sightings to the peer now and then.
func (r *peerRun) sightingsLoop(ctx context.Context) {
	for {
		if err := r.returnSightings(ctx); err != nil && ctx.Err() == nil {
			r.failed(ctx, loopSightings, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.m.cfg.SightingsEvery):
		}
	}
}

// sightingIn is one aggregated sighting as the peer's API takes it.
type sightingIn struct {
	Indicator string `json:"indicator"`
	Kind      string `json:"kind"`
	Count     int64  `json:"count"`
	Hour      string `json:"hour"`
}

func (r *peerRun) returnSightings(ctx context.Context) error {
	// A contact each round, so that a peer's health is known even when
	// nothing else goes to or comes from it.
	var hello struct {
		HubID string `json:"hub_id"`
	}
	if err := r.call(ctx, "GET", "/api/v1/federation/hub", nil, &hello); err != nil {
		return err
	}
	if known := r.snapshot().RemoteHub; known != "" && hello.HubID != known {
		return fmt.Errorf("the peer's hub id changed from %s to %s: is the URL right?", known, hello.HubID)
	}
	r.ok(ctx, loopSightings, func(*model.PeerState) {})
	st := r.m.cfg.Store
	// A return saved and never marked returned (the hub stopped, or the
	// peer did not answer) goes again first, as it was and under its key:
	// the peer counts it once, whatever arrived since.
	key, fs, ok, err := st.PendingReturn(ctx, r.peer.ID)
	if err != nil {
		return err
	}
	if ok {
		if err := r.returnOnce(ctx, key, fs); err != nil {
			return err
		}
	}
	since := r.m.cfg.Now().UTC().Add(-r.m.cfg.SightingsWindow)
	for round := 0; round < 100; round++ {
		fs, err := st.SightingsToReturn(ctx, r.peer.ID, r.peer.OrgID, since, 5000)
		if err != nil || len(fs) == 0 {
			return err
		}
		if err := r.returnOnce(ctx, returnKey(r.peer.ID, fs), fs); err != nil {
			return err
		}
		r.ok(ctx, loopSightings, func(*model.PeerState) {})
		if len(fs) < 5000 {
			return nil
		}
	}
	return nil
}

// returnOnce returns the sums fs to the peer under key and marks them
// returned. They are saved as the peer's pending return before they are
// sent, and stay so until marked: if the peer's answer is lost, or this hub
// stops, they go again as they are (returnSightings).
func (r *peerRun) returnOnce(ctx context.Context, key string, fs []model.FedSighting) error {
	st := r.m.cfg.Store
	if err := st.SavePendingReturn(ctx, r.peer.ID, key, fs); err != nil {
		return err
	}
	var err error
	if !strings.HasPrefix(key, splitReturn) {
		err = r.sendSightings(ctx, key, fs)
		if refused(err) {
			// Split from now on, even when sent again: the whole return
			// accepted after some of its sums went alone would count
			// those twice.
			key = splitReturn + key
			if err := st.SavePendingReturn(ctx, r.peer.ID, key, fs); err != nil {
				return err
			}
		}
	}
	if strings.HasPrefix(key, splitReturn) {
		// One sighting the peer refuses (it no longer lets this hub see
		// the indicator) must not hold up the rest: send one at a time,
		// each under a key of its own content, and drop those refused.
		// Any other failure stops here with the return still pending: sent
		// again, it is split the same way, and what went through already
		// is answered as a replay.
		for _, f := range fs {
			one := []model.FedSighting{f}
			ferr := r.sendSightings(ctx, returnKey(r.peer.ID, one), one)
			if ferr != nil && !refused(ferr) {
				return ferr
			}
			if ferr != nil {
				r.log.Warn("federation: the peer refused a sighting; dropped", "indicator", f.RemoteID, "err", ferr)
			}
		}
	} else if err != nil {
		return err
	}
	return st.MarkReturned(ctx, r.peer.ID, fs)
}

// refused says whether the peer refused a request for what it holds (a
// client error other than a rate limit or a refused key): sending the same
// again will not help.
func refused(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status >= 400 && se.status < 500 &&
		se.status != http.StatusTooManyRequests && se.status != http.StatusUnauthorized
}

func (r *peerRun) sendSightings(ctx context.Context, key string, fs []model.FedSighting) error {
	in := make([]sightingIn, len(fs))
	for i, f := range fs {
		in[i] = sightingIn{Indicator: f.RemoteID, Kind: string(f.Kind), Count: f.Total - f.Returned, Hour: f.Hour.UTC().Format(time.RFC3339)}
	}
	return r.callKeyed(ctx, "POST", "/api/v1/sightings", key, map[string]any{"sightings": in}, nil)
}

// splitReturn marks the key of a pending return that the peer refused
// whole: it is sent one sum at a time.
const splitReturn = "split:"

// returnKey is the Idempotency-Key of a return of sightings: a digest of
// what it returns, from what counts. Two returns differ in it unless
// nothing was marked returned between them. A return is saved with its key
// before it is sent and sent again as it was until marked returned, so the
// key is what makes the peer count it once.
func returnKey(peer string, fs []model.FedSighting) string {
	h := sha256.New()
	fmt.Fprintf(h, "hdn-return\x00%s\x00", peer)
	for _, f := range fs {
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%d\x00", f.RemoteID, f.Kind, f.Hour.Unix(), f.Returned, f.Total)
	}
	return "hdn-" + hex.EncodeToString(h.Sum(nil)[:16])
}
