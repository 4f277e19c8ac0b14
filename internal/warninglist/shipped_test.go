package warninglist

import (
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// sharedData is the shared/ folder beside the repository (as on the
// developers' machines and in CI), or HDN_SHARED_DATA. Tests that read it
// are skipped where it is absent.
var sharedData = func() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data")
}()

func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data file %s is not present (%v): skipping", p, err)
	}
	return p
}

func TestDefault(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// Every expectation was checked against the list files by hand (grep,
	// a Python walk): 8.8.8.8 is an entry of public-dns-v4, 52.95.110.1 lies
	// in amazon-aws's 52.95.64.0/18, duckdns.org is both in tranco10k and
	// (as ".duckdns.org") in dynamic-dns, github.io is in tranco10k.
	runChecks(t, s, []checkCase{
		{indicator.IPv4, "8.8.8.8", "public-dns-v4:refuse:8.8.8.8"},
		{indicator.IPv4, "10.1.2.3", "rfc1918:refuse:10.0.0.0/8"},
		{indicator.IPv4, "172.31.255.1", "rfc1918:refuse:172.16.0.0/12"},
		{indicator.IPv4, "127.0.0.1", "reserved-ranges:refuse:127.0.0.0/8"},
		{indicator.IPv4, "100.64.1.1", "reserved-ranges:refuse:100.64.0.0/10"},
		{indicator.IPv4, "198.51.100.23", "reserved-ranges:refuse:198.51.100.0/24"},
		{indicator.IPv4, "255.255.255.255", "reserved-ranges:refuse:240.0.0.0/4"},
		{indicator.IPv6, "::1", "reserved-ranges:refuse:::1/128"},
		{indicator.IPv6, "fe80::1", "reserved-ranges:refuse:fe80::/10"},
		{indicator.IPv6, "2001:db8::5", "reserved-ranges:refuse:2001:db8::/32"},
		{indicator.IPv6, "::", "reserved-ranges:refuse:::/128"},
		// IANA's IPv6 special-purpose blocks; NAT64 and 6to4 addresses
		// embed an IPv4 address (64:ff9b::a00:1 is 10.0.0.1) and are
		// refused whole.
		{indicator.IPv6, "64:ff9b::a00:1", "reserved-ranges:refuse:64:ff9b::/96"},
		{indicator.CIDR, "64:ff9b::/96", "reserved-ranges:refuse:64:ff9b::/96"},
		{indicator.IPv6, "64:ff9b:1::c000:201", "reserved-ranges:refuse:64:ff9b:1::/48"},
		{indicator.IPv6, "2002:c000:204::1", "reserved-ranges:refuse:2002::/16"},
		{indicator.IPv6, "2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved-ranges:refuse:2001::/23"},
		{indicator.IPv6, "100::1", "reserved-ranges:refuse:100::/64"},
		{indicator.IPv6, "3fff:12::1", "reserved-ranges:refuse:3fff::/20"},
		{indicator.IPv6, "5f00:1::", "reserved-ranges:refuse:5f00::/16"},
		{indicator.IPv6, "fec0::1", "reserved-ranges:refuse:fec0::/10"},
		{indicator.URL, "http://[64:ff9b::a00:1]/", "reserved-ranges:refuse:64:ff9b::/96"},
		// Public resolvers over IPv6, as over IPv4.
		{indicator.IPv6, "2001:4860:4860::8888", "public-dns-v6:refuse:2001:4860:4860::8888"},
		{indicator.IPv6, "2606:4700:4700::1001", "public-dns-v6:refuse:2606:4700:4700::1001"},
		{indicator.IPv6, "2620:fe::fe", "public-dns-v6:refuse:2620:fe::fe"},
		{indicator.IPv6, "2620:119:53::53", "public-dns-v6:refuse:2620:119:53::53"},
		{indicator.URL, "https://[2620:fe::9]/dns-query", "public-dns-v6:refuse:2620:fe::9"},
		{indicator.CIDR, "10.20.0.0/16", "rfc1918:refuse:10.0.0.0/8"},
		{indicator.IPv4, "52.95.110.1", "amazon-aws:flag:52.95.64.0/18"},
		{indicator.Domain, "google.com", "tranco10k:refuse:google.com"},
		{indicator.Hostname, "mail.google.com", "tranco10k:refuse:google.com"},
		{indicator.Domain, "bit.ly", "tranco10k:refuse:bit.ly url-shortener:refuse:bit.ly"},
		{indicator.URL, "https://docs.google.com/forms/d/xyz", "tranco10k:flag:google.com"},
		{indicator.URL, "https://www.google.com/", "tranco10k:refuse:google.com"},
		{indicator.URL, "https://bit.ly/3xYz", "tranco10k:flag:bit.ly url-shortener:flag:bit.ly"},
		{indicator.Domain, "evil.duckdns.org", "tranco10k:flag:duckdns.org dynamic-dns:flag:.duckdns.org"},
		{indicator.Domain, "duckdns.org", "tranco10k:refuse:duckdns.org dynamic-dns:refuse:.duckdns.org"},
		{indicator.Domain, "evil-login.github.io", "tranco10k:flag:github.io hosting-zones:flag:github.io"},
		{indicator.Domain, "github.io", "tranco10k:refuse:github.io hosting-zones:refuse:github.io"},
		{indicator.Domain, "d871d5f2-6.b-cdn.net", "tranco10k:flag:b-cdn.net hosting-zones:flag:b-cdn.net"},
		{indicator.Domain, "8.190.205.92.host.secureserver.net", "tranco10k:flag:secureserver.net hosting-zones:flag:host.secureserver.net"},
		{indicator.Domain, "smtpout.secureserver.net", "tranco10k:refuse:secureserver.net"},
		{indicator.Email, "ceo-payroll@gmail.com", "tranco10k:flag:gmail.com"},
		{indicator.MD5, "d41d8cd98f00b204e9800998ecf8427e", "empty-hashes:refuse:d41d8cd98f00b204e9800998ecf8427e common-ioc-false-positive:refuse:d41d8cd98f00b204e9800998ecf8427e"},
		{indicator.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty-hashes:refuse:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 common-ioc-false-positive:refuse:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{indicator.Domain, "qzx-invoice-portal-8841.com", ""},
		{indicator.IPv4, "185.220.101.7", ""},
		{indicator.URL, "http://qzx-invoice-portal-8841.com/login.php", ""},
		{indicator.SHA256, strings.Repeat("0a", 32), ""},
	})
}

func TestDefaultMatchesKindsTable(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := shippedKinds()
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(shippedFiles, "lists/*.json")
	if err != nil {
		t.Fatal(err)
	}
	infos := s.Lists()
	if len(infos) != len(files) {
		t.Errorf("Default has %d lists, %d files are embedded", len(infos), len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".json")
		i := slices.IndexFunc(rows, func(r listSpec) bool { return r.name == name })
		if i < 0 {
			t.Errorf("%s has no line in kinds.txt", f)
			continue
		}
		j := slices.IndexFunc(infos, func(l ListInfo) bool { return l.Name == name })
		if j < 0 {
			t.Errorf("%s is not in Default", name)
			continue
		}
		if infos[j].Kind != rows[i].kind || infos[j].Delegates != rows[i].delegates {
			t.Errorf("%s: Default says %s (delegates %v); kinds.txt says %s (%v)", name, infos[j].Kind, infos[j].Delegates, rows[i].kind, rows[i].delegates)
		}
	}
	// The embedded lists stay small: the binary carries them.
	total := 0
	for _, f := range files {
		b, _ := shippedFiles.ReadFile(f)
		total += len(b)
	}
	if total > 3<<20 {
		t.Errorf("the shipped lists take %d bytes; keep them under 3 MiB", total)
	}
}

func TestParseKindsTable(t *testing.T) {
	rows, err := parseKinds("# c\n a refuse \n\nb flag match=hostname delegates # why\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []listSpec{{name: "a", kind: Refuse}, {name: "b", kind: Flag, match: "hostname", delegates: true}}
	if !slices.Equal(rows, want) {
		t.Errorf("parseKinds = %+v; want %+v", rows, want)
	}
	for in, wantErr := range map[string]string{
		"a":                 `warninglist kinds table, line 1: want "name kind [match=TYPE] [delegates]"`,
		"a block":           `warninglist kinds table, line 1: kind "block" is neither "refuse" nor "flag"`,
		"a refuse\na flag":  `warninglist kinds table, line 2: list "a" has a line already`,
		"a refuse match=ip": `warninglist kinds table, line 1: option "match=ip" is neither match=TYPE nor delegates`,
	} {
		if _, err := parseKinds(in); err == nil || err.Error() != wantErr {
			t.Errorf("parseKinds(%q) error = %v; want %s", in, err, wantErr)
		}
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	// Flat layout and MISP's lists/<name>/list.json layout side by side.
	writeFile(t, filepath.Join(dir, "partner-hosts.json"), listFile("Partner hosts", "hostname", nil, "partner.example"))
	writeFile(t, filepath.Join(dir, "partner-nets", "list.json"), listFile("Partner networks", "cidr", nil, "203.0.113.0/24"))
	// Named in the shipped kinds table: its kind and matching come from there.
	writeFile(t, filepath.Join(dir, "cloudflare-top1k", "list.json"), listFile("Top 1000 from Cloudflare", "string", []string{"hostname", "domain", "url"}, "cdn-example.net"))
	writeFile(t, filepath.Join(dir, "amazon-aws.json"), listFile("AWS", "cidr", nil, "52.95.0.0/16"))
	// Skipped: other files, hidden files, folders without list.json.
	writeFile(t, filepath.Join(dir, "README.md"), []byte("# lists"))
	writeFile(t, filepath.Join(dir, ".draft.json"), []byte("{"))
	writeFile(t, filepath.Join(dir, "tools", "generate.py"), []byte(""))

	lists, err := LoadDir(dir, Refuse)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lists {
		got = append(got, l.Name+"/"+l.Type+"/"+string(l.Kind)+"/"+l.Title)
	}
	want := []string{
		"amazon-aws/cidr/flag/AWS",
		"cloudflare-top1k/hostname/refuse/Top 1000 from Cloudflare",
		"partner-hosts/hostname/refuse/Partner hosts",
		"partner-nets/cidr/refuse/Partner networks",
	}
	if !slices.Equal(got, want) {
		t.Errorf("LoadDir =\n %q\nwant\n %q", got, want)
	}

	// Wired as the hub does it: shipped set, more lists, operator kinds.
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if s, err = s.With(lists...); err != nil {
		t.Fatal(err)
	}
	if s, err = s.WithKinds(map[string]Kind{"partner-nets": Flag}); err != nil {
		t.Fatal(err)
	}
	runChecks(t, s, []checkCase{
		{indicator.Domain, "www.partner.example", "partner-hosts:refuse:partner.example"},
		{indicator.IPv4, "203.0.113.9", "reserved-ranges:refuse:203.0.113.0/24 partner-nets:flag:203.0.113.0/24"},
		// Matched as a hostname list although MISP says "string".
		{indicator.Domain, "img.cdn-example.net", "cloudflare-top1k:refuse:cdn-example.net"},
		// The loaded amazon-aws replaced the shipped one.
		{indicator.IPv4, "52.95.1.1", "amazon-aws:flag:52.95.0.0/16"},
		{indicator.IPv4, "3.5.140.1", ""},
	})
}

func TestLoadDirErrors(t *testing.T) {
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "notes.txt"), []byte("x"))

	dup := t.TempDir()
	writeFile(t, filepath.Join(dup, "x.json"), listFile("x", "string", nil, "a"))
	writeFile(t, filepath.Join(dup, "x", "list.json"), listFile("x", "string", nil, "a"))

	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "ok.json"), listFile("ok", "string", nil, "a"))
	writeFile(t, filepath.Join(bad, "broken", "list.json"), listFile("Broken", "cidr", nil, "10.0.0.0/8", "10.0.0.300"))

	for _, tc := range []struct {
		dir  string
		kind Kind
		want string
	}{
		{empty, Refuse, "warninglists: " + empty + " holds no NAME.json or NAME/list.json (for MISP's repository, give its lists/ folder)"},
		{dup, Refuse, "warninglists: " + filepath.Join(dup, "x", "list.json") + " and " + filepath.Join(dup, "x.json") + ` both hold a list named "x"`},
		{bad, Refuse, "warninglist file " + filepath.Join(bad, "broken", "list.json") + `: list "broken": entry 2 "10.0.0.300" is not a CIDR block or IP address`},
		{filepath.Join(empty, "missing"), Refuse, "warninglists: open " + filepath.Join(empty, "missing") + ": no such file or directory"},
		{bad, "", `warninglist: kind "" is neither "refuse" nor "flag"`},
	} {
		if _, err := LoadDir(tc.dir, tc.kind); err == nil || err.Error() != tc.want {
			t.Errorf("LoadDir(%s) error = %v; want %s", tc.dir, err, tc.want)
		}
	}
}

