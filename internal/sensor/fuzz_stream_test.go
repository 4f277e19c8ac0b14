package sensor

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// FuzzStreamEvents feeds what a hub (or something posing as one) sends on
// the stream through the sensor's path: the SSE parser, the event decoder,
// the conversion to a matchable indicator (toChange) and the index builder. An event the
// parser accepts has a cursor ≥ 0 and, written back as the hub writes it,
// parses to the same event; a canonical indicator (what a hub sends) is
// always taken by the index; anything else is taken (tidied) or refused for
// a stated reason (ErrType, ErrValue, ErrID), never with a panic; what
// fromAPI refuses (an unknown type, no TLP 2.0 level, a value longer than a
// hub stores) is not kept.
func FuzzStreamEvents(f *testing.F) {
	for _, s := range []string{
		"id: 7\nevent: created\ndata: {\"kind\":\"created\",\"cursor\":\"7\",\"indicator\":{\"id\":\"a\",\"type\":\"domain\",\"value\":\"evil.example.com\",\"tlp\":\"amber\"}}\n\n",
		"id: 8\nevent: updated\ndata: {\"kind\":\"updated\",\"cursor\":\"8\",\"indicator\":{\"id\":\"b\",\"type\":\"cidr\",\"value\":\"198.51.100.0/24\",\"tlp\":\"green\",\"valid_until\":\"2027-01-01T00:00:00Z\"}}\n\n",
		"id: 9\nevent: created\ndata: {\"indicator\":{\"id\":\"c\",\"type\":\"url\",\"value\":\"HTTP://Evil.Example.com:80/a/../b\",\"tlp\":\"clear\"}}\n\n",
		"id: 10\nevent: removed\ndata: {\"kind\":\"removed\",\"cursor\":\"10\",\"id\":\"a\"}\n\n: comment\n\nevent: heartbeat\ndata: {\"cursor\":\"10\"}\n\n",
		"event: reset\ndata: {\"cursor\":\"0\"}\n\n", "id: -1\nevent: created\ndata: {}\n\n", "id: 1\ndata: {\n\n",
		"id: 3\nevent: created\ndata: {\"indicator\":{\"id\":\"d\",\"type\":\"stix-pattern\",\"value\":\"[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x.example']\",\"tlp\":\"amber+strict\"}}\n\n",
		"id: 4\nevent: created\ndata: {\"indicator\":{\"id\":\"\",\"type\":\"sha256\",\"value\":\"E3B0\",\"tlp\":\"red\"}}\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var inds []match.Indicator
		_ = streamclient.Parse(strings.NewReader(in), func(ev streamclient.Event) error {
			if ev.Cursor < 0 {
				t.Fatalf("negative cursor %d", ev.Cursor)
			}
			// Written back as the hub writes it, it parses to itself.
			if !strings.ContainsAny(ev.Kind, "\r\n") && ev.Kind != "" {
				data, err := json.Marshal(api.StreamEvent{Kind: ev.Kind, Cursor: strconv.FormatInt(ev.Cursor, 10), ID: ev.ID, Indicator: ev.Indicator})
				if err != nil {
					t.Fatalf("marshal %+v: %v", ev, err)
				}
				wire := "id: " + strconv.FormatInt(ev.Cursor, 10) + "\nevent: " + ev.Kind + "\ndata: " + string(data) + "\n\n"
				var back []streamclient.Event
				if err := streamclient.Parse(strings.NewReader(wire), func(e streamclient.Event) error { back = append(back, e); return nil }); err != nil || len(back) != 1 {
					t.Fatalf("%q written back as %q: %d events, %v", in, wire, len(back), err)
				}
				a, _ := json.Marshal(ev)
				b, _ := json.Marshal(back[0])
				if string(a) != string(b) {
					t.Fatalf("event %s written back parses to %s", a, b)
				}
			}
			c, err := toChange(ev)
			if err != nil || c.ind == nil {
				return nil // refused, or no indicator to keep
			}
			inds = append(inds, *c.ind)
			return nil
		})
		b := match.NewBuilder()
		for _, mi := range inds {
			canonical := false
			if mi.Type != indicator.STIXPattern {
				c, err := indicator.Canonicalize(mi.Type, mi.Value)
				canonical = err == nil && c == mi.Value
			}
			err := b.Add(mi)
			if err == nil {
				continue
			}
			if !errors.Is(err, match.ErrType) && !errors.Is(err, match.ErrValue) && !errors.Is(err, match.ErrID) && !errors.Is(err, match.ErrFull) {
				t.Fatalf("%s %q refused without a stated reason: %v", mi.Type, mi.Value, err)
			}
			// What the hub sends is canonical: the index must take it.
			if canonical && mi.ID != "" && len(mi.ID) <= 255 {
				t.Fatalf("the index refused the canonical %s %q: %v", mi.Type, mi.Value, err)
			}
		}
		b.Build()
	})
}
