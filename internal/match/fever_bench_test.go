package match

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// BenchmarkFEVERPeer measures hdn's matcher and its nearest open-source peer,
// DCSO FEVER (Debian package fever, 1.3.5, with its Bloom filter built by the
// bloom tool of golang-github-dcso-bloom-cli), in the same run, on the same
// input and the same indicators:
//
//   - the corpus is genCorpus's, as BenchmarkMatchEVE uses it
//     (HDN_BENCH_MATCH_EVENTS events, default 1,000,000);
//   - the indicators are the domain and hostname indicators among the first
//     HDN_BENCH_MATCH_INDICATORS generated ones (default 200,000; about 73%
//     of them are names). hdn gets them in an Index, FEVER as a Bloom filter
//     (bloom create -p 0.000001 -n N; bloom insert).
//
// hdn: Run over the whole corpus on GOMAXPROCS workers, alerts kept in
// memory; timed from the call to its return.
//
// FEVER: `fever run -n 0 --config fever.yaml --in-socket IN --mgmt-socket MGMT
// --logfile LOG --in-buffer-drop=false --in-buffer-length 1000 -b f.bloom`,
// the YAML holding only a multi-forward output (types [alert],
// buffer-length 1,000,000) to a unix socket this benchmark listens on, with
// metrics and passive DNS off (-n 0 turns flow reports off). The benchmark
// connects to IN and writes the corpus (as socat would), then one sentinel
// event: a DNS v2 query for an indicator's exact name from 192.0.2.1, which
// FEVER alerts on after every earlier event. FEVER's time runs from the first
// byte written to the last alert received; the benchmark then waits until no
// alert has come for 2 s, so that the quiet period is not counted. Input
// buffer drops are off (FEVER blocks the writer instead), so no event is
// lost; the Suricata alerts of the corpus, which FEVER forwards unchanged, are
// counted to check that every event went through.
//
// Metrics: hdn-events/s, fever-events/s, speedup (hdn/fever), hdn-alerts
// (alerts of one pass), fever-alerts (FEVER's Bloom alerts of one pass, the
// sentinel's and the forwarded Suricata alerts not counted).
//
// The alert counts are not meant to agree. FEVER matches the exact bytes of
// a DNS v1/v2 rrname, an HTTP host (and full URL) and a TLS SNI against its
// filter: no case folding, no trailing-dot removal, no sub-domains, no DNS v3
// (Suricata 8) queries[], no answers, no HTTP fileinfo, SMTP or certificate
// names, and a Bloom filter's false positives (p = 1e-6 per lookup). hdn
// matches a name and its parent domains in every field it knows, in every
// DNS version. genCorpus plants its domain hits as "www." + the indicator,
// so FEVER, matching exactly, finds next to none of them; the benchmark
// also counts, by scanning the corpus, how many alerts an exact matcher of
// FEVER's fields should raise, and logs it beside FEVER's count.
//
// Exactness: every hdn alert is checked — its hdn.id names a generated
// indicator whose type and value it repeats, that indicator is a name, its
// observed value equals the indicator or is a sub-domain of it (case and a
// trailing dot aside), and the event with the alert's flow_id holds the
// observed value. A false positive fails the benchmark. FEVER's alerts are
// checked against the indicator set too; its Bloom false positives are only
// logged, being part of how it works.
//
// Without fever or bloom on the PATH the benchmark is skipped.
func BenchmarkFEVERPeer(b *testing.B) {
	feverBin, err1 := exec.LookPath("fever")
	bloomBin, err2 := exec.LookPath("bloom")
	if err1 != nil || err2 != nil {
		b.Skip("fever/bloom not installed (apt-get install fever golang-github-dcso-bloom-cli): skipping the FEVER peer")
	}
	n := benchEnvInt("HDN_BENCH_MATCH_INDICATORS", 200_000)
	data, events := benchCorpus(b)

	dir := feverTempDir(b)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("%d CPUs, load average before the run: %s", runtime.NumCPU(), bytes.TrimSpace(la))
	}

	// The name indicators: into an Index for hdn, into a file for bloom,
	// into a set for checking FEVER.
	domainsFile := filepath.Join(dir, "domains.txt")
	f, err := os.Create(domainsFile)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	bl := NewBuilder()
	names := make(map[string]struct{}, n*3/4)
	sentinel := ""
	for i := range n {
		ind := benchIndicator(i)
		if ind.Type != indicator.Domain && ind.Type != indicator.Hostname {
			continue
		}
		if err := bl.Add(ind); err != nil {
			b.Fatal(err)
		}
		w.WriteString(ind.Value)
		w.WriteByte('\n')
		names[ind.Value] = struct{}{}
		if sentinel == "" {
			sentinel = ind.Value
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if len(names) == 0 {
		b.Fatal("no name indicators among", n)
	}
	m := NewMatcher(bl.Build(), WithClock(func() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) }))
	bl = nil

	// FEVER's filter.
	bloomFile := filepath.Join(dir, "f.bloom")
	runTool(b, nil, bloomBin, "create", "-p", "0.000001", "-n", strconv.Itoa(len(names)), bloomFile)
	in, err := os.Open(domainsFile)
	if err != nil {
		b.Fatal(err)
	}
	runTool(b, in, bloomBin, "insert", bloomFile)
	in.Close()

	fv := startFEVER(b, feverBin, dir, bloomFile)

	// What an exact matcher of FEVER's fields should find, and the Suricata
	// alerts FEVER should pass through.
	wantExact, suricataAlerts := feverExpected(data, names)
	sentinelLine := fmt.Appendf(nil, `{"timestamp":"2026-03-02T23:59:59.000000+0000","flow_id":1,"in_iface":"enp1s0","event_type":"dns","src_ip":"192.0.2.1","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","id":1,"rrname":"%s","rrtype":"A","tx_id":0,"opcode":0}}`+"\n", sentinel)

	var (
		hdnTime, feverTime time.Duration
		hdnAlerts          int64
		feverAlerts        int
	)
	for b.Loop() {
		// hdn.
		var out lockedBuffer
		runtime.GC()
		cpu0, start := selfCPU(), time.Now()
		st, err := Run(context.Background(), bytes.NewReader(data), FormatEVE, m, &out, 0)
		el, cpu := time.Since(start), selfCPU()-cpu0
		hdnTime += el
		if err != nil {
			b.Fatal(err)
		}
		if st.Events != int64(events) || st.Errors != 0 {
			b.Fatalf("hdn stats %+v", st)
		}
		hdnAlerts = st.Alerts
		b.Logf("hdn: %d events in %v (%v CPU), %d alerts", events, el.Round(time.Millisecond), cpu.Round(10*time.Millisecond), st.Alerts)
		verifyHDNAlerts(b, data, out.Bytes(), int(st.Alerts))

		// FEVER.
		runtime.GC()
		r := fv.replay(b, data, sentinelLine, sentinel)
		feverTime += r.elapsed
		feverAlerts = len(r.bloom)
		var fps []string
		for _, ioc := range r.bloom {
			if _, ok := names[ioc]; !ok {
				fps = append(fps, ioc)
			}
		}
		fp := len(fps)
		if len(fps) > 5 {
			fps = fps[:5]
		}
		b.Logf("FEVER: %d events in %v (%v CPU); %d Bloom alerts (%d of them Bloom false positives %q; an exact matcher of FEVER's fields expects %d); %d of %d Suricata alerts passed through",
			events, r.elapsed.Round(time.Millisecond), r.cpu.Round(10*time.Millisecond), len(r.bloom), fp, fps, wantExact, r.passed, suricataAlerts)
		if r.passed != suricataAlerts {
			b.Errorf("FEVER passed %d of the corpus's %d Suricata alerts through: it lost events", r.passed, suricataAlerts)
		}
		if len(r.bloom)-fp < wantExact {
			b.Errorf("FEVER raised %d true alerts, an exact matcher of its fields %d: it lost events", len(r.bloom)-fp, wantExact)
		}
	}
	hdnRate := float64(events) * float64(b.N) / hdnTime.Seconds()
	feverRate := float64(events) * float64(b.N) / feverTime.Seconds()
	b.Logf("indicators: %d names (domain, hostname) of %d generated; corpus: %d events, %d MB", len(names), n, events, len(data)>>20)
	b.ReportMetric(hdnRate, "hdn-events/s")
	b.ReportMetric(feverRate, "fever-events/s")
	b.ReportMetric(hdnRate/feverRate, "speedup")
	b.ReportMetric(float64(hdnAlerts), "hdn-alerts")
	b.ReportMetric(float64(feverAlerts), "fever-alerts")
}

