package match

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/stixpattern"
)

// eveLine is a Suricata EVE line at second sec of 2026-03-02 10:00 UTC.
func patEVE(sec int, typ, src string, sport int, dst string, dport int, proto, section string) string {
	ts := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	l := fmt.Sprintf(`{"timestamp":"%s","flow_id":%d,"in_iface":"eth0","event_type":%q,"src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":%d,"proto":%q`,
		ts.Format("2006-01-02T15:04:05.000000-0700"), 1000+sec, typ, src, sport, dst, dport, proto)
	if section != "" {
		l += "," + section
	}
	return l + "}"
}

func dnsQuery(sec int, name string) string {
	return patEVE(sec, "dns", "10.0.0.5", 53211, "10.0.0.1", 53, "UDP",
		fmt.Sprintf(`"dns":{"version":2,"type":"query","id":4711,"rrname":%q,"rrtype":"A","tx_id":0,"opcode":0}`, name))
}

func httpReq(sec int, host, url string) string {
	return patEVE(sec, "http", "10.0.0.5", 40000, "192.0.2.10", 80, "TCP",
		fmt.Sprintf(`"tx_id":0,"http":{"hostname":%q,"url":%q,"http_user_agent":"curl/8.0","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":1024}`, host, url))
}

// patInd is a pattern indicator in canonical form. It is parsed with
// package stixpattern, not indicator.Canonicalize: these tests check how the
// matcher evaluates any valid pattern, including ones too broad for a hub
// to accept ("[network-traffic:protocols[*] = 'dns']"), which a sensor may
// still be given (by an older hub, or read from a file).
func patInd(id, pattern string) Indicator {
	p, err := stixpattern.Parse(pattern)
	if err != nil {
		panic(err)
	}
	return Indicator{ID: id, Type: indicator.STIXPattern, Value: p.String(), Labels: []string{"malware"}}
}

