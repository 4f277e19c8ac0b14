package stixpattern

import (
	"errors"
	"strings"
	"testing"
)

// obs21 is a STIX 2.1 bundle: two observed-data objects a minute apart.
const obs21 = `{"type": "bundle", "id": "bundle--1", "objects": [
 {"type": "observed-data", "id": "observed-data--1", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
  "object_refs": ["network-traffic--1", "ipv6-addr--1"]},
 {"type": "observed-data", "id": "observed-data--2", "first_observed": "2024-01-01T00:01:00Z", "last_observed": "2024-01-01T00:01:30Z", "number_observed": 3,
  "object_refs": ["file--1"]},
 {"type": "network-traffic", "id": "network-traffic--1", "dst_ref": "ipv6-addr--1", "dst_port": 443, "protocols": ["ipv6", "tcp"]},
 {"type": "ipv6-addr", "id": "ipv6-addr--1", "value": "2001:db8::1"},
 {"type": "file", "id": "file--1", "name": "Évil.exe", "size": 1024, "hashes": {"SHA-256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"},
  "magic_number_hex": "4d5a", "created": "2023-12-31T23:59:59.5Z"},
 {"type": "domain-name", "id": "domain-name--9", "value": "not-observed.example"}
]}`

func TestMatch(t *testing.T) {
	obs, err := DecodeObservations([]byte(obs21))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    bool
	}{
		{"[network-traffic:dst_ref.value = '2001:db8::1']", true},
		{"[network-traffic:dst_ref.value ISSUBSET '2001:db8::/32']", true},
		{"[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8']", false},
		{"[ipv6-addr:value ISSUPERSET '2001:db8::1']", true},
		{"[network-traffic:protocols[-1] = 'tcp' AND network-traffic:protocols[0] = 'ipv6']", true},
		{"[network-traffic:protocols[-3] = 'tcp']", false},
		{"[network-traffic:protocols[*] = 'tcp' AND network-traffic:dst_port IN (80, 443)]", true},
		{"[network-traffic:dst_port = 443 AND file:size = 1024]", false}, // one object must satisfy both
		{"[EXISTS file:hashes.'SHA-256' AND NOT EXISTS file:hashes.MD5]", true},
		{"[file:name LIKE 'É%.exe' AND file:name MATCHES '^\u0045\u0301vil']", true}, // LIKE and MATCHES compare NFC
		{"[file:name = 'E\u0301vil.exe']", false},                                    // = does not normalize
		{"[file:magic_number_hex = h'4D5A' AND file:magic_number_hex = 'MZ']", true},
		{"[file:created > t'2023-12-31T23:59:59.499Z' AND file:created < t'2024-01-01T00:00:00Z']", true},
		{"[file:size NOT > 2000]", true},
		{"[file:missing NOT = 1]", false}, // a missing property never matches
		{"[domain-name:value = 'not-observed.example']", false},
		{"[network-traffic:dst_port = 443] FOLLOWEDBY [file:size = 1024]", true},
		{"[file:size = 1024] FOLLOWEDBY [network-traffic:dst_port = 443]", false},
		{"([network-traffic:dst_port = 443] AND [file:size = 1024]) WITHIN 60 SECONDS", true},
		{"([network-traffic:dst_port = 443] AND [file:size = 1024]) WITHIN 59.9 SECONDS", false},
		{"[file:size = 1024] REPEATS 3 TIMES", true},
		{"[file:size = 1024] REPEATS 4 TIMES", false},
		{"[file:size = 1024] START t'2024-01-01T00:01:30Z' STOP t'2024-01-01T00:02:00Z'", true},
		{"[file:size = 1024] START t'2024-01-01T00:00:00Z' STOP t'2024-01-01T00:01:00Z'", false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		got, err := p.Match(obs)
		if err != nil || got != tt.want {
			t.Errorf("Match(%q) = %v, %v; want %v", tt.pattern, got, err, tt.want)
		}
	}
}

func TestMatchErrors(t *testing.T) {
	obs, err := DecodeObservations([]byte(`[{"type": "observed-data", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
	  "objects": {"0": {"type": "x", "s": "text", "bad_hex": "zz", "r_ref": 5, "when": "2024-02-30T00:00:00Z"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{
		"[x:s = t'2024-01-01T00:00:00Z']",
		"[x:s ISSUBSET '10.0.0.0/8']",
		"[x:bad_hex = h'00']",
		"[x:r_ref.name = 'a']",
		"[x:when < t'2024-01-01T00:00:00Z']",
		"[x:s = t'2024-02-30T00:00:00Z']",
		"[x:nothing = 1] OR [x:s = t'2024-01-01T00:00:00Z']", // errors are not hidden by OR
	} {
		p, err := Parse(pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", pattern, err)
		}
		if _, err := p.Match(obs); err == nil {
			t.Errorf("Match(%q): no error", pattern)
		}
	}
}

func TestDecodeObservationsErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`[{"type": "observed-data", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 0, "objects": {}}]`,
		`[{"type": "observed-data", "first_observed": "2024-01-01", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1, "objects": {}}]`,
		`[{"type": "observed-data", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "objects": {}}]`,
		`[{"type": "observed-data", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1, "object_refs": [1]}]`,
		`[5]`,
	} {
		if _, err := DecodeObservations([]byte(in)); err == nil {
			t.Errorf("DecodeObservations(%s): no error", in)
		}
	}
}

func TestMatchBounded(t *testing.T) {
	// 60 observations of one object; asking for 31 disjoint matches within
	// a window that holds 30 has no answer and far too many partial ones.
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 60; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"type": "observed-data", "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1, "objects": {"0": {"type": "x", "v": 1}}}`)
	}
	b.WriteString("]")
	obs, err := DecodeObservations([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("[x:v = 1] REPEATS 31 TIMES REPEATS 2 TIMES")
	if err == nil {
		t.Fatal("duplicate qualifier parsed")
	}
	p, err = Parse("([x:v = 1] REPEATS 30 TIMES) AND ([x:v = 1] REPEATS 31 TIMES)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match(obs); !errors.Is(err, ErrTooComplex) {
		t.Errorf("Match = %v, want ErrTooComplex", err)
	}
}
