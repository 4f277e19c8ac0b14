package stixpattern

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[domain-name:value = 'evil.com']", "[domain-name:value = 'evil.com']"},
		{"[domain-name:value=='evil.com']", "[domain-name:value = 'evil.com']"},
		{"[file:size <> 1]", "[file:size != 1]"},
		{"  [ file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' ] ", "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"},
		{"[file:hashes.'MD5' = 'cead3f77f6cda6ec00f57d76c9a6879f']", "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']"},
		{"[a:'b-c'.'d'[*].e[-1][+2] = +5]", "[a:'b-c'.d[*].e[-1][2] = 5]"},
		{"[a:b = 'it\\'s \\\\ here']", "[a:b = 'it\\'s \\\\ here']"},
		{"[a:b = h'FFd8' OR a:b = b'AQID' OR a:b = t'2020-01-01T00:00:00.5Z' OR a:b = -1.50 OR a:b = true]",
			"[a:b = h'ffd8' OR a:b = b'AQID' OR a:b = t'2020-01-01T00:00:00.5Z' OR a:b = -1.50 OR a:b = true]"},
		{"[a:b IN ( 1 , 2.5 )]", "[a:b IN (1, 2.5)]"},
		{"[a:b NOT IN ()]", "[a:b NOT IN ()]"},
		{"[a:b NOT LIKE 'x%' AND NOT EXISTS a:c AND EXISTS a:d]", "[a:b NOT LIKE 'x%' AND NOT EXISTS a:c AND EXISTS a:d]"},
		{"[a:b MATCHES '^x+$' AND a:c ISSUBSET '10.0.0.0/8' AND a:d NOT ISSUPERSET '10.1.2.3']", "[a:b MATCHES '^x+$' AND a:c ISSUBSET '10.0.0.0/8' AND a:d NOT ISSUPERSET '10.1.2.3']"},
		// precedence: AND binds tighter than OR, in both kinds of expression
		{"[a:b = 1 OR a:c = 2 AND a:d = 3]", "[a:b = 1 OR a:c = 2 AND a:d = 3]"},
		{"[(a:b = 1 OR a:c = 2) AND a:d = 3]", "[(a:b = 1 OR a:c = 2) AND a:d = 3]"},
		{"[((a:b = 1))]", "[a:b = 1]"},
		{"[a:b = 1 AND (a:c = 2 AND a:d = 3)]", "[a:b = 1 AND (a:c = 2 AND a:d = 3)]"},
		{"[a:b = 1] OR [a:c = 2] FOLLOWEDBY [a:d = 3]", "[a:b = 1] OR [a:c = 2] FOLLOWEDBY [a:d = 3]"},
		{"[a:b = 1] OR ([a:c = 2] FOLLOWEDBY [a:d = 3])", "[a:b = 1] OR ([a:c = 2] FOLLOWEDBY [a:d = 3])"},
		{"([a:b = 1] AND [a:c = 2]) WITHIN +5 SECONDS", "([a:b = 1] AND [a:c = 2]) WITHIN 5 SECONDS"},
		{"[a:b = 1] AND [a:c = 2] WITHIN .5 SECONDS", "[a:b = 1] AND [a:c = 2] WITHIN .5 SECONDS"},
		{"[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
			"[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'"},
		// STIX 2.0 START/STOP strings are printed in the 2.1 form
		{"[a:b = 1] START '2020-01-01T00:00:00Z' STOP '2020-01-02T00:00:00Z'", "[a:b = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'"},
		// a repeated qualifier is valid on a parenthesized expression
		{"([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS", "([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS"},
		{"(([a:b = 1] REPEATS 2 TIMES)) REPEATS 3 TIMES", "([a:b = 1] REPEATS 2 TIMES) REPEATS 3 TIMES"},
		// comments and Unicode white space
		{"/* c */ [a:b = 1] // trailing", "[a:b = 1]"},
		{"[a:b\u00a0=\u30001]", "[a:b = 1]"},
		// property names that need quotes
		{"[a:'AND' = 1 AND a:'x y' = 2 AND a:'' = 3]", "[a:'AND' = 1 AND a:'x y' = 2 AND a:'' = 3]"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		q, err := Parse(p.String())
		if err != nil || q.String() != p.String() {
			t.Errorf("canonical %q does not round-trip: %v", p.String(), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "expected '[' or '('"},
		{"file:size = 1280", 0, "square brackets"},
		{"[file:size = ]", 13, "expected a literal"},
		{"[file.size = 1]", 5, "expected ':'"},
		{"[a:b = 1", 8, "expected ']'"},
		{"[a:b = 1]]", 9, "after the pattern"},
		{"[a:b = 'x]", 7, "unterminated string"},
		{"[a:b = 'x\\n']", 9, "invalid escape"},
		{"[a:b = 01]", 7, "leading zero"},
		{"[a:b < true]", 7, "booleans cannot be ordered"},
		{"[a:b-c = 1]", 3, "property name"},
		{"[a:b LIKE 1]", 10, "LIKE wants a string"},
		{"[a:b IN (1, 'x')]", 12, "mixes number and string"},
		{"[a:b IN 1]", 8, "set literal"},
		{"[a:b MATCHES '(?=x)']", 13, "MATCHES"},
		{"[a:b MATCHES 'a\\\\1']", 13, "MATCHES"},
		{"[a:b ISSUBSET 'not-an-ip']", 14, "IP address or CIDR"},
		{"[a:b = 1] WITHIN 0 SECONDS", 17, "must be > 0"},
		{"[a:b = 1] WITHIN -5 SECONDS", 17, "positive number"},
		{"[a:b = 1] WITHIN 5 HOURS", 19, "expected SECONDS"},
		{"[a:b = 1] REPEATS 0 TIMES", 18, "between 1 and 1000"},
		{"[a:b = 1] REPEATS 1.5 TIMES", 18, "positive integer"},
		{"[a:b = 1] START t'2020-01-01T00:00:00Z'", 39, "expected STOP"},
		{"[a:b = 1] START t'2020-02-30T00:00:00Z' STOP t'2020-03-01T00:00:00Z'", 16, "not a real date"},
		{"[a:b = 1] START '2020-01-01' STOP '2020-01-02'", 16, "invalid timestamp"},
		{"[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES", 26, "duplicate REPEATS"},
		{"[a:b = t'2020-01-01T00:00:00z']", 7, "invalid timestamp literal"},
		{"[a:b = b'====']", 7, "invalid binary literal"},
		{"[a:b = h'abc']", 7, "invalid hex literal"},
		{"[file:hashes.MD5 = 'abc']", 19, "not a valid MD5 hash"},
		{"[file:hashes.'SHA-256' = 'f00']", 25, "not a valid SHA-256 hash"},
		{"[a:b = 1] and [a:c = 2]", 10, "after the pattern"},
		{"[a:b = 99999999999999999999]", 7, "out of range"},
		{"[a:b = 1] /* open", 10, "unterminated comment"},
		{"[a:b ? 1]", 5, "unexpected character"},
		{"[NOT a:b = 1]", 5, "expected EXISTS"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tt.in, err)
			continue
		}
		if pe.Offset != tt.offset || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("Parse(%q) = offset %d %q, want offset %d and %q", tt.in, pe.Offset, pe.Msg, tt.offset, tt.msg)
		}
	}
}

