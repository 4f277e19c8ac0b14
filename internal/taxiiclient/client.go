// Package taxiiclient is a TAXII 2.1 client: server discovery, API roots,
// collections, and reading a collection's objects incrementally, page by
// page, so that a hub can follow an outside TAXII server (a national CERT's,
// a commercial feed's) the way it follows a MISP feed.
//
// It speaks the OASIS TAXII 2.1 specification: the media type
// application/taxii+json;version=2.1, HTTP Basic authentication (or a Bearer
// token), envelopes with "more" and "next", and the X-TAXII-Date-Added-First
// and -Last headers. Paging follows "next" while the server gives one; when a
// server says "more" without a "next", it continues with added_after set to
// the last page's X-TAXII-Date-Added-Last, as the specification allows.
// Answers are bounded in size; a TAXII error body becomes an *Error.
package taxiiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// MediaType is the TAXII 2.1 media type.
const MediaType = "application/taxii+json;version=2.1"

// DefaultHTTP is the HTTP client of a Client without one: unlike
// http.DefaultClient it gives up on a server that stops answering.
var DefaultHTTP = &http.Client{Timeout: 5 * time.Minute, CheckRedirect: tlsconf.SameOriginRedirects}

// DefaultMaxBody bounds one answer when Client.MaxBody is zero.
const DefaultMaxBody = 64 << 20

// Client talks to TAXII 2.1 servers. The zero value works with
// DefaultHTTP and no credentials.
type Client struct {
	HTTP *http.Client
	// User and Password, for HTTP Basic authentication; or Token, sent as
	// "Authorization: Bearer <token>".
	User, Password string
	Token          string
	// MaxBody bounds each answer (default DefaultMaxBody).
	MaxBody int64
}

// Error is a TAXII error answer.
type Error struct {
	Status      int // the HTTP status
	Title       string
	Description string
	URL         string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("taxii: %s: %d %s", e.URL, e.Status, e.Title)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Discovery is a server's discovery resource.
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots"`
}

// APIRoot describes an API root.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection describes a collection.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Query selects objects of a collection.
type Query struct {
	AddedAfter time.Time
	Limit      int    // 0: the server's default
	Next       string // from the previous page
	// Match holds match[...] filters, e.g. {"type": "indicator"}.
	Match map[string]string
}

// Page is one page of a collection's objects.
type Page struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects"`
	// From the X-TAXII-Date-Added-First and -Last headers (zero when absent).
	DateAddedFirst, DateAddedLast time.Time `json:"-"`
}

// Discover reads the discovery resource at u (e.g.
// https://taxii.example/taxii2/). API roots given as relative URLs, as TAXII
// 2.1 allows, come back resolved against u.
func (c *Client) Discover(ctx context.Context, u string) (Discovery, error) {
	var d Discovery
	if _, err := c.getJSON(ctx, u, &d); err != nil {
		return d, err
	}
	base, err := url.Parse(u)
	if err != nil {
		return d, fmt.Errorf("taxii: discovery URL %q: %w", u, err)
	}
	resolve := func(ref string) string {
		r, err := url.Parse(ref)
		if err != nil {
			return ref
		}
		return base.ResolveReference(r).String()
	}
	for i := range d.APIRoots {
		d.APIRoots[i] = resolve(d.APIRoots[i])
	}
	if d.Default != "" {
		d.Default = resolve(d.Default)
	}
	return d, nil
}

// APIRoot reads an API root's information.
func (c *Client) APIRoot(ctx context.Context, apiRootURL string) (APIRoot, error) {
	var r APIRoot
	_, err := c.getJSON(ctx, slash(apiRootURL), &r)
	return r, err
}

// Collections lists an API root's collections.
func (c *Client) Collections(ctx context.Context, apiRootURL string) ([]Collection, error) {
	var out struct {
		Collections []Collection `json:"collections"`
	}
	_, err := c.getJSON(ctx, slash(apiRootURL)+"collections/", &out)
	return out.Collections, err
}

// CollectionURL is the URL of a collection of an API root.
func CollectionURL(apiRootURL, id string) string {
	return slash(apiRootURL) + "collections/" + url.PathEscape(id) + "/"
}

