package match

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Benchmarks of the matcher on a generated, realistic EVE corpus (flows,
// DNS v2 and v3, TLS, HTTP, fileinfo, alerts, SMTP in proportions seen at
// a hospital's perimeter) with a small fraction of events hitting
// indicators, and on real Suricata output when ../shared is present.
//
//	HDN_BENCH_MATCH_INDICATORS  indicators in the index (default 200000)
//	HDN_BENCH_MATCH_EVENTS      events in the corpus (default 1000000)

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchIndicator returns the i-th generated indicator. The mix: 70%
// domain, 3% hostname, 10% ipv4, 1% ipv6, 0.2% cidr, 8.8% url, 5% file
// hashes, 1% email, 1% ja3/ja4.
func benchIndicator(i int) Indicator {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	ind := Indicator{
		ID:         fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(i), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff),
		TLP:        []string{"clear", "green", "amber", "amber+strict"}[r.IntN(4)],
		Labels:     [][]string{{"malware"}, {"phishing"}, {"c2"}, {"ransomware", "c2"}, {"espionage"}}[r.IntN(5)],
		Confidence: []int{50, 70, 90}[r.IntN(3)],
	}
	if r.IntN(10) == 0 {
		ind.Report = "Campaign " + strconv.Itoa(r.IntN(50))
	}
	if r.IntN(3) == 0 {
		ind.ValidUntil = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(1e6)) * time.Second)
	}
	switch k := r.IntN(100); {
	case k < 73:
		ind.Type = indicator.Domain
		if k >= 70 {
			ind.Type = indicator.Hostname
		}
		ind.Value = badDomain(i)
	case k < 83:
		ind.Type, ind.Value = indicator.IPv4, badIPv4(i)
	case k < 84:
		ind.Type, ind.Value = indicator.IPv6, fmt.Sprintf("2001:db8:%x:%x::%x", i>>16, i&0xffff, r.IntN(65536))
	case k < 85 && r.IntN(5) == 0:
		// /20 to /28 blocks in 1.0.0.0–99.255.255.255, where the corpus's
		// benign traffic never goes.
		bits := 20 + r.IntN(9)
		a := uint32(1+r.IntN(99))<<24 | r.Uint32()&0xffffff
		if a>>24 == 10 {
			a += 1 << 24
		}
		ind.Type, ind.Value = indicator.CIDR, netipPrefix(a, bits)
	case k < 93:
		ind.Type, ind.Value = indicator.URL, "http://"+badDomain(i)+"/"+[]string{"login.php", "dl/payload.bin", "wp-admin/x.php", "gate.php?id=" + strconv.Itoa(i)}[r.IntN(4)]
	case k < 98:
		ind.Type = []indicator.Type{indicator.MD5, indicator.SHA1, indicator.SHA256}[r.IntN(3)]
		n := map[indicator.Type]int{indicator.MD5: 16, indicator.SHA1: 20, indicator.SHA256: 32}[ind.Type]
		ind.Value = hexOf(r, n)
	case k < 99:
		ind.Type, ind.Value = indicator.Email, "billing"+strconv.Itoa(i)+"@"+badDomain(i)
	default:
		if r.IntN(2) == 0 {
			ind.Type, ind.Value = indicator.JA3, hexOf(r, 16)
		} else {
			ind.Type, ind.Value = indicator.JA4, fmt.Sprintf("t13d1516h2_%012x_%012x", r.Uint64()&0xffffffffffff, r.Uint64()&0xffffffffffff)
		}
	}
	return ind
}

func netipPrefix(a uint32, bits int) string {
	a &^= (1 << (32 - bits)) - 1
	return fmt.Sprintf("%d.%d.%d.%d/%d", a>>24, a>>16&255, a>>8&255, a&255, bits)
}

func hexOf(r *rand.Rand, n int) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = hexd[r.IntN(16)]
	}
	return string(b)
}

