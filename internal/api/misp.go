package api

// The MISP-compatible REST API: the endpoints that MISP tools and PyMISP
// scripts call, where MISP has them (/events/…, /attributes/…), with MISP's
// request and response shapes, MISP's raw-key authentication and MISP's
// error bodies. It is a view of the hub, not a second store: every read
// goes through the store with the caller's viewer and policy.CanSee, and
// every write through the same checks as the native API (docs/MISP.md,
// "REST API").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MISPPrefixes are the path prefixes the MISP-compatible API serves; the hub
// mounts MISP() on each.
var MISPPrefixes = []string{"/servers/", "/users/", "/events/", "/attributes/", "/sightings/", "/tags/"}

// mispRoute is one endpoint of the MISP-compatible API.
type mispRoute struct {
	methods []string // HEAD is allowed where GET is
	pattern string   // a net/http pattern without method
	handler func(s *Server, w http.ResponseWriter, r *http.Request, p *Principal) error
	// search marks the endpoints that may read through many indicators:
	// they share a few slots, at most half of them one organisation's, and
	// a deadline (mispSearchSlots, mispSearchTimeout), so that no key can
	// tie the hub up. A slot is held only while the answer is computed
	// (searchSlots).
	search bool
}

// Bounds of the MISP searches.
const (
	mispSearchSlots   = 4                // at once, across all callers; half of them for one organisation
	mispSearchWait    = 10 * time.Second // for a free slot, then 503 (429: the organisation's share is taken)
	mispSearchTimeout = 60 * time.Second // for one search, then 400: narrow it
)

// mispRoutes lists every endpoint. A path may end in ".json", as MISP
// allows (PyMISP asks for attributes/describeTypes.json).
var mispRoutes = []mispRoute{
	{[]string{"GET"}, "/servers/getVersion", (*Server).mispGetVersion, false},
	{[]string{"GET"}, "/servers/getPyMISPVersion", (*Server).mispGetPyMISPVersion, false},
	{[]string{"GET"}, "/users/view/{id}", (*Server).mispUserView, false},
	{[]string{"POST"}, "/events/add", (*Server).mispEventAdd, false},
	{[]string{"POST"}, "/events/add/{opts...}", (*Server).mispEventAdd, false},
	{[]string{"GET", "POST"}, "/events/view/{id}", (*Server).mispEventView, true},
	{[]string{"GET", "POST"}, "/events/index", (*Server).mispEventIndex, true},
	{[]string{"POST"}, "/events/restSearch", (*Server).mispEventSearch, true},
	{[]string{"POST"}, "/attributes/restSearch", (*Server).mispAttributeSearch, true},
	{[]string{"GET"}, "/attributes/describeTypes", (*Server).mispDescribeTypes, false},
	{[]string{"POST"}, "/sightings/add", (*Server).mispSightingAdd, false},
	{[]string{"POST"}, "/sightings/add/{id}", (*Server).mispSightingAdd, false},
	{[]string{"POST"}, "/tags/attachTagToObject", (*Server).mispAttachTag, false},
}

// MISPRoutes lists the method and path of every MISP endpoint, for
// documentation tests.
func MISPRoutes() [][2]string {
	var out [][2]string
	for _, rt := range mispRoutes {
		for _, m := range rt.methods {
			out = append(out, [2]string{m, rt.pattern})
		}
	}
	return out
}

// MISP is the MISP-compatible API, to be mounted on MISPPrefixes.
func (s *Server) MISP() http.Handler { return s.misp }

// newMISPMux builds the MISP-compatible API's routes for s.
func newMISPMux(s *Server) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range mispRoutes {
		h := mispHandle(s, rt)
		mux.Handle(rt.pattern, h)
		if !strings.Contains(rt.pattern, "{") {
			mux.Handle(rt.pattern+".json", h)
		}
	}
	// Anything else under the MISP prefixes gets MISP's error body.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.mispAuthenticate(r); err != nil {
			s.writeMISPError(w, r, err)
			return
		}
		s.writeMISPError(w, r, mispErr(http.StatusNotFound, "Not Found", "The requested address '"+clipPath(r.URL.Path)+"' was not found on this server."))
	})
	return mux
}

