// Package api serves the hub's native REST API under /api/v1: JSON in and
// out, Bearer keys, one error envelope, and the sharing policy on every read.
// Handlers return errors; one function renders them (errors.go).
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// Limits bounds what a client controls.
type Limits struct {
	MaxBodyBytes int64 // largest request body
	MaxItems     int   // most indicators in one submission
	MaxPageSize  int   // largest ?limit=
	// RateLimit and RateBurst are each key's token bucket: requests per
	// second and the burst (defaults DefaultRateLimit, DefaultRateBurst);
	// a negative RateLimit disables rate limiting, with or without a key.
	// AnonRateLimit and AnonRateBurst are the bucket of a remote address
	// for requests without a key (enrolment, the web UI's sign-in).
	RateLimit     float64
	RateBurst     int
	AnonRateLimit float64
	AnonRateBurst int
	// MaxStreamsPerOrg bounds one organisation's open streams (default
	// DefaultMaxStreamsPerOrg; negative: no bound but MaxStreams).
	MaxStreamsPerOrg int
	// MaxPendingProposals bounds one organisation's proposals awaiting an
	// analyst's decision (default DefaultMaxPendingProposals; negative: no
	// bound).
	MaxPendingProposals int
}

// DefaultLimits are the limits used when none are configured.
var DefaultLimits = Limits{MaxBodyBytes: 64 << 20, MaxItems: 100_000, MaxPageSize: 10_000}

// Notifier is told when changes were committed, so that streams wake up.
type Notifier interface {
	Notify(ctx context.Context, lastSeq int64)
}

// Config wires a Server.
type Config struct {
	Store    store.Store
	Logger   *slog.Logger
	Limits   Limits
	Now      func() time.Time // nil: time.Now
	Notifier Notifier         // nil: nobody is told
	Broker   Broker           // nil: no stream
	// MaxStreams bounds concurrent streams (default 10,000).
	MaxStreams int
	// StreamWriteTimeout cuts off a subscriber that does not take what is
	// sent to it within this time (default 30 s); it resumes from its cursor.
	StreamWriteTimeout time.Duration
	// StreamHeartbeat is how often an idle stream sends a heartbeat
	// (default 10 s; the protocol promises at least every 15 s).
	StreamHeartbeat time.Duration
	// HubName names the hub in exports (default "hdn").
	HubName string
	// Warninglists screen every submission (nil: none).
	Warninglists *warninglist.Set
	// FlagLifetime is the valid_until given to an indicator on a flagging
	// warninglist that names none (default DefaultFlagLifetime; negative:
	// none).
	FlagLifetime time.Duration
	// TAXIIDefaultTLP is the TLP of objects posted to the TAXII server
	// without a TLP marking ("": DefaultTLP, amber).
	TAXIIDefaultTLP policy.TLP
	// Events receives campaign alerts, quarantines and new indicators (for
	// webhooks); nil: nobody.
	Events EventSink
	// Signal tunes scores, quarantine and the blast-radius preview.
	Signal SignalConfig
}

// Server is the native API.
type Server struct {
	st  store.Store
	log *slog.Logger
	// fullLogged is when a full database was last logged (unix ns).
	fullLogged atomic.Int64
	keyUses    keyUses
	limits     Limits
	now        func() time.Time
	notify     Notifier
	broker     Broker

	streamWriteTimeout time.Duration
	streamHeartbeat    time.Duration
	streams            *limiter
	orgStreams         *orgStreams
	keyRate, anonRate  *rateLimiter
	orgs               *orgCache
	renderCache        renderCaches // group names and the stream's encoded events (streamcache.go)
	streamReg          *streamRegistry
	events             EventSink
	signal             SignalConfig
	recs               records
	// quarantining makes reportFalsePositives' look and decision one step:
	// concurrent reports would each quarantine, audit and announce.
	quarantining      sync.Mutex
	coord             coordinatorCache
	hubName           string
	taxiiDefaultTLP   policy.TLP
	misp              *http.ServeMux
	mispSearches      *searchSlots  // slots of the MISP searches
	mispSearchWait    time.Duration // for a slot
	mispSearchTimeout time.Duration // for one search
	taxii             *http.ServeMux
	warn              *warninglist.Set
	flagLifetime      time.Duration
	mux               *http.ServeMux
	hubIdent          hubIdentity
	sightings         *sightingWriter
	submissions       *bulkWriter
	ingestSlot        chan struct{} // one bulk write at a time waits for the store (beginIngest)
	principals        principalCache
}