var badWords = []string{"secure", "login", "account", "verify", "update", "bank", "pay", "mail", "cloud", "office", "portal", "support", "docs", "share", "auth", "billing", "invoice", "track", "delivery", "wallet"}
var badTLDs = []string{"com", "net", "org", "info", "xyz", "top", "ru", "de", "nl", "io", "shop", "online", "site", "co.uk", "com.br"}

// badDomain is the i-th indicator domain: phishing-style names of about
// 21 bytes on average, like the blocklists'.
func badDomain(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	name := badWords[r.IntN(len(badWords))] + "-" + badWords[r.IntN(len(badWords))] + strconv.FormatUint(uint64(i), 36)
	if r.IntN(4) == 0 {
		name = badWords[r.IntN(len(badWords))] + "." + name
	}
	return name + "." + badTLDs[r.IntN(len(badTLDs))]
}

// badIPv4 is the i-th indicator address, spread over public space: half
// in 140.0.0.0–199.255.255.255, where the corpus's benign public traffic
// goes too (so the /16 filter lets that traffic through to the lookups,
// as on a real network), with an odd last byte (benign addresses there
// have an even one); half in 1–99 (not 10) and 200–223.
func badIPv4(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 11))
	a := r.Uint32()
	switch r.IntN(4) {
	case 0, 1:
		a = uint32(140+r.IntN(60))<<24 | a&0xffffff | 1
	case 2:
		a = uint32(1+r.IntN(99))<<24 | a&0xffffff
		if a>>24 == 10 {
			a += 1 << 24
		}
	default:
		a = uint32(200+r.IntN(24))<<24 | a&0xffffff
	}
	return fmt.Sprintf("%d.%d.%d.%d", a>>24, a>>16&255, a>>8&255, a&255)
}

func buildBenchIndex(tb testing.TB, n int) (*Index, float64) {
	tb.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b := NewBuilder()
	for i := range n {
		if err := b.Add(benchIndicator(i)); err != nil {
			tb.Fatal(err)
		}
	}
	x := b.Build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(x)
	return x, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// The corpus.

var (
	corpusOnce sync.Once
	corpus     []byte
	corpusN    int
)

func benchCorpus(tb testing.TB) ([]byte, int) {
	corpusOnce.Do(func() {
		corpusN = benchEnvInt("HDN_BENCH_MATCH_EVENTS", 1_000_000)
		corpus = genCorpus(corpusN, 0.002)
	})
	return corpus, corpusN
}

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50", "curl/8.5.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	}
	goodTLDs = []string{"com", "net", "org", "de", "nl", "eu", "io"}
	ja3s     = []string{"cd08e31494f9531f560d64c695473da9", "b32309a26951912be7dba376398abc3b", "773906b0efdefa24a7f2b8eb6985bf37", "579ccef312d18482fc42e2b822ca2430"}
)

// goodDomain picks a benign name, Zipf-distributed over 50,000 names.
func goodDomain(r *rand.Rand, z *rand.Zipf) string {
	k := z.Uint64()
	host := []string{"www", "cdn", "api", "static", "login", "mail", "img", "edge"}[k%8]
	return fmt.Sprintf("%s.site%d.%s", host, k/8, goodTLDs[k%7])
}

// Addresses: internal clients (Zipf over 3,000 hosts), the resolvers,
// and public servers (Zipf over 200,000 addresses in 140–199, with an even
// last byte), as a hospital's perimeter sees them.
type addrGen struct {
	clients, servers *rand.Zipf
	r                *rand.Rand
}

func newAddrGen(r *rand.Rand) *addrGen {
	return &addrGen{clients: rand.NewZipf(r, 1.2, 8, 2999), servers: rand.NewZipf(r, 1.1, 4, 199_999), r: r}
}

func (g *addrGen) client() string {
	k := g.clients.Uint64()
	if k%5 == 0 {
		return fmt.Sprintf("192.168.%d.%d", k/5/250%8, 1+k/5%250)
	}
	return fmt.Sprintf("10.%d.%d.%d", k/62500, k/250%250, 1+k%250)
}

func (g *addrGen) server() string {
	k := g.servers.Uint64()
	h := k * 0x9e3779b97f4a7c15
	return fmt.Sprintf("%d.%d.%d.%d", 140+h>>58%60, h>>40&255, h>>32&255, 2*(1+k%126))
}

