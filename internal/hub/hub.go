// Package hub assembles the sharing hub from its parts — store, API, jobs —
// from one typed Config, and runs them under one run group: the first part to
// stop stops the rest. The same New/Run/Ready is used by `hdn hub`, by
// `hdn demo` and by tests.
package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/federation"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/open"
	"github.com/hdnetwork/hdn/internal/stream"
	"github.com/hdnetwork/hdn/internal/tlsconf"
	"github.com/hdnetwork/hdn/internal/warninglist"
	"github.com/hdnetwork/hdn/internal/web/session"
	"github.com/hdnetwork/hdn/internal/webhook"
)

// Config is everything the hub is built from.
type Config struct {
	DataDir string // where the embedded SQLite database lives
	DB      string // a PostgreSQL URL; empty: SQLite in DataDir
	// MaxDBBytes bounds the SQLite database file (0: none): past it,
	// writes are refused with 507 storage_full and reads go on.
	MaxDBBytes int64
	Listen     string // host:port; port 0 picks a free one
	Logger     *slog.Logger
	Limits     api.Limits
	// ExpirySweep is how often indicators past valid_until are expired
	// (default 10 s).
	ExpirySweep time.Duration
	// NATS is the URL of a NATS JetStream server; empty means the in-process
	// bus (one hub process).
	NATS string
	// NATSStream and NATSPrefix name the JetStream stream and subjects
	// (defaults "HDN" and "hdn"); tests use unique names.
	NATSStream, NATSPrefix string
	// NATSReplicas is how many servers of a NATS cluster keep the
	// JetStream stream (default 1; 3 in a three-node cluster).
	NATSReplicas int
	// StreamPoll is how often streams check the store without a bus
	// notification (default 2 s).
	StreamPoll time.Duration
	// StreamWriteTimeout cuts off a subscriber that does not read
	// (default 30 s).
	StreamWriteTimeout time.Duration
	// StreamHeartbeat is how often idle streams send a heartbeat (default
	// 10 s, at most 15 s).
	StreamHeartbeat time.Duration
	// MaxStreams bounds concurrent stream subscribers (default 10,000).
	MaxStreams int
	// Name names the hub in exports (default "hdn").
	Name string
	// TAXIIDefaultTLP is the TLP of objects posted to the TAXII server
	// without a TLP marking (default amber).
	TAXIIDefaultTLP policy.TLP
	// Warninglists screen every submission; nil means the shipped set
	// (warninglist.Default). NoWarninglists turns screening off.
	Warninglists   *warninglist.Set
	NoWarninglists bool
	// FlagLifetime is the valid_until of an indicator on a flagging
	// warninglist that names none (default api.DefaultFlagLifetime).
	FlagLifetime time.Duration
	// ChangeRetention is how long change-log entries are kept (default
	// DefaultChangeRetention, 30 days; negative: for ever). A subscriber or
	// peer whose cursor is older takes a fresh snapshot.
	ChangeRetention time.Duration
	// FeedCheck is how often the hub looks for feeds that are due (default
	// 1 min; negative: never, feeds run only through RunFeed); FeedClient
	// fetches them (default: a client with a 5 min timeout).
	FeedCheck  time.Duration
	FeedClient *http.Client
	// Signal tunes scores, quarantine and the blast-radius preview.
	Signal api.SignalConfig
	// CampaignOrgs is how many distinct organisations must sight
	// indicators of one report, label or actor within CampaignWindow for a
	// campaign alert (defaults 3 and 24 h). SignalEvery is how often the hub
	// looks for campaigns and expires indicators whose score decayed under
	// the floor (default 5 min; negative: never, tests call the jobs).
	CampaignOrgs   int
	CampaignWindow time.Duration
	SignalEvery    time.Duration
	// UISecureCookies marks the web UI's session cookie Secure; it is on by
	// default unless the hub listens on a loopback address (put TLS in
	// front of a hub that listens elsewhere). UIInsecureCookies turns it
	// off (a test behind plain HTTP).
	UISecureCookies, UIInsecureCookies bool
	// TLS makes the hub serve HTTPS (tlsconf.Server builds it, with mutual
	// TLS when it names client CAs); nil serves plain HTTP.
	TLS *tls.Config
	// WriteTimeout bounds writing one response (default 10 min; negative:
	// none); streams set their own deadline on every write instead.
	WriteTimeout time.Duration
	// Federation tunes the loops that peer this hub with other hubs
	// (docs/FEDERATION.md): FederationCheck is how often the peer list is
	// re-read (default 5 s; negative: no federation), FederationPushPoll
	// how often local changes are looked for (default 500 ms),
	// FederationSightings how often sightings are returned (default 1 min).
	FederationCheck, FederationPushPoll, FederationSightings time.Duration
	// PeerTLS is what this hub trusts and presents towards its peer hubs
	// (tlsconf.Client: a CA bundle, a client certificate for mutual TLS);
	// nil: the system's CAs, no client certificate.
	PeerTLS *tls.Config
	// LeaseTTL and LeaseRenew time the lease that elects, among replicas
	// on one store, the one that runs the singleton jobs (expiry, signal,
	// feeds, federation, sessions): it lasts LeaseTTL and is renewed every
	// LeaseRenew (defaults 15 s and 5 s).
	LeaseTTL, LeaseRenew time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Hub is a running (or ready to run) hub.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	st     store.Store
	bus    bus.Bus
	broker *stream.Broker
	api    *api.Server
	hooks  *webhook.Dispatcher
	fed    *federation.Manager
	// The web UI and its sessions.
	ui       http.Handler
	sessions *session.Manager
	ready    chan struct{}
	addr     string
	once     sync.Once
	lease    lease // the jobs lease (lease.go)
}

