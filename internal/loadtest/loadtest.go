// Package loadtest drives a hub the way a busy network would, for a bounded
// time, and reports what it achieved against targets (`hdn bench load`,
// docs/BENCHMARKS.md): N clients submitting batches of B indicators at a
// target rate, S stream subscribers (each an organisation of its own)
// reading and counting their events, and sightings at a target rate. It
// runs against a hub it starts in-process on a temporary directory, or
// against an existing hub given its URL and a coordinator's admin key; in
// both cases it makes its own organisations, keys and sharing groups.
//
// Every event a subscriber receives is counted; the expected count per
// subscriber follows from the sharing policy (policy.CanSee) applied to
// every acknowledged batch, so a run also checks that the stream delivered
// exactly what each organisation may see. Delivery latency is taken from a
// sample: the first indicator of every batch carries a marked value, and
// each subscriber that receives it records the time since the submission
// was acknowledged.
package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
)

// Profiles say to whom submissions are shared.
const (
	// ProfileNetwork shares every batch TLP:AMBER with the whole network:
	// every subscriber receives every indicator.
	ProfileNetwork = "network"
	// ProfileSpread shares each batch with one of Groups sharing groups in
	// turn; each subscriber is in one group and receives its group's share
	// (about 1/Groups of the indicators) and its own.
	ProfileSpread = "spread"
)

// Config is a load run.
type Config struct {
	// URL of an existing hub and the admin key of its coordinator
	// organisation; empty URL starts a hub in-process in a temporary
	// directory.
	URL, Key string

	Duration     time.Duration // how long load is applied
	Submitters   int           // concurrent submitting clients, each an organisation with its own key
	Batch        int           // indicators per submission
	SubmitRate   float64       // submissions per second, all clients together
	Subscribers  int           // stream subscribers, each an organisation of its own
	SightingRate float64       // sightings per second
	Profile      string        // ProfileNetwork or ProfileSpread
	Groups       int           // sharing groups of ProfileSpread
	// Drain is how long, after the load stops, subscribers may take to
	// receive what was submitted before the run is over.
	Drain time.Duration
	// Logger receives the in-process hub's log and progress; nil discards.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Submitters <= 0 {
		c.Submitters = 1
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
	if c.Profile == "" {
		c.Profile = ProfileNetwork
	}
	if c.Profile != ProfileNetwork && c.Profile != ProfileSpread {
		return fmt.Errorf("loadtest: profile %q is not %s or %s", c.Profile, ProfileNetwork, ProfileSpread)
	}
	if c.Profile == ProfileSpread && c.Groups <= 0 {
		c.Groups = 10
	}
	// Every group of spread needs an organisation in it (the first is its
	// owner): there is one per submitter or subscriber, whichever is more.
	if orgs := max(c.Submitters, c.Subscribers); c.Profile == ProfileSpread && c.Groups > orgs {
		return fmt.Errorf("loadtest: %d groups for %d organisations (one per submitter or subscriber, whichever is more): every group needs a member; ask for at most %d groups or more subscribers", c.Groups, orgs, orgs)
	}
	if c.Drain <= 0 {
		c.Drain = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SubmitRate < 0 || c.SightingRate < 0 || c.Subscribers < 0 {
		return errors.New("loadtest: rates and counts must not be negative")
	}
	if c.URL != "" && c.Key == "" {
		return errors.New("loadtest: an existing hub needs the admin key of its coordinator organisation (--key)")
	}
	return nil
}

// Result is what a run achieved.
type Result struct {
	Config  Config
	Target  string // "in-process hub" or the URL
	Run     string // the run's tag (names of its organisations, indicator tags)
	Elapsed time.Duration

	Submissions    int64 // acknowledged (200)
	Indicators     int64 // stored by acknowledged submissions
	SubmitLatency  Percentiles
	Connected      int   // subscribers whose stream was open and current
	EventsExpected int64 // what the policy lets the subscribers see of what was stored
	EventsInRun    int64 // received while the load ran
	// StreamBytesInRun is what the subscribers read while the load ran:
	// every byte of their streams (snapshots and heartbeats included).
	StreamBytesInRun int64
	EventsDelivered  int64 // received by the end of the drain
	DrainTook        time.Duration
	Short, Over      int // subscribers that received fewer / more events than expected
	Delivery         Percentiles
	Sightings        int64
	SightingLatency  Percentiles
	Errors           map[string]int64
	CPU              time.Duration // CPU time of this process (hub included when in-process)
	Procs            int           // GOMAXPROCS
}

// Percentiles of a latency sample.
type Percentiles struct {
	N        int
	P50, P99 time.Duration
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Percentiles{N: len(ds), P50: at(0.50), P99: at(0.99)}
}

// rate is n per second of the run.
func (r *Result) rate(n int64) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(n) / r.Elapsed.Seconds()
}