func (g *addrGen) resolver() string {
	return []string{"10.0.0.53", "10.0.0.54"}[g.r.IntN(2)]
}

// genCorpus writes n EVE events; a fraction hit carries an indicator's
// value (one of the first 1,000 generated indicators, which every index
// size holds).
func genCorpus(n int, hit float64) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 4, 50_000)
	ag := newAddrGen(r)
	out := make([]byte, 0, n*620)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	hitInd := func() Indicator {
		for {
			ind := benchIndicator(r.IntN(1000))
			if ind.Type != indicator.Hostname && ind.Type != indicator.IPv6 {
				return ind
			}
		}
	}
	for i := range n {
		ts := t0.Add(time.Duration(i) * 137 * time.Microsecond).Format("2006-01-02T15:04:05.000000-0700")
		flow := 1_000_000_000_000_000 + r.Int64N(1_000_000_000_000_000)
		client, server := ag.client(), ag.server()
		cport, domain := 1024+r.IntN(64000), goodDomain(r, z)
		var hitv Indicator
		if r.Float64() < hit {
			hitv = hitInd()
			switch hitv.Type {
			case indicator.Domain:
				domain = "www." + hitv.Value
			case indicator.IPv4:
				server = hitv.Value
			case indicator.CIDR:
				server = hitv.Value[:len(hitv.Value)-3]
			}
		}
		head := fmt.Sprintf(`{"timestamp":"%s","flow_id":%d,"in_iface":"enp1s0","event_type":"%%s","src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%%d,"proto":"%%s","pkt_src":"wire/pcap"`, ts, flow, client, cport, server)
		ev := func(typ string, port int, proto string) {
			out = fmt.Appendf(out, head, typ, port, proto)
		}
		flowObj := fmt.Sprintf(`"flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,"start":"%s","end":"%s","age":%d,"state":"closed","reason":"timeout","alerted":false}`,
			1+r.IntN(50), r.IntN(50), 60+r.IntN(50000), r.IntN(500000), ts, ts, r.IntN(120))
		k := r.IntN(100)
		if k >= 38 && k < 68 && hitv.Type != indicator.IPv4 && hitv.Type != indicator.CIDR {
			server = ag.resolver()
		}
		switch {
		case k < 38 || hitv.Type == indicator.IPv4 || hitv.Type == indicator.CIDR: // flow
			ev("flow", 443, "TCP")
			out = fmt.Appendf(out, `,"app_proto":"tls",%s,"community_id":"1:%s=","tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed","ts_max_regions":1,"tc_max_regions":1}}`, flowObj, hexOf(r, 14))
		case k < 68: // dns: half v2, half v3 (Suricata 8); queries and responses
			ev("dns", 53, "UDP")
			rrtype := []string{"A", "AAAA", "HTTPS"}[r.IntN(3)]
			id := r.IntN(65536)
			switch k % 4 {
			case 0:
				out = fmt.Appendf(out, `,"dns":{"version":2,"type":"query","id":%d,"rrname":"%s","rrtype":"%s","tx_id":0,"opcode":0}}`, id, domain, rrtype)
			case 1:
				out = fmt.Appendf(out, `,"dns":{"version":2,"type":"answer","id":%d,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":"%s","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"%s","rrtype":"CNAME","ttl":300,"rdata":"edge.%s"},{"rrname":"edge.%s","rrtype":"A","ttl":60,"rdata":"%s"}],"grouped":{"CNAME":["edge.%s"],"A":["%s"]}}}`, id, domain, domain, domain, domain, ag.server(), domain, ag.server())
			case 2:
				out = fmt.Appendf(out, `,"dns":{"version":3,"type":"request","tx_id":0,"id":%d,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"%s","rrtype":"%s"}]}}`, id, domain, rrtype)
			default:
				out = fmt.Appendf(out, `,"dns":{"version":3,"type":"response","tx_id":1,"id":%d,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"%s","rrtype":"A"}],"answers":[{"rrname":"%s","rrtype":"A","ttl":60,"rdata":"%s"},{"rrname":"%s","rrtype":"A","ttl":60,"rdata":"%s"}]}}`, id, domain, domain, ag.server(), domain, ag.server())
			}
		case k < 83: // tls
			ev("tls", 443, "TCP")
			ja3 := ja3s[r.IntN(len(ja3s))]
			if hitv.Type == indicator.JA3 {
				ja3 = hitv.Value
			}
			out = fmt.Appendf(out, `,"tls":{"subject":"CN=%s","issuerdn":"C=US, O=Let's Encrypt, CN=R3","serial":"04:%s","fingerprint":"%s","sni":"%s","version":"TLS 1.3","notbefore":"2026-01-01T00:00:00","notafter":"2026-04-01T00:00:00","ja3":{"hash":"%s","string":"771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513,29-23-24,0"},"ja3s":{"hash":"%s","string":"771,4865,51-43"}}}`,
				domain, hexOf(r, 8), colonHex(hexOf(r, 20)), domain, ja3, ja3s[r.IntN(len(ja3s))])
		case k < 93: // http
			ev("http", 80, "TCP")
			url := fmt.Sprintf("/assets/%s/app.js?v=%d", hexOf(r, 4), r.IntN(1000))
			if hitv.Type == indicator.URL {
				u := hitv.Value[len("http://"):]
				domain, url = u[:bytes.IndexByte([]byte(u), '/')], u[bytes.IndexByte([]byte(u), '/'):]
			}
			out = fmt.Appendf(out, `,"tx_id":0,"http":{"hostname":"%s","url":"%s","http_user_agent":"%s","http_content_type":"application/javascript","accept":"*/*","accept_encoding":"gzip, deflate","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":%d}}`,
				domain, url, userAgents[r.IntN(len(userAgents))], r.IntN(100000))
		case k < 97: // fileinfo
			ev("fileinfo", 80, "TCP")
			md5, sha1, sha256 := hexOf(r, 16), hexOf(r, 20), hexOf(r, 32)
			switch hitv.Type {
			case indicator.MD5:
				md5 = hitv.Value
			case indicator.SHA1:
				sha1 = hitv.Value
			case indicator.SHA256:
				sha256 = hitv.Value
			}
			out = fmt.Appendf(out, `,"http":{"hostname":"%s","url":"/download/file.bin","http_user_agent":"%s","http_content_type":"application/octet-stream","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":%d},"app_proto":"http","fileinfo":{"filename":"/download/file.bin","magic":"PE32 executable (GUI) Intel 80386, for MS Windows","gaps":false,"state":"CLOSED","md5":"%s","sha1":"%s","sha256":"%s","stored":false,"size":%d,"tx_id":0}}`,
				domain, userAgents[r.IntN(len(userAgents))], r.IntN(1000000), md5, sha1, sha256, r.IntN(1000000))
		case k < 99: // alert
			ev("alert", 445, "TCP")
			out = fmt.Appendf(out, `,"alert":{"action":"allowed","gid":1,"signature_id":2403388,"rev":66418,"signature":"ET CINS Active Threat Intelligence Poor Reputation IP group 89","category":"Misc Attack","severity":2,"metadata":{"affected_product":["Any"],"attack_target":["Any"],"created_at":["2013_10_08"],"deployment":["Perimeter"],"signature_severity":["Major"],"tag":["CINS"],"updated_at":["2026_03_01"]}},"app_proto":"failed",%s}`, flowObj)
		default: // smtp
			ev("smtp", 25, "TCP")
			from := "news@" + domain
			if hitv.Type == indicator.Email {
				from = hitv.Value
			}
			out = fmt.Appendf(out, `,"tx_id":0,"smtp":{"helo":"mail.%s","mail_from":"<%s>","rcpt_to":["<alice@hospital.example>"]},"email":{"status":"PARSE_DONE","from":"\"News\" <%s>","to":["alice@hospital.example"],"attachment":[]}}`, domain, from, from)
		}
		out = append(out, '\n')
	}
	return out
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func colonHex(h string) string {
	b := make([]byte, 0, len(h)*3/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, h[i:i+2]...)
	}
	return string(b)
}