func mispHandle(s *Server, rt mispRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// MISP checks the key before anything else.
		p, err := s.mispAuthenticate(r)
		if err != nil {
			s.writeMISPError(w, r, err)
			return
		}
		allowed := false
		for _, m := range rt.methods {
			if r.Method == m || (r.Method == http.MethodHead && m == http.MethodGet) {
				allowed = true
			}
		}
		if !allowed {
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
			s.writeMISPError(w, r, mispErr(http.StatusMethodNotAllowed, "Method Not Allowed",
				"This method is only accessible via "+strings.Join(rt.methods, " or ")+" requests."))
			return
		}
		if !rt.search {
			if err := rt.handler(s, w, r, p); err != nil {
				s.writeMISPError(w, r, err)
			}
			return
		}
		// A search reads its body before it takes a slot, and gives the
		// slot back once its answer is computed, before writing it: a
		// client that sends or reads slowly holds no slot.
		params, err := s.readMISPParams(w, r)
		if err != nil {
			s.writeMISPError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), mispParamsKey{}, params))
		release, err := s.mispSearches.acquire(r.Context(), p.Org.ID, s.mispSearchWait)
		if err != nil {
			s.writeMISPError(w, r, err)
			return
		}
		answer := newBufferedResponse()
		err = func() error {
			// Deferred, so that a panic in the search gives the slot back too.
			defer release()
			ctx, cancel := context.WithTimeout(r.Context(), s.mispSearchTimeout)
			defer cancel()
			return rt.handler(s, answer, r.WithContext(ctx), p)
		}()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = mispBad("the search read for more than %s; narrow it (value, type, last, eventid) or page through it with limit and page", s.mispSearchTimeout)
			}
			s.writeMISPError(w, r, err)
			return
		}
		answer.writeTo(w)
	})
}

// mispAuthMessage is what MISP answers to a missing or wrong key.
const mispAuthMessage = "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."

var errMISPAuth = mispErr(http.StatusForbidden, mispAuthMessage, mispAuthMessage)

// mispAuthenticate reads the key as MISP tools send it: the raw key in
// Authorization (or X-MISP-AUTH, which PyMISP can use), or "Bearer <key>".
// Every failure looks alike.
func (s *Server) mispAuthenticate(r *http.Request) (*Principal, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		h = strings.TrimSpace(r.Header.Get("X-MISP-AUTH"))
	}
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		h = strings.TrimSpace(t)
	}
	if h == "" {
		return nil, errMISPAuth
	}
	p, err := s.principalForKey(r.Context(), h)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && !isRateLimited(err) {
			return nil, errMISPAuth
		}
		return nil, err
	}
	return p, nil
}

// mispError is an error in MISP's shape: {"name", "message", "url"}, with
// MISP's status code.
type mispError struct {
	status  int
	name    string
	message string
	errors  any // MISP's "errors" member, when it sends one
}

func (e *mispError) Error() string { return e.message }

func mispErr(status int, name, message string) *mispError {
	return &mispError{status: status, name: name, message: message}
}

// mispBad is MISP's answer to a request it cannot use.
func mispBad(format string, args ...any) *mispError {
	msg := fmt.Sprintf(format, args...)
	return mispErr(http.StatusBadRequest, msg, msg)
}

// mispForbidden is MISP's answer when a role lacks a permission.
func mispForbidden(msg string) *mispError {
	if msg == "" {
		msg = "You do not have permission to use this functionality."
	}
	return mispErr(http.StatusForbidden, msg, msg)
}

func mispNotFound(name string) *mispError { return mispErr(http.StatusNotFound, name, name) }

