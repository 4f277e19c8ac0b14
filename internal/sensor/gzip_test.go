package sensor_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// seedState puts indicators into the state in dir, as a snapshot from a hub
// would, for a sensor run without a hub.
func seedState(t *testing.T, dir string, inds ...api.IndicatorJSON) {
	t.Helper()
	st, err := sensor.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []streamclient.Event
	for i := range inds {
		evs = append(evs, streamclient.Event{Kind: api.EventSnapshot, Cursor: int64(i + 1), Indicator: &inds[i]})
	}
	evs = append(evs, streamclient.Event{Kind: api.EventSnapshotEnd, Cursor: int64(len(inds))})
	if _, _, err := st.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// logRecords is a slog JSON handler's output, safe for the sensor's
// goroutines, read as records.
type logRecords struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// records returns the records logged with message msg.
func (l *logRecords) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(l.buf.Bytes()) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg == "" || r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// runOffline runs a sensor without a hub over its inputs to their end and
// returns its alerts and its log.
func runOffline(t *testing.T, cfg sensor.Config) ([]alertLine, *logRecords) {
	t.Helper()
	var out bytes.Buffer
	logs := &logRecords{}
	cfg.Out, cfg.Alerts, cfg.Once, cfg.Logger = &out, "-", true, logs.logger()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := sensor.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sensor: %v", err)
	}
	return parseAlerts(t, out.Bytes()), logs
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeBytes(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// zeekDNSLog is a Zeek dns.log in its TSV form with a query for each name.
func zeekDNSLog(names ...string) string {
	var b strings.Builder
	b.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n")
	for i, n := range names {
		b.WriteString("1521911720.86571" + string(rune('0'+i%10)) + "\tCqKst53mF3det3eDV9\t10.47.1.100\t41772\t10.0.0.100\t53\tudp\t" + n + "\n")
	}
	return b.String()
}

var gzipIndicator = api.IndicatorJSON{ID: "0195f3c0-7a00-7000-8000-00000000a001", Type: "domain", Value: "videosearch.ubuntu.com", TLP: "amber", Labels: []string{"c2"}}

// TestOnceReadsGzippedInput: Zeek archives its logs gzipped; a --once run
// reads a gzip-compressed input decompressed, whatever its name, and says
// so in its summary. Before, it read the compressed bytes as lines: no
// event, no alert, exit 0, and nothing said.
func TestOnceReadsGzippedInput(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, gzipIndicator)
	log := zeekDNSLog("videosearch.ubuntu.com", "ise.wrccdc.org", "www.videosearch.ubuntu.com")
	zeekGz := writeBytes(t, "dns.log.gz", gzipped(t, []byte(log)))
	// A gzipped EVE file named as if it were not.
	eve := writeBytes(t, "eve.json", gzipped(t, []byte(eveDNS(time.Now(), "a.videosearch.ubuntu.com")+"\n")))
	alerts, logs := runOffline(t, sensor.Config{StateDir: state, Workers: 1, Inputs: []sensor.Input{
		{Format: match.FormatZeek, Path: zeekGz}, {Format: match.FormatEVE, Path: eve}}})
	if len(alerts) != 3 {
		t.Fatalf("%d alerts from the gzipped inputs, want 3: %+v", len(alerts), alerts)
	}
	sums := logs.records(t, "input read")
	if len(sums) != 2 {
		t.Fatalf("summary lines: %+v", sums)
	}
	want := []map[string]any{
		{"input": "zeek:" + zeekGz, "events": 3.0, "unparsable": 0.0, "alerts": 2.0, "gzip": true},
		{"input": "eve:" + eve, "lines": 1.0, "events": 1.0, "unparsable": 0.0, "alerts": 1.0, "gzip": true},
	}
	for i, w := range want {
		for k, v := range w {
			if sums[i][k] != v {
				t.Errorf("summary of input %d: %s = %v, want %v (%v)", i, k, sums[i][k], v, sums[i])
			}
		}
	}
}

// TestOnceGzipBombBounded: the decompressed stream is held to the
// follower's longest line (1 MiB) like a plain file: a gzip file of a few
// hundred kilobytes that decompresses to a 256 MiB line is read through
// in bounded memory, the line counted as unparsable, and the line after it
// matched.
func TestOnceGzipBombBounded(t *testing.T) {
	state := t.TempDir()
	seedState(t, state, gzipIndicator)
	// 256 gzip members of 1 MiB of "a" each: one line of 256 MiB (a
	// multi-member stream, as zcat reads it), then a line that matches.
	member := gzipped(t, bytes.Repeat([]byte("a"), 1<<20))
	var bomb bytes.Buffer
	for range 256 {
		bomb.Write(member)
	}
	bomb.Write(gzipped(t, []byte("\n"+eveDNS(time.Now(), "videosearch.ubuntu.com")+"\n")))
	path := writeBytes(t, "bomb.json.gz", bomb.Bytes())
	t.Logf("%d bytes compressed, %d decompressed", bomb.Len(), 256<<20+1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	alerts, logs := runOffline(t, sensor.Config{StateDir: state, Workers: 1, Inputs: []sensor.Input{{Format: match.FormatEVE, Path: path}}})
	runtime.ReadMemStats(&after)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts after the long line, want 1", len(alerts))
	}
	sums := logs.records(t, "input read")
	if len(sums) != 1 || sums[0]["unparsable"] != 1.0 || sums[0]["events"] != 1.0 {
		t.Errorf("summary: %+v; want the long line unparsable and the next one an event", sums)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 64<<20 {
		t.Errorf("reading a 256 MiB line allocated %d MiB: not bounded by the longest line", alloc>>20)
	}
}

// TestFollowedGzipRefused: a followed input that is gzip-compressed cannot
// be followed (its compressor writes it whole); the sensor refuses it at
// start with an error that says so, instead of reading compressed bytes
// as lines without a word.
func TestFollowedGzipRefused(t *testing.T) {
	path := writeBytes(t, "dns.log.gz", gzipped(t, []byte(zeekDNSLog("videosearch.ubuntu.com"))))
	_, err := sensor.New(context.Background(), sensor.Config{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Inputs: []sensor.Input{{Format: match.FormatZeek, Path: path}}})
	if err == nil || !strings.Contains(err.Error(), "gzip") || !strings.Contains(err.Error(), "cannot be followed") || !strings.Contains(err.Error(), "--once") {
		t.Fatalf("a followed gzip input: %v; want a refusal that says it is gzip-compressed, cannot be followed, and --once reads it", err)
	}
}