// New builds the API server.
func New(cfg Config) *Server {
	s := &Server{st: cfg.Store, log: cfg.Logger, limits: cfg.Limits, now: cfg.Now, notify: cfg.Notifier, broker: cfg.Broker}
	s.sightings = &sightingWriter{st: cfg.Store, log: cfg.Logger}
	s.submissions = &bulkWriter{s: s}
	s.ingestSlot = make(chan struct{}, 1)
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 10_000
	}
	s.streams = newLimiter(cfg.MaxStreams)
	s.warn, s.flagLifetime, s.hubName, s.taxiiDefaultTLP = cfg.Warninglists, cfg.FlagLifetime, cfg.HubName, cfg.TAXIIDefaultTLP
	if s.hubName == "" {
		s.hubName = "hdn"
	}
	if s.flagLifetime == 0 {
		s.flagLifetime = DefaultFlagLifetime
	}
	s.streamWriteTimeout = cfg.StreamWriteTimeout
	if s.streamWriteTimeout <= 0 {
		s.streamWriteTimeout = 30 * time.Second
	}
	s.streamHeartbeat = cfg.StreamHeartbeat
	if s.streamHeartbeat <= 0 || s.streamHeartbeat > 15*time.Second {
		s.streamHeartbeat = 10 * time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.limits.MaxBodyBytes == 0 {
		s.limits.MaxBodyBytes = DefaultLimits.MaxBodyBytes
	}
	if s.limits.MaxItems == 0 {
		s.limits.MaxItems = DefaultLimits.MaxItems
	}
	if s.limits.MaxPageSize == 0 {
		s.limits.MaxPageSize = DefaultLimits.MaxPageSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.orgs = &orgCache{st: cfg.Store, ttl: 5 * time.Second, now: s.now}
	s.initLimits()
	s.streamReg = newStreamRegistry()
	s.events = cfg.Events
	s.signal = cfg.Signal.withDefaults()
	s.misp, s.mispSearches = newMISPMux(s), newSearchSlots(mispSearchSlots)
	s.mispSearchWait, s.mispSearchTimeout = mispSearchWait, mispSearchTimeout
	s.taxii = newTAXIIMux(s)
	s.mux = http.NewServeMux()
	// paths knows every route's pattern whatever the method, so that a
	// known path asked with another method is told which it takes.
	paths, allowed := http.NewServeMux(), map[string][]string{}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.handle(rt))
		if allowed[rt.Pattern] == nil {
			paths.Handle(rt.Pattern, http.NotFoundHandler())
		}
		allowed[rt.Pattern] = append(allowed[rt.Pattern], rt.Method)
	}
	// Anything else under the API gets the error envelope, not the mux's
	// text: 405 with the methods the path takes, or 404.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); allowed[pattern] != nil {
			methods := allowed[pattern]
			w.Header().Set("Allow", strings.Join(methods, ", "))
			s.writeError(w, r, errf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s %s: this route takes %s",
				clip(r.Method), clipPath(r.URL.Path), strings.Join(methods, " or ")))
			return
		}
		s.writeError(w, r, notFound("route "+clip(r.Method)+" "+clipPath(r.URL.Path)))
	})
	return s
}

// ActiveStreams is the number of open streams.
func (s *Server) ActiveStreams() int { return s.streams.active() }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Route is one endpoint of the API; the OpenAPI test walks this table.
type Route struct {
	Method  string
	Pattern string
	Public  bool // no key needed
	Handler func(w http.ResponseWriter, r *http.Request, p *Principal) error
}

// Routes lists every endpoint, for documentation tests.
func (s *Server) Routes() []Route { return s.routes() }

