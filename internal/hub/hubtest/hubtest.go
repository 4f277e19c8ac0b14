// Package hubtest starts real hubs for tests: hub.New on a fresh data
// directory, serving on a random loopback port, with helpers to create
// organisations and keys and to call the API. It uses the same construction
// path as `hdn hub`.
package hubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Hub is a hub running for one test.
type Hub struct {
	T       testing.TB
	Hub     *hub.Hub
	URL     string
	DataDir string
	Store   store.Store
	Client  *http.Client
	stop    func()
}

// Start runs a hub until the test ends. cfg may leave DataDir and Listen
// empty (a temporary directory and a random loopback port are used).
//
// Unlike a production hub, a test hub screens submissions only against the
// warninglists cfg names: tests of sharing, streams and sensors use
// documentation names and addresses (example.org, 192.0.2.0/24) that the
// shipped lists rightly refuse, and must not break when a list changes.
// Tests of screening pass a set (warninglist.Default()).
//
// Likewise a test hub has no rate limits and no per-organisation bound on
// streams unless cfg sets them (cfg.Limits.RateLimit, MaxStreamsPerOrg):
// tests and benchmarks send many requests with one key.
func Start(t testing.TB, cfg hub.Config) *Hub {
	t.Helper()
	if cfg.Warninglists == nil {
		cfg.NoWarninglists = true
	}
	if cfg.Limits.RateLimit == 0 {
		cfg.Limits.RateLimit = -1
	}
	if cfg.Limits.MaxStreamsPerOrg == 0 {
		cfg.Limits.MaxStreamsPerOrg = -1
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("hub.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("hub stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("hub not ready after 30 s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("hub.Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("hub did not stop within 30 s")
			}
		})
	}
	t.Cleanup(stop)
	return &Hub{T: t, Hub: h, URL: h.URL(), DataDir: cfg.DataDir, Store: h.Store(), Client: &http.Client{Timeout: 5 * time.Minute}, stop: stop}
}

// Stop stops the hub before the test ends (a restart on the same DataDir
// is a new Start); calling it twice does nothing.
func (h *Hub) Stop() { h.stop() }

// Org creates an organisation; partner names the partner of a customer.
func (h *Hub) Org(name string, kind policy.OrgKind, partner string) model.Org {
	h.T.Helper()
	o := model.Org{Name: name, Kind: kind}
	if partner != "" {
		p, err := h.Store.Org(context.Background(), partner)
		if err != nil {
			h.T.Fatalf("partner %q: %v", partner, err)
		}
		o.Partner = p.ID
	}
	o, err := h.Store.CreateOrg(context.Background(), o)
	if err != nil {
		h.T.Fatalf("create org %q: %v", name, err)
	}
	return o
}

// Key creates a key for an organisation and returns it as a client sends it.
func (h *Hub) Key(org model.Org, role policy.Role) string {
	h.T.Helper()
	plain, id, hash := auth.NewKey()
	if err := h.Store.CreateKey(context.Background(), model.Key{ID: id, OrgID: org.ID, Role: role, Hash: hash, Created: time.Now().UTC()}); err != nil {
		h.T.Fatalf("create key: %v", err)
	}
	return plain
}

// Response is an API response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response (status %d) %q: %v", r.Status, clip(r.Body), err)
	}
}

// ErrorCode returns the code of an error envelope ("" if the body is not one).
func (r Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

func clip(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}

// Do calls the API. body may be nil, a []byte / string (sent as is), or any
// value (sent as JSON).
func (h *Hub) Do(method, path, key string, body any) Response {
	h.T.Helper()
	hdr := map[string]string{}
	if key != "" {
		hdr["Authorization"] = "Bearer " + key
	}
	return h.DoWith(method, path, hdr, body)
}

// DoWith calls the hub with the given request headers (the MISP-compatible
// API takes the raw key in Authorization). A JSON body gets Content-Type
// application/json unless hdr names another.
func (h *Hub) DoWith(method, path string, hdr map[string]string, body any) Response {
	h.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.T.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		h.T.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.T.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Healthy says whether /healthz answers 200.
func (h *Hub) Healthy() bool {
	resp, err := h.Client.Get(h.URL + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