// runLines matches lines one by one through one Session and returns the
// alerts as "line id field observed".
func runLines(t *testing.T, m *Matcher, f Format, lines []string) []string {
	t.Helper()
	s := m.NewSession(f)
	var got []string
	for n, line := range lines {
		out, err := s.Match(nil, []byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		for _, a := range splitLines(out) {
			got = append(got, fmt.Sprintf("%d %s", n+1, checkAlert(t, a)))
		}
	}
	return got
}

var patNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func TestPatterns(t *testing.T) {
	const seq = "([domain-name:value = 'stage1.example'] FOLLOWEDBY [url:value LIKE 'http://stage2.example/%']) WITHIN 60 SECONDS"
	tests := []struct {
		name     string
		patterns []string // ids p1, p2, …
		format   Format
		lines    []string
		want     []string // "line id field observed"
	}{
		{
			name:     "and inside brackets",
			patterns: []string{"[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]"},
			format:   FormatEVE,
			lines: []string{
				patEVE(0, "tls", "10.0.0.5", 50000, "198.51.100.7", 443, "TCP", `"tls":{"sni":"www.example.org","version":"TLS 1.3"}`),
				patEVE(1, "flow", "10.0.0.5", 50001, "198.51.100.7", 80, "TCP", ""),  // other port
				patEVE(2, "flow", "198.51.100.7", 443, "10.0.0.5", 50002, "TCP", ""), // reversed
				patEVE(3, "flow", "10.0.0.5", 50003, "198.51.100.8", 443, "TCP", ""), // other address
			},
			want: []string{"1 p1 dest_ip 198.51.100.7"},
		},
		{
			name:     "protocols",
			patterns: []string{"[network-traffic:protocols[*] = 'dns' AND network-traffic:protocols[0] = 'udp' AND network-traffic:src_port = 53211]"},
			format:   FormatEVE,
			lines:    []string{dnsQuery(0, "www.example.org"), httpReq(1, "www.example.org", "/")},
			want:     []string{"1 p1 dest_ip 10.0.0.1"},
		},
		{
			name:     "like on a domain name",
			patterns: []string{"[domain-name:value LIKE '%.evil.example']"},
			format:   FormatEVE,
			lines:    []string{dnsQuery(0, "WWW.Evil.Example."), dnsQuery(1, "evil.example"), dnsQuery(2, "www.example.org")},
			want:     []string{"1 p1 dns.rrname WWW.Evil.Example."},
		},
		{
			name:     "matches on a url",
			patterns: []string{"[url:value MATCHES '^http://[a-z0-9.-]+/gate[.]php[?]id=[0-9]+$']"},
			format:   FormatEVE,
			lines: []string{
				httpReq(0, "c2.example", "/gate.php?id=42"),
				httpReq(1, "c2.example", "/gate.php?id=x"),
				httpReq(2, "c2.example", "/index.html"),
			},
			want: []string{"1 p1 http.url http://c2.example/gate.php?id=42"},
		},
		{
			name:     "issubset on an address (zeek)",
			patterns: []string{"[ipv4-addr:value ISSUBSET '203.0.113.0/24']"},
			format:   FormatZeek,
			lines: []string{
				`{"ts":1772445600.5,"uid":"CeXwwk4XHhkKHn7kag","id.orig_h":"10.0.2.15","id.orig_p":49158,"id.resp_h":"203.0.113.9","id.resp_p":80,"proto":"tcp","service":"http","duration":0.0018,"orig_bytes":97,"resp_bytes":179,"conn_state":"SF"}`,
				`{"ts":1772445601.5,"uid":"CeXwwk4XHhkKHn7kah","id.orig_h":"10.0.2.15","id.orig_p":49159,"id.resp_h":"203.0.114.9","id.resp_p":80,"proto":"tcp","service":"http","duration":0.0018,"orig_bytes":97,"resp_bytes":179,"conn_state":"SF"}`,
			},
			want: []string{"1 p1 id.resp_h 203.0.113.9"},
		},
		{
			name:     "file hashes (zeek files.log)",
			patterns: []string{"[file:hashes.MD5 = 'df7c845e4eadd7bac6cbfe2087bbd482' AND file:hashes.'SHA-1' = '8800350f53cb7bfc883962e965461d94ab5d2616']"},
			format:   FormatZeek,
			lines: []string{
				`{"ts":29.869534,"fuid":"FqhaAy4xsmJ3AR63A3","tx_hosts":["147.32.80.7"],"rx_hosts":["10.0.2.15"],"source":"HTTP","mime_type":"text/plain","md5":"DF7C845E4EADD7BAC6CBFE2087BBD482","sha1":"8800350f53cb7bfc883962e965461d94ab5d2616"}`,
				`{"ts":30.869534,"fuid":"FqhaAy4xsmJ3AR63A4","tx_hosts":["147.32.80.7"],"rx_hosts":["10.0.2.15"],"source":"HTTP","mime_type":"text/plain","md5":"df7c845e4eadd7bac6cbfe2087bbd482","sha1":"0000000000000000000000000000000000000000"}`,
			},
			want: []string{"1 p1 files.md5 DF7C845E4EADD7BAC6CBFE2087BBD482"},
		},
		{
			name:     "certificate fingerprint",
			patterns: []string{"[x509-certificate:hashes.'SHA-1' = '7bb698386970363d2919cc5772846984ffd4a889']", "[file:hashes.'SHA-1' = '7bb698386970363d2919cc5772846984ffd4a889']"},
			format:   FormatEVE,
			lines: []string{
				patEVE(0, "tls", "10.0.0.5", 48106, "192.0.2.44", 443, "TCP", `"tls":{"subject":"CN=www.example.org","fingerprint":"7b:b6:98:38:69:70:36:3d:29:19:cc:57:72:84:69:84:ff:d4:a8:89","sni":"www.example.org","version":"TLS 1.2"}`),
			},
			want: []string{"1 p1 tls.fingerprint 7bb698386970363d2919cc5772846984ffd4a889"},
		},
		{
			name:     "followedby within, in order",
			patterns: []string{seq},
			format:   FormatEVE,
			lines:    []string{dnsQuery(0, "stage1.example"), dnsQuery(10, "www.example.org"), httpReq(30, "stage2.example", "/payload.bin")},
			want:     []string{"3 p1 dns.rrname stage1.example"},
		},
		{
			name:     "followedby within, one alert",
			patterns: []string{seq},
			format:   FormatEVE,
			lines: []string{
				dnsQuery(0, "stage1.example"), httpReq(5, "stage2.example", "/a"), httpReq(6, "stage2.example", "/b"),
				dnsQuery(7, "stage1.example"), httpReq(8, "stage2.example", "/c"),
			},
			want: []string{"2 p1 dns.rrname stage1.example", "5 p1 dns.rrname stage1.example"},
		},
		{
			name:     "followedby within, reversed",
			patterns: []string{seq},
			format:   FormatEVE,
			lines:    []string{httpReq(0, "stage2.example", "/payload.bin"), dnsQuery(30, "stage1.example")},
		},
		{
			name:     "followedby within, too far apart",
			patterns: []string{seq},
			format:   FormatEVE,
			lines:    []string{dnsQuery(0, "stage1.example"), httpReq(61, "stage2.example", "/payload.bin")},
		},
		{
			name:     "repeats",
			patterns: []string{"[domain-name:value = 'beacon.example'] REPEATS 3 TIMES WITHIN 10 SECONDS"},
			format:   FormatEVE,
			lines: []string{
				dnsQuery(0, "beacon.example"), dnsQuery(20, "beacon.example"), dnsQuery(21, "beacon.example"),
				dnsQuery(22, "beacon.example"), dnsQuery(23, "beacon.example"),
			},
			want: []string{"4 p1 dns.rrname beacon.example"},
		},
		{
			name:     "unobservable",
			patterns: []string{"[file:name = 'evil.exe']", "[process:name = 'evil.exe'] AND [domain-name:value = 'evil.example']"},
			format:   FormatEVE,
			lines: []string{
				patEVE(0, "fileinfo", "192.0.2.80", 80, "10.0.0.5", 40000, "TCP", `"app_proto":"http","fileinfo":{"filename":"evil.exe","state":"CLOSED","md5":"df7c845e4eadd7bac6cbfe2087bbd482","stored":false,"size":1,"tx_id":0}}`),
				dnsQuery(1, "evil.example"),
			},
		},
		{
			name:     "no match",
			patterns: []string{"[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/']", "[email-addr:value = 'boss@evil.example']"},
			format:   FormatEVE,
			lines:    []string{dnsQuery(0, "good.example"), httpReq(1, "good.example", "/")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inds []Indicator
			for i, p := range tt.patterns {
				inds = append(inds, patInd(fmt.Sprintf("p%d", i+1), p))
			}
			x, err := Build(inds)
			if err != nil {
				t.Fatal(err)
			}
			m := NewMatcher(x, WithClock(func() time.Time { return patNow }))
			got := runLines(t, m, tt.format, tt.lines)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("alerts:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestPatternCounts(t *testing.T) {
	x, err := Build([]Indicator{
		patInd("p1", "[file:name = 'evil.exe']"),
		patInd("p2", "[domain-name:value LIKE '%.evil.example']"),
		patInd("p3", "[app:id = 'x']"),
		patInd("p4", "[ipv4-addr:value = '192.0.2.1'] AND [url:value = 'http://evil.example/']"),
		{ID: "d1", Type: indicator.Domain, Value: "evil.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o, u := x.Patterns(); o != 2 || u != 2 {
		t.Errorf("Patterns() = %d, %d, want 2, 2", o, u)
	}
	if n := x.Count(indicator.STIXPattern); n != 4 {
		t.Errorf("Count(stix-pattern) = %d, want 4", n)
	}
	if x.Len() != 5 {
		t.Errorf("Len = %d", x.Len())
	}
	err = NewBuilder().Add(Indicator{ID: "bad", Type: indicator.STIXPattern, Value: "[domain-name:value = ]"})
	if !errors.Is(err, ErrValue) {
		t.Errorf("Add of an invalid pattern: %v, want ErrValue", err)
	}
}

func TestPatternAlertShape(t *testing.T) {
	ind := patInd("2b7f9c1e-6a3d-4e5f-8a9b-0c1d2e3f4a5b", "[domain-name:value LIKE '%.evil.example']")
	ind.Report, ind.TLP = "Campaign X", "amber"
	x, err := Build([]Indicator{ind})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(x, WithClock(func() time.Time { return patNow }))
	out, err := m.NewSession(FormatEVE).Match(nil, []byte(dnsQuery(0, "a.evil.example")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"timestamp":"2026-03-02T10:00:00.000000+0000"`, `"flow_id":1000`, `"src_ip":"10.0.0.5"`,
		`"signature":"HDN stix-pattern [domain-name:value LIKE '%.evil.example'] TLP:AMBER - Campaign X"`,
		`"hdn":{"id":"2b7f9c1e-6a3d-4e5f-8a9b-0c1d2e3f4a5b","type":"stix-pattern","value":"[domain-name:value LIKE '%.evil.example']","tlp":"amber"`,
		`"observed":"a.evil.example","field":"dns.rrname","event_type":"dns"`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("alert lacks %s:\n%s", want, out)
		}
	}
}

// TestPatternUpdate: pattern indicators go through Update (deltas,
// compaction, removal by id) like the others.
func TestPatternUpdate(t *testing.T) {
	old := maxDeltaMin
	maxDeltaMin = 3
	defer func() { maxDeltaMin = old }()
	var base []Indicator
	for i := range 64 {
		base = append(base, Indicator{ID: fmt.Sprintf("d%d", i), Type: indicator.Domain, Value: fmt.Sprintf("d%d.example", i)})
	}
	base = append(base, patInd("pb", "[domain-name:value LIKE 'base%.example']"))
	x, err := Build(base)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(x, WithClock(func() time.Time { return patNow }))
	lines := []string{dnsQuery(0, "base1.example"), dnsQuery(1, "delta1.example")}
	check := func(step string, want ...string) {
		t.Helper()
		got := runLines(t, m, FormatEVE, lines)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: alerts:\ngot:\n  %s\nwant:\n  %s", step, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	check("base", "1 pb dns.rrname base1.example")

	// A delta adds a pattern.
	x, err = x.Update([]Indicator{patInd("pd", "[domain-name:value LIKE 'delta%.example']")}, nil)
	if err != nil || x.base == nil {
		t.Fatalf("Update: %v (layered: %v)", err, x.base != nil)
	}
	m.Swap(x)
	check("delta", "1 pb dns.rrname base1.example", "2 pd dns.rrname delta1.example")
	if o, u := x.Patterns(); o != 2 || u != 0 {
		t.Errorf("Patterns() = %d, %d", o, u)
	}
	if got := x.Count(indicator.STIXPattern); got != 2 {
		t.Errorf("Count = %d", got)
	}

	// Removing the base's pattern by id hides it; carried patterns survive
	// the next delta (eachOwn, Ref.Indicator).
	x, err = x.Update([]Indicator{{ID: "d100", Type: indicator.Domain, Value: "d100.example"}}, []string{"pb"})
	if err != nil || x.base == nil {
		t.Fatalf("Update: %v", err)
	}
	m.Swap(x)
	check("base pattern removed", "2 pd dns.rrname delta1.example")

	// Replacing the delta's pattern by id (revocation and a new version).
	x, err = x.Update([]Indicator{patInd("pd", "[domain-name:value LIKE 'other%.example']")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Swap(x)
	check("delta pattern replaced")

	// Compaction keeps them.
	x, err = x.Update([]Indicator{patInd("pd", "[domain-name:value LIKE 'delta%.example']"), patInd("pb", "[domain-name:value LIKE 'base%.example']"),
		{ID: "d101", Type: indicator.Domain, Value: "d101.example"}, {ID: "d102", Type: indicator.Domain, Value: "d102.example"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.base != nil {
		t.Fatal("expected a compaction")
	}
	m.Swap(x)
	check("compacted", "1 pb dns.rrname base1.example", "2 pd dns.rrname delta1.example")
	if r := x.pats[0].ref; r.Type() != indicator.STIXPattern || !strings.HasPrefix(r.Indicator().Value, "[domain-name:value LIKE") {
		t.Errorf("Ref.Indicator() = %+v", r.Indicator())
	}

	// Revoked: both removed.
	x, err = x.Update(nil, []string{"pb", "pd"})
	if err != nil {
		t.Fatal(err)
	}
	m.Swap(x)
	check("revoked")
	if o, u := x.Patterns(); o != 0 || u != 0 {
		t.Errorf("Patterns() = %d, %d", o, u)
	}
	// And the compacted form of that agrees.
	m.Swap(x.Compact())
	check("revoked, compacted")
}

// TestPatternWindowSurvivesUpdate: a multi-observation pattern keeps what it
// has seen across an Update that does not touch it.
func TestPatternWindowSurvivesUpdate(t *testing.T) {
	p := patInd("p1", "([domain-name:value = 'stage1.example'] FOLLOWEDBY [url:value LIKE 'http://stage2.example/%']) WITHIN 60 SECONDS")
	x, err := Build([]Indicator{{ID: "d1", Type: indicator.Domain, Value: "x.example"}})
	if err != nil {
		t.Fatal(err)
	}
	x, _ = x.Update([]Indicator{p}, nil)
	m := NewMatcher(x, WithClock(func() time.Time { return patNow }))
	s := m.NewSession(FormatEVE)
	if out, _ := s.Match(nil, []byte(dnsQuery(0, "stage1.example"))); len(out) != 0 {
		t.Fatalf("alert too early: %s", out)
	}
	x2, err := x.Update([]Indicator{{ID: "d2", Type: indicator.Domain, Value: "y.example"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Swap(x2)
	out, _ := s.Match(nil, []byte(httpReq(20, "stage2.example", "/x")))
	if !bytes.Contains(out, []byte(`"id":"p1"`)) {
		t.Errorf("no alert after Update: %q", out)
	}
}

// TestPatternConcurrent runs many sessions over one multi-observation
// pattern at once (for -race), and expects exactly one alert per pair.
func TestPatternConcurrent(t *testing.T) {
	x, err := Build([]Indicator{
		patInd("p1", "[domain-name:value = 'stage1.example'] AND [url:value LIKE 'http://stage2.example/%']"),
		patInd("p2", "[domain-name:value LIKE '%.example']"),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(x, WithClock(func() time.Time { return patNow }))
	var wg sync.WaitGroup
	var mu sync.Mutex
	alerts := map[string]int{}
	for g := range 8 {
		wg.Go(func() {
			s := m.NewSession(FormatEVE)
			for i := range 50 {
				line := dnsQuery(g*100+i, "stage1.example")
				if i%2 == 1 {
					line = httpReq(g*100+i, "stage2.example", "/x")
				}
				out, err := s.Match(nil, []byte(line))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, a := range splitLines(out) {
					alerts[strings.Fields(checkAlert(t, a))[0]]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if alerts["p2"] != 8*50 { // stage2.example is a name too
		t.Errorf("p2: %d alerts, want %d", alerts["p2"], 8*50)
	}
	if alerts["p1"] < 1 || alerts["p1"] > 8*25 {
		t.Errorf("p1: %d alerts", alerts["p1"])
	}
}

// benchPatterns returns n observable pattern indicators of the usual
// kinds: LIKE on names, MATCHES on URLs, ISSUBSET on addresses, flow
// conditions, and one in ten a FOLLOWEDBY … WITHIN over two events.
func benchPatterns(n int) []Indicator {
	var inds []Indicator
	for i := range n {
		var p string
		switch i % 10 {
		case 0, 1:
			p = fmt.Sprintf("[domain-name:value LIKE '%%.bad%d.example']", i)
		case 2, 3:
			p = fmt.Sprintf("[url:value MATCHES '^http://[^/]+/gate%d[.]php']", i)
		case 4, 5:
			p = fmt.Sprintf("[ipv4-addr:value ISSUBSET '198.51.%d.0/24']", i)
		case 6:
			p = fmt.Sprintf("[network-traffic:dst_ref.value = '203.0.113.%d' AND network-traffic:dst_port = 443]", i%250)
		case 7:
			p = fmt.Sprintf("[network-traffic:dst_port = %d AND network-traffic:protocols[*] = 'udp']", 40000+i)
		case 8:
			p = fmt.Sprintf("[x509-certificate:hashes.'SHA-1' = '%040x' OR file:hashes.MD5 = '%032x']", i, i)
		case 9:
			p = fmt.Sprintf("([domain-name:value = 'stage%d.example'] FOLLOWEDBY [url:value LIKE 'http://stage%d.example/%%']) WITHIN 60 SECONDS", i, i)
		}
		inds = append(inds, patInd(fmt.Sprintf("p%d", i), p))
	}
	return inds
}

// BenchmarkMatchPatterns matches a realistic EVE mix (the corpus of
// BenchmarkMatchEVE, 20,000 events) on one Session against 1,000 plain
// indicators and 0 or 100 observable pattern indicators, and reports the
// cost per event.
func BenchmarkMatchPatterns(b *testing.B) {
	data := genCorpus(20_000, 0.002)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, np := range []int{0, 100} {
		b.Run(fmt.Sprintf("patterns=%d", np), func(b *testing.B) {
			inds := benchPatterns(np)
			for i := range 1000 {
				inds = append(inds, benchIndicator(i))
			}
			x, err := Build(inds)
			if err != nil {
				b.Fatal(err)
			}
			m := NewMatcher(x, WithClock(func() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) }))
			s := m.NewSession(FormatEVE)
			var out []byte
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out, _ = s.Match(out[:0], lines[i])
				if i++; i == len(lines) {
					i = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		})
	}
}
