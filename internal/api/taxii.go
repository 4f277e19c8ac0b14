package api

// The TAXII 2.1 server (OASIS taxii-v2.1-os): discovery, one API root
// "hdn", one collection "indicators", objects, manifest, versions and
// status, with TAXII's media type, headers and error shape and HTTP Basic
// or Bearer authentication (DESIGN.md section 8, docs/TAXII.md). Like the
// MISP-compatible API it is a view of the hub, not a second store: every
// read goes through the store with the caller's viewer and policy.CanSee,
// every write through the same checks as a native submission.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TAXIIPrefixes are the path prefixes the TAXII server serves; the hub
// mounts TAXII() on each.
var TAXIIPrefixes = []string{"/taxii2/"}

// TAXII media types.
const (
	taxiiMediaType = "application/taxii+json;version=2.1"
	stixMediaType  = "application/stix+json;version=2.1"
)

// The one API root and its two collections.
const (
	taxiiAPIRoot          = "/taxii2/hdn/"
	taxiiCollectionID     = "74141eb7-8275-54de-ae20-ecc45829b793" // UUIDv5(URL, "urn:hdn:taxii:collection:indicators")
	taxiiCollectionAlias  = "indicators"
	taxiiContextID        = "7b8e8a6a-9c8c-51cc-b5c9-00e85aeb6bbe" // UUIDv5(URL, "urn:hdn:taxii:collection:context")
	taxiiContextAlias     = "context"
	taxiiDefaultPageLimit = 100
	taxiiMaxPageLimit     = 1000
)

// taxiiRoute is one endpoint of the TAXII server.
type taxiiRoute struct {
	methods []string // HEAD is allowed where GET is
	pattern string
	handler func(t *taxiiServer, w http.ResponseWriter, r *http.Request, p *Principal) error
}

var taxiiRoutes = []taxiiRoute{
	{[]string{"GET"}, "/taxii2/{$}", (*taxiiServer).discovery},
	{[]string{"GET"}, "/taxii2/hdn/{$}", (*taxiiServer).apiRoot},
	{[]string{"GET"}, "/taxii2/hdn/collections/{$}", (*taxiiServer).collections},
	{[]string{"GET"}, "/taxii2/hdn/collections/{collection}/{$}", (*taxiiServer).collection},
	{[]string{"GET", "POST"}, "/taxii2/hdn/collections/{collection}/objects/{$}", (*taxiiServer).objectsEndpoint},
	{[]string{"GET", "DELETE"}, "/taxii2/hdn/collections/{collection}/objects/{object}/{$}", (*taxiiServer).objectEndpoint},
	{[]string{"GET"}, "/taxii2/hdn/collections/{collection}/objects/{object}/versions/{$}", (*taxiiServer).versions},
	{[]string{"GET"}, "/taxii2/hdn/collections/{collection}/manifest/{$}", (*taxiiServer).manifest},
	{[]string{"GET"}, "/taxii2/hdn/status/{status}/{$}", (*taxiiServer).status},
}

// TAXIIRoutes lists the method and path of every TAXII endpoint, for
// documentation tests.
func TAXIIRoutes() [][2]string {
	var out [][2]string
	for _, rt := range taxiiRoutes {
		for _, m := range rt.methods {
			out = append(out, [2]string{m, strings.TrimSuffix(rt.pattern, "{$}")})
		}
	}
	return out
}

// taxiiServer holds what the TAXII server keeps beyond the store: the
// status resources of recent POSTs.
type taxiiServer struct {
	s   *Server
	mux *http.ServeMux
}

// TAXII is the TAXII 2.1 server, to be mounted on TAXIIPrefixes; built once
// in New, with its status resources.
func (s *Server) TAXII() http.Handler { return s.taxii }

