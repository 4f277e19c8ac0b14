package warninglist

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// hits renders Check's result as "list:kind:entry" items, for tables.
func hits(hs []Hit) string {
	var b []string
	for _, h := range hs {
		b = append(b, fmt.Sprintf("%s:%s:%s", h.List, h.Kind, h.Entry))
	}
	return strings.Join(b, " ")
}

type checkCase struct {
	t     indicator.Type
	value string
	want  string // hits(...) of the result
}

func runChecks(t *testing.T, s *Set, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		if got := hits(s.Check(tc.t, tc.value)); got != tc.want {
			t.Errorf("Check(%s, %q) = %q; want %q", tc.t, tc.value, got, tc.want)
		}
	}
}

func mustSet(t testing.TB, lists ...*List) *Set {
	t.Helper()
	s, err := NewSet(lists...)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

func TestCheckListTypes(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("hosts", "hostname", nil, ".example.com", "*.wild.example", "Upper.EXAMPLE.", "bücher.example", "com.example"), Refuse),
		mustParse(t, listFile("strings", "string", nil, "Exact.example", "D41D8CD98F00B204E9800998ECF8427E", "HTTP://Example.org/Path?q=1", "192.0.2.200", "t13d1516h2_8daaf6152771_B186095e22b6"), Refuse),
		mustParse(t, listFile("subs", "substring", []string{"url"}, "/wp-admin/", "Login"), Flag),
		mustParse(t, listFile("res", "regex", nil, `/^ns[0-9]+\./i`, `^mail\.`), Flag),
		mustParse(t, listFile("nets", "cidr", []string{"ip-src", "ip-dst"}, "10.1.0.0/16", "192.0.2.0/24", "198.51.100.7", "10.0.0.0/8", "2001:db8::/32"), Refuse),
	)
	runChecks(t, s, []checkCase{
		// hostname: the entry and its sub-domains, entries normalised.
		{indicator.Domain, "example.com", "hosts:refuse:.example.com"},
		{indicator.Hostname, "a.b.example.com", "hosts:refuse:.example.com"},
		{indicator.Domain, "notexample.com", ""},
		{indicator.Domain, "example.com.evil.net", ""},
		{indicator.Domain, "wild.example", "hosts:refuse:*.wild.example"},
		{indicator.Domain, "x.wild.example", "hosts:refuse:*.wild.example"},
		{indicator.Domain, "www.upper.example", "hosts:refuse:Upper.EXAMPLE."},
		{indicator.Domain, "xn--bcher-kva.example", "hosts:refuse:bücher.example"},
		{indicator.Domain, "WWW.Example.COM", "hosts:refuse:.example.com"}, // not canonical, still found
		// string: exact, case-insensitive except for urls and ja4.
		{indicator.Domain, "exact.example", "strings:refuse:Exact.example"},
		{indicator.Domain, "sub.exact.example", ""},
		{indicator.MD5, "d41d8cd98f00b204e9800998ecf8427e", "strings:refuse:D41D8CD98F00B204E9800998ECF8427E"},
		{indicator.URL, "http://example.org/Path?q=1", "strings:refuse:HTTP://Example.org/Path?q=1"},
		{indicator.URL, "http://example.org/path?q=1", ""},
		{indicator.IPv4, "192.0.2.200", "strings:refuse:192.0.2.200 nets:refuse:192.0.2.0/24"},
		{indicator.JA4, "t13d1516h2_8daaf6152771_B186095e22b6", "strings:refuse:t13d1516h2_8daaf6152771_B186095e22b6"},
		{indicator.JA4, "t13d1516h2_8daaf6152771_b186095e22b6", ""},
		// substring: applies to urls only (matching_attributes), case-sensitive there.
		{indicator.URL, "https://site.test/wp-admin/x.php", "subs:flag:/wp-admin/"},
		{indicator.URL, "https://site.test/Login", "subs:flag:Login"},
		{indicator.URL, "https://site.test/LOGIN", ""},
		{indicator.Domain, "wp-admin.test", ""},
		// regex: against the value, PHP delimiters and flags understood.
		{indicator.Hostname, "ns12.provider.test", "res:flag:/^ns[0-9]+\\./i"},
		{indicator.Domain, "mail.provider.test", "res:flag:^mail\\."},
		{indicator.Domain, "email.provider.test", ""},
		// cidr: addresses inside, blocks overlapping; the outermost entry is named.
		{indicator.IPv4, "192.0.2.9", "nets:refuse:192.0.2.0/24"},
		{indicator.IPv4, "198.51.100.7", "nets:refuse:198.51.100.7"},
		{indicator.IPv4, "198.51.100.8", ""},
		{indicator.IPv4, "10.1.2.3", "nets:refuse:10.0.0.0/8"},
		{indicator.IPv6, "2001:db8::1", "nets:refuse:2001:db8::/32"},
		{indicator.IPv6, "2001:db9::1", ""},
		{indicator.CIDR, "192.0.2.0/25", "nets:refuse:192.0.2.0/24"},  // inside an entry
		{indicator.CIDR, "192.0.0.0/16", "nets:refuse:192.0.2.0/24"},  // contains an entry
		{indicator.CIDR, "198.51.0.0/16", "nets:refuse:198.51.100.7"}, // contains a bare address
		{indicator.CIDR, "192.1.0.0/16", ""},
		{indicator.CIDR, "2001:db8:1::/48", "nets:refuse:2001:db8::/32"},
		{indicator.CIDR, "2001::/16", "nets:refuse:2001:db8::/32"},
		{indicator.CIDR, "2002::/16", ""},
		// Unknown types and empty values match nothing.
		{"no-such-type", "example.com", ""},
		{indicator.Domain, "", ""},
	})
}

