package warninglist_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// The replay reads the real public IOC lists in the shared data folder
// (../shared/data beside the repository, or $HDN_SHARED_DATA; provenance in
// its README.iocs-logs.md) and screens every value with the shipped set, as
// the hub would screen it on submission. It is skipped where the folder is
// absent; nothing from it is copied into the project. The figures are in
// docs/WARNINGLISTS.md ("Replay: the real IOC lists").

// replayData is the shared data folder, found as internal/iocfile's tests
// find it.
var replayData = func() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data")
}()

// replayFile is one IOC file of the replay; a MISP feed is its event files.
type replayFile struct {
	name  string   // as in the docs
	paths []string // relative to replayData/iocs
}

var replayFiles = []replayFile{
	{"ipsum.txt", []string{"ipsum.txt"}},
	{"threatfox_ips.txt", []string{"threatfox_ips.txt"}},
	{"blocklistproject_phishing_domains.txt", []string{"blocklistproject_phishing_domains.txt"}},
	{"blocklistproject_malware.ip", []string{"blocklistproject_malware.ip"}},
	{"tweetfeed_month.csv", []string{"tweetfeed_month.csv"}},
	{"tweetfeed_misp_feed", []string{
		"tweetfeed_misp_feed/01d7d459-91ef-5fa0-8bf8-1e682f4c5c93.json",
		"tweetfeed_misp_feed/02622617-5775-515b-9de5-00ff222acff6.json",
		"tweetfeed_misp_feed/030d893e-dc3b-52b8-93ee-bb31af6fa9e5.json",
	}},
}

// replayExamples is how many refused values are kept per list.
const replayExamples = 5

// replayResult is what the replay of one file found. Values are counted
// once (distinct type and canonical value), as the hub stores them once.
// A value is refused when any hit refuses (the hub stops it); it is
// counted under every list that refuses it. A value is flagged when it has
// hits and none refuses; it is counted under every list that flags it.
type replayResult struct {
	entries, distinct, unusable int
	refused, flagged            int
	refusedBy, flaggedBy        map[string]int
	examples                    map[string][]string // first refused values per list, in file order
	notCanonical                []string
}

func (r replayResult) summary() string {
	f := func(m map[string]int) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprintf("entries=%d distinct=%d unusable=%d refused=%d [%s] flagged=%d [%s]",
		r.entries, r.distinct, r.unusable, r.refused, f(r.refusedBy), r.flagged, f(r.flaggedBy))
}

type replayKey struct {
	t indicator.Type
	v string
}

// readReplay reads the entries of a file, as the hub would receive them.
func readReplay(tb testing.TB, f replayFile) ([]iocfile.Entry, int) {
	tb.Helper()
	var es []iocfile.Entry
	unusable := 0
	for _, rel := range f.paths {
		p := filepath.Join(replayData, "iocs", rel)
		got, ps, _, err := iocfile.ReadFile(p)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		es = append(es, got...)
		unusable += len(ps)
	}
	return es, unusable
}

func replay(set *warninglist.Set, es []iocfile.Entry, unusable int) replayResult {
	r := replayResult{
		entries:   len(es) + unusable,
		unusable:  unusable,
		refusedBy: map[string]int{},
		flaggedBy: map[string]int{},
		examples:  map[string][]string{},
	}
	seen := make(map[replayKey]struct{}, len(es))
	for _, e := range es {
		// iocfile gives canonical values; canonicalise again as the hub's
		// submit path does (indicator.Canonicalize with the given type), so
		// that a difference between the two is noticed.
		v, err := indicator.Canonicalize(e.Type, e.Value)
		if err != nil || v != e.Value {
			r.notCanonical = append(r.notCanonical, fmt.Sprintf("%s %s %q: %q %v", e.Source, e.Type, e.Value, v, err))
			continue
		}
		k := replayKey{e.Type, v}
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		hits := set.Check(e.Type, v)
		if len(hits) == 0 {
			continue
		}
		if hits[0].Kind == warninglist.Refuse { // refuse hits come first
			r.refused++
			for _, h := range hits {
				if h.Kind == warninglist.Refuse {
					r.refusedBy[h.List]++
					if len(r.examples[h.List]) < replayExamples {
						r.examples[h.List] = append(r.examples[h.List], string(e.Type)+" "+v)
					}
				}
			}
			continue
		}
		r.flagged++
		for _, h := range hits {
			r.flaggedBy[h.List]++
		}
	}
	r.distinct = len(seen)
	return r
}