// feverTempDir makes a temporary directory short enough for unix socket
// paths (108 bytes), removed when the benchmark ends.
func feverTempDir(tb testing.TB) string {
	dir, err := os.MkdirTemp("", "hdn-fever-")
	if err == nil && len(dir) > 70 {
		os.RemoveAll(dir)
		dir, err = os.MkdirTemp("/tmp", "hdn-fever-")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func runTool(tb testing.TB, stdin io.Reader, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// lockedBuffer is a bytes.Buffer for Run's output (Run serialises its
// writes already; the lock only keeps the race detector content).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Bytes()
}

// feverExpected scans the corpus as FEVER reads it: the alerts an exact
// matcher of DNS v1/v2 rrname, HTTP host and TLS SNI against names would
// raise, and the Suricata alerts, which FEVER forwards.
func feverExpected(data []byte, names map[string]struct{}) (exact, alerts int) {
	field := func(line []byte, key string) string {
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			return ""
		}
		v := line[i+len(key):]
		if j := bytes.IndexByte(v, '"'); j >= 0 {
			return string(v[:j])
		}
		return ""
	}
	has := func(v string) bool { _, ok := names[v]; return ok }
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		switch field(line, `"event_type":"`) {
		case "alert":
			alerts++
		case "dns":
			if !bytes.Contains(line, []byte(`"version":3`)) && has(field(line, `"rrname":"`)) {
				exact++
			}
		case "http":
			if has(field(line, `"hostname":"`)) {
				exact++
			}
		case "tls":
			if has(field(line, `"sni":"`)) {
				exact++
			}
		}
	}
	return exact, alerts
}