// SubmitRate, IndicatorRate and SightingRate are what was achieved.
func (r *Result) SubmitRate() float64    { return r.rate(r.Submissions) }
func (r *Result) IndicatorRate() float64 { return r.rate(r.Indicators) }
func (r *Result) SightingRate() float64  { return r.rate(r.Sightings) }

// ErrorCount is the number of errors of every kind.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// met says whether achieved is within 5 % of target (or there was none).
func met(achieved, target float64) bool { return target <= 0 || achieved >= 0.95*target }

// Met says whether every target was met: the rates within 5 %, every
// subscriber connected, every event delivered (by the end of the drain), no
// errors.
func (r *Result) Met() bool {
	c := r.Config
	return met(r.SubmitRate(), c.SubmitRate) && met(r.IndicatorRate(), c.SubmitRate*float64(c.Batch)) &&
		met(r.SightingRate(), c.SightingRate) && r.Connected == c.Subscribers &&
		r.Short == 0 && r.Over == 0 && r.ErrorCount() == 0
}

// Run applies the load and reports.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	tag := make([]byte, 4)
	rand.Read(tag)
	r := &runner{cfg: cfg, tag: hex.EncodeToString(tag), log: cfg.Logger, errs: map[string]int64{}}
	res := &Result{Config: cfg, Run: r.tag, Procs: runtime.GOMAXPROCS(0)}

	base, key := cfg.URL, cfg.Key
	var setup setupper
	if base == "" {
		res.Target = "in-process hub"
		h, stop, err := startHub(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer stop()
		base = h.URL()
		setup = &storeSetup{st: h.Store()}
	} else {
		res.Target = base
		setup = &apiSetup{base: base, admin: key, client: &http.Client{Timeout: time.Minute}}
	}
	r.base = base
	cpu0 := cpuTime()
	if err := r.setup(ctx, setup); err != nil {
		return nil, err
	}
	if err := r.load(ctx, res); err != nil {
		return nil, err
	}
	res.CPU = cpuTime() - cpu0
	return res, nil
}

