package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// hubClient talks to a hub's API with an organisation's key, for the
// commands that act as a member of the network (import, export) rather than
// as the operator of a data directory (admin).
type hubClient struct {
	base string
	key  string
	http *http.Client
	misp bool // the MISP-compatible API: the raw key in Authorization, as MISP does
}

// hubConn is how a command reaches a hub: --hub, --key and the client TLS
// flags (--tls-ca for a hub whose certificate a private CA signs,
// --tls-cert and --tls-key for mutual TLS).
type hubConn struct {
	hub, key *string
	tls      *tlsconf.Client
}

// hubFlags adds --hub, --key and the client TLS flags to a command.
func hubFlags(fs *flag.FlagSet) hubConn {
	return hubConn{
		hub: fs.String("hub", "", "the hub's URL, e.g. https://hub.example:8443"),
		key: fs.String("key", "", "an API key of your organisation (or HDN_KEY in the environment; keeps it out of the process list)"),
		tls: clientTLSFlags(fs),
	}
}

func newHubClient(name string, conn hubConn) (*hubClient, error) {
	hub, key := *conn.hub, *conn.key
	if hub == "" {
		return nil, fmt.Errorf("%s: missing --hub", name)
	}
	if key == "" {
		key = os.Getenv("HDN_KEY")
	}
	if key == "" {
		return nil, fmt.Errorf("%s: --key (or HDN_KEY) is needed", name)
	}
	u, err := url.Parse(hub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: --hub %q is not an http(s) URL", name, hub)
	}
	tlsCfg, err := conn.tls.Config()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tr := tlsconf.Transport(tlsCfg)
	// A bulk import or a large export may take minutes before the hub's
	// first answer; the request as a whole is bounded (30 min).
	tr.ResponseHeaderTimeout = 0
	return &hubClient{base: strings.TrimRight(hub, "/"), key: key,
		http: &http.Client{Timeout: 30 * time.Minute, Transport: tr, CheckRedirect: tlsconf.SameOriginRedirects}}, nil
}

// do sends a request and returns the response if it is a 2xx; otherwise
// the hub's error message.
func (c *hubClient) do(ctx context.Context, method, path string, body []byte, contentType string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if c.misp {
		req.Header.Set("Authorization", c.key)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
		// MISP's error shape
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(msg, &env) == nil {
		switch {
		case env.Error.Message != "":
			return nil, fmt.Errorf("%s %s: %s (%s)", method, path, env.Error.Message, env.Error.Code)
		case env.Message != "":
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, env.Name, env.Message)
		}
	}
	return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
}

// readInput reads a file, or standard input for "-".
func readInput(name string, limit int64) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

var errNoInput = errors.New("name a file, or - for standard input")