// verifyHDNAlerts checks every alert of a pass: it names a generated name
// indicator by id, type and value; the observed value is that name or a
// sub-domain of it; and the event it came from holds the observed value.
func verifyHDNAlerts(tb testing.TB, data, alerts []byte, want int) {
	tb.Helper()
	type alert struct {
		FlowID json.Number `json:"flow_id"`
		HDN    struct {
			ID, Type, Value, Observed, Field string
		} `json:"hdn"`
	}
	var as []alert
	flows := map[string][]byte{}
	for line := range bytes.Lines(alerts) {
		var a alert
		if err := json.Unmarshal(line, &a); err != nil {
			tb.Fatalf("hdn alert is not JSON: %v: %s", err, line)
		}
		as = append(as, a)
		flows[a.FlowID.String()] = nil
	}
	if len(as) != want {
		tb.Fatalf("hdn wrote %d alert lines, counted %d", len(as), want)
	}
	// The events the alerts came from, by flow_id.
	for line := range bytes.Lines(data) {
		const key = `"flow_id":`
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			continue
		}
		v := line[i+len(key):]
		j := bytes.IndexByte(v, ',')
		if j < 0 {
			continue
		}
		if _, ok := flows[string(v[:j])]; ok {
			flows[string(v[:j])] = line
		}
	}
	for _, a := range as {
		h := a.HDN
		bad := func(why string) {
			tb.Fatalf("false positive: %s: %+v", why, a)
		}
		if len(h.ID) < 8 {
			bad("id")
		}
		i, err := strconv.ParseUint(h.ID[:8], 16, 32)
		if err != nil {
			bad("id")
		}
		ind := benchIndicator(int(i))
		if ind.ID != h.ID || string(ind.Type) != h.Type || ind.Value != h.Value {
			bad(fmt.Sprintf("indicator %d is %s %s %s", i, ind.ID, ind.Type, ind.Value))
		}
		if !nameMatches(ind.Type, ind.Value, h.Observed) {
			bad("observed value does not match the indicator")
		}
		ev := flows[a.FlowID.String()]
		if ev == nil {
			bad("no event with its flow_id")
		}
		if !bytes.Contains(ev, []byte(`"`+h.Observed+`"`)) {
			bad("the event does not hold the observed value: " + string(ev))
		}
	}
}