// replayWant is what the replay of each file must find: the summary and the
// first refused values per list.
//
// How the figures were checked: the refused and flagged counts and every
// example below were computed a second time without hdn's code, by a Python
// script (json, csv, ipaddress, urllib) over the IOC files and the JSON of
// the shipped lists: cidr lists as sorted, merged integer intervals (a value
// hits a list when it overlaps an interval); hostname lists as sets of
// lower-cased entries probed with every dot-suffix of the name, with the
// delegation rule (a strict sub-domain of a dynamic-dns or hosting-zones
// entry turns refuse hits on that zone or a parent into flag; the entry
// itself is refused) and the URL path rule; hashes as sets. It gave the same
// refused figures, per list, and the same examples for every file; the same
// flagged figures but for tweetfeed_month.csv, where it counts 5 more distinct
// values and 1 more tranco10k flag (its rough URL canonical form, scheme and
// host lower-cased and "/" added, keeps apart URLs that
// indicator.Canonicalize makes equal); and the same distinct counts for the
// IP files and the MISP feed (it does not drop the 48 phishing domains and 4
// TweetFeed rows that the canonical form refuses, which internal/iocfile's
// shared tests pin). It also listed the refused addresses one by one, with
// ipsum's feed counts, for docs/WARNINGLISTS.md.
var replayWant = map[string]struct {
	summary  string
	examples map[string]string
}{
	"ipsum.txt": {
		"entries=120430 distinct=120430 unusable=0 refused=53 [public-dns-v4=48 sinkholes=5] flagged=10142 [amazon-aws=3167 google-gcp=3826 microsoft-azure=3149]",
		map[string]string{
			"public-dns-v4": "ipv4 50.116.33.209, ipv4 88.205.172.170, ipv4 37.157.212.188, ipv4 45.224.153.60, ipv4 103.148.79.138",
			"sinkholes":     "ipv4 208.100.26.229, ipv4 208.100.26.232, ipv4 208.100.26.233, ipv4 208.100.26.236, ipv4 208.100.26.237",
		},
	},
	"threatfox_ips.txt": {
		"entries=19863 distinct=19863 unusable=0 refused=11 [public-dns-v4=3 reserved-ranges=7 sinkholes=1] flagged=1118 [amazon-aws=699 google-gcp=165 microsoft-azure=254]",
		map[string]string{
			"public-dns-v4":   "ipv4 5.189.147.128, ipv4 173.255.225.25, ipv4 218.188.154.39",
			"reserved-ranges": "ipv4 100.65.29.247, ipv4 100.76.160.96, ipv4 100.82.195.65, ipv4 100.86.165.227, ipv4 100.106.194.93",
			"sinkholes":       "ipv4 192.169.69.25",
		},
	},
	"blocklistproject_phishing_domains.txt": {
		"entries=190215 distinct=190167 unusable=48 refused=220 [dynamic-dns=15 tranco10k=196 url-shortener=9] flagged=13792 [dynamic-dns=1780 hosting-zones=12180 tranco10k=5391]",
		map[string]string{
			"dynamic-dns":   "domain acctax.pt, domain cliptecnologia.com, domain idu.cl, domain mrcrypto.ru, domain ocry.com",
			"tranco10k":     "domain a2plcpnl0617.prod.iad2.secureserver.net, domain a2plcpnl0659.prod.iad2.secureserver.net, domain a2plcpnl0907.prod.iad2.secureserver.net, domain affiliate-blog.amazon.co.jp, domain akademia.wroc.pl",
			"url-shortener": "domain cutt.us, domain me2.do, domain q.gs, domain s.id, domain tr.im",
		},
	},
	"blocklistproject_malware.ip": {
		"entries=20907 distinct=20907 unusable=0 refused=9 [public-dns-v4=2 reserved-ranges=1 sinkholes=6] flagged=395 [amazon-aws=257 google-gcp=40 microsoft-azure=98]",
		map[string]string{
			"public-dns-v4":   "ipv4 212.95.180.50, ipv4 31.146.174.158",
			"reserved-ranges": "ipv4 127.0.0.2",
			"sinkholes":       "ipv4 184.105.192.2, ipv4 192.42.116.41, ipv4 208.100.26.230, ipv4 208.100.26.235, ipv4 208.100.26.237",
		},
	},
	"tweetfeed_month.csv": {
		"entries=12092 distinct=11775 unusable=4 refused=19 [reserved-ranges=1 rfc1918=2 tranco10k=16] flagged=990 [amazon-aws=20 dynamic-dns=390 google-gcp=4 hosting-zones=527 microsoft-azure=12 tranco10k=799 url-shortener=3]",
		map[string]string{
			"reserved-ranges": "url http://198.51.100.1:443/",
			"rfc1918":         "url http://10.160.197.88:1521/, url http://10.160.197.88:7575/",
			"tranco10k":       "domain deme.stanford.edu, domain dns1.p02.nsone.net, url http://dns1.p02.nsone.net/, domain online-casino-free-spins-no-deposit-india.dpboss.maharashtra.gov.in, url http://online-casino-free-spins-no-deposit-india.dpboss.maharashtra.gov.in/",
		},
	},
	"tweetfeed_misp_feed": {
		"entries=734 distinct=734 unusable=0 refused=1 [tranco10k=1] flagged=104 [amazon-aws=3 dynamic-dns=18 hosting-zones=74 tranco10k=93 url-shortener=2]",
		map[string]string{
			"tranco10k": "domain secure-web.cisco.com",
		},
	},
}

