// Package sensor is what each organisation runs next to its Suricata, Zeek,
// proxy and DNS logs: it keeps a local copy of the indicators its
// organisation may see (snapshot and stream from the hub, persisted in a
// state directory), matches its inputs against them, writes alerts as
// Suricata-shaped JSON lines, reports sightings to the hub as the
// organisation chooses, searches back through a compact record of recent
// hours when a new indicator arrives (retro-hunt), and exports counters.
package sensor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/retro"
	"github.com/hdnetwork/hdn/internal/streamclient"
	"github.com/hdnetwork/hdn/internal/tail"
	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// Input is one log the sensor reads.
type Input struct {
	Format match.Format
	Path   string // a file, "-" for standard input, or "unix:PATH" for a socket (eve only)
}

// ParseInput reads --input KIND:PATH.
func ParseInput(s string) (Input, error) {
	kind, path, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return Input{}, fmt.Errorf("--input %q must be KIND:PATH, e.g. eve:/var/log/suricata/eve.json", s)
	}
	f, err := match.ParseFormat(kind)
	if err != nil {
		return Input{}, fmt.Errorf("--input %q: %w", s, err)
	}
	if strings.HasPrefix(path, "unix:") && f != match.FormatEVE {
		return Input{}, fmt.Errorf("--input %q: unix sockets are for eve", s)
	}
	return Input{Format: f, Path: path}, nil
}

// DefaultAlertWindow is hdn sensor's --alert-window: a beaconing host
// raises an alert a quarter of an hour for an indicator, not one per match.
const DefaultAlertWindow = 15 * time.Minute

// Config is everything a sensor is built from.
type Config struct {
	Hubs     []string // hub base URLs; empty runs offline on the state alone
	Key      string
	StateDir string
	Inputs   []Input
	Alerts   string // a file, or "-" for standard output
	Out      io.Writer
	Once     bool // read the inputs to their end, flush and stop
	// FromStart reads followed files from their start instead of their end.
	FromStart bool
	Report    ReportMode
	Retain    time.Duration // retro-hunt record (default 14 days)
	Metrics   string        // address for /metrics, empty for none
	Workers   int
	// SyncTimeout bounds how long a --once run waits to be current with
	// the hub before it matches with the copy it has (default 30 s), and
	// how long a followed run's start line waits for it.
	SyncTimeout time.Duration
	// SightingsEvery is how often sightings are sent (default 10 s).
	SightingsEvery time.Duration
	// AutoShare proposes the remote domain or address of local Suricata
	// alerts to the organisation's analysts (off when zero).
	AutoShare AutoShare
	// Name is the sensor's name in its heartbeats (default: the host name).
	Name string
	// Version is the sensor's version in its heartbeats (default: Version,
	// or the build's main module version).
	Version string
	// HeartbeatEvery is how often the sensor tells the hub how it is
	// (default 60 s; negative for never). The first heartbeat goes once the
	// sensor is connected; a --once run sends one at its end.
	HeartbeatEvery time.Duration
	// RefusedRetry is how long the sensor waits to follow the stream again
	// after the hub refused its key (401, 403: its organisation suspended,
	// the key expired or revoked); default 60 s. A suspension that is lifted
	// is so picked up without a restart.
	RefusedRetry time.Duration
	// OnIndicators is told which indicators arrived or changed in the local
	// copy, and which left it (for narration and tests; may be nil).
	OnIndicators func(arrived []match.Indicator, gone []string)
	// AlertWindow holds back a host's repeated matches of an indicator: the
	// first is written, the others within this time of it (by the log's
	// time) are counted and written once as a summary when the window has
	// passed (throttle.go). 0: every match is written.
	AlertWindow time.Duration
	// OnAlert is told of every alert line written (may be nil).
	OnAlert func(line []byte)
	Logger  *slog.Logger
	Now     func() time.Time
	// TLS is what the sensor trusts and presents to the hub (a CA bundle, a
	// client certificate for mutual TLS: tlsconf.Client); nil: the
	// system's roots.
	TLS *tls.Config
}

// Sensor is a running sensor.
type Sensor struct {
	cfg     Config
	log     *slog.Logger
	shareQ  chan []byte // alert lines for auto-share (autoShareLoop); nil when off
	state   *State
	matcher *match.Matcher
	record  *retro.Record
	alerts  *alertSink
	// throttle holds back repeated alerts (nil: AlertWindow 0).
	throttle *throttle
	sight    *sightings
	hub      *hubClient
	// stream follows the hub once Run has started it; read by Metrics
	// from other goroutines (the /metrics server, the heartbeats).
	stream atomic.Pointer[streamclient.Client]

	current  chan struct{} // closed once the copy is current with the hub
	curOnce  sync.Once
	counters counters
	inputs   []*inputStat // one per cfg.Inputs
	started  time.Time
	lastErr  *errorRecord // the last warning or error logged
	beats    beats
	answered atomic.Int32 // 1 + the index in cfg.Hubs of the hub whose stream answered last; 0 before
}