// nameMatches reports whether an observed name matches a name indicator:
// equal, or (a domain indicator) a sub-domain, case and a trailing dot aside.
func nameMatches(t indicator.Type, value, observed string) bool {
	o := strings.ToLower(strings.TrimSuffix(observed, "."))
	switch t {
	case indicator.Domain:
		return o == value || strings.HasSuffix(o, "."+value)
	case indicator.Hostname:
		return o == value
	}
	return false
}

// feverProc is a running fever and the alert socket it forwards to.
type feverProc struct {
	in, log string
	pid     int
	exited  chan struct{}
	waitErr error

	mu       sync.Mutex
	last     time.Time     // when the last alert line arrived
	bloom    []string      // bloom-ioc of each Bloom alert
	passed   int           // other alerts (the corpus's Suricata alerts)
	sentinel chan struct{} // signalled when the sentinel's alert arrives
	sentName string
}

func startFEVER(tb testing.TB, feverBin, dir, bloomFile string) *feverProc {
	tb.Helper()
	fv := &feverProc{
		in:       filepath.Join(dir, "in.sock"),
		log:      filepath.Join(dir, "fever.log"),
		exited:   make(chan struct{}),
		sentinel: make(chan struct{}, 1),
	}
	alertSock := filepath.Join(dir, "alerts.sock")
	ln, err := net.Listen("unix", alertSock)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	connected := make(chan struct{})
	go func() {
		once := sync.Once{}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			once.Do(func() { close(connected) })
			go fv.readAlerts(c)
		}
	}()

	cfg := filepath.Join(dir, "fever.yaml")
	yaml := fmt.Sprintf(`# FEVER peer of hdn's matcher benchmark.
multi-forward:
  alerts:
    socket: %s
    all: false
    buffer-length: 1000000
    types:
      - alert
metrics:
  enable: false
pdns:
  enable: false
flowextract:
  enable: false
context:
  enable: false
heartbeat:
  enable: false
active:
  rdns: false
`, alertSock)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	stdout, err := os.Create(filepath.Join(dir, "fever.out"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(feverBin, "run", "-n", "0", "--config", cfg,
		"--in-socket", fv.in, "--mgmt-socket", filepath.Join(dir, "mgmt.sock"),
		"--logfile", fv.log, "--in-buffer-drop=false", "--in-buffer-length", "1000",
		"-b", bloomFile)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		stdout.Close()
		tb.Fatal(err)
	}
	fv.pid = cmd.Process.Pid
	go func() {
		fv.waitErr = cmd.Wait()
		stdout.Close()
		close(fv.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-fv.exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-fv.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-fv.exited
		}
	})

	// Ready when the input socket is there and FEVER has connected to the
	// alert socket.
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	inReady := false
	for !inReady {
		select {
		case <-fv.exited:
			tb.Fatalf("fever exited: %v\n%s", fv.waitErr, fv.logTail())
		case <-deadline:
			tb.Fatalf("fever did not create %s within 60 s\n%s", fv.in, fv.logTail())
		case <-tick.C:
			if st, err := os.Stat(fv.in); err == nil && st.Mode()&os.ModeSocket != 0 {
				inReady = true
			}
		}
	}
	select {
	case <-connected:
	case <-fv.exited:
		tb.Fatalf("fever exited: %v\n%s", fv.waitErr, fv.logTail())
	case <-deadline:
		tb.Fatalf("fever did not connect to %s within 60 s\n%s", alertSock, fv.logTail())
	}
	return fv
}

