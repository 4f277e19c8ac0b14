package indicator

import (
	"errors"
	"strings"
	"testing"
)

// TestPatternRules: patterns that every event (or every event of a kind)
// satisfies, and patterns that wrap a value the plain type refuses, are
// refused, and the error names the comparison and why; legitimate patterns
// are accepted.
func TestPatternRules(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	for _, c := range []struct{ in, want string }{
		// Rule 1: values the plain type refuses.
		{"[ipv4-addr:value ISSUBSET '0.0.0.0/0']", `in ipv4-addr:value ISSUBSET '0.0.0.0/0', cidr "0.0.0.0/0" has prefix length /0`},
		{"[ipv6-addr:value ISSUBSET '::/0']", `cidr "::/0" has prefix length /0`},
		{"[network-traffic:dst_ref.value ISSUBSET '0.0.0.0/1']", `cidr "0.0.0.0/1" has prefix length /1`},
		{"[ipv4-addr:value = '0.0.0.0/4']", `cidr "0.0.0.0/4" has prefix length /4`},
		{"[domain-name:value = 'co.uk' AND domain-name:value = 'co.uk']", `in domain-name:value = 'co.uk', domain "co.uk" is a public suffix`},
		{"[domain-name:value = 'com' AND file:name = 'x.exe']", `domain "com" must have at least two labels`},
		{"[url:value = 'evil.example' AND file:name = 'x.exe']", `url "evil.example"`},
		{"[email-addr:value IN ('a@evil.example', 'nobody') AND file:name = 'x.exe']", `email "nobody" has no @`},
		{"[network-traffic:dst_ref.value = 'co.uk' AND network-traffic:dst_port = 443]", `domain "co.uk" is a public suffix`},
		{"[file:hashes.'SHA-256' = '" + sha + "' AND file:hashes.MD5 != 'zz']", "not a valid STIX pattern"}, // the parser's own hash check
		// Rule 2: LIKE without a literal domain of whole labels.
		{"[domain-name:value LIKE '%']", `through domain-name:value LIKE '%' (does not end in a literal domain name`},
		{"[domain-name:value LIKE '%.co.uk']", "does not end in a literal domain name"},
		{"[domain-name:value LIKE '%le.com']", "does not end in a literal domain name"},
		{"[domain-name:value LIKE 'evil.%']", "does not end in a literal domain name"},
		{"[domain-name:value LIKE '_____']", "does not end in a literal domain name"},
		{"[url:value LIKE '%']", "does not name a host"},
		{"[url:value LIKE 'http://%']", "does not name a host"},
		{"[url:value LIKE 'https://%.com/%']", "does not name a host"},
		{"[url:value LIKE '%/evil.php']", "does not name a host"},
		{"[email-addr:value LIKE '%@%']", "does not end in '@'"},
		{"[ipv4-addr:value LIKE '10.%']", "compare a range with ISSUBSET"},
		{"[file:name LIKE '%.exe']", "has no literal run of 8 characters"},
		// Rule 2: MATCHES that matches the empty string or anything.
		{"[domain-name:value MATCHES '.*']", "can match without a literal of 8 characters"},
		{"[domain-name:value MATCHES '']", "can match without a literal"},
		{"[url:value MATCHES '^https?://']", "can match without a literal"},
		{"[domain-name:value MATCHES '\\\\.co\\\\.uk$']", "can match without a literal"},
		{"[domain-name:value MATCHES '[a-z]+\\\\.com\\\\.au']", "can match without a literal"},
		{"[domain-name:value MATCHES '(evil\\\\.example|.*)']", "can match without a literal"},
		{"[process:command_line MATCHES '(?i)cmd']", "can match without a literal"},
		// Rule 2: negations standing alone.
		{"[domain-name:value != 'x.example']", "(is a negation, which holds for every other value)"},
		{"[ipv4-addr:value NOT = '1.2.3.4']", "is a negation"},
		{"[domain-name:value NOT LIKE '%.evil.example']", "is a negation"},
		{"[domain-name:value NOT IN ('a.example', 'b.example')]", "is a negation"},
		{"[domain-name:value != 'a.example' AND domain-name:value != 'b.example']",
			"through domain-name:value != 'a.example' (is a negation, which holds for every other value) AND domain-name:value != 'b.example'"},
		// A negation ORed with an anchor still stands alone in its alternative.
		{"[domain-name:value = 'evil.example' OR domain-name:value != 'x.example']", "through domain-name:value != 'x.example' (is a negation"},
		// Every bracketed observation expression needs its anchor.
		{"[domain-name:value = 'evil.example'] FOLLOWEDBY [url:value LIKE '%']", "satisfies [url:value LIKE '%'] through"},
		{"([domain-name:value LIKE '%']) WITHIN 5 SECONDS", "matches too broadly"},
		// Other comparisons that pin down nothing.
		{"[network-traffic:dst_port = 443]", "compares with a number"},
		{"[network-traffic:dst_ref.type = 'ipv4-addr']", "compares an enumeration"},
		{"[network-traffic:protocols[*] = 'tcp']", "compares an enumeration"},
		{"[file:size > 0]", "compares by order"},
		{"[EXISTS domain-name:value]", "holds for every object with the property"},
		{"[file:name LIKE '%' AND file:size > 10]", "has no literal run"},
	} {
		_, err := Canonicalize(STIXPattern, c.in)
		var ie *Error
		if !errors.As(err, &ie) || ie.Type != STIXPattern || ie.Value != c.in || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v\nwant one saying %q", c.in, err, c.want)
		}
		// The STIX and MISP importers read patterns with FromSTIXPattern.
		if plain, _, err := FromSTIXPattern(c.in); err == nil && len(plain) == 1 && plain[0].Type == STIXPattern {
			t.Errorf("%s: FromSTIXPattern kept it as a pattern indicator", c.in)
		}
	}

	// Patterns that pin down a value keep working, negations and broad
	// comparisons included when ANDed with an anchor.
	for _, in := range []string{
		"[file:hashes.'SHA-256' = '" + sha + "']",
		"[domain-name:value = 'evil.example.com']",
		"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5']",
		"[url:value LIKE 'http://evil.example.com/%']",
		"[url:value LIKE 'http%://%.evil.example.com/%']",
		"[url:value LIKE 'http://203.0.113.5:8080/%']",
		"[domain-name:value LIKE '%.evil.example']",
		"[domain-name:value LIKE '%.duckdns.org']", // a private-section suffix is an ordinary domain
		"[domain-name:value LIKE '%[.]evil.example']",
		"[email-addr:value LIKE '%@evil.example']",
		"[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
		"[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
		"[domain-name:value MATCHES '^[a-z0-9]+\\\\.evil\\\\.example$']",
		"[domain-name:value MATCHES 'evil\\\\.(com|net)$']",
		"[process:command_line MATCHES '(?i)powershell.*-enc']",
		"[domain-name:value != 'good.evil.example' AND domain-name:value LIKE '%.evil.example']",
		"[ipv4-addr:value NOT = '203.0.113.9' AND ipv4-addr:value ISSUBSET '203.0.113.0/24']",
		"[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]",
		"[file:name = 'invoice.exe' AND file:size > 1000]",
		"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Evil']",
		"[domain-name:value = 'a.example'] FOLLOWEDBY [url:value = 'http://b.example/x'] WITHIN 60 SECONDS",
		"[network-traffic:dst_ref.value = '00:11:22:33:44:55']", // a mac-addr reference
		"[artifact:payload_bin = b'ZXZpbA==']",
		"[domain-name:value IN ()]", // matches nothing
	} {
		if _, err := Canonicalize(STIXPattern, in); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// TestPatternValues: the values a pattern pins down, for the warninglists.
func TestPatternValues(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"[domain-name:value = 'Microsoft.com' AND domain-name:value = 'microsoft.com']", "domain microsoft.com"},
		{"[domain-name:value LIKE '%.microsoft.com'] FOLLOWEDBY [url:value LIKE 'https://%.google.com/%']", "domain microsoft.com; domain google.com"},
		{"[ipv4-addr:value ISSUBSET '8.8.8.0/24' OR ipv4-addr:value = '1.1.1.1/32']", "cidr 8.8.8.0/24; ipv4 1.1.1.1"},
		{"[network-traffic:dst_ref.value = '2001:4860:4860::8888' AND network-traffic:dst_port = 53]", "ipv6 2001:4860:4860::8888"},
		{"[email-addr:value LIKE '%@gmail.com' AND email-addr:value IN ('a@evil.example')]", "domain gmail.com; email a@evil.example"},
		// Negations and regular expressions name no value to screen.
		{"[domain-name:value != 'microsoft.com' AND domain-name:value MATCHES 'google\\\\.com']", ""},
		{"[file:name = 'x.exe']", ""},
	} {
		vs, err := PatternValues(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		var got []string
		for _, v := range vs {
			got = append(got, string(v.Type)+" "+v.Value)
		}
		if g := strings.Join(got, "; "); g != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.in, g, c.want)
		}
	}
}