// writeMISPError renders any error as MISP does. An error that is not the
// client's becomes a 500 that says nothing of the cause.
func (s *Server) writeMISPError(w http.ResponseWriter, r *http.Request, err error) {
	if s.writeRateLimited(w, r, err) {
		return
	}
	var me *mispError
	err = s.storageFull(r, err)
	var ae *Error
	switch {
	case errors.As(err, &me):
	case errors.As(err, &ae):
		status := ae.Status
		if status == http.StatusUnauthorized {
			me = errMISPAuth
			break
		}
		me = mispErr(status, ae.Message, ae.Message)
	default:
		s.log.ErrorContext(r.Context(), "MISP API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		me = mispErr(http.StatusInternalServerError, "An Internal Error Has Occurred.", "An Internal Error Has Occurred.")
	}
	body := map[string]any{"name": me.name, "message": me.message, "url": clipPath(r.URL.Path)}
	if me.errors != nil {
		body["errors"] = me.errors
	}
	writeJSON(w, me.status, body)
}

// readBody reads a whole request body of at most limit bytes (and never
// more than Limits.MaxBodyBytes); an empty body is nil.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(s.bodyUpTo(w, r, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, mispErr(http.StatusRequestEntityTooLarge, "Request Entity Too Large",
				fmt.Sprintf("the request body is larger than the limit of %d bytes for %s", tooBig.Limit, clipPath(r.URL.Path)))
		}
		var ae *Error
		if errors.As(err, &ae) {
			return nil, mispBad("%s", ae.Message)
		}
		return nil, err
	}
	return b, nil
}

// mispParams are the parameters of a MISP request body: a JSON object,
// optionally wrapped in {"request": …} as MISP accepts. Unknown members are
// tolerated, as MISP does.
type mispParams map[string]json.RawMessage

// mispParamsKey carries the parameters of a search, read before it took
// its slot, to its handler.
type mispParamsKey struct{}

// readMISPParams reads the body of a search or action (at most
// MaxSmallBodyBytes), or takes the parameters mispHandle read already. An
// empty body is no parameters.
func (s *Server) readMISPParams(w http.ResponseWriter, r *http.Request) (mispParams, error) {
	if p, ok := r.Context().Value(mispParamsKey{}).(mispParams); ok {
		return p, nil
	}
	b, err := s.readBody(w, r, MaxSmallBodyBytes)
	if err != nil {
		return nil, err
	}
	return parseMISPParams(b)
}

func parseMISPParams(b []byte) (mispParams, error) {
	t := strings.TrimSpace(string(b))
	if t == "" {
		return mispParams{}, nil
	}
	var p mispParams
	if err := json.Unmarshal([]byte(t), &p); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, mispBad("Invalid JSON: the request body is not valid JSON at byte offset %d: %s", syn.Offset, syn.Error())
		case errors.As(err, &typ):
			return nil, mispBad("Invalid JSON: the request body must be a JSON object, got %s", typ.Value)
		}
		return nil, mispBad("Invalid JSON: %s", err.Error())
	}
	if p == nil {
		return mispParams{}, nil
	}
	if inner, ok := p["request"]; ok && len(p) == 1 {
		var q mispParams
		if err := json.Unmarshal(inner, &q); err == nil && q != nil {
			return q, nil
		}
	}
	return p, nil
}

func (p mispParams) present(key string) bool {
	raw, ok := p[key]
	return ok && strings.TrimSpace(string(raw)) != "null"
}

// str reads a string parameter, taking a number as its text.
func (p mispParams) str(key string) (string, bool, error) {
	if !p.present(key) {
		return "", false, nil
	}
	v, err := scalarString(p[key])
	if err != nil {
		return "", false, mispBad("parameter %q: %s", key, err.Error())
	}
	return v, true, nil
}