type counters struct {
	match                        match.Stats // updated atomically by the matcher
	dropped, alerts, retroAlerts atomic.Int64
	heldBack                     atomic.Int64 // matches the throttle held back
	indicators, proposals        atomic.Int64
	autoShareDropped             atomic.Int64 // alert lines auto-share had no room for
	lastContact                  atomic.Int64 // unix nanos of the last stream event
	streamInterruptions          atomic.Int64 // stream connections that ended or failed
	stateFailures                atomic.Int64 // batches the state refused (each tried again)
	indicatorsRefused            atomic.Int64 // indicators from the hub the sensor would not keep (toChange)
	refusedLog                   atomic.Int64 // unix nanos of the last log of a refused indicator
	inputErrors                  atomic.Int64 // errors that kept an input from its file or socket for a while
}

// New opens the state and builds the first index from it, so the sensor
// matches at once, before the hub answers.
func New(ctx context.Context, cfg Config) (*Sensor, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("sensor: a state directory is needed (--state DIR)")
	}
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("sensor: no input (--input KIND:PATH)")
	}
	if !cfg.Once {
		// A compressed file is written whole by its compressor, not
		// appended to line by line: there is nothing to follow in it.
		for _, in := range cfg.Inputs {
			if fileInput(in) && gzipFile(in.Path) {
				return nil, fmt.Errorf("sensor: --input %s:%s is gzip-compressed, and a compressed file cannot be followed: read it with --once (it is decompressed then), or follow the log it was compressed from", in.Format, in.Path)
			}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Every warning and error logged is kept for the heartbeats.
	lastErr := &errorRecord{}
	cfg.Logger = slog.New(&recordingHandler{inner: cfg.Logger.Handler(), rec: lastErr, now: cfg.Now})
	if cfg.Report == "" {
		cfg.Report = ReportCount
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 30 * time.Second
	}
	if cfg.SightingsEvery <= 0 {
		cfg.SightingsEvery = 10 * time.Second
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if cfg.RefusedRetry <= 0 {
		cfg.RefusedRetry = time.Minute
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.Version == "" {
		cfg.Version = buildVersion()
	}
	st, err := OpenState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	rec, err := retro.Open(filepath.Join(cfg.StateDir, "retro"), retro.Options{Retain: cfg.Retain, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		st.Close()
		return nil, err
	}
	sink, err := openAlertSink(cfg.Alerts, cfg.Out, cfg.Logger)
	if err != nil {
		st.Close()
		rec.Close()
		return nil, err
	}
	s := &Sensor{cfg: cfg, log: cfg.Logger, state: st, record: rec, alerts: sink,
		current: make(chan struct{}), started: cfg.Now(), lastErr: lastErr}
	s.beats.lastAt = s.started
	if cfg.AlertWindow > 0 {
		s.throttle = newThrottle(cfg.AlertWindow, cfg.Now)
	}
	for range cfg.Inputs {
		st := &inputStat{}
		st.caughtUp.Store(s.started.UnixNano())
		s.inputs = append(s.inputs, st)
	}
	s.matcher = match.NewMatcher(nil, match.WithClock(cfg.Now))
	if err := s.buildIndex(ctx); err != nil {
		s.close()
		return nil, err
	}
	if len(cfg.Hubs) > 0 {
		s.hub = &hubClient{urls: cfg.Hubs, key: cfg.Key, http: &http.Client{Timeout: 30 * time.Second, Transport: tlsconf.Transport(cfg.TLS), CheckRedirect: tlsconf.SameOriginRedirects}}
	} else {
		s.markCurrent()
	}
	s.sight = newSightings(cfg.Report, s.hub)
	s.sight.log = cfg.Logger
	if err := s.restoreSightings(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// restoreSightings takes back the sightings an earlier run could not send
// (outbox.go). A sensor without a hub leaves them for a run with one; one
// that reports nothing now (--report off) drops them.
func (s *Sensor) restoreSightings(ctx context.Context) error {
	if s.hub == nil {
		return nil
	}
	reports, pending, err := s.state.Sightings(ctx)
	if err != nil {
		return err
	}
	if s.cfg.Report == ReportOff {
		if len(reports)+len(pending) > 0 {
			s.log.Warn("dropping the sightings an earlier run could not send: --report off", "reports", len(reports), "counts", len(pending))
			return s.state.SaveSightings(ctx, nil, nil)
		}
		return nil
	}
	s.sight.state = s.state
	if n := s.sight.restore(reports, pending); n > 0 {
		s.log.Info("sightings an earlier run could not send are sent again", "reports", len(reports), "counts", n)
	} else {
		s.sight.savedEmpty = true
	}
	return nil
}

func (s *Sensor) markCurrent() { s.curOnce.Do(func() { close(s.current) }) }

// Current is closed once the local copy is current with the hub (at once
// for a sensor without a hub).
func (s *Sensor) Current() <-chan struct{} { return s.current }

func (s *Sensor) close() {
	s.alerts.Close()
	s.record.Close()
	s.state.Close()
}

// buildIndex builds a new index from the state and swaps it in.
func (s *Sensor) buildIndex(ctx context.Context) error {
	inds, err := s.state.Indicators(ctx)
	if err != nil {
		return err
	}
	b := match.NewBuilder()
	for _, ind := range inds {
		if err := b.Add(ind); err != nil {
			s.log.Warn("indicator not matchable", "id", ind.ID, "type", ind.Type, "err", err)
		}
	}
	s.matcher.Swap(b.Build())
	if o, u := s.matcher.Load().Patterns(); o+u > 0 {
		s.log.Info("pattern indicators", "evaluated", o, "unobservable", u)
	}
	s.counters.indicators.Store(int64(len(inds)))
	return nil
}

// Run runs the sensor until ctx ends or, with Once, until the inputs are
// read to their end.
func (s *Sensor) Run(ctx context.Context) error {
	defer s.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	// Before any line is read and any event applied: what an earlier run
	// left undone is hunted for in the record as it was then.
	s.huntPending(ctx)
	if s.hub != nil {
		if err := s.startSync(ctx, &bg); err != nil {
			return err
		}
	}
	bg.Go(func() { s.sightingsLoop(ctx) })
	bg.Go(func() { s.maintainLoop(ctx) })
	var shareDrain, shareDone chan struct{}
	if s.hub != nil && (s.cfg.AutoShare.Mode == "propose" || s.cfg.AutoShare.Mode == "share") {
		s.shareQ = make(chan []byte, autoShareQueue)
		shareDrain, shareDone = make(chan struct{}), make(chan struct{})
		bg.Go(func() {
			defer close(shareDone)
			s.autoShareLoop(ctx, shareDrain)
		})
	}
	if s.hub != nil && s.cfg.HeartbeatEvery > 0 && !s.cfg.Once {
		bg.Go(func() { s.heartbeatLoop(ctx) })
	}
	if s.throttle != nil && !s.cfg.Once {
		bg.Go(func() { s.throttleLoop(ctx) })
	}
	if s.cfg.Metrics != "" {
		if err := s.serveMetrics(ctx, &bg); err != nil {
			return err
		}
	}
	if s.cfg.Once {
		// Match with a current copy when the hub answers in time, with the
		// stored copy otherwise.
		select {
		case <-s.current:
			s.announce(true)
		case <-time.After(s.cfg.SyncTimeout):
			s.log.Warn("the hub did not bring the copy up to date in time; matching with the stored copy", "timeout", s.cfg.SyncTimeout)
			s.announce(false)
		case <-ctx.Done():
		}
	} else {
		// A followed input matches with the stored copy from the start;
		// the start line waits for the copy to be current, a while at
		// most.
		bg.Go(func() {
			select {
			case <-s.current:
				s.announce(true)
			case <-time.After(s.cfg.SyncTimeout):
				s.announce(false)
			case <-ctx.Done():
			}
		})
	}
	err := s.runInputs(ctx)
	if shareDrain != nil {
		// What the inputs queued is posted before a run over files ends,
		// for a while at most: the hub may be slow or away.
		close(shareDrain)
		if s.cfg.Once {
			select {
			case <-shareDone:
			case <-time.After(autoShareDrain):
				s.log.Warn("auto-share: the hub did not take every proposal in time; the rest are dropped", "after", autoShareDrain)
			}
		}
	}
	if s.cfg.Once {
		cancel()
	}
	bg.Wait()
	// The throttle's open windows end: what they held back is written.
	s.flushThrottle(true)
	// Last sightings and retro hours go out before stopping.
	fctx, fcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer fcancel()
	if ferr := s.sight.flush(fctx); ferr != nil {
		s.log.Warn("sending the last sightings failed", "err", ferr)
	}
	if ferr := s.record.Flush(); ferr != nil {
		s.log.Warn("writing the retro-hunt record failed", "err", ferr)
	}
	if s.hub != nil && s.cfg.HeartbeatEvery > 0 && s.cfg.Once {
		s.sendHeartbeat(fctx)
	}
	if s.cfg.Once {
		s.summarise()
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// announce logs the sensor's one line at its start, once its copy is
// current with the hub (current) or it matches with the stored copy: the
// hub, the indicators in the copy, the inputs and how they are read.
func (s *Sensor) announce(current bool) {
	inputs := make([]string, len(s.cfg.Inputs))
	for i, in := range s.cfg.Inputs {
		inputs[i] = string(in.Format) + ":" + in.Path
	}
	var hub, copyState string
	switch {
	case s.hub == nil:
		hub, copyState = "none", "stored"
	case current:
		hub, copyState = s.answeredHub(), "current"
	default:
		hub, copyState = strings.Join(s.cfg.Hubs, ","), "stored (the hub did not answer in time)"
	}
	read := "to their end (--once)"
	if !s.cfg.Once {
		read = "followed from where they stopped (their end the first time)"
		if s.cfg.FromStart {
			read = "followed from their start"
		}
	}
	s.log.Info("sensor started", "hub", hub, "copy", copyState, "indicators", s.counters.indicators.Load(),
		"inputs", strings.Join(inputs, " "), "read", read, "report", string(s.cfg.Report))
}

// summarise logs, at the end of a --once run, one line per input: lines
// read, events, unparsable lines (too long ones included), alerts (every
// match), the matches counted as sightings for the hub and, with an alert
// window, the alerts it held back.
func (s *Sensor) summarise() {
	for i, in := range s.cfg.Inputs {
		st := s.inputs[i]
		long := st.long.Load()
		attrs := []any{"input", string(in.Format) + ":" + in.Path, "lines", st.read.Lines + long, "events", st.read.Events,
			"unparsable", st.read.Errors + long, "alerts", st.read.Alerts, "sightings", st.sightings.Load()}
		if s.throttle != nil {
			attrs = append(attrs, "held_back", st.heldBack.Load())
		}
		if st.gzipped.Load() {
			attrs = append(attrs, "gzip", true)
		}
		s.log.Info("input read", attrs...)
	}
}

// answeredHub is the hub whose stream answered last, or the list of hubs
// when that is not known.
func (s *Sensor) answeredHub() string {
	if i := s.answered.Load(); i > 0 && int(i) <= len(s.cfg.Hubs) {
		return s.cfg.Hubs[i-1]
	}
	return strings.Join(s.cfg.Hubs, ",")
}

// streamTransport notes which hub answered a stream request (for the start
// line).
type streamTransport struct {
	rt http.RoundTripper
	s  *Sensor
}

func (t streamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		u := req.URL.String()
		for i, h := range t.s.cfg.Hubs {
			if strings.HasPrefix(u, strings.TrimRight(h, "/")+"/") {
				t.s.answered.Store(int32(i + 1))
				break
			}
		}
	}
	return resp, err
}

// startSync follows the hub's stream into the state.
func (s *Sensor) startSync(ctx context.Context, bg *sync.WaitGroup) error {
	cursor, synced, err := s.state.Cursor(ctx)
	if err != nil {
		return err
	}
	if !synced {
		// A first snapshot that was cut short leaves rows behind; the new
		// snapshot replaces them all.
		if _, _, err := s.state.Apply(ctx, []streamclient.Event{{Kind: api.EventReset}}); err != nil {
			return err
		}
	}
	// The stream client's own HTTP client, but for noting which hub
	// answered.
	httpc := &http.Client{Transport: streamTransport{rt: tlsconf.Transport(s.cfg.TLS), s: s}, CheckRedirect: tlsconf.SameOriginRedirects}
	stream := streamclient.New(streamclient.Config{URLs: s.cfg.Hubs, Key: s.cfg.Key, Cursor: cursor, Resume: synced, Logger: s.log, HTTP: httpc,
		OnInterrupt: func(error) { s.counters.streamInterruptions.Add(1) }})
	s.stream.Store(stream)
	// Events wait here in their compact form (toChange), converted as they
	// come: a stream event may be a megabyte (a description), and the
	// queue and a batch, held while the state is slow or locked, then
	// held some 9,000 of them.
	events := make(chan change, streamQueue)
	bg.Go(func() {
		defer close(events)
		for {
			err := stream.Run(ctx, func(ev streamclient.Event) error {
				c, err := toChange(ev)
				if err != nil {
					s.indicatorRefused(err)
				}
				select {
				case events <- c:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err == nil || ctx.Err() != nil {
				return
			}
			if !errors.Is(err, streamclient.ErrUnauthorized) {
				s.log.Error("following the hub stopped", "err", err)
				return
			}
			// Refused: the organisation may be suspended for a while, or
			// the key replaced. Ask again later, from the same cursor; the
			// sensor matches with the copy it has meanwhile.
			s.log.Error("the hub refuses the sensor's key (organisation suspended, key expired or revoked?); trying again", "in", s.cfg.RefusedRetry.String(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.RefusedRetry):
			}
		}
	})
	bg.Go(func() { s.applyLoop(ctx, events) })
	return nil
}

// How many stream events wait for the state, at most: in the queue
// (streamQueue) and in the batch being applied (applyBatch).
const (
	streamQueue = 4096
	applyBatch  = 5000
)

// refusedLogEvery bounds how often refused indicators are logged.
const refusedLogEvery = time.Minute

// indicatorRefused counts an indicator from the hub the sensor would not
// keep, and logs why at most every refusedLogEvery: a hub that sends many
// (a newer hub's new type, a broken or hostile one) must not flood the log.
func (s *Sensor) indicatorRefused(err error) {
	n := s.counters.indicatorsRefused.Add(1)
	now := time.Now().UnixNano()
	if last := s.counters.refusedLog.Load(); now-last >= int64(refusedLogEvery) && s.counters.refusedLog.CompareAndSwap(last, now) {
		s.log.Warn("an indicator from the hub was refused and is not matched (a type this sensor does not know, or what no hub sends)", "err", err, "refused_total", n)
	}
}

// Backoff of applyRetrying: the first wait, and the longest.
const (
	applyRetryFirst = time.Second
	applyRetryMax   = 30 * time.Second
)

// applyRetrying applies a batch to the state, and when that fails (a full
// disk, the database locked by another process) tries the same batch again
// with a growing wait until it succeeds or ctx ends; a failed Apply keeps
// nothing, so the batch is applied once. Meanwhile the sensor matches with
// the index it has, the stream waits (its buffer fills, then it stops
// reading), the lag metric grows, and each failure is logged and counted.
// Giving up instead would leave the sensor running on a copy that never
// moves again.
func (s *Sensor) applyRetrying(ctx context.Context, batch []change) (arrived, fresh []match.Indicator, err error) {
	err = s.retrying(ctx, "applying stream events to the state", func() error {
		var err error
		arrived, fresh, err = s.state.apply(ctx, batch)
		return err
	})
	return arrived, fresh, err
}

// retrying runs fn until it succeeds or ctx ends, waiting 1 s, 2 s, 4 s …
// up to 30 s between attempts; each failure is logged (what failed) and
// counted as a state failure. It returns nil, or ctx's error.
func (s *Sensor) retrying(ctx context.Context, what string, fn func() error) error {
	wait := applyRetryFirst
	for {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		s.counters.stateFailures.Add(1)
		s.log.Error(what+" failed; trying again", "in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, applyRetryMax)
	}
}

// applyLoop applies stream events to the state in batches and triggers
// index rebuilds and retro-hunts.
func (s *Sensor) applyLoop(ctx context.Context, events <-chan change) {
	batch := make([]change, 0, 1024)
	for {
		ev, ok := <-events
		if !ok {
			return
		}
		batch = append(batch[:0], ev)
	drain:
		for len(batch) < applyBatch {
			select {
			case ev, ok := <-events:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		s.counters.lastContact.Store(s.cfg.Now().UnixNano())
		arrived, fresh, err := s.applyRetrying(ctx, batch)
		if err != nil {
			return // stopping
		}
		current, reset := false, false
		var gone []string
		for _, ev := range batch {
			switch {
			case ev.kind == api.EventHeartbeat:
				current = true
			case ev.kind == api.EventReset:
				reset = true
			case ev.gone():
				gone = append(gone, ev.id)
			}
		}
		// Update the index before the retro-hunt and before saying we are
		// current, so that live matching and the record agree: a line is
		// filed in the record before it loads the index it is matched
		// with (match.Session), so one that loaded the index of before
		// this swap is in the record by the time the hunt below starts,
		// and one filed later is matched with the new index. Changes are
		// layered over the current index (Index.Update, in proportion to the
		// changes); a reset rebuilds it from the state.
		if reset {
			// Tried again until it succeeds: the index of before the reset
			// would otherwise go on matching what the reset removed.
			if err := s.retrying(ctx, "rebuilding the index from the state", func() error { return s.buildIndex(ctx) }); err != nil {
				return // stopping
			}
		} else if len(arrived) > 0 || len(gone) > 0 {
			idx, err := s.matcher.Load().Update(arrived, gone)
			if err != nil {
				s.log.Warn("some indicators are not matchable", "err", err)
			}
			if idx != nil {
				s.matcher.Swap(idx)
				s.counters.indicators.Store(int64(idx.Len()))
			}
		}
		if s.cfg.OnIndicators != nil && (len(arrived) > 0 || len(gone) > 0) {
			s.cfg.OnIndicators(arrived, gone)
		}
		if len(fresh) > 0 {
			s.retroHunt(fresh)
			s.hunted(ctx, fresh)
		}
		if current {
			s.markCurrent()
		}
	}
}

func (s *Sensor) sightingsLoop(ctx context.Context) {
	every(ctx, s.cfg.SightingsEvery, func() {
		if err := s.sight.flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sending sightings failed; kept for the next try", "err", err)
		}
	})
}

// throttleLoop writes the summaries of the throttle's windows as they end,
// a tenth of a window late at most (between 1 and 30 s).
func (s *Sensor) throttleLoop(ctx context.Context) {
	every(ctx, min(max(s.cfg.AlertWindow/10, time.Second), 30*time.Second), func() { s.flushThrottle(false) })
}

func (s *Sensor) maintainLoop(ctx context.Context) {
	every(ctx, time.Minute, func() {
		if err := s.record.Maintain(); err != nil {
			s.log.Warn("retro-hunt record maintenance failed", "err", err)
		}
	})
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// runInputs reads every input to its end (Once) or until ctx ends.
func (s *Sensor) runInputs(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(s.cfg.Inputs))
	for i, in := range s.cfg.Inputs {
		wg.Go(func() {
			if err := s.runInput(ctx, in, s.inputs[i]); err != nil && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("input %s:%s: %w", in.Format, in.Path, err)
				if !s.cfg.Once && ctx.Err() == nil {
					// Said at once, not only when every input has ended.
					s.log.Error("an input stopped", "err", err)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(drain(errs)...)
}

func drain(c <-chan error) []error {
	var out []error
	for err := range c {
		out = append(out, err)
	}
	return out
}

// runInput feeds one input through the matcher. A socket is read as fast as
// it delivers: when the matcher falls behind, whole chunks are dropped and
// counted, never pushed back onto the producer. A file is followed at the
// matcher's pace (the producer does not wait on a file), and where it is
// in the file is stored as its lines are matched (offsets.go), so that a
// restart goes on where it stopped.
func (s *Sensor) runInput(ctx context.Context, in Input, st *inputStat) error {
	var pos *filePosition
	var handled func(int64)
	if fileInput(in) && !s.cfg.Once {
		pos = &filePosition{}
		handled = pos.matched
		stop, kept := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(kept)
			s.keepPosition(in, pos, stop)
		}()
		// Stored once more when the matcher has ended (below, <-done).
		defer func() { close(stop); <-kept }()
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		stats, err := match.RunObserved(ctx, pr, in.Format, s.matcher, s.alerts.sink(s, st), s.cfg.Workers, s.observe, &s.counters.match, handled)
		st.read = stats
		pr.CloseWithError(err)
		done <- err
	}()
	var err error
	switch {
	case strings.HasPrefix(in.Path, "unix:"):
		err = s.readSocket(ctx, strings.TrimPrefix(in.Path, "unix:"), pw, st, func(chunk []byte) {
			for line := range bytes.Lines(chunk) {
				s.maybeAutoShare(in, line)
			}
		})
	default:
		err = s.readFile(ctx, in, st, pw, pos)
	}
	pw.CloseWithError(err)
	merr := <-done
	if err == nil || errors.Is(err, io.EOF) {
		err = merr
	}
	return err
}

// readFile reads a file or standard input into w, line by line: to its
// end with Once (and always for standard input), else following it. A
// gzip-compressed file (--once) or standard input is read decompressed
// (match.Decompressed); its lines are held to the follower's longest line
// like any others, so that a gzip bomb costs reading time, not memory.
//
// A followed file (pos not nil) resumes where an earlier run's matcher
// stopped in it, when it is still the same file (tail.Options.Resume): a
// file that replaced it meanwhile is read from its start. A file without
// a stored position is followed from its end, or its start (--from-start,
// which also ignores a stored position). A Zeek log whose reading starts
// after its beginning has its "#" header lines given to the matcher
// first: without "#fields" its lines cannot be parsed.
func (s *Sensor) readFile(ctx context.Context, in Input, st *inputStat, w io.Writer, pos *filePosition) error {
	opts := tail.Options{Once: s.cfg.Once, FromStart: s.cfg.FromStart || s.cfg.Once,
		// A follower kept from its file (no permission after a
		// rotation, an I/O error) goes on trying: logged at most once
		// a minute, counted, and carried by the heartbeats.
		OnError: func(err error) { s.inputFailed(in, st, err) },
		// A line longer than the follower takes is skipped whole.
		OnLongLine: func(int64) { s.longLine(st) }}
	path := in.Path
	var compressed *countingReader // the compressed file read, for the offset
	switch {
	case path == "-":
		r, gz, derr := match.Decompressed(os.Stdin)
		if derr != nil {
			return derr
		}
		opts.Stdin = r
		st.gzipped.Store(gz)
	case s.cfg.Once:
		r, c, closeFile, derr := openGzip(path)
		if derr != nil {
			return derr
		}
		if r != nil {
			// Read as a stream to its end: a compressed file has no
			// offsets to follow.
			defer closeFile()
			path, opts.Stdin, compressed = "-", r, c
			st.gzipped.Store(true)
		}
	}
	if pos != nil {
		opts.Resume = s.resumeFrom(ctx, in)
		opts.OnFile = pos.onFile
	}
	if in.Format == match.FormatZeek {
		opts.OnHeader = func(line []byte) {
			// An error here is the matcher's, and the first line's
			// write returns it.
			if pos != nil {
				pos.wrote(len(line)+1, -1)
			}
			w.Write(append(append(make([]byte, 0, len(line)+1), line...), '\n'))
		}
	}
	switch {
	case opts.Resume != nil:
		st.offset.Store(opts.Resume.Offset)
	case !opts.FromStart && path != "-":
		// A follower starts at the file's end: that is where it is.
		if fi, err := os.Stat(path); err == nil {
			st.offset.Store(fi.Size())
		}
	}
	return tail.Lines(ctx, path, opts, func(line []byte, off int64) error {
		st.lines.Add(1)
		if compressed != nil {
			off = compressed.n.Load()
		}
		st.offset.Store(off)
		s.maybeAutoShare(in, line)
		if pos != nil {
			// Marked before it is written: the matcher may handle the
			// line before Write returns.
			pos.wrote(len(line)+1, off)
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
}

// openGzip opens the file at path and, when it is gzip-compressed, returns
// its decompressed content, the reader of the compressed bytes (which
// counts them) and what closes the file; for a file that is not
// compressed, nil (and the file is closed again).
func openGzip(path string) (io.Reader, *countingReader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	c := &countingReader{r: f}
	r, gz, err := match.Decompressed(c)
	if err != nil || !gz {
		f.Close()
		return nil, nil, nil, err
	}
	return r, c, func() { f.Close() }, nil
}

// gzipFile says whether the file at path begins as a gzip stream does;
// false when it cannot be read (a follower waits for it).
func gzipFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [2]byte
	n, _ := io.ReadFull(f, head[:])
	return match.IsGzip(head[:n])
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// longLine counts a line of an input longer than its reader takes
// (tail.DefaultMaxLine), skipped whole: read and unparsable.
func (s *Sensor) longLine(st *inputStat) {
	st.lines.Add(1)
	st.long.Add(1)
	atomic.AddInt64(&s.counters.match.Lines, 1)
	atomic.AddInt64(&s.counters.match.Errors, 1)
}

// socketLines cuts what a socket delivers into runs of whole lines. It
// holds at most max bytes of an unfinished line: a longer line is dropped
// up to its newline and counted (long), as the file follower does, so an
// endless line costs reading time, not memory; and each read's bytes are
// looked through once. max is at least a read's size: the lines wholly
// within one read are passed on as they are.
type socketLines struct {
	max      int
	long     func()
	pending  []byte // the start of an unfinished line
	skipping bool   // dropping the rest of a line longer than max
}

// add takes the bytes p just read and returns the whole lines they end, in
// a new slice (nil when they end none).
func (c *socketLines) add(p []byte) []byte {
	first := bytes.IndexByte(p, '\n')
	if first < 0 {
		c.hold(p)
		return nil
	}
	var out []byte
	switch {
	case c.skipping:
		c.skipping = false
	case len(c.pending)+first > c.max:
		c.pending = c.pending[:0]
		c.long()
	default:
		out = append(append(out, c.pending...), p[:first+1]...)
		c.pending = c.pending[:0]
	}
	p = p[first+1:]
	// The lines after the first are whole in p, and no longer than a read.
	last := bytes.LastIndexByte(p, '\n')
	out = append(out, p[:last+1]...)
	c.hold(p[last+1:])
	return out
}

// hold keeps the start of an unfinished line, up to max bytes.
func (c *socketLines) hold(p []byte) {
	switch {
	case c.skipping || len(p) == 0:
	case len(c.pending)+len(p) > c.max:
		c.pending, c.skipping = c.pending[:0], true
		c.long()
	default:
		c.pending = append(c.pending, p...)
	}
}

// inputErrorLogEvery bounds how often an input's errors are logged.
const inputErrorLogEvery = time.Minute

// inputFailed counts an error that keeps an input from its file or socket
// for now, and logs it at most every inputErrorLogEvery.
func (s *Sensor) inputFailed(in Input, st *inputStat, err error) {
	s.counters.inputErrors.Add(1)
	now := time.Now().UnixNano()
	if last := st.errLog.Load(); now-last >= int64(inputErrorLogEvery) && st.errLog.CompareAndSwap(last, now) {
		s.log.Error("an input cannot be read for now; trying again", "input", string(in.Format)+":"+in.Path, "err", err)
	}
}

// maybeAutoShare queues a Suricata alert line of an EVE input for
// auto-share when it is on.
func (s *Sensor) maybeAutoShare(in Input, line []byte) {
	if s.shareQ != nil && in.Format == match.FormatEVE && bytes.Contains(line, []byte(`"event_type":"alert"`)) {
		s.queueAutoShare(line)
	}
}

// readSocket listens on a unix socket (as Suricata's unix_stream output
// expects) and copies what arrives into w, dropping whole chunks when w is
// not keeping up. each sees every chunk that is not dropped, on the side of
// w (it may be slow: the socket's reader never waits for it).
func (s *Sensor) readSocket(ctx context.Context, path string, w io.Writer, st *inputStat, each func(chunk []byte)) error {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() { <-ctx.Done(); ln.Close() }()
	chunks := make(chan []byte, 256)
	go func() {
		for c := range chunks {
			each(c)
			w.Write(c)
		}
	}()
	defer close(chunks)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of descriptors, say: wait and accept again rather than
			// give up on the input.
			s.inputFailed(Input{Format: match.FormatEVE, Path: "unix:" + path}, st, err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		wg.Go(func() {
			defer conn.Close()
			go func() { <-ctx.Done(); conn.Close() }()
			cut := socketLines{max: tail.DefaultMaxLine, long: func() { s.longLine(st) }}
			buf := make([]byte, 256<<10)
			for {
				n, err := conn.Read(buf)
				if chunk := cut.add(buf[:n]); len(chunk) > 0 {
					st.lines.Add(int64(bytes.Count(chunk, []byte{'\n'})))
					select {
					case chunks <- chunk:
					default:
						s.counters.dropped.Add(int64(bytes.Count(chunk, []byte{'\n'})))
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// observe files every observable the matcher saw into the retro-hunt record.
func (s *Sensor) observe(at time.Time, o *logparse.Observation) {
	switch o.Kind {
	case logparse.KindIP:
		s.record.AddIP(at, o.Addr)
	case logparse.KindURL:
		// In the canonical form live matching looks URLs up in
		// ("/x/../payload.exe", "/%7Euser/" as indicators have them).
		var buf [512]byte
		if c, ok := match.AppendCanonicalURL(buf[:0], o.Value); ok {
			s.record.Add(at, retro.URL, c)
		}
	default:
		s.record.Add(at, retro.Kind(o.Kind), o.Value)
	}
}

// huntPending hunts for the indicators an earlier run applied but was
// stopped or killed before hunting for (State.PendingHunts).
func (s *Sensor) huntPending(ctx context.Context) {
	inds, err := s.state.PendingHunts(ctx)
	if err != nil {
		s.log.Warn("reading the retro-hunts an earlier run left undone failed; left for the next start", "err", err)
		return
	}
	if len(inds) == 0 {
		return
	}
	n := s.retroHunt(inds)
	s.hunted(ctx, inds)
	// Said at info only when the hunt found something: a copy seeded from
	// a snapshot with nothing in the record to find is no news.
	level := slog.LevelDebug
	if n > 0 {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "hunted for the indicators an earlier run applied but was stopped before hunting for", "indicators", len(inds), "retro_alerts", n)
}

// hunted takes indicators off the state's pending hunts once their hunt is
// done, also when ctx has just ended (a --once run stopping): they would
// otherwise be hunted, and alerted, again at the next start. When that
// fails they are, which is logged: an alert twice rather than none.
func (s *Sensor) hunted(ctx context.Context, inds []match.Indicator) {
	if err := s.state.Hunted(context.WithoutCancel(ctx), inds); err != nil {
		s.log.Warn("noting retro-hunts as done failed; the next start hunts for them again", "indicators", len(inds), "err", err)
	}
}

// retroHunt searches the record for indicators that just arrived and raises
// retro alerts naming the hours; it returns how many.
func (s *Sensor) retroHunt(inds []match.Indicator) (alerts int) {
	for i := range inds {
		ind := &inds[i]
		if ind.Type == indicator.STIXPattern {
			// The record keeps keyed hashes of values, not events: a
			// pattern cannot be looked for in it.
			continue
		}
		hits, err := s.record.Search(ind.Type, ind.Value)
		if err != nil {
			s.log.Warn("retro-hunt search failed", "indicator", ind.ID, "err", err)
		}
		for _, h := range hits {
			line := appendRetroAlert(nil, ind, h)
			s.alerts.write(line)
			if s.cfg.OnAlert != nil {
				s.cfg.OnAlert(line)
			}
			s.counters.retroAlerts.Add(1)
			s.sight.add(ind.ID, h.Hour, "")
			alerts++
		}
	}
	return alerts
}

// appendRetroAlert writes a retro alert: the hour the record shows the
// indicator's value in, as a Suricata-shaped line.
func appendRetroAlert(dst []byte, ind *match.Indicator, h retro.Hit) []byte {
	type hdnPart struct {
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Value      string   `json:"value"`
		TLP        string   `json:"tlp,omitempty"`
		Labels     []string `json:"labels"`
		Confidence int      `json:"confidence,omitempty"`
		Report     string   `json:"report,omitempty"`
		Retro      bool     `json:"retro"`
		Hour       string   `json:"hour"`
		Addresses  []string `json:"addresses,omitempty"`
	}
	labels := ind.Labels
	if labels == nil {
		labels = []string{}
	}
	var addrs []string
	for _, a := range h.Addrs {
		addrs = append(addrs, a.String())
	}
	tlp := ""
	if ind.TLP != "" {
		tlp = " TLP:" + strings.ToUpper(ind.TLP)
	}
	line := map[string]any{
		"timestamp":  h.Hour.UTC().Format("2006-01-02T15:04:05.000000-0700"),
		"event_type": "alert",
		"alert": map[string]any{
			// The sid of the indicator's (first) exported rule, as live
			// alerts have it: a SIEM correlates the three.
			"action": "allowed", "signature_id": match.SignatureID(ind.ID, ind.Type, ""), "rev": 1,
			"signature": fmt.Sprintf("HDN retro-hunt %s %s%s seen in the hour from %s", ind.Type, ind.Value, tlp, h.Hour.UTC().Format(time.RFC3339)),
			"category":  match.Category(ind.Labels), "severity": match.Severity(ind.Labels, ind.Confidence),
		},
		"hdn": hdnPart{ID: ind.ID, Type: string(ind.Type), Value: ind.Value, TLP: ind.TLP, Labels: labels,
			Confidence: ind.Confidence, Report: ind.Report, Retro: true, Hour: h.Hour.UTC().Format(time.RFC3339), Addresses: addrs},
	}
	b, _ := json.Marshal(line)
	return append(append(dst, b...), '\n')
}
