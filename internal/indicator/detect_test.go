package indicator

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var detectCases = []struct {
	in   string
	t    Type   // wanted type; ignored when err is set
	want string // wanted canonical form
	err  string // substring of the error message; "" means accepted
}{
	{"192.0.2.1", IPv4, "192.0.2.1", ""},
	{" 192[.]0[.]2[.]1 ", IPv4, "192.0.2.1", ""},
	{"2001:DB8::1", IPv6, "2001:db8::1", ""},
	{"::ffff:192.0.2.1", IPv4, "192.0.2.1", ""},
	{"fe80::1%eth0", "", "", "ipv6 \"fe80::1%eth0\" has a zone"},
	{"10.0.0.0/8", CIDR, "10.0.0.0/8", ""},
	{"10.1.2.3/8", CIDR, "10.0.0.0/8", ""},
	{"2001:db8::/32", CIDR, "2001:db8::/32", ""},
	{"10.0.0.0/4", "", "", "cidr \"10.0.0.0/4\" has prefix length /4"},
	{"http://evil.com", URL, "http://evil.com/", ""},
	{"hxxp://evil[.]com/x", URL, "http://evil.com/x", ""},
	{"tcp://192.0.2.1:4444", URL, "tcp://192.0.2.1:4444/", ""},
	{"http://[::1]:80/", URL, "http://[::1]/", ""},
	{"evil.com/login.php", URL, "http://evil.com/login.php", ""},
	{"evil[.]com/login.php", URL, "http://evil.com/login.php", ""},
	{"Evil.COM/A/../B", URL, "http://evil.com/B", ""},
	{"192.0.2.1/gate.php", URL, "http://192.0.2.1/gate.php", ""},
	{"192.0.2.1:8080/gate.php", URL, "http://192.0.2.1:8080/gate.php", ""},
	{"evil.com:8080/x", URL, "http://evil.com:8080/x", ""},
	{"evil.com?id=1", URL, "http://evil.com/?id=1", ""},
	{"user:pw@evil.com/x", URL, "http://user:pw@evil.com/x", ""},
	{"[2001:db8::1]:8443/x", URL, "http://[2001:db8::1]:8443/x", ""},
	{"invoice.pdf/x", "", "", "has an unknown top-level domain \".pdf\""},
	{"/etc/passwd", "", "", "is not a recognised indicator"},
	{"foo/bar", "", "", "is not a recognised indicator"},
	{"192.0.2.1:4444", "", "", "is host:port"},
	{"evil.com:443", "", "", "is host:port"},
	{"[2001:db8::1]:443", "", "", "is host:port"},
	{`C:\Windows\evil.exe`, "", "", "is not a recognised indicator"},
	{"user@example.com", Email, "user@example.com", ""},
	{"User[at]Example[.]com", Email, "user@example.com", ""},
	{"user@localhost", "", "", "email \"user@localhost\" has a domain that must have at least two labels"},
	{md5Empty, MD5, md5Empty, ""},
	{strings.ToUpper(md5Empty), MD5, md5Empty, ""},
	{sha1Empty, SHA1, sha1Empty, ""},
	{sha256Empty, SHA256, sha256Empty, ""},
	{sha512Empty, SHA512, sha512Empty, ""},
	{sha256Empty[:63], "", "", "has 63 hex characters, which is not the length of a known hash"},
	{colons(sha1Empty), X509SHA1, sha1Empty, ""},
	{colons(sha256Empty), X509SHA256, sha256Empty, ""},
	{colons(md5Empty), "", "", "is not a recognised indicator"},
	{ja4Example, JA4, ja4Example, ""},
	{strings.ToUpper(ja4Example), JA4, strings.ToUpper(ja4Example), ""},
	{"x13d1516h2_8daaf6152771_b186095e22b6", "", "", "is not a recognised indicator"},
	{"Example.COM", Domain, "example.com", ""},
	{"www.example[.]co.uk.", Domain, "www.example.co.uk", ""},
	{"bücher.example.de", Domain, "xn--bcher-kva.example.de", ""},
	{"abcdefghijk.onion", Domain, "abcdefghijk.onion", ""},
	{"evil.zip", Domain, "evil.zip", ""},
	{"co.uk", "", "", "domain \"co.uk\" is a public suffix"},
	{"invoice.pdf", "", "", "domain \"invoice.pdf\" has an unknown top-level domain \".pdf\""},
	{"intranet.local", "", "", `domain "intranet.local" is under "local"`},
	{"10.in-addr.arpa", "", "", `domain "10.in-addr.arpa" is under "arpa"`},
	{"1.2.3.999", "", "", "ends in a numeric label"},
	{"hello", "", "", `"hello" is not a recognised indicator`},
	{"deadbeef", "", "", "is not a recognised indicator"},
	{"", "", "", "value is empty"},
	{"  ", "", "", "value is empty"},
	{"[.]", "", "", "is not a recognised indicator"},
	{"a\xffb.com", "", "", "is not valid UTF-8"},
	{strings.Repeat("a", 8193), "", "", "is longer than 8192 bytes"},
}