// boolean reads a flag as MISP does: true/false, 1/0, "1"/"0",
// "true"/"false"; "" is unset.
func (p mispParams) boolean(key string) (value, set bool, err error) {
	if !p.present(key) {
		return false, false, nil
	}
	var b bool
	if json.Unmarshal(p[key], &b) == nil {
		return b, true, nil
	}
	s, err := scalarString(p[key])
	if err != nil {
		return false, false, mispBad("parameter %q must be true or false, 1 or 0", key)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return false, false, nil
	case "1", "true":
		return true, true, nil
	case "0", "false":
		return false, true, nil
	}
	return false, false, mispBad("parameter %q must be true or false, 1 or 0, not %q", key, clip(s))
}

// integer reads a whole number given as a number or a string.
func (p mispParams) integer(key string) (int64, bool, error) {
	s, ok, err := p.str(key)
	if err != nil || !ok || strings.TrimSpace(s) == "" {
		return 0, false, err
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if perr != nil {
		return 0, false, mispBad("parameter %q must be a whole number, not %q", key, clip(s))
	}
	return n, true, nil
}

// scalarString reads a JSON string or number as text.
func scalarString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if b {
			return "1", nil
		}
		return "0", nil
	}
	return "", errors.New("must be a string or a number")
}

// mispFilter is a MISP search filter: values to match any of (OR), all of
// (AND) and none of (NOT).
type mispFilter struct {
	OR, AND, NOT []string
}

// Limits on filters, so that a request cannot make the hub compare a
// value against millions of terms.
const (
	maxFilterTerms = 1000
	maxTermLen     = 4096
)

// filter reads a MISP filter in any of the forms MISP accepts: a string (a
// leading "!" negates it; "a||b" is OR, "a&&b" is AND), a number, a list of
// those, or {"OR": […], "AND": […], "NOT": […]}.
func (p mispParams) filter(key string) (*mispFilter, error) {
	if !p.present(key) {
		return nil, nil
	}
	f, err := parseMISPFilter(p[key])
	if err != nil {
		return nil, mispBad("parameter %q: %s", key, err.Error())
	}
	if f.empty() {
		return nil, nil
	}
	return f, nil
}

func parseMISPFilter(raw json.RawMessage) (*mispFilter, error) {
	f := &mispFilter{}
	var list []json.RawMessage
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(raw, &list) == nil:
		for _, it := range list {
			s, err := scalarString(it)
			if err != nil {
				return nil, errors.New("a list of filter values must hold strings or numbers")
			}
			f.addTerm(s, &f.OR)
		}
	case json.Unmarshal(raw, &obj) == nil:
		for k, v := range obj {
			var dst *[]string
			switch strings.ToUpper(k) {
			case "OR":
				dst = &f.OR
			case "AND":
				dst = &f.AND
			case "NOT":
				dst = &f.NOT
			default:
				return nil, fmt.Errorf("unknown filter member %q (expected OR, AND, NOT)", clip(k))
			}
			var vs []json.RawMessage
			if json.Unmarshal(v, &vs) != nil {
				vs = []json.RawMessage{v}
			}
			for _, it := range vs {
				s, err := scalarString(it)
				if err != nil {
					return nil, fmt.Errorf("%s must hold strings or numbers", strings.ToUpper(k))
				}
				if strings.HasPrefix(s, "!") && dst != &f.NOT {
					f.addTerm(s, dst)
					continue
				}
				*dst = append(*dst, strings.TrimSpace(s))
			}
		}
	default:
		s, err := scalarString(raw)
		if err != nil {
			return nil, errors.New("must be a string, a number, a list or {\"OR\": …, \"AND\": …, \"NOT\": …}")
		}
		switch {
		case strings.Contains(s, "&&"):
			for _, part := range strings.Split(s, "&&") {
				f.addTerm(part, &f.AND)
			}
		default:
			for _, part := range strings.Split(s, "||") {
				f.addTerm(part, &f.OR)
			}
		}
	}
	if n := len(f.OR) + len(f.AND) + len(f.NOT); n > maxFilterTerms {
		return nil, fmt.Errorf("%d values, at most %d allowed", n, maxFilterTerms)
	}
	for _, l := range [][]string{f.OR, f.AND, f.NOT} {
		for _, t := range l {
			if len(t) > maxTermLen {
				return nil, fmt.Errorf("a value is longer than %d bytes", maxTermLen)
			}
		}
	}
	return f, nil
}