// startHub runs a hub in-process on a temporary directory.
func startHub(ctx context.Context, cfg Config) (*hub.Hub, func(), error) {
	dir, err := os.MkdirTemp("", "hdn-load-")
	if err != nil {
		return nil, nil, err
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h, err := hub.New(hctx, hub.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: cfg.Logger,
		MaxStreams: max(10_000, cfg.Subscribers+100), FeedCheck: -1})
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(hctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cfg.Logger.Warn("the in-process hub did not stop within 30 s")
		}
		os.RemoveAll(dir)
	}
	select {
	case <-h.Ready():
		return h, stop, nil
	case err := <-done:
		stop()
		return nil, nil, fmt.Errorf("loadtest: hub stopped before it was ready: %w", err)
	case <-time.After(60 * time.Second):
		stop()
		return nil, nil, errors.New("loadtest: hub not ready after 60 s")
	}
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// WriteTable prints the result as the table of docs/BENCHMARKS.md.
func (r *Result) WriteTable(w io.Writer) {
	c := r.Config
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "NO"
	}
	profile := "network (TLP:AMBER to the whole network: every subscriber receives every indicator)"
	if c.Profile == ProfileSpread {
		profile = fmt.Sprintf("spread (each batch to one of %d sharing groups in turn: each subscriber receives about 1/%d of the indicators, and its own)", c.Groups, c.Groups)
	}
	fmt.Fprintf(w, "hdn bench load: %s, %v of load, GOMAXPROCS %d, run %s\nprofile: %s\n\n", r.Target, c.Duration, r.Procs, r.Run, profile)
	tw := &table{}
	tw.row("measure", "target", "achieved", "met")
	tw.row("submissions/s", fmt.Sprintf("%.0f (%d clients × %d indicators)", c.SubmitRate, c.Submitters, c.Batch), fmt.Sprintf("%.1f", r.SubmitRate()), yes(met(r.SubmitRate(), c.SubmitRate)))
	tw.row("indicators/s", fmt.Sprintf("%.0f", c.SubmitRate*float64(c.Batch)), fmt.Sprintf("%.0f", r.IndicatorRate()), yes(met(r.IndicatorRate(), c.SubmitRate*float64(c.Batch))))
	tw.row("submission latency p50 / p99", "", latency(r.SubmitLatency, ""), "")
	tw.row("stream subscribers connected", fmt.Sprint(c.Subscribers), fmt.Sprint(r.Connected), yes(r.Connected == c.Subscribers))
	tw.row("stream events expected (policy)", "", fmt.Sprint(r.EventsExpected), "")
	tw.row("stream events during the run", "", fmt.Sprintf("%d (%.0f/s)", r.EventsInRun, r.rate(r.EventsInRun)), "")
	tw.row("stream bytes during the run", "", streamVolume(r), "")
	tw.row("stream events delivered", fmt.Sprint(r.EventsExpected), fmt.Sprintf("%d (%.1f %%) after a drain of %s; %d subscribers short, %d over",
		r.EventsDelivered, pct(r.EventsDelivered, r.EventsExpected), r.DrainTook.Round(10*time.Millisecond), r.Short, r.Over), yes(r.Short == 0 && r.Over == 0))
	tw.row("delivery latency p50 / p99 (ack → event)", "", latency(r.Delivery, " samples"), "")
	tw.row("sightings/s", fmt.Sprintf("%.0f", c.SightingRate), fmt.Sprintf("%.1f", r.SightingRate()), yes(met(r.SightingRate(), c.SightingRate)))
	tw.row("sighting latency p50 / p99", "", latency(r.SightingLatency, ""), "")
	errs := "none"
	if len(r.Errors) > 0 {
		var kinds []string
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		errs = ""
		for i, k := range kinds {
			if i > 0 {
				errs += "; "
			}
			errs += fmt.Sprintf("%s: %d", k, r.Errors[k])
		}
	}
	tw.row("errors", "0", errs, yes(r.ErrorCount() == 0))
	tw.row("CPU used (this process)", "", fmt.Sprintf("%.1f s of %.1f s × %d cores", r.CPU.Seconds(), (r.Elapsed+r.DrainTook).Seconds(), r.Procs), "")
	tw.write(w)
	fmt.Fprintf(w, "\ntargets met: %s\n", yes(r.Met()))
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// latency is "p50 / p99 (n)", or "—" without a sample. A delivery latency
// of 0 means the event arrived before the client had read the
// acknowledgement.
// streamVolume says how much the subscribers read while the load ran: in
// all, per second, and per event.
func streamVolume(r *Result) string {
	v := fmt.Sprintf("%.0f MB (%.0f MB/s", float64(r.StreamBytesInRun)/1e6, r.rate(r.StreamBytesInRun)/1e6)
	if r.EventsInRun > 0 {
		v += fmt.Sprintf(", %d bytes an event", r.StreamBytesInRun/r.EventsInRun)
	}
	return v + ")"
}

func latency(p Percentiles, unit string) string {
	if p.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s (%d%s)", ms(p.P50), ms(p.P99), p.N, unit)
}

func ms(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// table lines up columns.
type table struct{ rows [][]string }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, 4)
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range t.rows {
		line := ""
		for i, c := range r {
			pad := width[i] - len([]rune(c))
			line += c
			if i < len(r)-1 {
				for range pad + 2 {
					line += " "
				}
			}
		}
		fmt.Fprintln(w, line)
	}
}

// runner holds a run's state.
type runner struct {
	cfg  Config
	tag  string
	base string
	log  *slog.Logger

	orgs   []org   // max(Submitters, Subscribers) organisations
	groups []group // ProfileSpread

	mu   sync.Mutex
	errs map[string]int64

	samples     sync.Map // sampled value → *sample
	startCursor int64    // streams start after it
	seed        acked    // indicators stored before the run, for sightings
}

func (r *runner) fail(kind string) {
	r.mu.Lock()
	r.errs[kind]++
	r.mu.Unlock()
}

// sample is the first indicator of a batch, whose receipt is timed.
type sample struct {
	ack atomic.Int64 // unix nanos when the submission was acknowledged; 0 before
}