func TestCheckURL(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("top", "hostname", []string{"hostname", "domain", "url"}, "example.com", "bit.example"), Refuse),
		mustParse(t, listFile("urls", "string", []string{"url"}, "https://docs.example.com/benign/form"), Refuse),
		mustParse(t, listFile("private", "cidr", []string{"ip-dst"}, "10.0.0.0/8", "fd00::/8"), Refuse),
		mustParse(t, listFile("cloud", "cidr", []string{"ip-dst"}, "52.95.0.0/16"), Flag),
		mustParse(t, listFile("dns-only", "hostname", []string{"domain"}, "only-domain.test"), Refuse),
	)
	runChecks(t, s, []checkCase{
		// A top site's host with a trivial path is refused.
		{indicator.URL, "https://docs.example.com/", "top:refuse:example.com"},
		{indicator.URL, "https://docs.example.com", "top:refuse:example.com"},
		{indicator.URL, "https://docs.example.com/#frag", "top:refuse:example.com"},
		{indicator.URL, "https://user@docs.example.com:8443/", "top:refuse:example.com"},
		// A path or a query makes it a flag: a form on a sharing site.
		{indicator.URL, "https://docs.example.com/forms/d/xyz", "top:flag:example.com"},
		{indicator.URL, "https://docs.example.com/?id=1", "top:flag:example.com"},
		{indicator.URL, "https://bit.example/AbC", "top:flag:bit.example"},
		// A whole-URL string entry refuses, whatever the host rule says.
		{indicator.URL, "https://docs.example.com/benign/form", "urls:refuse:https://docs.example.com/benign/form top:flag:example.com"},
		// IP hosts: against cidr lists; the path rule is for names only.
		{indicator.URL, "http://10.1.2.3/admin/login.php", "private:refuse:10.0.0.0/8"},
		{indicator.URL, "http://[fd00::1]:8080/x", "private:refuse:fd00::/8"},
		{indicator.URL, "http://52.95.1.1/x", "cloud:flag:52.95.0.0/16"},
		// A list of matching_attributes ["domain"] still applies to a URL's host.
		{indicator.URL, "http://www.only-domain.test/", "dns-only:refuse:only-domain.test"},
		{indicator.URL, "http://unlisted.test/", ""},
		{indicator.URL, "not a url", ""},
	})
}

