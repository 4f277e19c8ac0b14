package indicator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCanonicalizePattern(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "  [file:name='a.exe' AND file:size>10]  ", want: "[file:name = 'a.exe' AND file:size > 10]"},
		// A "[.]" inside a pattern is the pattern's, not defanging.
		{in: "[domain-name:value LIKE '%[.]example.com']", want: "[domain-name:value LIKE '%[.]example.com']"},
		{in: "[a:b = 'x'] FOLLOWEDBY [c:d = 'y'] WITHIN 60 SECONDS", want: "[a:b = 'x'] FOLLOWEDBY [c:d = 'y'] WITHIN 60 SECONDS"},
		{in: "", err: "is empty"},
		{in: "[file:name = ]", err: "is not a valid STIX pattern"},
		{in: "[file:hashes.MD5 = 'abc']", err: "is not a valid STIX pattern"},
		{in: "[file:name = '" + strings.Repeat("a", MaxPatternLen) + "']", err: fmt.Sprintf("is longer than %d bytes", MaxPatternLen)},
	} {
		got, err := Canonicalize(STIXPattern, c.in)
		if c.err != "" {
			var ie *Error
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.err) || ie.Type != STIXPattern {
				t.Errorf("%.60q: error %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		if again, err := Canonicalize(STIXPattern, got); err != nil || again != got {
			t.Errorf("%q is not idempotent: %q, %v", got, again, err)
		}
	}
}

func TestFromSTIXPattern(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	for _, c := range []struct {
		in      string
		want    string // "type value" pairs joined by "; "
		refused int
	}{
		{in: "[domain-name:value = 'Evil.Example.COM']", want: "domain evil.example.com"},
		{in: "[file:hashes.'SHA-256' = '" + strings.ToUpper(sha) + "']", want: "sha256 " + sha},
		{in: "[file:hashes.sha256 = '" + sha + "']", want: "sha256 " + sha},
		{in: "[x509-certificate:hashes.'SHA-1' = '" + strings.Repeat("a", 40) + "']", want: "x509-sha1 " + strings.Repeat("a", 40)},
		{in: "[ipv4-addr:value = '198.51.100.0/24' OR ipv6-addr:value = '2001:db8::1' OR ipv4-addr:value = '198.51.100.7/32']",
			want: "cidr 198.51.100.0/24; ipv6 2001:db8::1; ipv4 198.51.100.7"},
		{in: "[url:value = 'HTTP://evil.example.com'] ", want: "url http://evil.example.com/"},
		{in: "[domain-name:value = '198.51.100.9']", want: "ipv4 198.51.100.9"},
		{in: "[email-addr:value = 'a@b.example' OR email-addr:value = 'A@B.example']", want: "email a@b.example"},
		// One refused value does not lose the others.
		{in: "[domain-name:value = 'co.uk' OR domain-name:value = 'ok.example']", want: "domain ok.example", refused: 1},
		// Anything else is a pattern indicator.
		{in: "[domain-name:value = 'a.example' OR app:id = 'x']", want: "stix-pattern [domain-name:value = 'a.example' OR app:id = 'x']"},
		{in: "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']", want: "stix-pattern [domain-name:value = 'a.example' AND domain-name:value = 'b.example']"},
		{in: "[domain-name:value = 'a.example'] WITHIN 5 SECONDS", want: "stix-pattern [domain-name:value = 'a.example'] WITHIN 5 SECONDS"},
		{in: "[domain-name:value != 'a.example' AND domain-name:value LIKE '%.b.example']", want: "stix-pattern [domain-name:value != 'a.example' AND domain-name:value LIKE '%.b.example']"},
		{in: "[file:name = 'x.exe']", want: "stix-pattern [file:name = 'x.exe']"},
		{in: "[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']", want: "stix-pattern [domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']"},
	} {
		plain, refused, err := FromSTIXPattern(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var got []string
		for _, p := range plain {
			got = append(got, string(p.Type)+" "+p.Value)
		}
		if strings.Join(got, "; ") != c.want || len(refused) != c.refused {
			t.Errorf("%q:\n got %q, %d refused %v\nwant %q, %d refused", c.in, strings.Join(got, "; "), len(refused), refused, c.want, c.refused)
		}
	}
	if _, _, err := FromSTIXPattern("[domain-name:value = 'x'"); err == nil {
		t.Error("an unterminated pattern was read")
	}
}

func FuzzFromSTIXPattern(f *testing.F) {
	f.Add("[domain-name:value = 'a.example' OR ipv4-addr:value = '198.51.100.0/24']")
	f.Add("[file:hashes.'SHA-256' = 'abc'] FOLLOWEDBY [x:y = 1] WITHIN 5 SECONDS")
	f.Add("[domain-name:value = '198.51.100.1']")
	f.Fuzz(func(t *testing.T, s string) {
		plain, refused, err := FromSTIXPattern(s)
		if err != nil {
			if plain != nil || refused != nil {
				t.Fatalf("values with an error: %v %v", plain, refused)
			}
			return
		}
		for _, p := range plain {
			// Every value is canonical: canonicalising it again gives it back.
			again, err := Canonicalize(p.Type, p.Value)
			if err != nil || again != p.Value {
				t.Fatalf("%q gave %s %q, which canonicalises to %q, %v", s, p.Type, p.Value, again, err)
			}
		}
		if len(plain) == 0 && len(refused) == 0 {
			t.Fatalf("%q gave nothing and no reason", s)
		}
	})
}
