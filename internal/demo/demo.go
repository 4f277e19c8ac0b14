// Package demo plays the network's story on one machine: an embedded hub,
// the organisations of a small sector, indicators shared under the policy,
// and what each organisation then sees — all through the real API.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// Config sets up a demo run.
type Config struct {
	DataDir string // "" : a temporary directory, removed afterwards
	Out     io.Writer
	Logger  *slog.Logger
}

// Summary is what the demo found: for each organisation, the values it
// could read.
type Summary struct {
	Orgs []string            // in the order of the story
	Sees map[string][]string // organisation name → values it may read, sorted
}

type org struct {
	name    string
	kind    policy.OrgKind
	partner string
	id      string
	key     string
}

// Run plays the demo and returns its summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "hdn-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "[%6.3fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h, err := hub.New(ctx, hub.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: log})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		return nil, err
	}
	defer func() { cancel(); <-done }()
	say("hub ready at %s (data in %s)", h.URL(), dir)

	orgs := []*org{
		{name: "sector-cert", kind: policy.Coordinator},
		{name: "hospital-a", kind: policy.Member},
		{name: "hospital-b", kind: policy.Member},
		{name: "secureops", kind: policy.Partner},
		{name: "care-home-north", kind: policy.Customer, partner: "secureops"},
		{name: "clinic-south", kind: policy.Customer, partner: "secureops"},
		{name: "national-cert", kind: policy.NationalCERT},
	}
	byName := map[string]*org{}
	st := h.Store()
	for _, o := range orgs {
		m := model.Org{Name: o.name, Kind: o.kind}
		if o.partner != "" {
			m.Partner = byName[o.partner].id
		}
		m, err := st.CreateOrg(ctx, m)
		if err != nil {
			return nil, err
		}
		o.id = m.ID
		plain, id, hash := auth.NewKey()
		if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: m.ID, Role: policy.Analyst, Hash: hash, Created: time.Now().UTC()}); err != nil {
			return nil, err
		}
		o.key = plain
		byName[o.name] = o
		if o.partner != "" {
			say("organisation %-16s %-13s via %s", o.name, o.kind, o.partner)
		} else {
			say("organisation %-16s %s", o.name, o.kind)
		}
	}

	c := &client{base: h.URL(), http: &http.Client{Timeout: 30 * time.Second}}
	shares := []struct {
		by, value, tlp, note string
		audience             map[string]any
		anonymous            bool
	}{
		{by: "hospital-a", value: "login-micros0ft-health[.]com", tlp: "amber", note: "phishing domain seen by hospital A's Suricata"},
		{by: "national-cert", value: "hxxp://203.0.113.66/payload.bin", tlp: "green", note: "ransomware loader URL"},
		{by: "hospital-b", value: "198.51.100.23", tlp: "amber+strict", note: "C2 address — organisations in the audience only, not partner customers"},
		{by: "sector-cert", value: "evil-updates.example.net", tlp: "red", note: "espionage C2, named recipients only",
			audience: map[string]any{"orgs": []string{"hospital-a", "national-cert"}}},
		{by: "hospital-b", value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856", tlp: "amber", note: "anonymous submission", anonymous: true},
	}
	for _, s := range shares {
		item := map[string]any{"value": s.value, "tlp": s.tlp, "description": s.note}
		if s.audience != nil {
			item["audience"] = s.audience
		}
		if s.anonymous {
			item["anonymous"] = true
		}
		var res struct {
			Results []struct {
				Status, Type, Value string
				Error               *struct{ Message string }
			}
		}
		if err := c.do(ctx, "POST", "/api/v1/indicators", byName[s.by].key, map[string]any{"indicators": []any{item}}, &res); err != nil {
			return nil, err
		}
		r := res.Results[0]
		if r.Error != nil {
			return nil, fmt.Errorf("demo submission %q refused: %s", s.value, r.Error.Message)
		}
		say("%-13s shares %-12s %s %s (%s)", s.by, strings.ToUpper(s.tlp), r.Type, r.Value, s.note)
	}

	sum := &Summary{Sees: map[string][]string{}}
	for _, o := range orgs {
		var lr struct {
			Indicators []struct{ Value, Source, TLP string }
		}
		if err := c.do(ctx, "GET", "/api/v1/indicators?limit=1000", o.key, nil, &lr); err != nil {
			return nil, err
		}
		var vals []string
		for _, i := range lr.Indicators {
			vals = append(vals, i.Value)
			if i.Source == "anonymous" {
				say("%-16s sees %s from an anonymous source", o.name, i.Value)
			}
		}
		sort.Strings(vals)
		sum.Orgs = append(sum.Orgs, o.name)
		sum.Sees[o.name] = vals
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprint(tw, "indicator\tTLP")
	for _, o := range orgs {
		fmt.Fprintf(tw, "\t%s", o.name)
	}
	fmt.Fprintln(tw)
	for _, s := range shares {
		_, canon, _ := indicator.Detect(s.value)
		fmt.Fprintf(tw, "%s\t%s", short(canon), s.tlp)
		for _, o := range orgs {
			mark := "-"
			for _, v := range sum.Sees[o.name] {
				if v == canon {
					mark = "yes"
				}
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return sum, nil
}

func short(s string) string {
	if len(s) > 34 {
		return s[:31] + "..."
	}
	return s
}

type client struct {
	base string
	http *http.Client
}

func (c *client) do(ctx context.Context, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}
