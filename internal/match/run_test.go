package match

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
)

func testMatcher(t testing.TB) *Matcher {
	t.Helper()
	x, err := Build([]Indicator{
		{ID: "d1", Type: indicator.Domain, Value: "evil.example", Labels: []string{"malware"}},
		{ID: "i1", Type: indicator.IPv4, Value: "192.0.2.66", Labels: []string{"c2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return NewMatcher(x)
}

func eveLine(i int, name string) string {
	return fmt.Sprintf(`{"timestamp":"2026-03-02T09:00:00.%06d+0000","flow_id":%d,"event_type":"dns","src_ip":"10.0.0.1","src_port":%d,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","rrname":%q,"rrtype":"A"}}`, i%1000000, i, 1024+i%60000, name)
}

// syncBuffer is a Writer safe for Run's serialised writes and the test's
// reads afterwards.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// TestRunLarge: many batches, every fifth line a hit, with readers that
// return a byte or half a buffer at a time.
func TestRunLarge(t *testing.T) {
	var in strings.Builder
	const n = 30000
	for i := range n {
		name := "ok.example"
		if i%5 == 0 {
			name = fmt.Sprintf("h%d.evil.example", i)
		}
		in.WriteString(eveLine(i, name))
		in.WriteByte('\n')
	}
	in.WriteString("not json\n\n")
	in.WriteString(eveLine(n, "last.evil.example")) // no final newline
	data := in.String()
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"plain", func() io.Reader { return strings.NewReader(data) }},
		{"half", func() io.Reader { return iotest.HalfReader(strings.NewReader(data)) }},
		{"onebyte", func() io.Reader { return iotest.OneByteReader(strings.NewReader(data[:200000])) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			st, err := Run(context.Background(), tc.r(), FormatEVE, testMatcher(t), &out, 3)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Count(data, "\n") + 1
			wantAlerts := int64(n/5 + 1)
			if tc.name == "onebyte" {
				lines = strings.Count(data[:200000], "\n") + 1
				wantAlerts = -1
			}
			if st.Lines != int64(lines) {
				t.Errorf("Lines %d, want %d", st.Lines, lines)
			}
			if wantAlerts >= 0 && (st.Alerts != wantAlerts || st.Matched != wantAlerts || st.Errors != 1 || st.Skipped != 1) {
				t.Errorf("stats %+v, want %d alerts, 1 error, 1 skipped", st, wantAlerts)
			}
			if got := int64(bytes.Count(out.Bytes(), []byte("\n"))); got != st.Alerts {
				t.Errorf("%d alert lines, stats say %d", got, st.Alerts)
			}
			if st.Events+st.Errors+st.Skipped != st.Lines {
				t.Errorf("stats do not add up: %+v", st)
			}
		})
	}
}

// TestRunLongLine: a line longer than a batch is read whole; one longer
// than MaxLine is dropped and counted, and the lines around it survive.
func TestRunLongLine(t *testing.T) {
	long := eveLine(1, "long.evil.example")
	long = long[:len(long)-2] + `,"pad":"` + strings.Repeat("x", 3*batchSize) + `"}}`
	old := maxLine
	maxLine = 4 * batchSize
	defer func() { maxLine = old }()
	tooLong := `{"x":"` + strings.Repeat("y", 5*batchSize) + `"}`
	data := eveLine(0, "a.evil.example") + "\n" + long + "\n" + tooLong + "\n" + eveLine(2, "b.evil.example") + "\n"
	var out syncBuffer
	st, err := Run(context.Background(), strings.NewReader(data), FormatEVE, testMatcher(t), &out, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 4 || st.Alerts != 3 || st.Errors != 1 {
		t.Errorf("stats %+v, want 4 lines, 3 alerts, 1 error\n%s", st, out.String())
	}
}

// TestRunZeekHeaders: logs concatenated, headers in the middle of a batch
// and across batches, each line read under its own header.
func TestRunZeekHeaders(t *testing.T) {
	conn := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\n"
	dns := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tvector[string]\n"
	var in strings.Builder
	want := 0
	for part := range 6 {
		if part%2 == 0 {
			in.WriteString(conn)
			for i := range 20000 {
				fmt.Fprintf(&in, "1521911720.%06d\tC%d\t10.0.0.1\t5000\t192.0.2.%d\t443\ttcp\n", i, i, 60+i%10)
				if 60+i%10 == 66 {
					want++
				}
			}
		} else {
			in.WriteString(dns)
			for i := range 20000 {
				fmt.Fprintf(&in, "1521911720.%06d\tD%d\t10.0.0.1\t5000\t10.0.0.53\t53\tudp\tq%d.evil.example\t-\n", i, i, i)
				want++
			}
		}
		in.WriteString("#close\t2018-03-24-18-00-00\n")
	}
	var out syncBuffer
	st, err := Run(context.Background(), strings.NewReader(in.String()), FormatZeek, testMatcher(t), &out, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != int64(want) || st.Errors != 0 || st.Events != 120000 {
		t.Errorf("stats %+v, want %d alerts, 120000 events", st, want)
	}
	if !strings.Contains(out.String(), `"field":"dns.query"`) || !strings.Contains(out.String(), `"field":"id.resp_h"`) {
		t.Error("alerts of one of the logs are missing")
	}
}

// endless repeats a line forever.
type endlessReader struct {
	line string
	off  int
}

func endless(line string) io.Reader { return &endlessReader{line: line} }

func (r *endlessReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

type failWriter struct{ err error }

func (w failWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestRunErrors(t *testing.T) {
	data := strings.Repeat(eveLine(1, "x.evil.example")+"\n", 50000)
	boom := errors.New("disk full")
	if _, err := Run(context.Background(), strings.NewReader(data), FormatEVE, testMatcher(t), failWriter{boom}, 2); !errors.Is(err, boom) {
		t.Errorf("writer error: %v", err)
	}
	readErr := errors.New("read failed")
	if _, err := Run(context.Background(), io.MultiReader(strings.NewReader(data), iotest.ErrReader(readErr)), FormatEVE, testMatcher(t), io.Discard, 2); !errors.Is(err, readErr) {
		t.Errorf("reader error: %v", err)
	}
	// Cancelling stops a run over an endless input.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := Run(ctx, endless(eveLine(1, "x.evil.example")+"\n"), FormatEVE, testMatcher(t), io.Discard, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Run(context.Background(), strings.NewReader(""), "bogus", testMatcher(t), io.Discard, 1); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestSwapWhileMatching swaps indexes while sessions match (run with
// -race): every alert names an indicator of an index that was current.
func TestSwapWhileMatching(t *testing.T) {
	m := testMatcher(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := m.NewSession(FormatEVE)
			line := []byte(eveLine(w, "www.evil.example"))
			var out []byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, _ = s.Match(out[:0], line)
				if len(out) > 0 && !bytes.Contains(out, []byte(`"id":"d`)) {
					t.Errorf("alert from no index: %s", out)
					return
				}
			}
		}()
	}
	for i := range 200 {
		x, _ := Build([]Indicator{{ID: fmt.Sprintf("d%d", i), Type: indicator.Domain, Value: "evil.example"}})
		m.Swap(x)
	}
	close(stop)
	wg.Wait()
}

// TestNoAllocations: matching a line allocates nothing once a Session is
// warm, for every format (hits write alerts into the reused buffer).
func TestNoAllocations(t *testing.T) {
	m := testMatcher(t)
	samples := map[Format][]string{
		FormatEVE: {
			eveLine(1, "www.evil.example"), eveLine(2, "ok.example"),
		},
		FormatZeek: {
			`{"ts":29.5,"uid":"C1","id.orig_h":"10.0.2.15","id.orig_p":49156,"id.resp_h":"192.0.2.66","id.resp_p":80,"method":"GET","host":"evil.example","uri":"/bin.sh"}`,
		},
		FormatSquid: {
			"1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://www.evil.example/a?b=c - DIRECT/192.0.2.66 text/html",
		},
		FormatLines: {"evil.example", "192.0.2.66", "http://evil.example/x"},
	}
	for _, f := range []string{"../logparse/testdata/sample.eve.json", "../logparse/testdata/fever.eve.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		samples[FormatEVE] = append(samples[FormatEVE], strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}
	for f, lines := range samples {
		s := m.NewSession(f)
		out := make([]byte, 0, 1<<16)
		for _, l := range lines {
			line := []byte(l)
			s.Match(out[:0], line) // warm up
			if n := testing.AllocsPerRun(50, func() { s.Match(out[:0], line) }); n != 0 {
				t.Errorf("%s: %.1f allocations for %.80s", f, n, l)
			}
		}
	}
}

// TestObservedBeforeIndexLoaded: an event is handed to the observer before
// it loads the index it is matched with. The sensor swaps a new indicator
// in and then hunts its retro-hunt record (what the observer filed) for
// it; here the index is swapped while the first line of a batch is being
// filed — as if the swap and the hunt ran then — and that line and the
// rest of the batch must be matched with the new index. With the index
// loaded once per batch, before the lines were filed, they were matched
// with the old one: no alert, and (filed after the hunt) no retro alert.
func TestObservedBeforeIndexLoaded(t *testing.T) {
	m := NewMatcher(nil)
	x, err := Build([]Indicator{{ID: "d1", Type: indicator.Domain, Value: "late.example", TLP: "green"}})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	observe := func(time.Time, *logparse.Observation) { once.Do(func() { m.Swap(x) }) }
	in := eveLine(1, "late.example") + "\n" + eveLine(2, "www.late.example") + "\n"
	var out syncBuffer
	st, err := RunObserved(context.Background(), strings.NewReader(in), FormatEVE, m, &out, 1, observe, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != 2 {
		t.Errorf("the index was swapped as the first line was filed: %d alerts, want 2 (its and the next line's)\n%s", st.Alerts, out.String())
	}
}