func TestReplayRealIOCLists(t *testing.T) {
	dir := filepath.Join(replayData, "iocs")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared IOC lists %s are not present (%v); set HDN_SHARED_DATA to the shared data folder to run the replay: skipping", dir, err)
	}
	set, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range replayFiles {
		t.Run(f.name, func(t *testing.T) {
			es, unusable := readReplay(t, f)
			start := time.Now()
			r := replay(set, es, unusable)
			took := time.Since(start)
			t.Logf("%s: %s (screened in %v)", f.name, r.summary(), took.Round(time.Millisecond))
			got := map[string]string{}
			for _, l := range slices.Sorted(maps.Keys(r.examples)) {
				got[l] = strings.Join(r.examples[l], ", ")
				t.Logf("  refused by %s: %s", l, got[l])
			}
			for _, s := range r.notCanonical {
				t.Errorf("not canonical: %s", s)
			}
			w := replayWant[f.name]
			if r.summary() != w.summary {
				t.Errorf("figures changed:\n got %s\nwant %s\n(update docs/WARNINGLISTS.md too)", r.summary(), w.summary)
			}
			if !maps.Equal(got, w.examples) {
				t.Errorf("refused examples changed:\n got %q\nwant %q", got, w.examples)
			}
			// Check is 50–260 ns a value: even the 190,215 domains take well
			// under a second; 10 s leaves room for a loaded machine and -race.
			if took > 10*time.Second {
				t.Errorf("screening %d values took %v", r.distinct, took)
			}
		})
	}
}

// BenchmarkReplayRealIOCLists screens the largest of the lists, the 190,167
// usable phishing domains, with the shipped set, and reports values/s.
func BenchmarkReplayRealIOCLists(b *testing.B) {
	f := replayFiles[2]
	p := filepath.Join(replayData, "iocs", f.paths[0])
	if _, err := os.Stat(p); err != nil {
		b.Skipf("shared IOC list %s is not present (%v): skipping", p, err)
	}
	set, err := warninglist.Default()
	if err != nil {
		b.Fatal(err)
	}
	es, _ := readReplay(b, f)
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for b.Loop() {
		hits = 0
		for _, e := range es {
			if set.Check(e.Type, e.Value) != nil {
				hits++
			}
		}
	}
	b.ReportMetric(float64(len(es))*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(hits), "hits")
}
