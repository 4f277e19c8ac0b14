// Package streamclient follows a hub's indicator stream (GET /api/v1/stream)
// for the sensor, federation and tests: it parses server-sent events,
// reconnects with jittered exponential backoff, fails over between hub URLs,
// and resumes from the cursor of the last event it handled, so that every
// change is handled once even across reconnects and hub restarts.
package streamclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// Event is one event of the stream.
type Event struct {
	Kind      string // snapshot, snapshot-end, created, updated, revoked, expired, removed, reset, heartbeat
	Cursor    int64
	ID        string             // the indicator id of a removal
	Indicator *api.IndicatorJSON // nil for removed, reset, heartbeat, snapshot-end
}

// Config sets up a client.
type Config struct {
	URLs []string // hub base URLs, tried in turn
	Key  string
	// Cursor to resume from; Resume false takes a fresh snapshot first.
	Cursor int64
	Resume bool
	HTTP   *http.Client // default: no overall timeout (streams are long); dial, TLS handshake and headers bounded
	// TLS is what the default HTTP client trusts and presents (a CA bundle,
	// a client certificate: tlsconf.Client); nil: the system's roots.
	TLS    *tls.Config
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between attempts
	// (defaults 500 ms and 30 s); each wait is jittered.
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout drops a connection that sent nothing, not even a
	// heartbeat, for this long (default 45 s).
	IdleTimeout time.Duration
	// OnInterrupt, when set, is told why each connection ended before Run
	// reconnects: refused, failed, cut off, or an event that did not parse.
	// Run's caller hears of nothing else until Run returns.
	OnInterrupt func(err error)
}

// Client follows a stream.
type Client struct {
	cfg       Config
	cursor    atomic.Int64
	resume    atomic.Bool
	connected atomic.Bool
}

// New makes a client.
func New(cfg Config) *Client {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: tlsconf.Transport(cfg.TLS), CheckRedirect: tlsconf.SameOriginRedirects}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 45 * time.Second
	}
	c := &Client{cfg: cfg}
	c.cursor.Store(cfg.Cursor)
	c.resume.Store(cfg.Resume)
	return c
}

// Cursor is the cursor of the last event handled.
func (c *Client) Cursor() int64 { return c.cursor.Load() }

// Connected says whether a stream is open now.
func (c *Client) Connected() bool { return c.connected.Load() }

// ErrUnauthorized means the hub refused the key; retrying will not help.
var ErrUnauthorized = errors.New("the hub refused the key")

// Run follows the stream until ctx ends or handle returns an error. The
// cursor advances only after handle returns nil for an event, so an event
// whose handling failed is received again after the reconnect.
func (c *Client) Run(ctx context.Context, handle func(Event) error) error {
	if len(c.cfg.URLs) == 0 {
		return errors.New("streamclient: no hub URL")
	}
	backoff := c.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		base := c.cfg.URLs[attempt%len(c.cfg.URLs)]
		got, err := c.once(ctx, base, handle)
		if ctx.Err() != nil {
			return nil
		}
		var he handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if errors.Is(err, ErrUnauthorized) {
			return err
		}
		if c.cfg.OnInterrupt != nil {
			c.cfg.OnInterrupt(err)
		}
		if got {
			backoff = c.cfg.MinBackoff // it worked for a while: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.cfg.Logger.Warn("stream interrupted; reconnecting", "hub", base, "err", err, "in", wait.Round(time.Millisecond), "cursor", c.Cursor())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// once follows one connection; got says whether any event arrived.
func (c *Client) once(ctx context.Context, base string, handle func(Event) error) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url := strings.TrimRight(base, "/") + "/api/v1/stream"
	if c.resume.Load() {
		url += "?cursor=" + strconv.FormatInt(c.cursor.Load(), 10)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	req.Header.Set("Accept", "text/event-stream")
	// A watchdog cuts a connection that went silent (a dead peer whose TCP
	// connection never closes), and one that never answers at all (it runs
	// from the request on, however HTTP is set up).
	alive := make(chan struct{}, 1)
	go func() {
		t := time.NewTimer(c.cfg.IdleTimeout)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-alive:
				t.Reset(c.cfg.IdleTimeout)
			case <-t.C:
				cancel()
				return
			}
		}
	}()
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return false, fmt.Errorf("%w (%d)", ErrUnauthorized, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("stream: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	c.connected.Store(true)
	defer c.connected.Store(false)

	err = Parse(resp.Body, func(ev Event) error {
		select {
		case alive <- struct{}{}:
		default:
		}
		got = true
		if ev.Kind == api.EventReset {
			c.resume.Store(false)
		}
		if err := handle(ev); err != nil {
			return handlerError{err}
		}
		c.cursor.Store(ev.Cursor)
		c.resume.Store(true)
		return nil
	})
	if err == nil {
		err = io.ErrUnexpectedEOF // the hub never ends a stream on purpose
	}
	return got, err
}

// MaxLine bounds one line of the stream, and the data of one event (its
// data lines together): a hub sends each event's data on one line, and a
// hostile one must not make the reader gather an event without end.
const MaxLine = 1 << 20

// Parse reads server-sent events from r and calls fn for each complete one.
// It returns nil at the end of r, fn's error, or a parse error.
func Parse(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	var (
		id, name string
		data     []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if len(data) > 0 || name != "" {
				ev, err := decodeEvent(id, name, data)
				if err != nil {
					return err
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			id, name, data = "", "", data[:0]
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			id = string(value)
		case "event":
			name = string(value)
		case "data":
			if len(data)+1+len(value) > MaxLine {
				return fmt.Errorf("stream: an event's data is longer than %d bytes", MaxLine)
			}
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
	return sc.Err()
}

func decodeEvent(id, name string, data []byte) (Event, error) {
	var se api.StreamEvent
	if len(data) > 0 {
		if err := json.Unmarshal(data, &se); err != nil {
			return Event{}, fmt.Errorf("stream: event %q with id %q: bad data: %w", name, id, err)
		}
	}
	ev := Event{Kind: name, ID: se.ID, Indicator: se.Indicator}
	if ev.Kind == "" {
		ev.Kind = se.Kind
	}
	cur := id
	if cur == "" {
		cur = se.Cursor
	}
	n, err := strconv.ParseInt(cur, 10, 64)
	if err != nil || n < 0 {
		return Event{}, fmt.Errorf("stream: event %q has no valid cursor (id %q)", name, id)
	}
	ev.Cursor = n
	return ev, nil
}
