// Package web is the hub's web UI: server-rendered pages under /ui/ for
// analysts and the coordinator, with a little progressive enhancement
// (static/hdn.js) and no build step.
//
// Every page reads and writes through the native API in-process, as the
// signed-in user (api.Server.PrincipalForUser, Do and ServeAs), so that the
// UI goes through exactly the API's checks, sharing-policy filters and
// audit. The UI never reads indicators, reports or sightings from the store.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/web/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires the UI.
type Config struct {
	API      *api.Server
	Sessions *session.Manager
	HubName  string
	Logger   *slog.Logger
	Now      func() time.Time
}

// ContentSecurityPolicy is sent with every answer of the UI.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// ReferrerPolicy is sent with every answer of the UI. It is "same-origin",
// not "no-referrer": under "no-referrer" browsers send "Origin: null" with
// every form POST (Fetch's "serializing a request origin"; Chromium does), and
// session.RequireSameOrigin rightly refuses that, so no form would work.
// "same-origin" still sends nothing — no URL, no indicator value in a query —
// to any other site.
const ReferrerPolicy = "same-origin"

// Limits of what a browser sends.
const (
	maxFormBytes   = 8 << 20  // a pasted text (the API takes 4 MiB of text) and its fields
	maxUploadBytes = 64 << 20 // an uploaded file
	pageSize       = 50       // rows asked of the API per page
)

type app struct {
	api   *api.Server
	sess  *session.Manager
	hub   string
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
}