// New opens the store (creating the data directory and schema on a first
// start) and builds the hub. Run starts serving.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	if cfg.DataDir == "" && cfg.DB == "" {
		return nil, errors.New("hub: a data directory (--data DIR) or a database URL (--db URL) is needed")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8443"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ExpirySweep == 0 {
		cfg.ExpirySweep = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SignalEvery == 0 {
		cfg.SignalEvery = 5 * time.Minute
	}
	if cfg.ChangeRetention == 0 {
		cfg.ChangeRetention = DefaultChangeRetention
	}
	if cfg.CampaignOrgs <= 0 {
		cfg.CampaignOrgs = 3
	}
	if cfg.CampaignWindow <= 0 {
		cfg.CampaignWindow = 24 * time.Hour
	}
	if cfg.Warninglists == nil && !cfg.NoWarninglists {
		wl, err := warninglist.Default()
		if err != nil {
			return nil, fmt.Errorf("hub: shipped warninglists: %w", err)
		}
		cfg.Warninglists = wl
	}
	if cfg.NoWarninglists {
		cfg.Warninglists = nil
	}
	if cfg.FeedCheck == 0 {
		cfg.FeedCheck = time.Minute
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Minute
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = defaultLeaseTTL
	}
	if cfg.LeaseRenew <= 0 || cfg.LeaseRenew >= cfg.LeaseTTL {
		cfg.LeaseRenew = min(defaultLeaseRenew, cfg.LeaseTTL/3)
	}
	if cfg.FeedClient == nil {
		cfg.FeedClient = &http.Client{Timeout: 5 * time.Minute, CheckRedirect: tlsconf.SameOriginRedirects}
	}
	st, err := open.OpenWith(ctx, cfg.DataDir, cfg.DB, cfg.MaxDBBytes)
	if err != nil {
		return nil, fmt.Errorf("hub: open store: %w", err)
	}
	var b bus.Bus
	if cfg.NATS != "" {
		b, err = bus.NewNATS(ctx, bus.NATSOptions{URL: cfg.NATS, Stream: cfg.NATSStream, SubjectPrefix: cfg.NATSPrefix, Replicas: cfg.NATSReplicas, Logger: cfg.Logger})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("hub: connect to NATS: %w", err)
		}
	} else {
		b = bus.NewLocal(bus.LocalOptions{})
	}
	h := &Hub{cfg: cfg, log: cfg.Logger, st: st, bus: b, ready: make(chan struct{}), lease: lease{holder: newHolderID()}}
	h.broker = stream.NewBroker(st, b, stream.Options{Logger: cfg.Logger, Poll: cfg.StreamPoll})
	h.hooks = webhook.New(st, nil, cfg.Logger, webhook.Options{HubName: cfg.Name, Now: cfg.Now})
	h.api = api.New(api.Config{Store: st, Logger: cfg.Logger, Limits: cfg.Limits, Now: cfg.Now, Notifier: h.broker, Broker: h.broker,
		MaxStreams: cfg.MaxStreams, StreamWriteTimeout: cfg.StreamWriteTimeout, StreamHeartbeat: cfg.StreamHeartbeat,
		HubName: cfg.Name, Warninglists: cfg.Warninglists, FlagLifetime: cfg.FlagLifetime, TAXIIDefaultTLP: cfg.TAXIIDefaultTLP,
		Signal: cfg.Signal,
		Events: h.hooks})
	h.ui = h.newUI()
	// The federation identity is made at the first start, not by the first
	// request that needs it.
	if _, err := h.api.HubID(ctx); err != nil {
		h.close()
		return nil, fmt.Errorf("hub: federation identity: %w", err)
	}
	h.fed = federation.New(federation.Config{Store: st, API: h.api, Logger: cfg.Logger, Check: cfg.FederationCheck,
		PushPoll: cfg.FederationPushPoll, SightingsEvery: cfg.FederationSightings, Now: cfg.Now,
		HTTP:       &http.Client{Timeout: 30 * time.Second, Transport: tlsconf.Transport(cfg.PeerTLS), CheckRedirect: tlsconf.SameOriginRedirects},
		StreamHTTP: &http.Client{Transport: tlsconf.Transport(cfg.PeerTLS), CheckRedirect: tlsconf.SameOriginRedirects}})
	return h, nil
}

// Store gives the hub's store, for the admin commands and tests in the same
// process.
func (h *Hub) Store() store.Store { return h.st }

