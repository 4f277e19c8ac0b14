package warninglist

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// listFile renders a list in MISP's format.
func listFile(name, typ string, attrs []string, entries ...string) []byte {
	m := map[string]any{"name": name, "description": "test list " + name, "version": 1, "type": typ, "list": entries}
	if attrs != nil {
		m["matching_attributes"] = attrs
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func mustParse(t testing.TB, data []byte, kind Kind) *List {
	t.Helper()
	l, err := Parse(data, kind)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return l
}

func TestParseFields(t *testing.T) {
	data := []byte(`{
  "description": "Some hosts",
  "list": ["a.example", ".b.example"],
  "matching_attributes": ["domain", "hostname"],
  "name": "List of some hosts",
  "type": "hostname",
  "version": 20260811
}`)
	l := mustParse(t, data, Flag)
	want := List{Name: "List of some hosts", Title: "List of some hosts", Description: "Some hosts", Version: 20260811,
		Type: "hostname", Entries: []string{"a.example", ".b.example"}, MatchingAttributes: []string{"domain", "hostname"}, Kind: Flag}
	got := *l
	got.c = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Parse =\n %+v\nwant\n %+v", got, want)
	}
}

func TestParseEveryType(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		entries []string
	}{
		{"string", []string{"abc", "ABC", "http://Example.com/P"}},
		{"substring", []string{"/wp-admin/", "Login"}},
		{"hostname", []string{"example.com", ".example.org", "*.example.net", "Example.EDU.", "bücher.de", "10.0.0.1"}},
		{"cidr", []string{"10.0.0.0/8", "192.0.2.7", "10.1.2.3/16", "2001:db8::/32", "::1", "::ffff:192.0.2.0/120"}},
		{"regex", []string{`^ns[0-9]+\.`, `/^mail\./i`, `#a/b#`, `~x~u`}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			l := mustParse(t, listFile("x", tc.typ, nil, tc.entries...), Refuse)
			if l.Type != tc.typ || len(l.Entries) != len(tc.entries) {
				t.Errorf("got type %q with %d entries", l.Type, len(l.Entries))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", MaxEntryLen+1)
	for _, tc := range []struct {
		name string
		data string
		kind Kind
		want string
	}{
		{"empty input", ``, Refuse, `warninglist: is empty`},
		{"not JSON", `{"name": "x",`, Refuse, `warninglist: is not valid JSON: it ends too early`},
		{"syntax", `{"name": x}`, Refuse, `warninglist: is not valid JSON: invalid character 'x' looking for beginning of value (at byte 10)`},
		{"trailing data", `{"name":"x","type":"string","list":[]} {}`, Refuse, `warninglist: is not valid JSON: data after the list object`},
		{"unknown field", `{"name":"x","type":"string","lists":[]}`, Refuse, `warninglist: field "lists" is not a field of MISP's warninglist format`},
		{"no name", `{"type":"string","list":[]}`, Refuse, `warninglist: field "name" is missing or empty`},
		{"no type", `{"name":"x","list":[]}`, Refuse, `list "x": field "type" is missing`},
		{"bad type", `{"name":"x","type":"ip","list":[]}`, Refuse, `list "x": field "type": "ip" is not one of string, substring, hostname, cidr, regex`},
		{"no list", `{"name":"x","type":"string"}`, Refuse, `list "x": field "list" is missing`},
		{"list of numbers", `{"name":"x","type":"string","list":["a", 1]}`, Refuse, `warninglist: field "list" holds a JSON number where a string is wanted`},
		{"version a string", `{"name":"x","type":"string","list":[],"version":"1"}`, Refuse, `warninglist: field "version" holds a JSON string where an integer is wanted`},
		{"empty attribute", `{"name":"x","type":"string","list":[],"matching_attributes":["md5",""]}`, Refuse, `list "x": field "matching_attributes" has an empty attribute type at position 2`},
		{"bad kind", `{"name":"x","type":"string","list":[]}`, "block", `warninglist: kind "block" is neither "refuse" nor "flag"`},
		{"bad cidr", `{"name":"x","type":"cidr","list":["10.0.0.0/8","300.1.1.1/8"]}`, Refuse, `list "x": entry 2 "300.1.1.1/8" is not a CIDR block or IP address`},
		{"zone in cidr list", `{"name":"x","type":"cidr","list":["fe80::1%eth0"]}`, Refuse, `list "x": entry 1 "fe80::1%eth0" is not a CIDR block or IP address`},
		{"empty entry", `{"name":"x","type":"string","list":["a","  "]}`, Refuse, `list "x": entry 2 "  " is empty`},
		{"entry too long", `{"name":"x","type":"string","list":["` + long + `"]}`, Refuse, `list "x": entry 1 "` + strings.Repeat("a", 100) + `…" is 4097 bytes long; at most 4096 are allowed`},
		{"host with space", `{"name":"x","type":"hostname","list":["a b.example"]}`, Refuse, `list "x": entry 1 "a b.example" contains a space or control character`},
		{"host with path", `{"name":"x","type":"hostname","list":["example.com/login"]}`, Refuse, `list "x": entry 1 "example.com/login" contains "/", which a host name cannot`},
		{"inner wildcard", `{"name":"x","type":"hostname","list":["a.*.example"]}`, Refuse, `list "x": entry 1 "a.*.example" has a wildcard other than a leading "*."`},
		{"bare dot", `{"name":"x","type":"hostname","list":["."]}`, Refuse, `list "x": entry 1 "." has no host name left once a leading "." or "*." is dropped`},
		{"bad regex", `{"name":"x","type":"regex","list":["("]}`, Refuse, "list \"x\": entry 1 \"(\" is not a Go (RE2) regular expression: missing closing ): `(`"},
		{"lookbehind", `{"name":"x","type":"regex","list":["/(?<=a)b/"]}`, Refuse, "list \"x\": entry 1 \"/(?<=a)b/\" is not a Go (RE2) regular expression: invalid named capture: `(?<=a)b`"},
		{"PCRE flag x", `{"name":"x","type":"regex","list":["/a b/x"]}`, Refuse, `list "x": entry 1 "/a b/x" has the PCRE flag "x", which Go's regexp does not support`},
		{"regex too long", `{"name":"x","type":"regex","list":["` + strings.Repeat("a", MaxRegexLen+1) + `"]}`, Refuse, `list "x": entry 1 "` + strings.Repeat("a", 100) + `…" is 1025 bytes long; a regular expression may have at most 1024`},
		{"too many regexes", `{"name":"x","type":"regex","list":[` + strings.TrimSuffix(strings.Repeat(`"a",`, MaxRegexEntries+1), ",") + `]}`, Refuse, `list "x": field "list" has 1001 regular expressions; at most 1000 are allowed`},
		{"too many substrings", `{"name":"x","type":"substring","list":[` + strings.TrimSuffix(strings.Repeat(`"a",`, MaxSubstringEntries+1), ",") + `]}`, Refuse, `list "x": field "list" has 10001 substrings; at most 10000 are allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), tc.kind)
			if err == nil {
				t.Fatalf("Parse succeeded; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse error\n got  %s\n want %s", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is a %T, not a *ParseError", err)
			}
		})
	}
}

func TestParseTooManyEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a list of 2,000,001 entries")
	}
	entries := make([]string, MaxEntries+1)
	for i := range entries {
		entries[i] = "a"
	}
	_, err := Parse(listFile("x", "string", nil, entries...), Refuse)
	want := `list "x": field "list" has 2000001 entries; at most 2000000 are allowed`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v; want %s", err, want)
	}
}

func TestParseRegexDelimiters(t *testing.T) {
	for _, tc := range []struct {
		entry string
		match []string
		miss  []string
	}{
		{`/^mail\./i`, []string{"mail.x", "MAIL.x"}, []string{"xmail.x"}},
		{`^mail\.`, []string{"mail.x"}, []string{"MAIL.x"}},
		{`#/login#`, []string{"http://x/login"}, []string{"http://x/logout"}},
		{`/a.b/s`, []string{"a\nb"}, nil},
		{`/x/u`, []string{"x"}, nil},
		// Not delimited: the slashes are part of the expression.
		{`/wp-admin/.+\.php`, []string{"https://x/wp-admin/a.php"}, []string{"https://x/wp-admin/"}},
	} {
		re, reason := compileRegex(tc.entry)
		if reason != "" {
			t.Errorf("compileRegex(%q): %s", tc.entry, reason)
			continue
		}
		for _, s := range tc.match {
			if !re.MatchString(s) {
				t.Errorf("%q does not match %q", tc.entry, s)
			}
		}
		for _, s := range tc.miss {
			if re.MatchString(s) {
				t.Errorf("%q matches %q", tc.entry, s)
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"refuse": Refuse, " Flag ": Flag, "REFUSE": Refuse} {
		if k, err := ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, k, err)
		}
	}
	if _, err := ParseKind("block"); err == nil {
		t.Error(`ParseKind("block") succeeded`)
	}
}

func TestParseNormalisesBlocks(t *testing.T) {
	l := mustParse(t, listFile("x", "cidr", nil, "10.1.2.3/16", "::ffff:192.0.2.0/120", "10.0.0.0/8", "192.0.2.128/25"), Refuse)
	var got []string
	for _, s := range l.c.v4 {
		got = append(got, fmt.Sprintf("%d-%d:%s", s.lo>>24, s.hi>>24, l.Entries[s.entry]))
	}
	// 10.1.0.0/16 lies inside 10.0.0.0/8 and 192.0.2.128/25 inside the
	// unmapped 192.0.2.0/24, so only the outer blocks are kept.
	want := []string{"10-10:10.0.0.0/8", "192-192:::ffff:192.0.2.0/120"}
	if !slices.Equal(got, want) {
		t.Errorf("v4 spans = %v; want %v", got, want)
	}
}