func TestCheckEmail(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("freemail", "hostname", []string{"domain", "hostname"}, "mail.example"), Refuse),
		mustParse(t, listFile("contacts", "string", []string{"email-src"}, "abuse@isp.example"), Refuse),
		mustParse(t, listFile("strings", "string", nil, "isp.example"), Refuse),
		mustParse(t, listFile("url-hosts", "hostname", []string{"url"}, "isp.example"), Refuse),
	)
	runChecks(t, s, []checkCase{
		// The domain part is only ever a flag.
		{indicator.Email, "phisher@mail.example", "freemail:flag:mail.example"},
		{indicator.Email, "phisher@eu.mail.example", "freemail:flag:mail.example"},
		// The whole address against string lists, with the list's kind.
		{indicator.Email, "abuse@isp.example", "contacts:refuse:abuse@isp.example"},
		// Only hostname lists that apply to names or email see the domain.
		{indicator.Email, "someone@isp.example", ""},
		{indicator.Email, "no-at-sign", ""},
		{indicator.Email, "trailing@", ""},
	})
}

func TestCheckMatchingAttributes(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("ip-only-hosts", "hostname", []string{"ip-src"}, "example.com"), Refuse),
		mustParse(t, listFile("domain-only-strings", "string", []string{"domain"}, "192.0.2.1", "example.net"), Refuse),
		mustParse(t, listFile("sha224-only", "string", []string{"sha224", "ssdeep"}, "d41d8cd98f00b204e9800998ecf8427e"), Refuse),
		mustParse(t, listFile("md5-only", "string", []string{"filename|md5"}, "0123456789abcdef0123456789abcdef"), Refuse),
		mustParse(t, listFile("ja3", "string", []string{"ja3-fingerprint-md5"}, "0123456789abcdef0123456789abcdef"), Flag),
		mustParse(t, listFile("x509", "string", []string{"x509-fingerprint-sha1"}, "da39a3ee5e6b4b0d3255bfef95601890afd80709"), Refuse),
	)
	runChecks(t, s, []checkCase{
		{indicator.Domain, "example.com", ""},
		{indicator.IPv4, "192.0.2.1", ""},
		{indicator.Domain, "example.net", "domain-only-strings:refuse:example.net"},
		{indicator.MD5, "d41d8cd98f00b204e9800998ecf8427e", ""},
		{indicator.MD5, "0123456789abcdef0123456789abcdef", "md5-only:refuse:0123456789abcdef0123456789abcdef"},
		{indicator.JA3, "0123456789abcdef0123456789abcdef", "ja3:flag:0123456789abcdef0123456789abcdef"},
		{indicator.X509SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "x509:refuse:da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{indicator.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", ""},
	})
}

