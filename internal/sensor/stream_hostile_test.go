package sensor_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// sseHub serves a stream of the events that events writes, followed by a
// heartbeat at cursor last. With start, a heartbeat at cursor 1 comes
// first and the events once start is closed. Every other request is
// answered 204.
func sseHub(t *testing.T, start chan struct{}, last int, events func(w io.Writer)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/stream" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		if start != nil {
			fmt.Fprint(w, "id: 1\nevent: heartbeat\ndata: {\"cursor\":\"1\"}\n\n")
			fl.Flush()
			select {
			case <-start:
			case <-r.Context().Done():
				return
			}
		}
		events(w)
		fmt.Fprintf(w, "id: %d\nevent: heartbeat\ndata: {\"cursor\":\"%d\"}\n\n", last, last)
		fl.Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestHostileHubCannotFillMemory: a hub that sends events of a megabyte
// (a description as long as the stream client takes) while the state is
// locked (a backup tool holds its write lock) does not make the sensor
// hold them: what waits for the state is the compact indicator, without
// the description. The sensor queued the whole events, 4,096 and a batch
// of 5,000: gigabytes.
func TestHostileHubCannotFillMemory(t *testing.T) {
	const n = 160 // a megabyte each: 160 MiB held before, a few now
	start := make(chan struct{})
	desc := strings.Repeat("d", streamclient.MaxLine-4096)
	srv := sseHub(t, start, n+2, func(w io.Writer) {
		for i := range n {
			fmt.Fprintf(w, "id: %d\nevent: created\ndata: {\"kind\":\"created\",\"cursor\":\"%d\",\"indicator\":{\"id\":\"id-%d\",\"type\":\"domain\",\"value\":\"e%d.example.org\",\"tlp\":\"green\",\"description\":%q}}\n\n", i+2, i+2, i, i, desc)
		}
	})
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{srv.URL}, Key: "k", StateDir: state, HeartbeatEvery: -1,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t)}}, Out: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-s.Current()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(state, "indicators.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") // before the sensor stops: it waits for the lock

	close(start)
	// Every event is taken from the stream (the cursor is the last one
	// handed on), and waits for the state.
	eventually(t, 3*time.Minute, "the stream's events are taken", func() bool { return s.Metrics().Cursor >= n+1 })
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("%d MiB in the heap with %d events of a megabyte waiting for the state", ms.HeapAlloc>>20, n)
	if ms.HeapAlloc > 64<<20 {
		t.Errorf("%d MiB in the heap: the sensor holds what a hub sent (%d MiB) while the state is locked", ms.HeapAlloc>>20, n)
	}
}

// TestHubIndicatorsHeldToHubBounds: an indicator whose TLP is not a TLP 2.0
// level or whose value is longer than a hub stores is refused (counted, not
// kept, not matched, and a version held before dropped), so that a hostile
// hub cannot put a megabyte into the state and every alert line; a TLP
// written "TLP:AMBER" is kept as the hub writes it, "amber".
func TestHubIndicatorsHeldToHubBounds(t *testing.T) {
	big := strings.Repeat("a", 1<<20-4096)
	ind := func(id, typ, value, tlp string) *api.IndicatorJSON {
		return &api.IndicatorJSON{ID: id, Type: typ, Value: value, TLP: tlp}
	}
	t.Run("state", func(t *testing.T) {
		st, err := sensor.OpenState(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		apply := func(evs ...streamclient.Event) {
			t.Helper()
			if _, _, err := st.Apply(t.Context(), evs); err != nil {
				t.Fatal(err)
			}
		}
		apply(streamclient.Event{Kind: api.EventSnapshot, Cursor: 1, Indicator: ind("held", "domain", "held.example.org", "green")},
			streamclient.Event{Kind: api.EventSnapshot, Cursor: 2, Indicator: ind("upper", "domain", "upper.example.org", "TLP:AMBER")})
		apply(streamclient.Event{Kind: "updated", Cursor: 3, Indicator: ind("held", "domain", "held.example.org", big)},
			streamclient.Event{Kind: "created", Cursor: 4, Indicator: ind("tlp", "domain", "evil.example.org", "chartreuse")},
			streamclient.Event{Kind: "created", Cursor: 5, Indicator: ind("val", "url", "http://x.example/"+big, "green")},
			streamclient.Event{Kind: "created", Cursor: 6, Indicator: ind("none", "domain", "none.example.org", "")})
		inds, err := st.Indicators(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(inds) != 1 || inds[0].ID != "upper" || inds[0].TLP != "amber" {
			for _, mi := range inds {
				t.Errorf("kept %s: a TLP of %d bytes (%.20q), a value of %d bytes", mi.ID, len(mi.TLP), mi.TLP, len(mi.Value))
			}
			t.Fatalf("want upper.example.org alone, TLP amber")
		}
		if c, _, _ := st.Cursor(t.Context()); c != 6 {
			t.Errorf("cursor %d after refused indicators, want 6", c)
		}
	})
	t.Run("sensor", func(t *testing.T) {
		srv := sseHub(t, nil, 7, func(w io.Writer) {
			for i, in := range []*api.IndicatorJSON{
				ind("held", "domain", "held.example.org", "green"),
				ind("held", "domain", "held.example.org", big),
				ind("tlp", "domain", "evil.example.org", big),
				ind("val", "url", "http://x.example/"+big, "green"),
				ind("ok", "domain", "ok.example.org", "amber"),
			} {
				data, _ := json.Marshal(api.StreamEvent{Kind: "created", Cursor: fmt.Sprint(i + 2), Indicator: in})
				fmt.Fprintf(w, "id: %d\nevent: created\ndata: %s\n\n", i+2, data)
			}
		})
		var out bytes.Buffer
		now := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := sensor.New(ctx, sensor.Config{Hubs: []string{srv.URL}, Key: "k", StateDir: t.TempDir(), HeartbeatEvery: -1, Once: true,
			SyncTimeout: 10 * time.Second, Alerts: "-", Out: &out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(now, "held.example.org"), eveDNS(now, "evil.example.org"),
				eveDNS(now, "ok.example.org"))}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if n := out.Len(); n > 8<<10 {
			t.Errorf("%d bytes of alerts", n)
		}
		var got []string
		for _, al := range parseAlerts(t, out.Bytes()) {
			got = append(got, fmt.Sprintf("%.40s TLP %.20s", al.HDN.Value, al.HDN.TLP))
		}
		if len(got) != 1 || got[0] != "ok.example.org TLP amber" {
			t.Errorf("alerts %q; want one, for ok.example.org, TLP amber", got)
		}
		if got := s.Metrics().IndicatorsRefused; got != 3 {
			t.Errorf("%d indicators refused, want 3", got)
		}
	})
}
