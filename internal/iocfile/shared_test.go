package iocfile

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests in this file read the real public files in /work/shared/data
// (see its README files for provenance and licences). They are skipped
// where that folder is absent; nothing from it is copied into the project.
// Every number below was checked by hand against the file (awk, grep, a
// JSON walk) when the test was written.

// sharedData is the shared/ folder that lies beside the repository (as on
// the developers' machines and in CI), or HDN_SHARED_DATA.
var sharedData = func() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data")
}()

func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data file %s is not present (%v): skipping", p, err)
	}
	return p
}

// tally counts entries by type and problems by reason. The reason of an
// unsupported pattern includes what was not supported ("app:id").
type tally struct {
	types    map[string]int
	problems map[string]int
}

func count(es []Entry, ps []Problem) tally {
	c := tally{types: map[string]int{}, problems: map[string]int{}}
	for _, e := range es {
		c.types[string(e.Type)]++
	}
	for _, p := range ps {
		r := problemClass(p.Err)
		if r == "unsupported-pattern" {
			r += ":" + strings.TrimPrefix(p.Err.Error(), ErrUnsupportedPattern.Error()+": ")
		}
		c.problems[r]++
	}
	return c
}

func (c tally) String() string {
	f := func(m map[string]int) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		}
		return strings.Join(parts, " ")
	}
	return "entries: " + f(c.types) + "; problems: " + f(c.problems)
}