func TestCheckDelegation(t *testing.T) {
	top := mustParse(t, listFile("top", "hostname", nil, "duckdns.example", "www.duckdns.example", "big.example"), Refuse)
	dyn := mustParse(t, listFile("dyn", "hostname", nil, ".duckdns.example"), Flag)
	dyn.Delegates = true
	s := mustSet(t, top, dyn)
	runChecks(t, s, []checkCase{
		// A customer's sub-domain: flagged, even by the top-sites list.
		{indicator.Domain, "evil.duckdns.example", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.Domain, "a.b.duckdns.example", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.URL, "http://evil.duckdns.example/", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.Email, "x@evil.duckdns.example", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		// The provider's own domain: refused by both.
		{indicator.Domain, "duckdns.example", "top:refuse:duckdns.example dyn:refuse:.duckdns.example"},
		{indicator.URL, "https://duckdns.example/", "top:refuse:duckdns.example dyn:refuse:.duckdns.example"},
		{indicator.URL, "https://duckdns.example/phish", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.Email, "x@duckdns.example", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		// A refuse entry more specific than the zone still refuses; www
		// under a delegating zone is the provider's own host.
		{indicator.Domain, "www.duckdns.example", "top:refuse:www.duckdns.example dyn:refuse:.duckdns.example"},
		{indicator.Domain, "x.www.duckdns.example", "top:refuse:www.duckdns.example dyn:refuse:.duckdns.example"},
		{indicator.Domain, "www.evil.duckdns.example", "top:flag:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.Domain, "x.big.example", "top:refuse:big.example"},
	})

	// Without delegation the top-sites list refuses the customer's name.
	plain := mustParse(t, listFile("dyn", "hostname", nil, ".duckdns.example"), Flag)
	runChecks(t, mustSet(t, top, plain), []checkCase{
		{indicator.Domain, "evil.duckdns.example", "top:refuse:duckdns.example dyn:flag:.duckdns.example"},
		{indicator.Domain, "duckdns.example", "top:refuse:duckdns.example dyn:flag:.duckdns.example"},
	})

	// An operator who makes the delegating list refuse gets refusals.
	r, err := s.WithKinds(map[string]Kind{"dyn": Refuse})
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, r, []checkCase{
		{indicator.Domain, "evil.duckdns.example", "dyn:refuse:.duckdns.example top:flag:duckdns.example"},
	})

	// Only a hostname list can delegate.
	bad := mustParse(t, listFile("bad", "string", nil, "x.example"), Flag)
	bad.Delegates = true
	if _, err := NewSet(bad); err == nil || !strings.Contains(err.Error(), "only a hostname list can delegate") {
		t.Errorf("NewSet with a delegating string list: %v", err)
	}
}

func TestCheckOrderAndDuplicates(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("a-flag", "hostname", nil, "example.com"), Flag),
		mustParse(t, listFile("b-refuse", "hostname", nil, "example.com", "www.example.com", ".example.com"), Refuse),
		mustParse(t, listFile("c-refuse", "string", nil, "www.example.com"), Refuse),
	)
	// Refuse hits first, then in the order of the set; each list once,
	// naming its most specific entry.
	runChecks(t, s, []checkCase{
		{indicator.Domain, "www.example.com", "b-refuse:refuse:www.example.com c-refuse:refuse:www.example.com a-flag:flag:example.com"},
	})
}

func TestCheckManyHits(t *testing.T) {
	// More hits than the collector's inline buffer.
	var lists []*List
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("l%02d", i)
		lists = append(lists, mustParse(t, listFile(name, "hostname", nil, "example.com"), Refuse))
		want = append(want, name+":refuse:example.com")
	}
	runChecks(t, mustSet(t, lists...), []checkCase{{indicator.Domain, "a.example.com", strings.Join(want, " ")}})
}

func TestCheckNoAllocOnMiss(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []checkCase{
		{indicator.Domain, "www.unlisted-example.net", ""},
		{indicator.IPv4, "203.0.114.9", ""},
		{indicator.URL, "https://unlisted-example.net/a/b?c=d", ""},
		{indicator.SHA256, strings.Repeat("ab", 32), ""},
		{indicator.Email, "x@unlisted-example.net", ""},
	} {
		if n := testing.AllocsPerRun(100, func() { s.Check(tc.t, tc.value) }); n != 0 {
			t.Errorf("Check(%s, %q) allocates %v times", tc.t, tc.value, n)
		}
	}
}