// Objects reads one page of a collection's objects.
func (c *Client) Objects(ctx context.Context, collectionURL string, q Query) (Page, error) {
	u, err := url.Parse(slash(collectionURL) + "objects/")
	if err != nil {
		return Page{}, fmt.Errorf("taxii: collection URL %q: %w", collectionURL, err)
	}
	v := u.Query()
	if !q.AddedAfter.IsZero() {
		v.Set("added_after", q.AddedAfter.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	for k, m := range q.Match {
		v.Set("match["+k+"]", m)
	}
	u.RawQuery = v.Encode()
	var p Page
	h, err := c.getJSON(ctx, u.String(), &p)
	if err != nil {
		return Page{}, err
	}
	if p.DateAddedFirst, err = headerTime(h, "X-TAXII-Date-Added-First"); err != nil {
		return Page{}, err
	}
	if p.DateAddedLast, err = headerTime(h, "X-TAXII-Date-Added-Last"); err != nil {
		return Page{}, err
	}
	return p, nil
}

// MaxTieLimit is the largest page Poll asks for to get past objects added
// at one instant, when a server pages by added_after only.
const MaxTieLimit = 10_000

// MaxPages bounds one Poll, so that a server that always says "more" cannot
// keep a client busy for ever.
const MaxPages = 100_000

// Poll reads every object added to a collection after since, page by page,
// handing each page to fn, and returns the newest date_added it saw (since
// when none), which the next Poll starts from. fn's error stops the poll.
//
// Where the server pages with added_after only (more without next), objects
// added at the same instant as a page's last one may fall on either side of
// the page boundary, so the next page asks from a microsecond earlier and
// leaves out the object versions the previous page already gave.
func (c *Client) Poll(ctx context.Context, collectionURL string, since time.Time, limit int, match map[string]string, fn func(objects []json.RawMessage) error) (time.Time, error) {
	q := Query{AddedAfter: since, Limit: limit, Match: match}
	last := since
	var prev map[string]bool // object versions of the previous page, when paging by added_after
	for range MaxPages {
		p, err := c.Objects(ctx, collectionURL, q)
		if err != nil {
			return last, err
		}
		objs := p.Objects
		if prev != nil {
			objs = objs[:0:0]
			for _, o := range p.Objects {
				if !prev[versionKey(o)] {
					objs = append(objs, o)
				}
			}
			if len(objs) == 0 && p.More {
				// A page of nothing but objects added at one instant, all
				// seen: ask again for a larger page to get past them.
				if q.Limit >= MaxTieLimit {
					return last, fmt.Errorf("taxii: %s: more than %d objects were added at %s; the server's added_after paging cannot get past them",
						collectionURL, MaxTieLimit, p.DateAddedLast.Format(time.RFC3339Nano))
				}
				q.Limit = min(max(2*q.Limit, 100), MaxTieLimit)
				continue
			}
		}
		if len(objs) > 0 {
			if err := fn(objs); err != nil {
				return last, err
			}
		}
		if p.DateAddedLast.After(last) {
			last = p.DateAddedLast
		}
		switch {
		case !p.More:
			return last, nil
		case p.Next != "" && p.Next == q.Next:
			return last, fmt.Errorf("taxii: %s gave the same next %q twice", collectionURL, p.Next)
		case p.Next != "":
			q.Next, prev = p.Next, nil
		case !p.DateAddedLast.IsZero() && p.DateAddedLast.After(q.AddedAfter):
			// More without a next: go on from the last page's newest object.
			prev = make(map[string]bool, len(p.Objects))
			for _, o := range p.Objects {
				prev[versionKey(o)] = true
			}
			q.Next, q.AddedAfter = "", p.DateAddedLast.Add(-time.Microsecond)
		default:
			return last, fmt.Errorf("taxii: %s says there is more but gives neither next nor a later X-TAXII-Date-Added-Last", collectionURL)
		}
	}
	return last, fmt.Errorf("taxii: %s: more than %d pages in one poll", collectionURL, MaxPages)
}

// versionKey names one version of a STIX object: its id and modified (or
// created) time.
func versionKey(o json.RawMessage) string {
	var x struct{ ID, Modified, Created string }
	json.Unmarshal(o, &x)
	v := x.Modified
	if v == "" {
		v = x.Created
	}
	return x.ID + "|" + v
}

// Status is the status resource of an upload.
type Status struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	TotalCount   int    `json:"total_count"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	PendingCount int    `json:"pending_count"`
	Failures     []struct {
		ID      string `json:"id"`
		Version string `json:"version,omitempty"`
		Message string `json:"message,omitempty"`
	} `json:"failures,omitempty"`
}

// AddObjects posts objects to a collection in one envelope.
func (c *Client) AddObjects(ctx context.Context, collectionURL string, objects []json.RawMessage) (Status, error) {
	body, err := json.Marshal(map[string]any{"objects": objects})
	if err != nil {
		return Status{}, err
	}
	req, err := c.request(ctx, http.MethodPost, slash(collectionURL)+"objects/", bytes.NewReader(body))
	if err != nil {
		return Status{}, err
	}
	req.Header.Set("Content-Type", MediaType)
	var st Status
	_, err = c.do(req, &st)
	return st, err
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("taxii: %w", err)
	}
	req.Header.Set("Accept", MediaType)
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.User != "" || c.Password != "":
		req.SetBasicAuth(c.User, c.Password)
	}
	return req, nil
}

func (c *Client) getJSON(ctx context.Context, u string, v any) (http.Header, error) {
	req, err := c.request(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, v)
}

// do sends a request and decodes a 2xx TAXII answer into v.
func (c *Client) do(req *http.Request, v any) (http.Header, error) {
	hc := c.HTTP
	if hc == nil {
		hc = DefaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii: %w", err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("taxii: %s: %w", req.URL, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("taxii: %s: the answer is larger than %d bytes", req.URL, limit)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), URL: req.URL.String()}
		var te struct {
			Title       string          `json:"title"`
			Description string          `json:"description"`
			Status      json.RawMessage `json:"http_status"`
		}
		if json.Unmarshal(body, &te) == nil && te.Title != "" {
			e.Title, e.Description = te.Title, te.Description
		}
		return nil, e
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/taxii+json") {
		return nil, fmt.Errorf("taxii: %s: answered with Content-Type %q, not %s", req.URL, ct, MediaType)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("taxii: %s: the answer is not the expected JSON: %w", req.URL, err)
	}
	return resp.Header, nil
}

func headerTime(h http.Header, name string) (time.Time, error) {
	s := h.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("taxii: header %s %q is not a timestamp", name, s)
	}
	return t.UTC(), nil
}

func slash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}