func TestLimits(t *testing.T) {
	long := "[a:b = '" + strings.Repeat("x", MaxPatternLen) + "']"
	if _, err := Parse(long); err == nil {
		t.Error("a pattern over MaxPatternLen parsed")
	}
	deep := strings.Repeat("(", MaxDepth) + "[a:b = 1]" + strings.Repeat(")", MaxDepth)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Errorf("nesting beyond MaxDepth: %v", err)
	}
	ok := strings.Repeat("(", MaxDepth-1) + "[a:b = 1]" + strings.Repeat(")", MaxDepth-1)
	if _, err := Parse(ok); err != nil {
		t.Errorf("nesting at MaxDepth: %v", err)
	}
	re := "[a:b MATCHES '" + strings.Repeat("a", MaxRegexLen+1) + "']"
	if _, err := Parse(re); err == nil {
		t.Error("a MATCHES operand over MaxRegexLen parsed")
	}
	// a long flat chain parses and prints
	chain := "[a:b = 1" + strings.Repeat(" OR a:b = 1", 5000) + "]"
	p, err := Parse(chain)
	if err != nil || len(p.String()) < 5000 {
		t.Errorf("long chain: %v", err)
	}
}

func TestSimple(t *testing.T) {
	tests := []struct {
		in               string
		typ, path, value string
		ok               bool
	}{
		{"[domain-name:value = 'evil.com']", "domain-name", "value", "evil.com", true},
		{"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']", "file", "hashes.'SHA-256'", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", true},
		{"[file:hashes.sha256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']", "file", "hashes.sha256", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", true},
		{"([url:value == 'http://x/'])", "url", "value", "http://x/", true},
		{"[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "", "", "", false},
		{"[ipv4-addr:value != '1.2.3.4']", "", "", "", false},
		{"[ipv4-addr:value NOT = '1.2.3.4']", "", "", "", false},
		{"[file:size = 5]", "", "", "", false},
		{"[a:b = 'x' OR a:b = 'y']", "", "", "", false},
		{"[a:b = 'x'] AND [a:b = 'y']", "", "", "", false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		typ, path, value, ok := p.Simple()
		if typ != tt.typ || path != tt.path || value != tt.value || ok != tt.ok {
			t.Errorf("Simple(%q) = %q %q %q %v, want %q %q %q %v", tt.in, typ, path, value, ok, tt.typ, tt.path, tt.value, tt.ok)
		}
	}
}

func TestObjectTypes(t *testing.T) {
	p, err := Parse("[file:name = 'a' AND process:pid = 1] FOLLOWEDBY ([network-traffic:dst_ref.value = 'x'] OR [file:size > 1]) WITHIN 5 SECONDS")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.ObjectTypes(), []string{"file", "network-traffic", "process"}; !slices.Equal(got, want) {
		t.Errorf("ObjectTypes() = %v, want %v", got, want)
	}
}

func TestNFC(t *testing.T) {
	// expected values computed with Python's unicodedata.normalize("NFC", …)
	tests := []struct{ in, want string }{
		{"e\u0301", "\u00e9"},
		{"\u1e0b\u0323", "\u1e0d\u0307"},
		{"d\u0323\u0307", "\u1e0d\u0307"},
		{"A\u030a\u0301", "\u01fa"},
		{"\u1100\u1161\u11a8", "\uac01"},
		{"A\u0328\u0301\u0323", "\u0104\u0323\u0301"},
		{"x\u0315\u0300\u05ae\u0300b", "x\u05ae\u0300\u0300\u0315b"},
		{"\u00c5\u212b", "\u00c5\u00c5"},
		{"q\u0307\u0323", "q\u0323\u0307"},
		{"\u0958", "\u0915\u093c"},
		{"\ud7a3\u11a8", "\ud7a3\u11a8"},
		{"\u0b47\u0b3e", "\u0b4b"},
		{"plain ascii", "plain ascii"},
		{"caf\u00e9", "caf\u00e9"},
	}
	for _, tt := range tests {
		if got := nfc(tt.in); got != tt.want {
			t.Errorf("nfc(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}

// TestRegexBounds: a pattern whose regular expressions compile to more than
// MaxRegexInsts instructions together is refused before it is compiled (a
// few kilobytes of counted repetitions took seconds and gigabytes); an
// indicator's usual expressions are accepted, several to a pattern.
func TestRegexBounds(t *testing.T) {
	usual := `[url:value MATCHES '^https?://[a-z0-9.-]+\\.example\\.com/.*\\.exe$' AND file:hashes.'SHA-256' MATCHES '^[a-f0-9]{64}$'] OR [domain-name:value LIKE '%.evil.example.org']`
	if _, err := Parse(usual); err != nil {
		t.Fatalf("usual expressions refused: %v", err)
	}
	for _, p := range []string{
		`[url:value MATCHES '` + strings.Repeat(`.{0,1000}`, 440) + `']`,
		`[url:value MATCHES '.{0,1000}' AND url:value MATCHES '.{0,1000}' AND url:value MATCHES 'x{0,1000}']`,
		`[url:value MATCHES '(abcdefghij){0,500}']`,
	} {
		_, err := Parse(p)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "too large") {
			t.Errorf("Parse(%.60s…): %v, want refused as too large", p, err)
		}
	}
}