// TestSharedTweetFeedScreening screens a month of public threat-intel posts
// (TweetFeed: domains, URLs, IPs, md5, sha256) with the shipped set. Few
// values are refused, and those are benign infrastructure or a compromised
// site of a top domain; customer sub-domains of hosting zones are flagged.
func TestSharedTweetFeedScreening(t *testing.T) {
	sharedFile(t, "iocs/tweetfeed_month.csv")
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	kinds := map[Kind]int{}
	values := tweetFeedValues(t)
	for _, v := range values {
		hs := s.Check(v.t, v.v)
		if len(hs) == 0 {
			continue
		}
		kinds[hs[0].Kind]++
		if hs[0].Kind == Refuse {
			refused = append(refused, hs[0].List+" "+v.v)
		}
	}
	slices.Sort(refused)
	want := []string{
		"reserved-ranges http://198.51.100.1:443/",
		"rfc1918 http://10.160.197.88:1521/",
		"rfc1918 http://10.160.197.88:7575/",
		"tranco10k c2smtp.hostinger.com",
		"tranco10k deme.stanford.edu",
		"tranco10k dns1.p02.nsone.net",
		"tranco10k http://c2smtp.hostinger.com:587/",
		"tranco10k http://dns1.p02.nsone.net/",
		"tranco10k http://msft-ssp-emea.adnxs.com/",
		"tranco10k http://online-casino-free-spins-no-deposit-india.dpboss.maharashtra.gov.in/",
		"tranco10k http://smtp.hostinger.com/",
		"tranco10k http://smtp.hostinger.com:587/",
		"tranco10k http://zebra.com/",
		"tranco10k https://release-assets.githubusercontent.com/",
		"tranco10k msft-ssp-emea.adnxs.com",
		"tranco10k online-casino-free-spins-no-deposit-india.dpboss.maharashtra.gov.in",
		"tranco10k release-assets.githubusercontent.com",
		"tranco10k smtp.hostinger.com",
		"tranco10k yono.dpboss.maharashtra.gov.in",
	}
	if !slices.Equal(refused, want) {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(refused, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d TweetFeed values: %d refused, %d flagged", len(values), kinds[Refuse], kinds[Flag])
	runChecks(t, s, []checkCase{
		{indicator.Domain, "biglobemailsjp.vercel.app", "tranco10k:flag:vercel.app hosting-zones:flag:vercel.app"},
		{indicator.Domain, "nestlemills31.screenconnect.com", "tranco10k:flag:screenconnect.com hosting-zones:flag:screenconnect.com"},
		{indicator.URL, "https://raw.githubusercontent.com/sean100496/bnb/refs/heads/main/ScreenConnect.ClientSetup.exe", "tranco10k:flag:githubusercontent.com"},
	})
}

// TestLoadDirSharedMISPFiles loads MISP's real files from the shared data
// folder in both layouts, including cloudflare-top100k, which is not shipped.
func TestLoadDirSharedMISPFiles(t *testing.T) {
	src := sharedFile(t, "iocs/misp_warninglists/cloudflare-top100k.json")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cloudflare-top100k", "list.json"), data)
	sl, err := os.ReadFile(filepath.Join(filepath.Dir(src), "second-level-tlds.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "second-level-tlds.json"), sl)
	lists, err := LoadDir(dir, Flag)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct{ List []string }
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(lists) != 2 || lists[0].Name != "cloudflare-top100k" || len(lists[0].Entries) != len(raw.List) || lists[0].Type != "hostname" || lists[0].Kind != Refuse {
		t.Fatalf("LoadDir: %d lists, first %s %s %s with %d entries", len(lists), lists[0].Name, lists[0].Type, lists[0].Kind, len(lists[0].Entries))
	}
	s, err := NewSet(lists...)
	if err != nil {
		t.Fatal(err)
	}
	// 000webhost.com is an entry of cloudflare-top100k; "co.uk" one of
	// second-level-tlds (a "string" list not in the kinds table: exact
	// match, the kind given to LoadDir). A domain "co.uk" would cover every
	// top site under it: refused for the first of them.
	runChecks(t, s, []checkCase{
		{indicator.Hostname, "files.000webhost.com", "cloudflare-top100k:refuse:000webhost.com"},
		{indicator.Hostname, "co.uk", "second-level-tlds:flag:co.uk"},
		{indicator.Domain, "co.uk", "cloudflare-top100k:refuse:1-urlm.co.uk second-level-tlds:flag:co.uk"},
		{indicator.Domain, "example.co.uk", ""},
	})
}