func TestNewSetErrors(t *testing.T) {
	a := mustParse(t, listFile("a", "string", nil, "x"), Refuse)
	a2 := mustParse(t, listFile("a", "hostname", nil, "x.example"), Flag)
	changed := mustParse(t, listFile("c", "string", nil, "x"), Refuse)
	changed.Type = "hostname"
	badKind := mustParse(t, listFile("k", "string", nil, "x"), Refuse)
	badKind.Kind = "block"
	for _, tc := range []struct {
		lists []*List
		want  string
	}{
		{[]*List{a, a2}, `warninglist: two lists are named "a"`},
		{[]*List{a, nil}, `warninglist: list 2 of the set is nil`},
		{[]*List{{Name: "hand-made"}}, `warninglist: list "hand-made" was not made by Parse`},
		{[]*List{changed}, `warninglist: list "c": its Type was changed from "string" to "hostname" after Parse`},
		{[]*List{badKind}, `warninglist: list "k": kind "block" is neither "refuse" nor "flag"`},
	} {
		if _, err := NewSet(tc.lists...); err == nil || err.Error() != tc.want {
			t.Errorf("NewSet error = %v; want %s", err, tc.want)
		}
	}
	// An empty set is fine and matches nothing.
	if hs := mustSet(t).Check(indicator.Domain, "example.com"); hs != nil {
		t.Errorf("empty set: %v", hs)
	}
	var nilSet *Set
	if hs := nilSet.Check(indicator.Domain, "example.com"); hs != nil {
		t.Errorf("nil set: %v", hs)
	}
}

func TestWithKinds(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("cloud", "cidr", nil, "52.95.0.0/16"), Flag),
		mustParse(t, listFile("top", "hostname", nil, "example.com"), Refuse),
	)
	r, err := s.WithKinds(map[string]Kind{"cloud": Refuse, "top": Flag})
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, r, []checkCase{
		{indicator.IPv4, "52.95.1.1", "cloud:refuse:52.95.0.0/16"},
		{indicator.Domain, "example.com", "top:flag:example.com"},
	})
	// The original set is unchanged.
	runChecks(t, s, []checkCase{
		{indicator.IPv4, "52.95.1.1", "cloud:flag:52.95.0.0/16"},
		{indicator.Domain, "example.com", "top:refuse:example.com"},
	})
	if _, err := s.WithKinds(map[string]Kind{"nope": Flag}); err == nil || err.Error() != `warninglist: there is no list named "nope" (known: cloud, top)` {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := s.WithKinds(map[string]Kind{"top": "block"}); err == nil || err.Error() != `warninglist: list "top": kind "block" is neither "refuse" nor "flag"` {
		t.Errorf("bad kind: %v", err)
	}
}

func TestWith(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("a", "hostname", nil, "a.example"), Refuse),
		mustParse(t, listFile("b", "hostname", nil, "b.example"), Refuse),
	)
	s, err := s.WithKinds(map[string]Kind{"a": Flag})
	if err != nil {
		t.Fatal(err)
	}
	b2 := mustParse(t, listFile("b", "hostname", nil, "b2.example"), Flag)
	c := mustParse(t, listFile("c", "hostname", nil, "c.example"), Refuse)
	w, err := s.With(c, b2)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, w, []checkCase{
		{indicator.Domain, "a.example", "a:flag:a.example"}, // the kind set by WithKinds stays
		{indicator.Domain, "b.example", ""},                 // replaced
		{indicator.Domain, "b2.example", "b:flag:b2.example"},
		{indicator.Domain, "c.example", "c:refuse:c.example"},
	})
	var names []string
	for _, l := range w.Lists() {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c" {
		t.Errorf("Lists() names = %s", got)
	}
	if _, err := s.With(c, c); err == nil || err.Error() != `warninglist: two lists are named "c"` {
		t.Errorf("With(c, c): %v", err)
	}
}

func TestSplitURL(t *testing.T) {
	for _, tc := range []struct {
		in    string
		host  string
		pathy bool
		ok    bool
	}{
		{"https://example.com/", "example.com", false, true},
		{"https://example.com", "example.com", false, true},
		{"https://u:p@example.com:8443/a", "example.com", true, true},
		{"http://[2001:db8::1]:8080/?q", "2001:db8::1", true, true},
		{"http://[2001:db8::1/", "", false, false},
		{"http://example.com?q=1", "example.com", true, true},
		{"http://example.com/#x", "example.com", false, true},
		{"example.com/x", "", false, false},
	} {
		host, pathy, ok := splitURL(tc.in)
		if host != tc.host || pathy != tc.pathy || ok != tc.ok {
			t.Errorf("splitURL(%q) = %q, %v, %v; want %q, %v, %v", tc.in, host, pathy, ok, tc.host, tc.pathy, tc.ok)
		}
	}
}