// FederationPeers names the peers whose federation loops run on this hub
// now (none when it does not hold the jobs lease, or a peer is paused).
func (h *Hub) FederationPeers() []string { return h.fed.Active() }

// Webhooks is the dispatcher that delivers the hub's events to webhooks
// (the API server's event sink).
func (h *Hub) Webhooks() *webhook.Dispatcher { return h.hooks }

// ActiveStreams is the number of open stream subscribers.
func (h *Hub) ActiveStreams() int { return h.api.ActiveStreams() }

// Ready is closed once the hub accepts requests.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Addr is the address the hub listens on, once Ready.
func (h *Hub) Addr() string { return h.addr }

// URL is the hub's base URL, once Ready.
func (h *Hub) URL() string {
	if h.cfg.TLS != nil {
		return "https://" + h.addr
	}
	return "http://" + h.addr
}

// Handler is the hub's whole HTTP surface.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-h.ready:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n"))
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("/api/", h.api)
	// The web UI (docs/WEBUI.md); / leads to it.
	mux.Handle("/ui/", h.ui)
	mux.Handle("POST /ui/signin", h.api.LimitByAddress(h.ui)) // password guessing
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	// The MISP-compatible API lives where MISP has it, for MISP tools and
	// PyMISP scripts.
	for _, prefix := range api.MISPPrefixes {
		mux.Handle(prefix, h.api.MISP())
	}
	// TAXII 2.1 (docs/TAXII.md).
	taxii := h.api.TAXII()
	for _, prefix := range api.TAXIIPrefixes {
		mux.Handle(prefix, taxii)
	}
	// An API path with an empty, . or .. segment is refused, not redirected.
	return securityHeaders(h.api.RefuseUncleanPaths(mux))
}

// securityHeaders sets the headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// Run serves until ctx is done or a part fails, then stops every part and
// closes the store.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.broker.Start(ctx); err != nil {
		h.close()
		return fmt.Errorf("hub: start stream broker: %w", err)
	}
	ln, err := net.Listen("tcp", h.cfg.Listen)
	if err != nil {
		h.close()
		return fmt.Errorf("hub: listen on %s: %w", h.cfg.Listen, err)
	}
	h.addr = ln.Addr().String()
	// Requests run under a context that ends when the hub stops, so that
	// long-lived streams end too (Shutdown alone waits for them).
	reqCtx, stopRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRequests()
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		Handler:           h.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // large bulk uploads
		IdleTimeout:       2 * time.Minute,
		WriteTimeout:      max(0, h.cfg.WriteTimeout),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		TLSConfig:         h.cfg.TLS,
	}
	var g group
	g.add("http", func(ctx context.Context) error {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "") // the certificates are in TLSConfig
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}, func() {
		stopRequests()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	// The singleton jobs run on the replica that holds the jobs lease
	// (lease.go); the rest on every replica.
	var jobs group
	jobs.add("expiry", func(ctx context.Context) error { return h.expiryLoop(ctx) }, nil)
	g.add("stream", h.broker.Run, nil)
	jobs.add("sessions", h.sessionSweep, nil)
	if h.cfg.ChangeRetention > 0 {
		jobs.add("compaction", h.compactLoop, nil)
	}
	g.add("stream-auth", func(ctx context.Context) error { h.api.WatchAuth(ctx, time.Second); return nil }, nil)
	// Every replica records the last use of the keys it authenticated.
	g.add("key-uses", func(ctx context.Context) error { h.api.RecordKeyUses(ctx, api.KeyUseEvery); return nil }, nil)
	if h.cfg.SignalEvery > 0 {
		jobs.add("signal", h.signalLoop, nil)
	}
	g.add("webhooks", h.hooks.Run, nil)
	if h.cfg.FeedCheck > 0 {
		jobs.add("feeds", h.feedLoop, nil)
	}
	if h.cfg.FederationCheck >= 0 {
		jobs.add("federation", h.fed.Run, nil)
	}
	g.add("lease", func(ctx context.Context) error { return h.leaseLoop(ctx, &jobs) }, nil)
	h.once.Do(func() { close(h.ready) })
	where := h.cfg.DataDir
	if h.cfg.DB != "" {
		where = "postgresql" // never the URL: it may hold a password
	}
	h.log.Info("hub ready", "addr", h.addr, "store", where)
	err = g.run(ctx)
	if cerr := h.close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// close releases the bus and the store.
func (h *Hub) close() error {
	berr := h.bus.Close()
	if err := h.st.Close(); err != nil {
		return err
	}
	return berr
}

// expiryLoop expires indicators past valid_until.
func (h *Hub) expiryLoop(ctx context.Context) error {
	t := time.NewTicker(h.cfg.ExpirySweep)
	defer t.Stop()
	for {
		if n, err := h.st.ExpireDue(ctx, h.cfg.Now().UTC()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			h.log.Error("expiry sweep failed", "err", err)
		} else if n > 0 {
			h.log.Info("indicators expired", "count", n)
			if seq, err := h.st.LastSeq(ctx); err == nil {
				h.broker.Notify(ctx, seq)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