// BenchmarkMatchEVE runs the whole corpus through Run on GOMAXPROCS
// workers and reports events/s, the index's heap bytes per indicator, and
// alerts per pass.
func BenchmarkMatchEVE(b *testing.B) {
	n := benchEnvInt("HDN_BENCH_MATCH_INDICATORS", 200_000)
	data, events := benchCorpus(b)
	x, perInd := buildBenchIndex(b, n)
	m := NewMatcher(x, WithClock(func() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) }))
	b.Run(fmt.Sprintf("indicators=%d", n), func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var st Stats
		runtime.GC()
		start, cpu0 := time.Now(), cpuTime()
		for b.Loop() {
			var err error
			st, err = Run(context.Background(), bytes.NewReader(data), FormatEVE, m, io.Discard, 0)
			if err != nil {
				b.Fatal(err)
			}
		}
		el, cpu := time.Since(start), cpuTime()-cpu0
		// CPU time per event tells the cost apart from the machine's load:
		// on a shared machine wall time also counts other processes.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events)/float64(b.N), "cpu-ns/event")
		if st.Events != int64(events) || st.Errors != 0 {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(events)*float64(b.N)/el.Seconds(), "events/s")
		b.ReportMetric(perInd, "B/indicator")
		b.ReportMetric(float64(st.Alerts), "alerts/pass")
	})
}