// addTerm adds one value to dst, or to NOT when it starts with "!".
func (f *mispFilter) addTerm(s string, dst *[]string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		if rest = strings.TrimSpace(rest); rest != "" {
			f.NOT = append(f.NOT, rest)
		}
		return
	}
	*dst = append(*dst, s)
}

func (f *mispFilter) empty() bool { return f == nil || len(f.OR)+len(f.AND)+len(f.NOT) == 0 }

// match says whether the filter admits an item, given a function that says
// whether the item matches one term.
func (f *mispFilter) match(matches func(term string) bool) bool {
	if f.empty() {
		return true
	}
	for _, t := range f.NOT {
		if matches(t) {
			return false
		}
	}
	for _, t := range f.AND {
		if !matches(t) {
			return false
		}
	}
	if len(f.OR) == 0 {
		return true
	}
	for _, t := range f.OR {
		if matches(t) {
			return true
		}
	}
	return false
}

// likeMatch compares as MISP does: case-insensitively, with "%" matching
// any run of characters.
func likeMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	if !strings.Contains(pattern, "%") {
		return pattern == s
	}
	parts := strings.Split(pattern, "%")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, last)
}

// mispTime reads a MISP time filter value: unix seconds, a date
// (YYYY-MM-DD), an RFC 3339 time, or a duration back from now ("5d", "12h",
// "30m", "45s", "2w").
func mispTime(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, errors.New("empty time")
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "dhmsw") {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("timestamp %q is out of range", clip(v))
		}
		return time.Unix(int64(n), 0).UTC(), nil
	}
	if len(v) > 1 {
		unit := v[len(v)-1]
		if n, err := strconv.ParseInt(v[:len(v)-1], 10, 64); err == nil && n >= 0 && n < 1<<31 {
			var d time.Duration
			switch unit {
			case 's':
				d = time.Second
			case 'm':
				d = time.Minute
			case 'h':
				d = time.Hour
			case 'd':
				d = 24 * time.Hour
			case 'w':
				d = 7 * 24 * time.Hour
			}
			if d != 0 {
				return now.Add(-time.Duration(n) * d), nil
			}
		}
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not unix seconds, a date (2026-01-02) or a time back from now (5d, 12h, 30m)", clip(v))
}

// mispTimeRange reads a time filter: one value (at or after) or a list of
// two (from, to).
func (p mispParams) timeRange(key string, now time.Time) (from, to time.Time, err error) {
	if !p.present(key) {
		return
	}
	var list []json.RawMessage
	if json.Unmarshal(p[key], &list) == nil {
		if len(list) == 0 {
			return
		}
		if len(list) != 2 {
			return from, to, mispBad("parameter %q must be one time or a list of two", key)
		}
		for i, raw := range list {
			s, serr := scalarString(raw)
			if serr != nil || strings.TrimSpace(s) == "" {
				if raw != nil && strings.TrimSpace(string(raw)) == "null" {
					continue
				}
				return from, to, mispBad("parameter %q: %v", key, serr)
			}
			t, terr := mispTime(s, now)
			if terr != nil {
				return from, to, mispBad("parameter %q: %s", key, terr.Error())
			}
			if i == 0 {
				from = t
			} else {
				to = t
			}
		}
		return
	}
	s, serr := scalarString(p[key])
	if serr != nil {
		return from, to, mispBad("parameter %q: %s", key, serr.Error())
	}
	if strings.TrimSpace(s) == "" {
		return
	}
	from, err = mispTime(s, now)
	if err != nil {
		return from, to, mispBad("parameter %q: %s", key, err.Error())
	}
	return
}

// writeMISPJSON writes a MISP response.
func writeMISPJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, v)
}