// TestCheckSTIXPatternNever: a STIX pattern is not a value of any list's
// type, so it is never screened, even by lists for every type whose entries
// it contains (a substring or regex list would otherwise refuse or flag
// pattern indicators for words in their text).
func TestCheckSTIXPatternNever(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("any-substring", "substring", nil, "domain-name", "example"), Refuse),
		mustParse(t, listFile("any-regex", "regex", nil, "value"), Flag),
		mustParse(t, listFile("any-string", "string", nil, "[domain-name:value = 'evil.example.org']"), Refuse),
	)
	runChecks(t, s, []checkCase{
		{indicator.STIXPattern, "[domain-name:value = 'evil.example.org']", ""},
		{indicator.Domain, "evil.example.org", "any-substring:refuse:example"},
	})
}

// A delegating zone's customers live at least customerZones' depth below
// it; names above that depth, and www directly under a zone, are the
// provider's own services and are refused like the zone: elb.amazonaws.com
// is every AWS load balancer, not a customer's name.
func TestCheckDelegationDepth(t *testing.T) {
	top := mustParse(t, listFile("top", "hostname", nil, "amazonaws.com", "tumblr.com"), Refuse)
	zones := mustParse(t, listFile("zones", "hostname", nil, "amazonaws.com", "s3.amazonaws.com", "tumblr.com", "sendgrid.net", "cloudapp.azure.com"), Flag)
	zones.Delegates = true
	s := mustSet(t, top, zones)
	const (
		awsRefused = "top:refuse:amazonaws.com zones:refuse:amazonaws.com"
		awsFlagged = "top:flag:amazonaws.com zones:flag:amazonaws.com"
	)
	runChecks(t, s, []checkCase{
		// AWS's own service names.
		{indicator.Domain, "elb.amazonaws.com", awsRefused},
		{indicator.Domain, "s3.eu-west-2.amazonaws.com", awsRefused},
		{indicator.Domain, "eu-west-2.compute.amazonaws.com", awsRefused},
		{indicator.Domain, "sqs.us-east-1.amazonaws.com", awsRefused},
		{indicator.Domain, "compute-1.amazonaws.com", awsRefused},
		{indicator.URL, "https://s3.eu-west-2.amazonaws.com/", awsRefused},
		// A path on a service host may be a customer's: flagged.
		{indicator.URL, "https://s3.eu-west-2.amazonaws.com/evil-bucket/login.html", awsFlagged},
		// Customers' names.
		{indicator.Domain, "evil-bucket.s3.eu-west-2.amazonaws.com", awsFlagged},
		{indicator.Domain, "ec2-52-14-116-185.us-east-2.compute.amazonaws.com", awsFlagged},
		{indicator.Domain, "phish-1234.eu-west-2.elb.amazonaws.com", awsFlagged},
		{indicator.Domain, "ec2-54-197-140-72.compute-1.amazonaws.com", awsFlagged},
		{indicator.Domain, "bucket.s3-website-us-east-1.amazonaws.com", awsFlagged},
		// s3.amazonaws.com is an entry of its own: its customers are one
		// label below it.
		{indicator.Domain, "evil-bucket.s3.amazonaws.com", "top:flag:amazonaws.com zones:flag:s3.amazonaws.com"},
		{indicator.Domain, "s3.amazonaws.com", "top:refuse:amazonaws.com zones:refuse:s3.amazonaws.com"},
		// www directly under a zone is the provider's; other labels are
		// customers'.
		{indicator.Domain, "www.tumblr.com", "top:refuse:tumblr.com zones:refuse:tumblr.com"},
		{indicator.Domain, "coinbase-blog.tumblr.com", "top:flag:tumblr.com zones:flag:tumblr.com"},
		{indicator.Domain, "ct.sendgrid.net", "zones:refuse:sendgrid.net"},
		{indicator.Domain, "u10021139.ct.sendgrid.net", "zones:flag:sendgrid.net"},
		{indicator.Domain, "canadacentral.cloudapp.azure.com", "zones:refuse:cloudapp.azure.com"},
		{indicator.Domain, "funds-cra.canadacentral.cloudapp.azure.com", "zones:flag:cloudapp.azure.com"},
		// An email at a service host is still only flagged.
		{indicator.Email, "x@elb.amazonaws.com", awsFlagged},
	})
}