func (fv *feverProc) logTail() string {
	var s []byte
	for _, p := range []string{fv.log, filepath.Join(filepath.Dir(fv.log), "fever.out")} {
		d, _ := os.ReadFile(p)
		if len(d) > 4000 {
			d = d[len(d)-4000:]
		}
		s = append(s, d...)
	}
	return string(s)
}

func (fv *feverProc) readAlerts(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			now := time.Now()
			ioc, isBloom := bloomIOC(line)
			fv.mu.Lock()
			fv.last = now
			switch {
			case !isBloom:
				fv.passed++
			case ioc == fv.sentName && bytes.Contains(line, []byte(`"src_ip":"192.0.2.1"`)):
				select {
				case fv.sentinel <- struct{}{}:
				default:
				}
			default:
				fv.bloom = append(fv.bloom, ioc)
			}
			fv.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// bloomIOC returns the "_extra":{"bloom-ioc":…} of a FEVER Bloom alert.
func bloomIOC(line []byte) (string, bool) {
	const key = `"bloom-ioc":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return "", false
	}
	v := line[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return string(v), true
	}
	return string(v[:j]), true
}

type feverResult struct {
	elapsed time.Duration
	cpu     time.Duration // fever's CPU time (user and system) over the replay
	bloom   []string
	passed  int
}

// replay writes the corpus and the sentinel to FEVER's input and waits for
// the sentinel's alert, then for 2 s without alerts.
func (fv *feverProc) replay(tb testing.TB, data, sentinelLine []byte, sentinel string) feverResult {
	tb.Helper()
	fv.mu.Lock()
	fv.bloom, fv.passed, fv.sentName = nil, 0, sentinel
	fv.mu.Unlock()
	select {
	case <-fv.sentinel:
	default:
	}

	conn, err := net.Dial("unix", fv.in)
	if err != nil {
		tb.Fatal(err)
	}
	werr := make(chan error, 1)
	cpu0 := procCPU(fv.pid)
	start := time.Now()
	go func() {
		defer conn.Close()
		for p := data; len(p) > 0; {
			k := min(len(p), 1<<20)
			if _, err := conn.Write(p[:k]); err != nil {
				werr <- err
				return
			}
			p = p[k:]
		}
		_, err := conn.Write(sentinelLine)
		werr <- err
	}()
	timeout := time.After(30 * time.Minute)
	written := false
	for got := false; !got; {
		select {
		case err := <-werr:
			if err != nil {
				tb.Fatalf("writing to fever: %v\n%s", err, fv.logTail())
			}
			written = true
		case <-fv.sentinel:
			got = true
		case <-fv.exited:
			tb.Fatalf("fever exited: %v\n%s", fv.waitErr, fv.logTail())
		case <-timeout:
			tb.Fatalf("no alert for the sentinel after 30 min (input written: %v)\n%s", written, fv.logTail())
		}
	}
	if !written {
		if err := <-werr; err != nil {
			tb.Fatal(err)
		}
	}
	// Stragglers: wait for a quiet period; it is not counted.
	const quiet = 2 * time.Second
	for {
		fv.mu.Lock()
		since := time.Since(fv.last)
		fv.mu.Unlock()
		if since >= quiet {
			break
		}
		time.Sleep(quiet - since)
	}
	cpu := procCPU(fv.pid) - cpu0
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return feverResult{elapsed: fv.last.Sub(start), cpu: cpu, bloom: fv.bloom, passed: fv.passed}
}

// procCPU is the user and system time a process has used so far, from
// /proc (in clock ticks of 10 ms; 0 when unknown).
func procCPU(pid int) time.Duration {
	d, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(d, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(d[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// selfCPU is the user and system time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
