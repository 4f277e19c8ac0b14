// Package session is the web UI's authentication layer: password hashing
// (argon2id) and policy, sign-in with a brute-force limit, cookie sessions
// kept in a store.Users, and protection against cross-site request forgery
// (a per-session token and a same-origin check). It is pure apart from
// crypto and the store it is given.
//
// A session cookie is "<id>.<secret>": the id is public (it names the
// session in the store), the secret carries 256 bits from crypto/rand and
// the store keeps only its SHA-256 hash, compared in constant time, as for
// API keys (package auth). The cookie is HttpOnly, SameSite=Strict, Path=/
// and, when Options.Secure, Secure.
//
// Nothing here logs or returns a password, hash, session secret or CSRF
// token in an error.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// Errors; test with errors.Is.
var (
	// ErrBadCredentials is the one answer for an unknown e-mail address and
	// a wrong password alike.
	ErrBadCredentials = errors.New("session: wrong e-mail address or password")
	// ErrLocked means too many failed sign-ins for the address.
	ErrLocked = errors.New("session: too many failed sign-ins for this address: try again in 15 minutes")
	// ErrDisabled means the password was right but the user is disabled
	// or its organisation may not sign in (revoked, pending, suspended).
	// It is only ever returned after a correct password.
	ErrDisabled = errors.New("session: this account or its organisation is disabled")
	// ErrNoSession means the request carries no valid session (none,
	// malformed, unknown, wrong secret, expired, idle, or its user disabled).
	ErrNoSession = errors.New("session: not signed in")
	// ErrCSRF means a state-changing request failed the CSRF token or
	// same-origin check.
	ErrCSRF = errors.New("session: cross-site request refused")
)

// Defaults of Options.
const (
	DefaultLifetime   = 12 * time.Hour
	DefaultIdle       = 30 * time.Minute
	DefaultCookieName = "hdn_session"

	// touchEvery bounds how often Load writes LastSeen.
	touchEvery = time.Minute
)

// The brute-force limit: after MaxFailures failed sign-ins for an address
// within FailWindow, sign-ins for it are refused for LockFor.
const (
	MaxFailures = 5
	FailWindow  = 15 * time.Minute
	LockFor     = 15 * time.Minute
)

// Limit is the brute-force limit as the store keeps it: in the database, so
// that every replica counts the same failures and a restart forgets none.
var Limit = store.SignInLimit{Max: MaxFailures, Window: FailWindow, LockFor: LockFor}

// Options configure a Manager; zero values take the defaults.
type Options struct {
	Lifetime   time.Duration // absolute lifetime of a session (12 h)
	Idle       time.Duration // a session unused this long ends (30 min)
	Secure     bool          // mark the cookie Secure (set it whenever the UI is served over HTTPS)
	CookieName string        // "hdn_session"
	Now        func() time.Time
	// OrgUsable says whether users of an organisation may sign in and keep
	// their sessions (typically model.Org.Usable); nil lets every
	// organisation in.
	OrgUsable func(ctx context.Context, orgID string) (bool, error)
}

// Manager signs users in and out and checks their sessions. It is safe for
// concurrent use.
type Manager struct {
	st   store.Users
	opts Options

	dummyOnce sync.Once
	dummy     string
}

// New returns a Manager over st.
func New(st store.Users, opts Options) *Manager {
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdle
	}
	if opts.CookieName == "" {
		opts.CookieName = DefaultCookieName
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{st: st, opts: opts}
	go m.dummyHash() // ready before the first unknown address comes
	return m
}

// dummyHash is a hash of a random password with the current parameters,
// checked when the e-mail address is unknown so that the answer takes as
// long as for a known one.
func (m *Manager) dummyHash() string {
	m.dummyOnce.Do(func() {
		m.dummy, _ = HashPassword(rand.Text())
	})
	return m.dummy
}