func checkTally(t *testing.T, name string, es []Entry, ps []Problem, types, problems map[string]int) {
	t.Helper()
	got := count(es, ps)
	want := tally{types: types, problems: problems}
	if want.problems == nil {
		want.problems = map[string]int{}
	}
	if got.String() != want.String() {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
	checkCanonical(t, es, ps)
}

func TestSharedTweetFeedCSV(t *testing.T) {
	p := sharedFile(t, "iocs/tweetfeed_month.csv")
	es, ps, f, err := ReadFile(p)
	if err != nil || f != FormatCSV {
		t.Fatalf("format %q, err %v", f, err)
	}
	// README: 12,092 rows: 4,985 domain, 5,610 url, 813 ip, 240 md5, 444
	// sha256. Four are refused, all concatenations of many host names
	// (lines 8820 and 8824 as domain, 8821 and 8825 as url): a host over 253
	// bytes.
	checkTally(t, "tweetfeed_month.csv", es, ps,
		map[string]int{"domain": 4983, "url": 5608, "ipv4": 813, "md5": 240, "sha256": 444},
		map[string]int{"refused:domain": 2, "refused:url": 2})
	var where []string
	for _, p := range ps {
		where = append(where, p.Where)
		if !strings.Contains(p.Err.Error(), "at most 253") {
			t.Errorf("%s: %v", p.Where, p.Err)
		}
	}
	if got := strings.Join(where, ","); got != "line 8820,line 8821,line 8824,line 8825" {
		t.Errorf("problems at %s", got)
	}
	if len(es)+len(ps) != 12092 {
		t.Errorf("%d entries + %d problems, want 12092 rows", len(es), len(ps))
	}
	if got := renderEntry(es[0]); got != `line 1 domain biglobemailsjp.vercel.app labels=phishing desc="https://x.com/masaomi346/status/2080103456434725042"` {
		t.Errorf("first entry: %s", got)
	}
}

func TestSharedTweetFeedMISP(t *testing.T) {
	// README: 3 events, 734 attributes; all to_ids true, no objects.
	for name, types := range map[string]map[string]int{
		"01d7d459-91ef-5fa0-8bf8-1e682f4c5c93.json": {"url": 69, "domain": 38, "ipv4": 22, "md5": 11},
		"02622617-5775-515b-9de5-00ff222acff6.json": {"url": 155, "domain": 140, "ipv4": 15, "md5": 7, "sha256": 3},
		"030d893e-dc3b-52b8-93ee-bb31af6fa9e5.json": {"url": 139, "domain": 118, "ipv4": 10, "sha256": 5, "md5": 2},
	} {
		p := sharedFile(t, "iocs/tweetfeed_misp_feed/"+name)
		es, ps, f, err := ReadFile(p)
		if err != nil || f != FormatMISP {
			t.Fatalf("%s: format %q, err %v", name, f, err)
		}
		checkTally(t, name, es, ps, types, nil)
		for _, e := range es {
			// event tags TweetFeed, type:OSINT (tlp:clear dropped), then
			// the attribute's tags, then its category
			if len(e.Labels) < 3 || e.Labels[0] != "tweetfeed" || e.Labels[1] != "type:osint" ||
				e.Labels[len(e.Labels)-1] != "network activity" && e.Labels[len(e.Labels)-1] != "payload delivery" {
				t.Errorf("%s %s: labels %q", name, e.Source, e.Labels)
			}
			if !strings.HasPrefix(e.Description, "https://x.com/") {
				t.Errorf("%s %s: description %q", name, e.Source, e.Description)
			}
		}
	}
}

func TestSharedSTIX(t *testing.T) {
	type want struct {
		types, problems map[string]int
	}
	files := map[string]want{
		// mvt-indicators and Amnesty: 2,868 indicators, each a single
		// "=" comparison, 2,593 of them on domain-name (the README's 5,713
		// and 5,305 do not match the files as copied).
		"mvt-indicators/candiru.stix2": {map[string]int{"domain": 125}, nil},
		"mvt-indicators/darksword.stix2": {map[string]int{"domain": 10, "ipv4": 3, "sha256": 1},
			map[string]int{"unsupported-pattern:file:path": 22, "unsupported-pattern:file:name": 7}},
		// 'despachosnegocios' as a domain name: one label
		"mvt-indicators/intellexa_predator.stix2": {map[string]int{"domain": 568},
			map[string]int{"unsupported-pattern:file:path": 15, "unsupported-pattern:configuration-profile:id": 1, "refused:domain": 1}},
		"mvt-indicators/operation_triangulation.stix2": {map[string]int{"domain": 75, "email": 36},
			map[string]int{"unsupported-pattern:process:name": 1}},
		"mvt-indicators/rcs_lab.stix2": {map[string]int{"domain": 26, "sha256": 9},
			map[string]int{"unsupported-pattern:app:id": 5}},
		"mvt-indicators/wyrmspy_dragonegg.stix2": {map[string]int{"domain": 7, "ipv4": 5, "sha256": 34},
			map[string]int{"unsupported-pattern:app:id": 7}},
		"amnesty-investigations/cytrox.stix2": {map[string]int{"domain": 336},
			map[string]int{"unsupported-pattern:file:path": 6, "unsupported-pattern:configuration-profile:id": 1}},
		"amnesty-investigations/nso_pegasus.stix2": {map[string]int{"domain": 1438, "email": 29},
			map[string]int{"unsupported-pattern:process:name": 81, "unsupported-pattern:file:name": 1}},
		// seven domain-name values are IPv4 addresses, which the
		// canonical form refuses as domains
		"amnesty-investigations/serbia_novispy.stix2": {map[string]int{"sha256": 4},
			map[string]int{"unsupported-pattern:app:id": 4, "unsupported-pattern:app:cert.sha256": 3, "refused:domain": 7}},

		"oasis-json-schemas/indicator-for-c2-ip-address.json":        {map[string]int{"ipv4": 1}, nil},
		"oasis-json-schemas/indicator-to-campaign-relationship.json": {map[string]int{"ipv4": 1}, nil},
		"oasis-json-schemas/indicators-for-C2-with-COA.json":         {map[string]int{"ipv4": 1, "sha256": 1}, nil},
		"oasis-json-schemas/infrastructure.json":                     {map[string]int{}, nil}, // SCOs only
		"oasis-json-schemas/malicious-email-indicator-with-attachment.json": {map[string]int{}, map[string]int{
			"unsupported-pattern:email-message:subject MATCHES":                             1,
			"unsupported-pattern:email-message:body_multipart[*].body_raw_ref.name MATCHES": 1}},
		// four ipv4-addr values are /15 blocks; two x509 patterns use AND
		"oasis-json-schemas/threat-report-apt1.json": {map[string]int{"cidr": 4, "domain": 3, "md5": 3},
			map[string]int{"unsupported-pattern:comparisons joined by AND": 2}},
		// 25 indicators, most an OR of a domain and addresses (each
		// indicator's values de-duplicated); 'domain autuo.xicp.net' is
		// refused, the address OR-ed with it taken
		"oasis-json-schemas/threat-report-poisonivy.json": {map[string]int{"domain": 24, "ipv4": 40},
			map[string]int{"unsupported-pattern:file:name": 2, "refused:domain": 1}},
		// no pattern_type: read as stix
		"taxii-fixtures/freetaxii_testlab_indicators.json": {map[string]int{"ipv4": 6}, nil},
		"tlp/tlp1-markings-bundle-stix21.json":             {map[string]int{}, nil},
		"tlp/tlp2-markings-bundle.json":                    {map[string]int{}, nil},
	}
	var indicators, entries, problems, domainEntries int
	for name, w := range files {
		p := sharedFile(t, "stix/"+name)
		es, ps, f, err := ReadFile(p)
		if err != nil || f != FormatSTIX {
			t.Errorf("%s: format %q, err %v", name, f, err)
			continue
		}
		checkTally(t, name, es, ps, w.types, w.problems)
		if strings.HasSuffix(name, ".stix2") {
			n := countIndicators(t, p)
			// single comparisons: every indicator is one entry or one problem
			if len(es)+len(ps) != n {
				t.Errorf("%s: %d indicators, %d entries + %d problems", name, n, len(es), len(ps))
			}
			indicators += n
			entries += len(es)
			problems += len(ps)
			domainEntries += count(es, nil).types["domain"]
		}
	}
	if indicators != 2868 || entries != 2706 || problems != 162 || domainEntries != 2585 {
		t.Errorf("mvt and Amnesty: %d indicators, %d entries (%d domains), %d problems; want 2868, 2706 (2585), 162",
			indicators, entries, domainEntries, problems)
	}
}

func countIndicators(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Objects []struct {
			Type string `json:"type"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range b.Objects {
		if o.Type == "indicator" {
			n++
		}
	}
	return n
}

func TestSharedLists(t *testing.T) {
	for name, w := range map[string]struct {
		types    map[string]int
		problems map[string]int
	}{
		// README: 120,430 IPv4 after a "#" header
		"iocs/ipsum.txt": {map[string]int{"ipv4": 120430}, nil},
		// README says 19,862 (wc -l); the last line has no newline
		"iocs/threatfox_ips.txt": {map[string]int{"ipv4": 19863}, nil},
		// README: 20,907 lines, 265 of them CIDR blocks
		"iocs/blocklistproject_malware.ip": {map[string]int{"ipv4": 20642, "cidr": 265}, nil},
		// README: 190,215 domains; 48 refused by indicator.Detect as having
		// an unknown top-level domain (cut-off or made-up names). Names under
		// ccTLDs that the public suffix list has only as wildcard rules
		// ("*.np", "*.kh", …) such as "adscreen.com.np" are accepted.
		"iocs/blocklistproject_phishing_domains.txt": {map[string]int{"domain": 190167}, map[string]int{"refused:domain": 48}},
	} {
		p := sharedFile(t, name)
		es, ps, f, err := ReadFile(p)
		if err != nil || f != FormatLines {
			t.Errorf("%s: format %q, err %v", name, f, err)
			continue
		}
		checkTally(t, name, es, ps, w.types, w.problems)
		for _, p := range ps {
			if !strings.Contains(p.Err.Error(), "top-level domain") && !strings.Contains(p.Err.Error(), "public suffix") {
				t.Errorf("%s %s: %v", name, p.Where, p.Err)
			}
		}
	}
}
