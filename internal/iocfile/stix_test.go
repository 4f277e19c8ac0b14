package iocfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// stixInd is an indicator object with the given pattern and extra members
// (a JSON fragment without braces, or "").
func stixInd(id, pattern, extra string) string {
	p, _ := json.Marshal(pattern)
	s := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","pattern_type":"stix","pattern":%s`, id, p)
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func stixBundleOf(objs ...string) string {
	return `{"type":"bundle","id":"bundle--1","objects":[` + strings.Join(objs, ",") + `]}`
}

func TestReadSTIXPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		want    []string // entries and problems of indicator--1, without the source
		msg     string   // a substring of the last problem's message
	}{
		{`[domain-name:value = 'evil.example.com']`, []string{"domain evil.example.com"}, ""},
		{`[domain-name:value='EVIL[.]example.com']`, []string{"domain evil.example.com"}, ""},
		{`[ipv4-addr:value = '198.51.100.1']`, []string{"ipv4 198.51.100.1"}, ""},
		{`[ipv4-addr:value = '198.51.100.0/24']`, []string{"cidr 198.51.100.0/24"}, ""},
		{`[ipv4-addr:value = '198.51.100.1/32']`, []string{"ipv4 198.51.100.1"}, ""},
		{`[ipv6-addr:value = '2001:db8::/32']`, []string{"cidr 2001:db8::/32"}, ""},
		{`[ipv6-addr:value = '2001:DB8::1']`, []string{"ipv6 2001:db8::1"}, ""},
		{`[ipv4-addr:value = '2001:db8::1']`, []string{"! refused:ipv4"}, "IPv6"},
		{`[ipv6-addr:value = '198.51.100.1']`, []string{"! refused:ipv6"}, "IPv4"},
		{`[url:value = 'HTTP://Evil.example.com/a/./b']`, []string{"url http://evil.example.com/a/b"}, ""},
		{`[email-addr:value = 'Bad@Evil.example.com']`, []string{"email bad@evil.example.com"}, ""},
		{`[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']`, []string{"md5 d41d8cd98f00b204e9800998ecf8427e"}, ""},
		{`[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']`, []string{"sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"}, ""},
		{`[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']`, []string{"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, ""},
		{`[file:hashes.sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']`, []string{"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, ""},
		{`[file:hashes.'SHA-512' = '` + strings.Repeat("ab", 64) + `']`, []string{"sha512 " + strings.Repeat("ab", 64)}, ""},
		{`[file:hashes.sha512 = '` + strings.Repeat("ab", 64) + `']`, []string{"sha512 " + strings.Repeat("ab", 64)}, ""},
		{`[x509-certificate:hashes.'SHA-1' = 'DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09']`, []string{"x509-sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"}, ""},
		{`[x509-certificate:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']`, []string{"x509-sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, ""},
		{`[file:hashes.MD5 = 'abc']`, []string{"! refused:md5"}, ""},
		// escapes: \' and \\ are the only ones
		{`[email-addr:value = 'o\'brien@example.com']`, []string{"email o'brien@example.com"}, ""},
		{`[url:value = 'http://a.example.com/x\\y']`, []string{"url http://a.example.com/x/y"}, ""},
		{`[url:value = 'http://a.example.com/it\'s']`, []string{"url http://a.example.com/it's"}, ""},
		{`[url:value = 'http://a.example.com/\n']`, []string{"! invalid-pattern"}, "escape"},
		// ORs
		{`[domain-name:value = 'a.example.com' OR ipv4-addr:value = '198.51.100.1']`, []string{"domain a.example.com", "ipv4 198.51.100.1"}, ""},
		{`[domain-name:value = 'a.example.com'] OR [domain-name:value = 'b.example.com'] or ([url:value = 'http://c.example.com/'])`,
			[]string{"domain a.example.com", "domain b.example.com", "url http://c.example.com/"}, ""},
		{`[(domain-name:value = 'a.example.com' OR (domain-name:value = 'b.example.com'))]`, []string{"domain a.example.com", "domain b.example.com"}, ""},
		{`[domain-name:value = 'a.example.com' OR domain-name:value = 'A.example.com']`, []string{"domain a.example.com"}, ""},
		{`[domain-name:value = 'a.example.com' OR process:name = 'evil.exe']`, []string{"domain a.example.com", "! unsupported-pattern"}, "process:name (the other 1 comparisons of the OR were taken)"},
		{`[domain-name:value = 'co.uk' OR domain-name:value = 'b.example.com']`, []string{"domain b.example.com", "! refused:domain"}, ""},
		// not supported
		{`[app:id = 'com.evil.app']`, []string{"! unsupported-pattern"}, "app:id"},
		{`[app:cert.sha256 = 'e3b0']`, []string{"! unsupported-pattern"}, "app:cert.sha256"},
		{`[file:name = 'evil.exe']`, []string{"! unsupported-pattern"}, "file:name"},
		{`[file:hashes.'SHA3-256' = 'e3b0']`, []string{"! unsupported-pattern"}, "file:hashes.'SHA3-256'"},
		{`[x509-certificate:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']`, []string{"! unsupported-pattern"}, "x509-certificate:hashes.MD5"},
		{`[domain-name:value = 'a.example.com' AND domain-name:resolves_to_refs[*].value = '198.51.100.1']`, []string{"! unsupported-pattern"}, "comparisons joined by AND"},
		{`[domain-name:value = 'a.example.com'] AND [url:value = 'http://b.example.com/']`, []string{"! unsupported-pattern"}, "observations joined by AND"},
		{`[domain-name:value = 'a.example.com'] FOLLOWEDBY [url:value = 'http://b.example.com/']`, []string{"! unsupported-pattern"}, "FOLLOWEDBY"},
		{`[domain-name:value = 'a.example.com'] WITHIN 300 SECONDS`, []string{"! unsupported-pattern"}, "qualifier WITHIN"},
		{`[domain-name:value = 'a.example.com'] REPEATS 5 TIMES`, []string{"! unsupported-pattern"}, "qualifier REPEATS"},
		{`[domain-name:value = 'a.example.com'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`, []string{"! unsupported-pattern"}, "START/STOP"},
		{`[domain-name:value != 'a.example.com']`, []string{"! unsupported-pattern"}, "domain-name:value !="},
		{`[domain-name:value NOT = 'a.example.com']`, []string{"! unsupported-pattern"}, "NOT ="},
		{`[domain-name:value LIKE '%.example.com']`, []string{"! unsupported-pattern"}, "LIKE"},
		{`[domain-name:value MATCHES '^a']`, []string{"! unsupported-pattern"}, "MATCHES"},
		{`[ipv4-addr:value ISSUBSET '198.51.100.0/24']`, []string{"! unsupported-pattern"}, "ISSUBSET"},
		{`[domain-name:value IN ('a.example.com', 'b.example.com')]`, []string{"! unsupported-pattern"}, "IN"},
		{`[EXISTS domain-name:value]`, []string{"! unsupported-pattern"}, "EXISTS"},
		{`[file:size = 25]`, []string{"! unsupported-pattern"}, "non-string literal"},
		{`[file:hashes.MD5 = h'd41d8cd98f00b204e9800998ecf8427e']`, []string{"! unsupported-pattern"}, "non-string literal"},
		{`[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`, []string{"! unsupported-pattern"}, "email-message:body_multipart[*].body_raw_ref.name MATCHES"},
		// not valid
		{``, []string{"! invalid-pattern"}, ""},
		{`domain-name:value = 'a.example.com'`, []string{"! invalid-pattern"}, "want [ or ("},
		{`[domain-name:value = 'a.example.com'`, []string{"! invalid-pattern"}, "want ]"},
		{`[domain-name:value = 'a.example.com]`, []string{"! invalid-pattern"}, "unterminated"},
		{`[domain-name:value = 'a.example.com'] x`, []string{"! invalid-pattern"}, ""},
		{`[domain-name:value = 'a.example.com'] OR`, []string{"! invalid-pattern"}, ""},
		{`[domain-name: = 'a']`, []string{"! invalid-pattern"}, "empty property"},
		{`[value = 'a']`, []string{"! invalid-pattern"}, ""},
		{`[a:b[x] = 'a']`, []string{"! invalid-pattern"}, "list index"},
		{`[a:b = ]`, []string{"! invalid-pattern"}, "want a literal"},
		{`[a:b WITHIN 'x']`, []string{"! invalid-pattern"}, "comparison operator"},
		{`[a:b = 'x'] WITHIN x SECONDS`, []string{"! invalid-pattern"}, ""},
		{strings.Repeat("(", 100) + `[a:b = 'x']` + strings.Repeat(")", 100), []string{"! invalid-pattern"}, "nested"},
		{"[" + strings.Repeat("(", 100) + `a:b = 'x'` + strings.Repeat(")", 100) + "]", []string{"! invalid-pattern"}, "nested"},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			es, ps, err := Read(strings.NewReader(stixBundleOf(stixInd("1", c.pattern, ""))), FormatSTIX)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range render(es, ps) {
				got = append(got, strings.TrimPrefix(r, "indicator--1 "))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.msg != "" && (len(ps) == 0 || !strings.Contains(ps[len(ps)-1].Err.Error(), c.msg)) {
				t.Errorf("problems %v, want the last to contain %q", ps, c.msg)
			}
			checkCanonical(t, es, ps)
		})
	}
}

func TestReadSTIX(t *testing.T) {
	runReadCases(t, FormatSTIX, []readCase{
		{
			name: "fields",
			in: stixBundleOf(
				`{"type":"identity","id":"identity--1","name":"ACME"}`,
				`{"type":"domain-name","id":"domain-name--1","value":"sco.example.com"}`,
				stixInd("1", `[domain-name:value = 'a.example.com']`,
					`"indicator_types":["malicious-activity","Attribution"],"labels":["C2","tlp:red","attribution"],`+
						`"confidence":85,"valid_until":"2030-01-02T03:04:05.123Z","name":"A","description":"the C2"`),
				stixInd("2", `[domain-name:value = 'b.example.com']`, `"name":"only a name","confidence":0`),
				`{"type":"relationship","id":"relationship--1","labels":5}`,
			),
			want: []string{
				`indicator--1 domain a.example.com labels=malicious-activity,attribution,c2 conf=85 until=2030-01-02T03:04:05.123Z desc="the C2"`,
				`indicator--2 domain b.example.com desc="only a name"`,
			},
		},
		{
			name: "pattern types, revoked, bad fields",
			in: stixBundleOf(
				`{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '198.51.100.1']"}`,
				stixInd("2", `[ipv4-addr:value = '198.51.100.2']`, `"revoked":true`),
				`{"type":"indicator","id":"indicator--3","pattern_type":"sigma","pattern":"title: x"}`,
				stixInd("4", `[ipv4-addr:value = '198.51.100.4']`, `"confidence":101`),
				stixInd("5", `[ipv4-addr:value = '198.51.100.5']`, `"valid_until":"tomorrow"`),
				stixInd("6", `[ipv4-addr:value = '198.51.100.6']`, `"confidence":"high"`),
				`"not an object"`,
				`{"type":"indicator","pattern":"[ipv4-addr:value = '198.51.100.8']"}`,
			),
			want: []string{
				"indicator--1 ipv4 198.51.100.1",
				"object 8 ipv4 198.51.100.8",
				"indicator--2 ! revoked",
				"indicator--3 ! unsupported-pattern",
				"indicator--4 ! invalid-field",
				"indicator--5 ! invalid-field",
				"indicator--6 ! invalid-field",
				"object 7 ! invalid-field",
			},
			msgs: []string{"revoked", `pattern_type "sigma"`, "outside 0–100", "valid_until", "confidence"},
		},
		{
			name: "TAXII envelope",
			in:   `{"more":false,"objects":[` + stixInd("1", `[url:value = 'http://a.example.com']`, "") + `]}`,
			want: []string{"indicator--1 url http://a.example.com/"},
		},
		{name: "empty bundle", in: `{"type":"bundle","id":"bundle--1"}`, want: nil},
		{name: "not a bundle", in: `{"type":"indicator","id":"indicator--1"}`, err: `of type "indicator", not a bundle`},
		{name: "neither", in: `{"id":"x"}`, err: "neither a bundle nor a TAXII envelope"},
		{name: "array", in: `[]`, err: "line 1, column 1"},
		{name: "objects not an array", in: `{"type":"bundle","objects":{}}`, err: "cannot unmarshal object"},
		{name: "syntax error", in: "{\"type\":\"bundle\",\n \"objects\": [\n  {\"type\": \"indicator\",}\n ]}", err: "line 3, column 24 (byte 55)"},
		{name: "truncated", in: "{\"type\":\"bundle\",\n \"objects\": [", err: "line 2, column 13"},
		{name: "BOM", in: "\uFEFF" + stixBundleOf(stixInd("1", `[url:value = 'http://a.example.com']`, "")), want: []string{"indicator--1 url http://a.example.com/"}},
		{name: "nesting", in: `{"type":"bundle","objects":[` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]}`, err: "exceeded max depth"},
	})
}

func TestParsePatternTokens(t *testing.T) {
	// Literals of every kind parse, so that their comparisons are reported
	// as unsupported rather than as invalid.
	for _, p := range []string{
		`[file:size = -25]`, `[file:size >= 1.5e3]`, `[x:y = true]`, `[x:y = b'AAAA']`,
		`[x:y < t'2016-01-01T00:00:00Z']`, `[x:y <> 'a']`, `[x:y <= 'a']`, `[x:y > 'a']`,
		`[x:y ISSUPERSET '10.0.0.0/8']`, `[x:y IN (1, 2, 'three')]`, `[x:'quoted prop'.sub[0].'a\'b' = 'v']`,
		`[x:y = 'a'] and [x:y = 'b'] within 5 seconds`,
	} {
		n, err := parsePattern(p)
		if err != nil {
			t.Errorf("parsePattern(%q): %v", p, err)
			continue
		}
		cs, reasons := disjunction(n)
		if len(reasons) == 0 && len(cs) == 0 {
			t.Errorf("%q: neither comparisons nor reasons", p)
		}
	}
	n, err := parsePattern(`[x:'quoted prop'.sub[0].'a\'b' = 'v']`)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := disjunction(n)
	if got := cs[0].path.String(); got != `x:'quoted prop'.sub[0].'a\'b'` {
		t.Errorf("path = %s", got)
	}
	if _, err := parsePattern(`[x:y = 'a'] !`); !errors.Is(err, ErrInvalidPattern) {
		t.Errorf("err = %v", err)
	}
}