// BenchmarkSessionEVE matches the corpus line by line on one goroutine:
// the cost per event on one core, and its allocations.
func BenchmarkSessionEVE(b *testing.B) {
	n := benchEnvInt("HDN_BENCH_MATCH_INDICATORS", 200_000)
	data, _ := benchCorpus(b)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	x, _ := buildBenchIndex(b, n)
	m := NewMatcher(x)
	s := m.NewSession(FormatEVE)
	var out []byte
	b.ReportAllocs()
	runtime.GC()
	i := 0
	for b.Loop() {
		out, _ = s.Match(out[:0], lines[i])
		if i++; i == len(lines) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBuildDomains builds an index of domain indicators only and
// reports the heap bytes each takes (the figure the 64-byte goal is about)
// and the build time per indicator.
func BenchmarkBuildDomains(b *testing.B) {
	n := benchEnvInt("HDN_BENCH_MATCH_INDICATORS", 200_000)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		bl := NewBuilder()
		start := time.Now()
		for i := range n {
			ind := benchIndicator(i)
			ind.Type, ind.Value = indicator.Domain, badDomain(i)
			if err := bl.Add(ind); err != nil {
				b.Fatal(err)
			}
		}
		x := bl.Build()
		el := time.Since(start)
		bl = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "B/indicator")
		b.ReportMetric(float64(x.Bytes())/float64(n), "index-B/indicator")
		b.ReportMetric(float64(el.Nanoseconds())/float64(n), "build-ns/indicator")
		runtime.KeepAlive(x)
	}
}

// BenchmarkMatchSlips runs real Suricata output (a 2021 capture of malware
// traffic; GPL-2.0, read from ../shared, never copied) 200 times over.
func BenchmarkMatchSlips(b *testing.B) {
	data, err := os.ReadFile("../../../shared/data/logs/slips_test6_malicious.eve.json")
	if err != nil {
		b.Skip("slips_test6_malicious.eve.json not present:", err)
	}
	lines := bytes.Count(data, []byte("\n"))
	big := bytes.Repeat(data, 200)
	n := benchEnvInt("HDN_BENCH_MATCH_INDICATORS", 200_000)
	x, _ := buildBenchIndex(b, n)
	m := NewMatcher(x)
	b.SetBytes(int64(len(big)))
	start := time.Now()
	for b.Loop() {
		if _, err := Run(context.Background(), bytes.NewReader(big), FormatEVE, m, io.Discard, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines*200)*float64(b.N)/time.Since(start).Seconds(), "events/s")
}