func TestDetect(t *testing.T) {
	for _, c := range detectCases {
		typ, got, err := Detect(c.in)
		name := truncate(c.in, 60)
		if c.err != "" {
			if err == nil {
				t.Errorf("%q: got %s %q, want error containing %q", name, typ, got, c.err)
				continue
			}
			if !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %q does not contain %q", name, err, c.err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Value != c.in {
				t.Errorf("%q: error %#v is not an *Error with the value as given", name, err)
			}
			if typ != "" || got != "" {
				t.Errorf("%q: got %s %q along with an error", name, typ, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: unexpected error: %v", name, err)
			continue
		}
		if typ != c.t || got != c.want {
			t.Errorf("%q: got %s %q, want %s %q", name, typ, got, c.t, c.want)
		}
	}
	if n := len(detectCases); n < 30 {
		t.Errorf("only %d cases", n)
	}
}

func FuzzDetect(f *testing.F) {
	for _, c := range detectCases {
		if len(c.in) < 300 {
			f.Add(c.in)
		}
	}
	for _, c := range canonCases {
		if len(c.in) < 300 {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		typ, got, err := Detect(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %v is not an *Error", in, err)
			}
			_ = err.Error()
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("%q: output %q is not valid UTF-8", in, got)
		}
		if c, err := Canonicalize(typ, got); err != nil || c != got {
			t.Fatalf("%q: detected %s %q, which canonicalises to %q, %v", in, typ, got, c, err)
		}
		// The canonical form is detected again as itself. Only the x509
		// types lose their tell (the colons) and come back as sha1/sha256.
		typ2, got2, err := Detect(got)
		if err != nil || got2 != got {
			t.Fatalf("%q: detected %s %q, but that detects as %s %q, %v", in, typ, got, typ2, got2, err)
		}
		if typ2 != typ && !(typ == X509SHA1 && typ2 == SHA1) && !(typ == X509SHA256 && typ2 == SHA256) {
			t.Fatalf("%q: detected %s %q, but that detects as %s", in, typ, got, typ2)
		}
	})
}

// Names under ccTLDs that the public suffix list knows only through wildcard
// rules ("*.np") are real domains; file names are still not.
func TestDetectWildcardCCTLDs(t *testing.T) {
	for _, v := range []string{"adscreen.com.np", "shop.com.kh", "bank.com.pg"} {
		if typ, _, err := Detect(v); err != nil || typ != Domain {
			t.Errorf("Detect(%q) = %q, %v; want a domain", v, typ, err)
		}
	}
	for _, v := range []string{"invoice.pdf", "dropper.exe", "printer.local"} {
		if _, _, err := Detect(v); err == nil {
			t.Errorf("Detect(%q) accepted a file or local name as a domain", v)
		}
	}
}