// newTAXIIMux builds the TAXII server of s, with its status resources.
func newTAXIIMux(s *Server) *http.ServeMux {
	t := &taxiiServer{s: s, mux: http.NewServeMux()}
	for _, rt := range taxiiRoutes {
		t.mux.Handle(rt.pattern, t.handle(rt))
	}
	// Anything else under the prefix gets TAXII's error body, after the key
	// is checked, so that a probe learns nothing about the paths.
	t.mux.Handle("/taxii2/", t.handle(taxiiRoute{methods: []string{"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}, handler: func(t *taxiiServer, w http.ResponseWriter, r *http.Request, p *Principal) error {
		return taxiiErr(http.StatusNotFound, "Not Found", "no TAXII resource at "+clipPath(r.URL.Path)+" (paths end in /)")
	}}))
	return t.mux
}

func (t *taxiiServer) handle(rt taxiiRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := t.authenticate(r)
		if err != nil {
			t.writeError(w, r, err)
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
			t.writeError(w, r, taxiiErr(http.StatusMethodNotAllowed, "Method Not Allowed", r.Method+" is not allowed here; allowed: "+strings.Join(rt.methods, ", ")))
			return
		}
		if !acceptsTAXII(r.Header.Values("Accept")) {
			t.writeError(w, r, taxiiErr(http.StatusNotAcceptable, "Not Acceptable", "this server answers with "+taxiiMediaType+"; the Accept header names neither it nor application/taxii+json"))
			return
		}
		if err := rt.handler(t, w, r, p); err != nil {
			t.writeError(w, r, err)
		}
	})
}

// errTAXIIAuth is the answer to a missing or wrong key; every failure looks
// alike.
var errTAXIIAuth = taxiiErr(http.StatusUnauthorized, "Unauthorized", "a valid API key is needed: HTTP Basic with the key as the password (any user name), or Authorization: Bearer <key>")

// authenticate reads the key from HTTP Basic (any user name, the key as the
// password, as the OASIS reference server and TAXII clients do it) or from
// "Bearer <key>".
func (t *taxiiServer) authenticate(r *http.Request) (*Principal, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	var key string
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, errTAXIIAuth
		}
		_, pw, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, errTAXIIAuth
		}
		key = pw
	case "bearer":
		key = cred
	}
	if key == "" {
		return nil, errTAXIIAuth
	}
	p, err := t.s.principalForKey(r.Context(), key)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && !isRateLimited(err) {
			return nil, errTAXIIAuth
		}
		return nil, err
	}
	return p, nil
}

// acceptsTAXII says whether an Accept header admits TAXII 2.1 JSON. No
// header admits anything.
func acceptsTAXII(values []string) bool {
	seen := false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			seen = true
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if ver, ok := params["version"]; !ok || ver == "2.1" {
					return true
				}
			}
		}
	}
	return !seen
}

// isTAXIIContentType says whether a request body is TAXII 2.1 JSON.
func isTAXIIContentType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/taxii+json" {
		return false
	}
	ver, ok := params["version"]
	return !ok || ver == "2.1"
}

// taxiiError is an error in TAXII's shape.
type taxiiError struct {
	status      int
	title       string
	description string
}

func (e *taxiiError) Error() string { return e.title + ": " + e.description }

func taxiiErr(status int, title, description string) *taxiiError {
	return &taxiiError{status: status, title: title, description: description}
}

func taxiiBad(description string) *taxiiError {
	return taxiiErr(http.StatusBadRequest, "Bad Request", description)
}