func (s *Server) routes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/openapi.json", Public: true, Handler: s.openAPI},
		{Method: "GET", Pattern: "/api/v1/me", Handler: s.me},
		{Method: "POST", Pattern: "/api/v1/indicators", Handler: s.submitIndicators},
		{Method: "GET", Pattern: "/api/v1/indicators", Handler: s.listIndicators},
		{Method: "GET", Pattern: "/api/v1/indicators/{id}", Handler: s.getIndicator},
		{Method: "GET", Pattern: "/api/v1/indicators/{id}/sightings", Handler: s.getSightings},
		{Method: "POST", Pattern: "/api/v1/sightings", Handler: s.addSightings},
		{Method: "GET", Pattern: "/api/v1/stream", Handler: s.streamIndicators},
		{Method: "POST", Pattern: "/api/v1/proposals", Handler: s.createProposal},
		{Method: "GET", Pattern: "/api/v1/proposals", Handler: s.listProposals},
		{Method: "POST", Pattern: "/api/v1/proposals/{id}/approve", Handler: s.approveProposal},
		{Method: "POST", Pattern: "/api/v1/proposals/{id}/reject", Handler: s.rejectProposal},
		{Method: "POST", Pattern: "/api/v1/indicators/{id}/revoke", Handler: s.revokeIndicator},
		{Method: "POST", Pattern: "/api/v1/indicators/{id}/release", Handler: s.releaseIndicator},
		{Method: "POST", Pattern: "/api/v1/indicators/preview", Handler: s.previewIndicators},
		{Method: "GET", Pattern: "/api/v1/alerts", Handler: s.listAlerts},
		{Method: "POST", Pattern: "/api/v1/reports", Handler: s.createReport},
		{Method: "GET", Pattern: "/api/v1/reports", Handler: s.listReports},
		{Method: "GET", Pattern: "/api/v1/reports/{id}", Handler: s.getReport},
		{Method: "GET", Pattern: "/api/v1/orgs", Handler: s.listOrgs},
		{Method: "POST", Pattern: "/api/v1/orgs", Handler: s.createOrg},
		{Method: "GET", Pattern: "/api/v1/orgs/{org}", Handler: s.getOrg},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/approve", Handler: s.setOrgStatus("approve")},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/suspend", Handler: s.setOrgStatus("suspend")},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/resume", Handler: s.setOrgStatus("resume")},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/move", Handler: s.moveOrg},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/offboard", Handler: s.offboardOrg},
		{Method: "GET", Pattern: "/api/v1/orgs/{org}/keys", Handler: s.listOrgKeys},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/keys", Handler: s.createOrgKey},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/keys/{key}/revoke", Handler: s.revokeOrgKey},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/keys/{key}/rotate", Handler: s.rotateOrgKey},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/enrolments", Handler: s.createEnrolment},
		{Method: "GET", Pattern: "/api/v1/orgs/{org}/users", Handler: s.listOrgUsers},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/users", Handler: s.createOrgUser},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/users/{user}/disable", Handler: s.setUserDisabled(true)},
		{Method: "POST", Pattern: "/api/v1/orgs/{org}/users/{user}/enable", Handler: s.setUserDisabled(false)},
		{Method: "POST", Pattern: "/api/v1/enrol", Public: true, Handler: s.enrol},
		{Method: "POST", Pattern: "/api/v1/sensors/heartbeat", Handler: s.heartbeat},
		{Method: "GET", Pattern: "/api/v1/sensors", Handler: s.listSensors},
		{Method: "GET", Pattern: "/api/v1/coverage", Handler: s.coverageReport},
		{Method: "GET", Pattern: "/api/v1/feeds", Handler: s.listFeeds},
		{Method: "POST", Pattern: "/api/v1/groups", Handler: s.createGroup},
		{Method: "GET", Pattern: "/api/v1/groups", Handler: s.listGroups},
		{Method: "GET", Pattern: "/api/v1/groups/{group}", Handler: s.getGroup},
		{Method: "PUT", Pattern: "/api/v1/groups/{group}/members/{org}", Handler: s.addGroupMember},
		{Method: "DELETE", Pattern: "/api/v1/groups/{group}/members/{org}", Handler: s.removeGroupMember},
		{Method: "GET", Pattern: "/api/v1/audit", Handler: s.listAudit},
		{Method: "GET", Pattern: "/api/v1/export/{format}", Handler: s.exportIndicators},
		{Method: "POST", Pattern: "/api/v1/import/text", Handler: s.importText},
		{Method: "POST", Pattern: "/api/v1/import/stix", Handler: s.importSTIXBundle},
		{Method: "GET", Pattern: "/api/v1/federation/hub", Handler: s.federationHub},
		{Method: "POST", Pattern: "/api/v1/federation/indicators", Handler: s.federationPush},
		{Method: "GET", Pattern: "/api/v1/federation/peers", Handler: s.listPeers},
		{Method: "POST", Pattern: "/api/v1/federation/visible", Handler: s.federationVisible},
		{Method: "GET", Pattern: "/api/v1/federation/held", Handler: s.federationHeld},
	}
}

// Principal is who is calling: a key of an organisation.
type Principal struct {
	Key    model.Key
	Org    model.Org
	Viewer policy.Viewer
	// Session is the web UI session a user's principal acts in (empty for
	// an API key), Sessions checks that it goes on, and SessionEnds is when
	// it ends unless used again: a user's open stream ends with its
	// session (signed out, expired, idle, the password changed).
	Session     string
	Sessions    SessionChecker
	SessionEnds time.Time
	// epoch is the authentication epoch the key was read at (0 for a
	// principal not read from a key).
	epoch int64
}

// SessionChecker tells whether a web UI session goes on (web/session's
// Manager).
type SessionChecker interface {
	// SessionEnds returns when session id ends unless used again, and false
	// when it has ended.
	SessionEnds(ctx context.Context, id string, now time.Time) (time.Time, bool)
}