// normEmail is how e-mail addresses are compared.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SignIn checks an e-mail address and password and, when they are right,
// starts a session and sets its cookie on w. It takes about as long whether
// the address is known or not, and answers ErrBadCredentials for both;
// ErrLocked after too many failures for the address; ErrDisabled when the
// user or its organisation may not sign in.
func (m *Manager) SignIn(ctx context.Context, w http.ResponseWriter, email, password string) (model.User, error) {
	email = normEmail(email)
	now := m.opts.Now()
	// A sign-in in progress counts as a failure until it is settled, so
	// that concurrent guesses (on any replica) cannot pass the limit. The
	// settling outlives a client that goes away meanwhile.
	key := signInKey(email)
	attempt, ok, err := m.st.BeginSignIn(ctx, key, now, Limit)
	if err != nil {
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	}
	if !ok {
		return model.User{}, ErrLocked
	}
	settle := context.WithoutCancel(ctx)
	// A failure the store could not confirm still counts: its tentative
	// failure stays until it ages out.
	fail := func() { _ = m.st.FailSignIn(settle, key, now, Limit) }
	u, err := m.st.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = CheckPassword(m.dummyHash(), password)
		fail()
		return model.User{}, ErrBadCredentials
	}
	if err != nil {
		_ = m.st.AbortSignIn(settle, key, attempt)
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	}
	ok, err = CheckPassword(u.PasswordHash, password)
	if err != nil {
		_ = m.st.AbortSignIn(settle, key, attempt)
		return model.User{}, fmt.Errorf("session: sign in: the stored hash of user %s: %w", u.ID, err)
	}
	if !ok {
		fail()
		return model.User{}, ErrBadCredentials
	}
	if err := m.st.ForgetSignIns(settle, key); err != nil {
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	}
	if u.Disabled {
		return model.User{}, ErrDisabled
	}
	if usable, err := m.orgUsable(ctx, u.OrgID); err != nil {
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	} else if !usable {
		return model.User{}, ErrDisabled
	}

	id, secret, csrf := token(16), token(32), token(32)
	s := model.Session{ID: id, Hash: hashSecret(secret), UserID: u.ID, CSRF: csrf,
		Created: now, Expires: now.Add(m.opts.Lifetime), LastSeen: now}
	if err := m.st.CreateSession(ctx, s); err != nil {
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	}
	if err := m.st.TouchUserSignIn(ctx, u.ID, now); err != nil {
		return model.User{}, fmt.Errorf("session: sign in: %w", err)
	}
	// A hash made with weaker parameters than today's (DefaultParams were
	// raised since) is made again now that the password is at hand. A
	// failure keeps the old hash, which still works: no reason to refuse
	// the sign-in.
	if NeedsRehash(u.PasswordHash) {
		if h, err := HashPassword(password); err == nil && m.st.RehashPassword(settle, u.ID, u.PasswordHash, h) == nil {
			u.PasswordHash = h
		}
	}
	u.LastSignIn = now
	// Sign-ins are rare enough to sweep expired sessions at each; a
	// failure here is no reason to refuse the sign-in.
	_, _ = m.st.DeleteExpiredSessions(ctx, now)
	http.SetCookie(w, m.cookie(id+"."+secret, int(m.opts.Lifetime/time.Second), s.Expires))
	return u, nil
}

func (m *Manager) orgUsable(ctx context.Context, orgID string) (bool, error) {
	if m.opts.OrgUsable == nil {
		return true, nil
	}
	return m.opts.OrgUsable(ctx, orgID)
}

func (m *Manager) cookie(value string, maxAge int, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name: m.opts.CookieName, Value: value, Path: "/",
		MaxAge: maxAge, Expires: expires,
		HttpOnly: true, Secure: m.opts.Secure, SameSite: http.SameSiteStrictMode,
	}
}

// Ends says when session s ends unless it is used again: at its absolute
// expiry, or when it has been idle for Options.Idle, whichever comes first.
func (m *Manager) Ends(s model.Session) time.Time {
	idle := s.LastSeen.Add(m.opts.Idle)
	if idle.Before(s.Expires) {
		return idle
	}
	return s.Expires
}

// SessionEnds says whether session id goes on at now, and until when unless
// it is used again (Ends): a session signed out, expired, idle too long or
// ended by a password change has ended. It reads the session only (an open
// stream's check); a failed read other than "not found" counts as going on
// for another minute, so that a passing database error does not sign users
// out.
func (m *Manager) SessionEnds(ctx context.Context, id string, now time.Time) (time.Time, bool) {
	s, err := m.st.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, false
	}
	if err != nil {
		return now.Add(time.Minute), true
	}
	ends := m.Ends(s)
	return ends, now.Before(ends)
}