// A domain indicator stands for every name under it, so a value above a
// listed name covers it: it hits the list with the list's kind, and a value
// above a delegating zone is refused (it would cover the provider's zone
// and every customer in it). Host names and URLs name one host and are not
// affected.
func TestCheckDomainAboveEntry(t *testing.T) {
	top := mustParse(t, listFile("top", "hostname", nil, "s.rlp.example", "a.b.deep.example"), Refuse)
	watch := mustParse(t, listFile("watch", "hostname", []string{"domain"}, "cdn.watched.example"), Flag)
	zones := mustParse(t, listFile("zones", "hostname", nil, "blob.core.windows.example"), Flag)
	zones.Delegates = true
	s := mustSet(t, top, watch, zones)
	runChecks(t, s, []checkCase{
		{indicator.Domain, "rlp.example", "top:refuse:s.rlp.example"},
		{indicator.Domain, "b.deep.example", "top:refuse:a.b.deep.example"},
		{indicator.Domain, "deep.example", "top:refuse:a.b.deep.example"},
		{indicator.Domain, "watched.example", "watch:flag:cdn.watched.example"},
		{indicator.Domain, "core.windows.example", "zones:refuse:blob.core.windows.example"},
		{indicator.Domain, "windows.example", "zones:refuse:blob.core.windows.example"},
		// Siblings and the names themselves as before.
		{indicator.Domain, "t.rlp.example", ""},
		{indicator.Domain, "s.rlp.example", "top:refuse:s.rlp.example"},
		{indicator.Domain, "evil.blob.core.windows.example", "zones:flag:blob.core.windows.example"},
		// One host, not what lies under it.
		{indicator.Hostname, "rlp.example", ""},
		{indicator.URL, "https://rlp.example/", ""},
		{indicator.Email, "x@rlp.example", ""},
	})
}

// The audit's names against the shipped set: AWS's, Tumblr's and
// SendGrid's own service names, and a parent of a listed name, are
// refused; the customers' names on the same platforms are still flagged.
func TestDefaultProviderNamesAndParents(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{"elb.amazonaws.com", "s3.eu-west-2.amazonaws.com", "s3.us-east-1.amazonaws.com",
		"eu-west-2.compute.amazonaws.com", "www.tumblr.com", "ct.sendgrid.net",
		"rlp.de",      // url-shortener lists s.rlp.de
		"windows.net", // above hosting-zones' blob.core.windows.net
	}
	flagged := []string{"evil-bucket.s3.amazonaws.com", "mmcharty.s3.us-east-1.amazonaws.com",
		"ec2-54-197-140-72.compute-1.amazonaws.com", "ec2-52-14-116-185.us-east-2.compute.amazonaws.com",
		"attacker-app.herokuapp.com", "coinbase-blog.tumblr.com", "u10021139.ct.sendgrid.net",
		"evil-login.github.io", "evil.duckdns.org"}
	for _, v := range refused {
		hs := s.Check(indicator.Domain, v)
		if len(hs) == 0 || hs[0].Kind != Refuse {
			t.Errorf("Check(domain, %q) = %q; want refused", v, hits(hs))
		}
	}
	for _, v := range flagged {
		hs := s.Check(indicator.Domain, v)
		if len(hs) == 0 || hs[0].Kind != Flag {
			t.Errorf("Check(domain, %q) = %q; want flagged (a customer's name)", v, hits(hs))
		}
	}
}