func (s *Server) handle(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context()) // set in-process only (inprocess.go)
		if rt.Public && p == nil {
			if err := s.limitAddress(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if !rt.Public && p == nil {
			var err error
			p, err = s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		// A web UI user's requests take tokens as a key's do (its
		// principal's key id is the user's), so that a session, stolen or
		// scripted, is throttled like an API key.
		if p != nil && p.Session != "" {
			if err := s.keyRate.take(p.Key.ID); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := rt.Handler(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

var errUnauthorized = errf(http.StatusUnauthorized, CodeUnauthorized, "a valid API key is needed: Authorization: Bearer <key>")

// authenticate finds the key in the Authorization header and checks it. All
// failures look alike to the caller, so that a probe learns nothing.
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, errUnauthorized
	}
	return s.principalForKey(r.Context(), strings.TrimSpace(token))
}

func (s *Server) principalForKey(ctx context.Context, token string) (*Principal, error) {
	id, secret, err := auth.Parse(token)
	if err != nil {
		return nil, errUnauthorized
	}
	epoch, err := s.st.AuthEpoch(ctx)
	if err != nil {
		return nil, err
	}
	if p, ok := s.principals.get(epoch, id); ok {
		// What the store said at this epoch still holds; the secret, the
		// expiry and the rate are checked on every request.
		if !auth.Verify(p.Key.Hash, secret) || !p.Key.Usable(s.now()) {
			return nil, errUnauthorized
		}
		if err := s.keyRate.take(p.Key.ID); err != nil {
			return nil, err
		}
		s.keyUses.note(p.Key.ID, s.now())
		return p, nil
	}
	k, err := s.st.KeyByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !auth.Verify(k.Hash, secret) || !k.Usable(now) {
		return nil, errUnauthorized
	}
	if err := s.keyRate.take(k.ID); err != nil {
		return nil, err
	}
	org, err := s.st.Org(ctx, k.OrgID)
	if err != nil {
		return nil, err
	}
	if org.Revoked {
		return nil, errUnauthorized
	}
	if !org.Usable() {
		return nil, forbidden("%s is %s: its keys work once the coordinator has approved (or resumed) it", org.Name, orgState(org))
	}
	v, err := s.st.Viewer(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	p := &Principal{Key: k, Org: org, Viewer: v, epoch: epoch}
	s.principals.put(epoch, p)
	s.keyUses.note(k.ID, now)
	return p, nil
}

// maxCachedPrincipals bounds the principal cache; when it is full it starts
// over.
const maxCachedPrincipals = 10_000

// principalCache keeps the principals of the keys in use, each as the store
// gave it at one authentication epoch (store.Orgs.AuthEpoch), which grows
// with every change of a key, an organisation or a group membership; a
// request then costs one read of the epoch instead of the key, its
// organisation and its viewer. A cached principal is shared by the
// requests of its key and never changed.
type principalCache struct {
	mu    sync.Mutex
	epoch int64
	byKey map[string]*Principal // key id → principal
}

func (c *principalCache) get(epoch int64, keyID string) (*Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return nil, false
	}
	p, ok := c.byKey[keyID]
	return p, ok
}

func (c *principalCache) put(epoch int64, p *Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch || c.byKey == nil || len(c.byKey) >= maxCachedPrincipals {
		if epoch < c.epoch {
			return // read before a change another request has seen
		}
		c.epoch, c.byKey = epoch, map[string]*Principal{}
	}
	c.byKey[p.Key.ID] = p
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"org":  map[string]any{"id": p.Org.ID, "name": p.Org.Name, "kind": p.Org.Kind},
		"key":  map[string]any{"id": p.Key.ID, "role": p.Key.Role, "expires_at": p.Key.ExpiresAt},
		"role": p.Key.Role,
	})
	return nil
}

// orgCache keeps organisation names for rendering; organisations change
// rarely and may be created by `hdn admin` in another process, hence a short
// time to live rather than invalidation.
type orgCache struct {
	st     store.Orgs
	ttl    time.Duration
	now    func() time.Time
	mu     sync.Mutex
	loaded time.Time
	byID   map[string]model.Org
}

func (c *orgCache) get(ctx context.Context, id string) (model.Org, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.byID[id]; ok && c.now().Sub(c.loaded) < c.ttl {
		return o, true
	}
	orgs, err := c.st.ListOrgs(ctx)
	if err != nil {
		o, ok := c.byID[id]
		return o, ok
	}
	c.byID = make(map[string]model.Org, len(orgs))
	for _, o := range orgs {
		c.byID[o.ID] = o
	}
	c.loaded = c.now()
	o, ok := c.byID[id]
	return o, ok
}

func (c *orgCache) name(ctx context.Context, id string) string {
	if o, ok := c.get(ctx, id); ok {
		return o.Name
	}
	return id
}