// taxiiErrorBody is TAXII 2.1's error message (section 3.6.1); http_status
// is a string there.
type taxiiErrorBody struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// writeError renders any error in TAXII's shape. Errors of the native API
// keep their status and message; any other error is a 500 that never echoes
// the internal text.
func (t *taxiiServer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if t.s.writeRateLimited(w, r, err) {
		return
	}
	err = t.s.storageFull(r, err)
	var (
		te *taxiiError
		ae *Error
	)
	switch {
	case errors.As(err, &te):
	case errors.As(err, &ae):
		te = taxiiErr(ae.Status, http.StatusText(ae.Status), ae.Message)
	default:
		t.s.log.ErrorContext(r.Context(), "taxii request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		te = taxiiErr(http.StatusInternalServerError, "Internal Server Error", "internal error")
	}
	if te.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="hdn"`)
	}
	writeTAXII(w, te.status, taxiiErrorBody{Title: te.title, Description: te.description, HTTPStatus: strconv.Itoa(te.status)})
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", taxiiMediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Debug("writing taxii response", "err", err)
	}
}

func (t *taxiiServer) discovery(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeTAXII(w, http.StatusOK, map[string]any{
		"title":       "hdn TAXII server (" + t.s.hubName + ")",
		"description": "Healthcare Detection Network hub: indicators shared under the network's sharing policy",
		"default":     taxiiAPIRoot,
		"api_roots":   []string{taxiiAPIRoot},
	})
	return nil
}

func (t *taxiiServer) apiRoot(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeTAXII(w, http.StatusOK, map[string]any{
		"title":              t.s.hubName,
		"description":        "The indicators of the hub " + t.s.hubName,
		"versions":           []string{taxiiMediaType},
		"max_content_length": t.s.limits.MaxBodyBytes,
	})
	return nil
}

// taxiiCollection is a collection resource.
type taxiiCollection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Alias       string   `json:"alias"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

// taxiiColl is one of the API root's collections.
type taxiiColl int

const (
	// collIndicators holds the indicators (and the TLP objects).
	collIndicators taxiiColl = iota
	// collContext holds the STIX objects hdn keeps without modelling them
	// (and the TLP objects).
	collContext
)

func (t *taxiiServer) collectionFor(p *Principal, c taxiiColl) taxiiCollection {
	if c == collContext {
		return taxiiCollection{
			ID: taxiiContextID, Title: "Context",
			Description: "The STIX objects hdn keeps as they came, without modelling them (malware, threat actors, campaigns, intrusion sets, relationships, identities, sightings, reports, …), that " + p.Org.Name + " may see",
			Alias:       taxiiContextAlias,
			CanRead:     true, CanWrite: p.Key.Role.CanSubmit(),
			MediaTypes: []string{stixMediaType},
		}
	}
	return taxiiCollection{
		ID: taxiiCollectionID, Title: "Indicators",
		Description: "The indicators of the network that " + p.Org.Name + " may see, as STIX 2.1 indicators with their TLP marking definitions",
		Alias:       taxiiCollectionAlias,
		CanRead:     true, CanWrite: p.Key.Role.CanSubmit(),
		MediaTypes: []string{stixMediaType},
	}
}

func (t *taxiiServer) collections(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeTAXII(w, http.StatusOK, map[string]any{"collections": []taxiiCollection{t.collectionFor(p, collIndicators), t.collectionFor(p, collContext)}})
	return nil
}

// collectionOf says which collection a request names (404 for any other).
func collectionOf(r *http.Request) (taxiiColl, error) {
	switch id := r.PathValue("collection"); id {
	case taxiiCollectionID:
		return collIndicators, nil
	case taxiiContextID:
		return collContext, nil
	default:
		return 0, taxiiErr(http.StatusNotFound, "Not Found", "collection "+strconv.Quote(clip(id))+" not found")
	}
}

func (t *taxiiServer) collection(w http.ResponseWriter, r *http.Request, p *Principal) error {
	c, err := collectionOf(r)
	if err != nil {
		return err
	}
	writeTAXII(w, http.StatusOK, t.collectionFor(p, c))
	return nil
}

func (t *taxiiServer) objectsEndpoint(w http.ResponseWriter, r *http.Request, p *Principal) error {
	c, err := collectionOf(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return t.addObjects(w, r, p)
	}
	return t.getObjects(w, r, p, c)
}

func (t *taxiiServer) objectEndpoint(w http.ResponseWriter, r *http.Request, p *Principal) error {
	c, err := collectionOf(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		return t.deleteObject(w, r, p, c)
	}
	return t.getObject(w, r, p, c)
}

// taxiiTime is a TAXII timestamp: UTC with microseconds.
func taxiiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func parseTAXIITime(field, v string) (time.Time, error) {
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return ts, taxiiBad(field + " " + strconv.Quote(clip(v)) + " is not a timestamp such as 2026-01-02T15:04:05.000Z")
	}
	return ts.UTC(), nil
}