// New returns the UI's handler. It serves /ui/… and redirects / to /ui/.
func New(cfg Config) http.Handler {
	a := &app{api: cfg.API, sess: cfg.Sessions, hub: cfg.HubName, log: cfg.Logger, now: cfg.Now}
	if a.hub == "" {
		a.hub = "hdn"
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.pages = parseTemplates()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", staticHandler(http.FileServerFS(static))))

	mux.HandleFunc("GET /ui/signin", a.signInPage)
	mux.HandleFunc("POST /ui/signin", a.signIn)
	mux.HandleFunc("POST /ui/signout", a.signOut)

	a.handle(mux, "GET /ui/{$}", a.dashboard)
	a.handle(mux, "GET /ui/stream", a.stream)
	a.handle(mux, "GET /ui/indicators", a.search)
	a.handle(mux, "GET /ui/indicators/{id}", a.indicatorPage)
	a.handle(mux, "POST /ui/indicators/{id}/revoke", a.revoke)
	a.handle(mux, "POST /ui/indicators/{id}/release", a.release)
	a.handle(mux, "GET /ui/export/{format}", a.export)
	a.handle(mux, "GET /ui/reports", a.reports)
	a.handle(mux, "GET /ui/reports/{id}", a.reportPage)
	a.handle(mux, "GET /ui/submit", a.submitPage)
	a.handle(mux, "POST /ui/submit/single", a.submitSingle)
	a.handle(mux, "POST /ui/submit/preview", a.submitPreview)
	a.handle(mux, "POST /ui/submit/text", a.submitText)
	a.handle(mux, "POST /ui/submit/upload", a.submitUpload)
	a.handle(mux, "GET /ui/orgs", a.orgs)
	a.handle(mux, "POST /ui/orgs/{id}/approve", a.approveOrg)
	a.handle(mux, "GET /ui/queue", a.queue)
	a.handle(mux, "POST /ui/queue/{id}/approve", a.decideProposal("approve"))
	a.handle(mux, "POST /ui/queue/{id}/reject", a.decideProposal("reject"))
	a.handle(mux, "GET /ui/audit", a.audit)
	a.handle(mux, "GET /ui/alerts", a.alerts)
	a.handle(mux, "GET /ui/coverage", a.coverage)
	a.handle(mux, "GET /ui/settings", a.settingsPage)
	a.handle(mux, "POST /ui/settings/users", a.settingsAddUser)
	a.handle(mux, "POST /ui/settings/users/{id}/disable", a.settingsUser("disable"))
	a.handle(mux, "POST /ui/settings/users/{id}/enable", a.settingsUser("enable"))
	a.handle(mux, "POST /ui/settings/keys", a.settingsAddKey)
	a.handle(mux, "POST /ui/settings/keys/{id}/revoke", a.settingsRevokeKey)
	a.handle(mux, "POST /ui/settings/enrolments", a.settingsEnrol)
	a.handle(mux, "/ui/", func(w http.ResponseWriter, r *http.Request, u *user) {
		a.errorPage(w, r, u, http.StatusNotFound, "No such page.")
	})
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer of the UI carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", ReferrerPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// staticHandler lets the browser keep the embedded files for a while.
func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// notText answers a request whose address or form holds bytes that are not
// text: nothing of hdn can be named so or hold them (see api.IsText).
const notText = "The address or the form holds characters that are not text (invalid UTF-8 or a NUL)."

// formIsText says whether every field of a parsed form (not the content of
// an uploaded file, which its parser reads as it must) is text.
func formIsText(r *http.Request) bool {
	fields := []url.Values{r.Form}
	if r.MultipartForm != nil {
		fields = append(fields, r.MultipartForm.Value)
	}
	for _, f := range fields {
		for k, vs := range f {
			if !api.IsText(k) {
				return false
			}
			for _, v := range vs {
				if !api.IsText(v) {
					return false
				}
			}
		}
	}
	return true
}

// user is the signed-in user of a request.
type user struct {
	Session   model.Session
	User      model.User
	P         *api.Principal
	OrgName   string
	Coord     bool
	CanSubmit bool
}

type handler func(w http.ResponseWriter, r *http.Request, u *user)

// handle registers h behind the session: no session redirects to the
// sign-in page; a POST must pass the same-origin and CSRF checks.
func (a *app) handle(mux *http.ServeMux, pattern string, h handler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := api.TextQuery(r.URL.RawQuery); !ok || !api.IsText(r.URL.Path) {
			a.errorPage(w, r, nil, http.StatusBadRequest, notText)
			return
		}
		s, u, err := a.sess.Load(r)
		if err != nil {
			if !errors.Is(err, session.ErrNoSession) {
				a.log.ErrorContext(r.Context(), "web: load session", "err", err)
			}
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/ui/stream") {
				http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
				return
			}
			a.errorPage(w, r, nil, http.StatusUnauthorized, "You are not signed in (or your session ended). Sign in again.")
			return
		}
		p, err := a.api.PrincipalForUser(r.Context(), u)
		if err != nil {
			a.log.WarnContext(r.Context(), "web: principal for user", "user", u.ID, "err", err)
			a.errorPage(w, r, nil, http.StatusForbidden, "Your account may not use the hub now.")
			return
		}
		// What the user opens here (the dashboard's live stream) ends with
		// the session.
		p.Session, p.Sessions, p.SessionEnds = s.ID, a.sess, a.sess.Ends(s)
		cu := &user{Session: s, User: u, P: p, OrgName: p.Org.Name,
			Coord: p.Org.Kind == policy.Coordinator, CanSubmit: p.Key.Role.CanSubmit()}
		if r.Method == http.MethodPost {
			limit := int64(maxFormBytes)
			if strings.HasPrefix(r.URL.Path, "/ui/submit/upload") {
				limit = maxUploadBytes + 1<<20 // the file and the multipart framing
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := session.RequireSameOrigin(r); err != nil {
				a.errorPage(w, r, cu, http.StatusForbidden, "Refused: the request did not come from this site.")
				return
			}
			var perr error
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				perr = r.ParseMultipartForm(32 << 20)
			} else {
				perr = r.ParseForm()
			}
			if perr != nil {
				var mbe *http.MaxBytesError
				if errors.As(perr, &mbe) {
					msg := "The upload is too large: at most 64 MiB."
					if limit == maxFormBytes {
						msg = "The form is too large: at most 8 MiB."
					}
					a.errorPage(w, r, cu, http.StatusRequestEntityTooLarge, msg)
					return
				}
				a.errorPage(w, r, cu, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if r.MultipartForm != nil {
				defer func() { _ = r.MultipartForm.RemoveAll() }()
			}
			if !formIsText(r) {
				a.errorPage(w, r, cu, http.StatusBadRequest, notText)
				return
			}
			if err := session.CheckCSRF(r, s); err != nil {
				a.errorPage(w, r, cu, http.StatusForbidden, "Refused: the form's security token is missing or wrong. Reload the page and try again.")
				return
			}
		}
		h(w, r, cu)
	})
}

// apiError is the API's error envelope.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// call calls the API as u. in (when not nil) is sent as JSON; a 2xx answer
// is decoded into out (when not nil). Any other status is an *apiError.
func (a *app) call(ctx context.Context, u *user, method, target string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return a.callRaw(ctx, u, method, target, body, out)
}

func (a *app) callRaw(ctx context.Context, u *user, method, target string, body []byte, out any) error {
	status, resp := a.api.Do(ctx, u.P, method, target, body)
	if status < 200 || status > 299 {
		var env struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp, &env)
		if env.Error.Message == "" {
			env.Error.Message = http.StatusText(status)
		}
		return &apiError{Status: status, Code: env.Error.Code, Message: env.Error.Message}
	}
	if out != nil && len(resp) > 0 {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("web: decode the answer of %s %s: %w", method, target, err)
		}
	}
	return nil
}

// apiFailed renders an API error as a page with the API's status.
func (a *app) apiFailed(w http.ResponseWriter, r *http.Request, u *user, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		a.errorPage(w, r, u, ae.Status, ae.Message)
		return
	}
	a.log.ErrorContext(r.Context(), "web: api call", "path", r.URL.Path, "err", err)
	a.errorPage(w, r, u, http.StatusInternalServerError, "The hub failed to answer; try again.")
}

// errMessage is an error as a user may read it.
func errMessage(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "the hub failed to answer"
}

// query builds a query string from pairs, leaving out empty values.
func query(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