// Load returns the session of a request and its user: the cookie's secret
// must match (constant time), the session must be neither expired nor idle
// for Options.Idle, and the user neither disabled nor of an organisation
// that may not sign in (such sessions are deleted). It writes LastSeen at
// most once a minute. ErrNoSession (wrapped with the reason) when there is
// no valid session.
func (m *Manager) Load(r *http.Request) (model.Session, model.User, error) {
	ctx := r.Context()
	s, err := m.lookup(r)
	if err != nil {
		return model.Session{}, model.User{}, err
	}
	now := m.opts.Now()
	end := func(why string) (model.Session, model.User, error) {
		_ = m.st.DeleteSession(ctx, s.ID)
		return model.Session{}, model.User{}, fmt.Errorf("%w: %s", ErrNoSession, why)
	}
	if !now.Before(s.Expires) {
		return end("the session expired")
	}
	if now.Sub(s.LastSeen) >= m.opts.Idle {
		return end("the session was idle too long")
	}
	u, err := m.st.UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return end("no such user")
	}
	if err != nil {
		return model.Session{}, model.User{}, fmt.Errorf("session: load: %w", err)
	}
	if u.Disabled {
		return end("the user is disabled")
	}
	if usable, err := m.orgUsable(ctx, u.OrgID); err != nil {
		return model.Session{}, model.User{}, fmt.Errorf("session: load: %w", err)
	} else if !usable {
		return end("the organisation may not sign in")
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		switch err := m.st.TouchSession(ctx, s.ID, now); {
		case errors.Is(err, store.ErrNotFound):
			return model.Session{}, model.User{}, fmt.Errorf("%w: the session ended", ErrNoSession)
		case errors.Is(err, store.ErrFull):
			// A full database refuses writes, not reads: the session
			// goes on, its idle time counted from the last use stored.
		case err != nil:
			return model.Session{}, model.User{}, fmt.Errorf("session: load: %w", err)
		default:
			s.LastSeen = now
		}
	}
	return s, u, nil
}

// lookup finds the session the request's cookie names and checks its
// secret.
func (m *Manager) lookup(r *http.Request) (model.Session, error) {
	c, err := r.Cookie(m.opts.CookieName)
	if err != nil {
		return model.Session{}, fmt.Errorf("%w: no cookie", ErrNoSession)
	}
	id, secret, ok := parseCookie(c.Value)
	if !ok {
		return model.Session{}, fmt.Errorf("%w: a malformed cookie", ErrNoSession)
	}
	s, err := m.st.Session(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return model.Session{}, fmt.Errorf("%w: no such session", ErrNoSession)
	}
	if err != nil {
		return model.Session{}, fmt.Errorf("session: load: %w", err)
	}
	if subtle.ConstantTimeCompare(s.Hash, hashSecret(secret)) != 1 {
		return model.Session{}, fmt.Errorf("%w: a wrong secret", ErrNoSession)
	}
	return s, nil
}

// SignOut ends the request's session (when its cookie is valid) and clears
// the cookie on w in any case.
func (m *Manager) SignOut(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, m.cookie("", -1, time.Unix(1, 0)))
	s, err := m.lookup(r.WithContext(ctx))
	if errors.Is(err, ErrNoSession) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := m.st.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("session: sign out: %w", err)
	}
	return nil
}

// CheckCSRF checks the CSRF token of a state-changing request against its
// session: the header X-CSRF-Token, or else the form field "csrf" of the
// body (never the URL), compared in constant time. Callers should bound
// the body (http.MaxBytesReader) before, as it may parse the form.
func CheckCSRF(r *http.Request, s model.Session) error {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	if tok == "" || s.CSRF == "" {
		return fmt.Errorf("%w: no CSRF token", ErrCSRF)
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) != 1 {
		return fmt.Errorf("%w: a wrong CSRF token", ErrCSRF)
	}
	return nil
}

// RequireSameOrigin refuses a state-changing request (any method but GET,
// HEAD, OPTIONS and TRACE) whose Origin header, or when there is none its
// Referer, names another host than the request's Host (host and port
// compared; a missing or "null" origin is refused too). Behind a proxy the
// Host header must be passed on unchanged.
func RequireSameOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	from, what := r.Header.Get("Origin"), "Origin"
	if from == "" {
		from, what = r.Header.Get("Referer"), "Referer"
	}
	if from == "" {
		return fmt.Errorf("%w: neither Origin nor Referer", ErrCSRF)
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: an unreadable %s", ErrCSRF, what)
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("%w: %s %s is not this site", ErrCSRF, what, u.Host)
	}
	return nil
}

var tokEnc = base64.RawURLEncoding

// token returns n random bytes, base64url without padding.
func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return tokEnc.EncodeToString(b)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Lengths of the cookie's parts: 16 and 32 bytes in base64url.
var (
	idLen     = tokEnc.EncodedLen(16)
	secretLen = tokEnc.EncodedLen(32)
)

// parseCookie splits "id.secret" and checks both parts' form.
func parseCookie(v string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(v, ".")
	if !ok || len(id) != idLen || len(secret) != secretLen {
		return "", "", false
	}
	for _, part := range []string{id, secret} {
		// Re-encoding refuses what the decoder skips (line breaks).
		if b, err := tokEnc.Strict().DecodeString(part); err != nil || tokEnc.EncodeToString(b) != part {
			return "", "", false
		}
	}
	return id, secret, true
}

// signInKey is what the store keeps of an address for the brute-force
// limit: a hash, so that the addresses someone tried are not kept.
func signInKey(email string) string {
	sum := sha256.Sum256([]byte("hdn sign-in limit\x00" + email))
	return hex.EncodeToString(sum[:])
}
