package indicator

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	md5Empty    = "d41d8cd98f00b204e9800998ecf8427e"
	sha1Empty   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha512Empty = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	ja4Example  = "t13d1516h2_8daaf6152771_b186095e22b6"
)

// colons writes hex as "AB:CD:…", the form certificate tools print.
func colons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex[i : i+2]))
	}
	return b.String()
}

type canonCase struct {
	t    Type
	in   string
	want string // canonical form; ignored when err is set
	err  string // substring of the error message; "" means accepted
}

var canonCases = []canonCase{
	// ipv4
	{IPv4, "192.0.2.1", "192.0.2.1", ""},
	{IPv4, "  192.0.2.1\n", "192.0.2.1", ""},
	{IPv4, "192[.]0[.]2[.]1", "192.0.2.1", ""},
	{IPv4, "192(.)0(.)2(.)1", "192.0.2.1", ""},
	{IPv4, "192{.}0[dot]2(dot)1", "192.0.2.1", ""},
	{IPv4, "::ffff:192.0.2.1", "192.0.2.1", ""},
	{IPv4, "::FFFF:c000:0201", "192.0.2.1", ""},
	{IPv4, "0.0.0.0", "0.0.0.0", ""},
	{IPv4, "2001:db8::1", "", "is an IPv6 address, use type ipv6"},
	{IPv4, "192.0.2.256", "", "is not a valid IPv4 address"},
	{IPv4, "192.0.2", "", "is not a valid IPv4 address"},
	{IPv4, "01.2.3.4", "", "is not a valid IPv4 address"},
	{IPv4, "192.0.2.1:80", "", "is not a valid IPv4 address"},
	{IPv4, "192.0.2.0/24", "", "is a CIDR block, use type cidr"},
	{IPv4, "", "", "value is empty"},
	{IPv4, " \t ", "", "value is empty"},
	{IPv4, "192.0.2.1\xff", "", "is not valid UTF-8"},

	// ipv6
	{IPv6, "2001:db8::1", "2001:db8::1", ""},
	{IPv6, "2001:DB8::1", "2001:db8::1", ""},
	{IPv6, "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", ""},
	{IPv6, "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", ""},
	{IPv6, "2001[:]db8[:][:]1", "2001:db8::1", ""},
	{IPv6, "::1", "::1", ""},
	{IPv6, "::", "::", ""},
	{IPv6, "64:ff9b::192.0.2.33", "64:ff9b::c000:221", ""},
	{IPv6, "::ffff:192.0.2.1", "192.0.2.1", ""}, // mapped: unmapped to IPv4 text
	{IPv6, "fe80::1%eth0", "", "zones are not accepted"},
	{IPv6, "fe80::1%25eth0", "", "zones are not accepted"},
	{IPv6, "192.0.2.1", "", "is an IPv4 address, use type ipv4"},
	{IPv6, "2001:db8::g", "", "is not a valid IPv6 address"},
	{IPv6, "[2001:db8::1]", "", "is not a valid IPv6 address"},
	{IPv6, "2001:db8::/32", "", "is a CIDR block"},

	// cidr
	{CIDR, "10.0.0.0/8", "10.0.0.0/8", ""},
	{CIDR, "10.1.2.3/8", "10.0.0.0/8", ""},
	{CIDR, "192.0.2.77/24", "192.0.2.0/24", ""},
	{CIDR, "192.0.2.1/32", "192.0.2.1/32", ""},
	{CIDR, "192[.]0[.]2[.]0/24", "192.0.2.0/24", ""},
	{CIDR, "2001:db8::/32", "2001:db8::/32", ""},
	{CIDR, "2001:DB8::1/64", "2001:db8::/64", ""},
	{CIDR, "2001:db8::1/128", "2001:db8::1/128", ""},
	{CIDR, "::ffff:192.0.2.9/120", "192.0.2.0/24", ""},
	{CIDR, "::ffff:192.0.2.9/128", "192.0.2.9/32", ""},
	{CIDR, "0.0.0.0/0", "", "/0 to /7 are too broad"},
	{CIDR, "128.0.0.0/1", "", "has prefix length /1"},
	{CIDR, "10.0.0.0/7", "", "has prefix length /7"},
	{CIDR, "::/0", "", "too broad"},
	{CIDR, "2000::/3", "", "too broad"},
	{CIDR, "2a00::/8", "", "/0 to /28 are too broad for IPv6"},
	{CIDR, "2c00::/8", "", "has prefix length /8"},
	{CIDR, "2001:db8::/28", "", "has prefix length /28"},
	{CIDR, "2a0d:1a47::/29", "2a0d:1a40::/29", ""},
	{CIDR, "2001:db8::/32", "2001:db8::/32", ""},
	{CIDR, "::ffff:192.0.2.0/100", "", "has prefix length /4"},
	{CIDR, "192.0.2.1", "", "has no prefix length"},
	{CIDR, "2001:db8::1", "", "has no prefix length"},
	{CIDR, "192.0.2.0/33", "", "is not a valid CIDR block"},
	{CIDR, "192.0.2.0/024", "", "is not a valid CIDR block"},
	{CIDR, "192.0.2.0/", "", "is not a valid CIDR block"},
	{CIDR, "fe80::%eth0/64", "", "zones are not accepted"},

	// domain
	{Domain, "example.com", "example.com", ""},
	{Domain, "Example.COM", "example.com", ""},
	{Domain, "example.com.", "example.com", ""},
	{Domain, "example[.]com", "example.com", ""},
	{Domain, "example(.)com", "example.com", ""},
	{Domain, "example{.}com", "example.com", ""},
	{Domain, "example[dot]com", "example.com", ""},
	{Domain, "EXAMPLE(DOT)COM", "example.com", ""},
	{Domain, " www.example.com ", "www.example.com", ""},
	{Domain, "bücher.example", "xn--bcher-kva.example", ""},
	{Domain, "BÜCHER.example", "xn--bcher-kva.example", ""},
	{Domain, "bücher[.]example.", "xn--bcher-kva.example", ""},
	{Domain, "xn--bcher-kva.example", "xn--bcher-kva.example", ""},
	{Domain, "XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", ""},
	{Domain, "faß.de", "xn--fa-hia.de", ""}, // non-transitional: ß is not ss
	{Domain, "ⓔⓧⓐⓜⓟⓛⓔ.com", "example.com", ""},
	{Domain, "example。com", "example.com", ""},
	{Domain, "пример.рф", "xn--e1afmkfd.xn--p1ai", ""},
	{Domain, "example.co.uk", "example.co.uk", ""},
	{Domain, "www.example.co.uk", "www.example.co.uk", ""},
	{Domain, "blogspot.com", "blogspot.com", ""}, // private suffix: a real domain
	{Domain, "duckdns.org", "duckdns.org", ""},
	{Domain, "evil.duckdns.org", "evil.duckdns.org", ""},
	{Domain, "city.kawasaki.jp", "city.kawasaki.jp", ""},
	{Domain, "my_host.example.com", "my_host.example.com", ""},
	{Domain, "r3---sn-apo3qvuoxuxbt-j5pe.googlevideo.com", "r3---sn-apo3qvuoxuxbt-j5pe.googlevideo.com", ""},
	{Domain, "-foo.example.com", "-foo.example.com", ""},
	{Domain, "abcdefghijk.onion", "abcdefghijk.onion", ""},
	{Domain, "intranet.local", "", `domain "intranet.local" is under "local", the multicast DNS domain`},
	{Domain, strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com", ""},
	{Domain, strings.Repeat("a", 64) + ".com", "", "has a label of 64 characters"},
	{Domain, strings.Repeat("abcdefghi.", 24) + "example.com", strings.Repeat("abcdefghi.", 24) + "example.com", ""}, // 251 bytes
	{Domain, strings.Repeat("abcdefghi.", 25) + "ab.com", "", "at most 253"},
	{Domain, "co.uk", "", `domain "co.uk" is a public suffix`},
	{Domain, "CO.UK.", "", "is a public suffix"},
	{Domain, "com.au", "", "is a public suffix"},
	{Domain, "foo.kawasaki.jp", "", "is a public suffix"}, // wildcard rule
	{Domain, "nl", "", "must have at least two labels"},
	{Domain, "com", "", "must have at least two labels"},
	{Domain, "localhost", "", "must have at least two labels"},
	{Domain, "example.com..", "", "has an empty label"},
	{Domain, ".example.com", "", "has an empty label"},
	{Domain, "example..com", "", "has an empty label"},
	{Domain, ".", "", "is empty"},
	{Domain, "a*.example.com", "", `contains "*"`},
	{Domain, "exa mple.com", "", `contains " "`},
	{Domain, "example.com/path", "", `contains "/"`},
	{Domain, "xn--zz.com", "", "is not a valid internationalised domain name"},
	{Domain, "192.0.2.1", "", "is an IP address, use type ipv4"},
	{Domain, "192[.]0[.]2[.]1", "", "is an IP address, use type ipv4"},
	{Domain, "2001:db8::1", "", "is an IP address, use type ipv6"},
	{Domain, "1.2.3.999", "", "ends in a numeric label"},
	{Domain, "example.123", "", "ends in a numeric label"},
	{Domain, "http://example.com", "", "is a URL, use type url"},
	{Domain, "user@example.com", "", "is an email address, use type email"},
	{Domain, "10.0.0.0/8", "", "is a CIDR block, use type cidr"},
	{Domain, "ex\xffample.com", "", "is not valid UTF-8"},
	{Domain, strings.Repeat("a", 2049), "", "is longer than 2048 bytes"},
	{Hostname, "WWW.Example.com.", "www.example.com", ""},
	{Hostname, "host_name.example.org", "host_name.example.org", ""},
	{Hostname, "mail[.]bücher[.]example", "mail.xn--bcher-kva.example", ""},
	{Hostname, "co.uk", "", "is a public suffix"},
	{Hostname, "server", "", "must have at least two labels"},

	// url
	{URL, "http://example.com", "http://example.com/", ""},
	{URL, "http://example.com/", "http://example.com/", ""},
	{URL, "HTTP://EXAMPLE.COM/", "http://example.com/", ""},
	{URL, "HTTPS://Example.COM/Path/File.PHP", "https://example.com/Path/File.PHP", ""},
	{URL, "http://example.com:80/", "http://example.com/", ""},
	{URL, "https://example.com:443/a", "https://example.com/a", ""},
	{URL, "ftp://example.com:21/file", "ftp://example.com/file", ""},
	{URL, "http://example.com:443/", "http://example.com:443/", ""},
	{URL, "https://example.com:80/", "https://example.com:80/", ""},
	{URL, "http://example.com:8080/", "http://example.com:8080/", ""},
	{URL, "http://example.com:08080/", "http://example.com:8080/", ""},
	{URL, "http://example.com:080/", "http://example.com/", ""},
	{URL, "http://example.com:/", "http://example.com/", ""},
	{URL, "http://example.com:65536/", "", "has a port above 65535"},
	{URL, "http://example.com:8a/", "", "has a port that is not a number"},
	{URL, "http://example.com/a/./b/../c", "http://example.com/a/c", ""},
	{URL, "http://example.com/../../x", "http://example.com/x", ""},
	{URL, "http://example.com/a/b/..", "http://example.com/a/", ""},
	{URL, "http://example.com/a/.", "http://example.com/a/", ""},
	{URL, "http://example.com/a/%2E%2E/b", "http://example.com/b", ""},
	{URL, "http://example.com/a/%2e/b", "http://example.com/a/b", ""},
	{URL, "http://example.com/a//b/", "http://example.com/a//b/", ""},
	{URL, "http://example.com/.hidden/..x", "http://example.com/.hidden/..x", ""},
	{URL, "http://example.com/%7Euser", "http://example.com/~user", ""},
	{URL, "http://example.com/%7euser", "http://example.com/~user", ""},
	{URL, "http://example.com/%41%62%2D%5f%2e", "http://example.com/Ab-_.", ""},
	{URL, "http://example.com/a%2Fb", "http://example.com/a%2Fb", ""},
	{URL, "http://example.com/a%2fb", "http://example.com/a%2Fb", ""},
	{URL, "http://example.com/%e4%c3", "http://example.com/%E4%C3", ""},
	{URL, "http://example.com/100%", "http://example.com/100%25", ""},
	{URL, "http://example.com/%zz", "http://example.com/%25zz", ""},
	{URL, "http://example.com/a b", "http://example.com/a%20b", ""},
	{URL, "http://example.com/ä", "http://example.com/%C3%A4", ""},
	{URL, `http://example.com/"<>^{|}`, "http://example.com/%22%3C%3E%5E%7B%7C%7D", ""},
	{URL, "http://example.com/[x]", "http://example.com/%5Bx%5D", ""},
	{URL, "http://example.com/a;b=c,d!$&'()*+:@", "http://example.com/a;b=c,d!$&'()*+:@", ""},
	{URL, "http://example.com/p?q=1&r=%7e#frag", "http://example.com/p?q=1&r=~", ""},
	{URL, "http://example.com/p?a=%2f&b=c+d/?", "http://example.com/p?a=%2F&b=c+d/?", ""},
	{URL, "http://example.com/p?x=a b", "http://example.com/p?x=a%20b", ""},
	{URL, "http://example.com/p?", "http://example.com/p", ""},
	{URL, "http://example.com/#frag", "http://example.com/", ""},
	{URL, "http://example.com#frag", "http://example.com/", ""},
	{URL, "http://example.com?x=1", "http://example.com/?x=1", ""},
	{URL, "http://example.com/p?q#f?g", "http://example.com/p?q", ""},
	{URL, "http://user:Pass@Example.com/", "http://user:Pass@example.com/", ""},
	{URL, "http://us%65r:p%40ss@example.com/", "http://user:p%40ss@example.com/", ""},
	{URL, "http://a@b@example.com/", "http://a%40b@example.com/", ""},
	{URL, "http://@example.com/", "http://example.com/", ""},
	{URL, "http://bücher.example/", "http://xn--bcher-kva.example/", ""},
	{URL, "http://EXAMPLE.com./x", "http://example.com/x", ""},
	{URL, "http://ex%61mple.com/", "http://example.com/", ""},
	{URL, "http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/", ""},
	{URL, "http://ex%zzample.com/", "", "has a host with invalid percent-encoding"},
	{URL, "http://a_b.example.com/", "http://a_b.example.com/", ""},
	{URL, "http://localhost:8000/", "", `has a host that is "localhost", which names the machine itself`},
	{URL, "http://intranet/", "http://intranet/", ""},
	{URL, "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x", ""},
	{URL, "http://[2001:db8::1]:80/", "http://[2001:db8::1]/", ""},
	{URL, "http://[2001:db8::1]", "http://[2001:db8::1]/", ""},
	{URL, "http://[::ffff:192.0.2.1]/", "http://192.0.2.1/", ""},
	{URL, "http://[fe80::1%25eth0]/", "", "zones are not accepted"},
	{URL, "http://[2001:db8::1/", "", "without a closing bracket"},
	{URL, "http://[2001:db8::1]x/", "", "has characters after its IPv6 host"},
	{URL, "http://[192.0.2.1]/", "", "is not an IPv6 address"},
	{URL, "http://192.0.2.1:8080/gate.php", "http://192.0.2.1:8080/gate.php", ""},
	{URL, "http://3221225985/", "http://192.0.2.1/", ""},
	{URL, "http://0xC0.0.2.1/", "http://192.0.2.1/", ""},
	{URL, "http://0300.0.2.1/", "http://192.0.2.1/", ""},
	{URL, "http://192.0.513/", "http://192.0.2.1/", ""},
	{URL, "http://192.0.2.1./", "http://192.0.2.1/", ""},
	{URL, "http://192.0.2.256/", "", "ends in a number but is not an IPv4 address"},
	{URL, "http://1.2.3.4.5/", "", "ends in a number but is not an IPv4 address"},
	{URL, "http://08.1.1.1/", "", "ends in a number but is not an IPv4 address"},
	{URL, "http://１９２．０．２．１/", "http://192.0.2.1/", ""}, // IDNA maps, then IPv4
	{URL, "http://0。/", "http://0.0.0.0/", ""},
	{URL, "http://example。08/", "", "ends in a number but is not an IPv4 address"},
	{URL, "http://ⅸ.example/", "http://ix.example/", ""},
	{URL, "hxxp://evil[.]com/login.php", "http://evil.com/login.php", ""},
	{URL, "hxxps[://]evil[.]com", "https://evil.com/", ""},
	{URL, "hXXp://evil(.)com", "http://evil.com/", ""},
	{URL, "HXXPS[:]//evil[dot]com/a", "https://evil.com/a", ""},
	{URL, "fxp://files[.]evil[.]com/x", "ftp://files.evil.com/x", ""},
	{URL, "http://example.com/?u=h%78xp://x.example", "http://example.com/?u=http://x.example", ""},
	{URL, "http://example.com/%28.)", "http://example.com/%28.)", ""},
	{URL, `http://evil.com\@good.com/`, "http://evil.com/@good.com/", ""},
	{URL, `http://example.com/a\b?c\d`, "http://example.com/a/b?c%5Cd", ""},
	{URL, `smb://server.example.com/a\b`, "smb://server.example.com/a%5Cb", ""},
	{URL, "tcp://192.0.2.1:4444", "tcp://192.0.2.1:4444/", ""},
	{URL, "WSS://example.com:443/socket", "wss://example.com/socket", ""},
	{URL, "evil.com/path", "", `has no scheme such as "http://"`},
	{URL, "//evil.com/", "", "has no scheme"},
	{URL, "http:/evil.com", "", "has no scheme"},
	{URL, "javascript:alert(1)", "", "has no scheme"},
	{URL, "http://", "", "has no host"},
	{URL, "http:///path", "", "has no host"},
	{URL, "http://user@/", "", "has no host"},
	{URL, "http://exa mple.com/", "", `has a host that contains " "`},
	{URL, "http://*.example.com/", "", `has a host that contains "*"`},
	{URL, "http://example.com/\x01", "", "contains a control character"},
	{URL, "http://example.com/a\tb", "", "contains a control character"},
	{URL, "http://example.com/\xff", "", "is not valid UTF-8"},
	{URL, "http://example.com/" + strings.Repeat("a", 3000), "http://example.com/" + strings.Repeat("a", 3000), ""},
	{URL, "http://example.com/" + strings.Repeat("a", 8200), "", "is longer than 8192 bytes"},
	{URL, "http://example.com/" + strings.Repeat("ä", 2000), "", "is longer than 8192 bytes once canonicalised"},

	// email
	{Email, "user@example.com", "user@example.com", ""},
	{Email, "User@Example.COM", "user@example.com", ""},
	{Email, "user[at]example[.]com", "user@example.com", ""},
	{Email, "user(at)example(dot)com", "user@example.com", ""},
	{Email, "user[@]example.com", "user@example.com", ""},
	{Email, "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk", ""},
	{Email, "user@bücher.example", "user@xn--bcher-kva.example", ""},
	{Email, "Jörg@Example.com", "jörg@example.com", ""},
	{Email, "user@example.com.", "user@example.com", ""},
	{Email, "user@co.uk", "user@co.uk", ""}, // no public-suffix rule for email
	{Email, "o'brien_x!#$%&*/=?^`{|}~-@example.com", "o'brien_x!#$%&*/=?^`{|}~-@example.com", ""},
	{Email, "userexample.com", "", "has no @"},
	{Email, "a@b@example.com", "", "has more than one @"},
	{Email, "@example.com", "", "has an empty local part"},
	{Email, "user@", "", "has an empty domain"},
	{Email, "user@localhost", "", "has a domain that must have at least two labels"},
	{Email, "user@[192.0.2.1]", "", "has an address literal"},
	{Email, "user@192.0.2.1", "", "has a domain that ends in a numeric label"},
	{Email, "us er@example.com", "", `has " " in its local part`},
	{Email, "<user@example.com>", "", `has "<" in its local part`},
	{Email, "user@exa_mple..com", "", "has a domain that has an empty label"},
	{Email, strings.Repeat("a", 65) + "@example.com", "", "local part longer than 64 bytes"},
	{Email, "us\xffer@example.com", "", "is not valid UTF-8"},
	{Email, "用户@example.com", "用户@example.com", ""},
	{Email, "x\u20290.0.0.0/0\u2029y@mail-phish.xyz", "", `has "\u2029" (U+2029) in its local part`},
	{Email, "x\u20280.0.0.0/0@mail-phish.xyz", "", "(U+2028)"},
	{Email, "x\u00850.0.0.0/0\u0085y@mail-phish.xyz", "", "(U+0085)"},
	{Email, "x\u009b31m@mail-phish.xyz", "", "(U+009B)"},                    // C1 CSI
	{Email, "moc.\u202elive@mail-phish.xyz", "", "(U+202E)"},                // right-to-left override
	{Email, "a\u200bb@mail-phish.xyz", "", "(U+200B)"},                      // zero-width space, Cf
	{Email, "a\u00a0b@mail-phish.xyz", "", "(U+00A0)"},                      // no-break space
	{Email, "a\u3000b@mail-phish.xyz", "", "(U+3000)"},                      // ideographic space
	{Email, "a\ue000b@mail-phish.xyz", "", "(U+E000)"},                      // private use
	{Email, "user@printer.local", "", `has a domain that is under "local"`}, // special-use domains

	// hashes
	{MD5, md5Empty, md5Empty, ""},
	{MD5, strings.ToUpper(md5Empty), md5Empty, ""},
	{MD5, " " + md5Empty + "\r\n", md5Empty, ""},
	{MD5, md5Empty[:31], "", "must be 32 hex characters, got 31"},
	{MD5, md5Empty + "0", "", "must be 32 hex characters, got 33"},
	{MD5, "d41dg8cd98f00b204e9800998ecf8427", "", `must be hexadecimal, found "g" at position 5`},
	{MD5, "0x" + md5Empty, "", `found "x" at position 2`},
	{MD5, md5Empty[:31] + "é", "", `found "é" at position 32`},
	{MD5, colons(md5Empty), "", `found ":" at position 3`},
	{SHA1, sha1Empty, sha1Empty, ""},
	{SHA1, strings.ToUpper(sha1Empty), sha1Empty, ""},
	{SHA1, sha1Empty[:39], "", "must be 40 hex characters, got 39"},
	{SHA1, sha1Empty + "a", "", "must be 40 hex characters, got 41"},
	{SHA1, md5Empty, "", "must be 40 hex characters, got 32"},
	{SHA256, sha256Empty, sha256Empty, ""},
	{SHA256, strings.ToUpper(sha256Empty), sha256Empty, ""},
	{SHA256, sha256Empty[:63], "", `sha256 "` + sha256Empty[:63] + `" must be 64 hex characters, got 63`},
	{SHA256, sha256Empty + "b", "", "must be 64 hex characters, got 65"},
	{SHA256, sha256Empty[:60] + "-xyz", "", `found "-" at position 61`},
	{SHA512, sha512Empty, sha512Empty, ""},
	{SHA512, strings.ToUpper(sha512Empty), sha512Empty, ""},
	{SHA512, sha512Empty[:127], "", "must be 128 hex characters, got 127"},
	{SHA512, sha512Empty + "0", "", "must be 128 hex characters, got 129"},
	{X509SHA1, sha1Empty, sha1Empty, ""},
	{X509SHA1, colons(sha1Empty), sha1Empty, ""},
	{X509SHA1, strings.ToLower(colons(sha1Empty)), sha1Empty, ""},
	{X509SHA1, colons(sha1Empty)[:56], "", "must be 40 hex characters, got 38"},
	{X509SHA1, colons(sha1Empty) + ":", "", "must have two hex digits between colons"},
	{X509SHA1, "DA3:9A3" + colons(sha1Empty)[7:], "", "must have two hex digits between colons"},
	{X509SHA1, "DA::39" + colons(sha1Empty)[5:], "", "must have two hex digits between colons"},
	{X509SHA1, "ZA" + colons(sha1Empty)[2:], "", `found "Z" at position 1`},
	{X509SHA256, sha256Empty, sha256Empty, ""},
	{X509SHA256, colons(sha256Empty), sha256Empty, ""},
	{X509SHA256, sha256Empty[:63], "", "must be 64 hex characters, got 63"},
	{X509SHA256, colons(sha1Empty), "", "must be 64 hex characters, got 40"},
	{SHA256, colons(sha256Empty), "", `found ":" at position 3`},
	{JA3, md5Empty, md5Empty, ""},
	{JA3, strings.ToUpper(md5Empty), md5Empty, ""},
	{JA3, md5Empty[:31], "", `ja3 "` + md5Empty[:31] + `" must be 32 hex characters, got 31`},
	{JA3, "xyz", "", `must be hexadecimal, found "x" at position 1`},
	{JA3S, md5Empty, md5Empty, ""},
	{JA3S, md5Empty + "00", "", "must be 32 hex characters, got 34"},
	{JA4, ja4Example, ja4Example, ""},
	{JA4, strings.ToUpper(ja4Example), strings.ToUpper(ja4Example), ""}, // as given
	{JA4, " q13d0312h3_55b375c5d22e_06cda9e17597 ", "q13d0312h3_55b375c5d22e_06cda9e17597", ""},
	{JA4, "t13d1516h2_8daaf6152771", "", "three parts"},
	{JA4, "t13d1516h2__b186095e22b6", "", "three parts"},
	{JA4, "t13d1516h2_8daaf6152771_b186095e22b6_", "", "three parts"},
	{JA4, "t13d1516h2_8daaf6152771_b186095e22b6_aa", "", "three parts"},
	{JA4, "t13d-1516h2_8daaf6152771_b186095e22b6", "", "three parts"},
	{JA4, "_8daaf6152771_b186095e22b6", "", "three parts"},

	// across types
	{Type("fingerprint"), "x", "", "unknown indicator type"},
	{MD5, strings.Repeat("a", 3000), "", "is longer than 2048 bytes"},
	{Email, "", "", "email value is empty"},
	{URL, "[.]", "", "has no scheme"},
	{Domain, "[[.]]", "", "is empty"},
	{Domain, "example[[.]]com", "example.com", ""}, // nested defanging
}

func TestCanonicalize(t *testing.T) {
	for _, c := range canonCases {
		got, err := Canonicalize(c.t, c.in)
		name := string(c.t) + " " + truncate(c.in, 60)
		if c.err != "" {
			if err == nil {
				t.Errorf("%s: got %q, want error containing %q", name, got, c.err)
				continue
			}
			if !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %q does not contain %q", name, err, c.err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Type != c.t || e.Value != c.in {
				t.Errorf("%s: error %#v is not an *Error with the type and the value as given", name, err)
			}
			if got != "" {
				t.Errorf("%s: got %q along with an error", name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error: %v", name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", name, got, c.want)
			continue
		}
		// Idempotence: the canonical form is its own canonical form (a
		// mapped address given as ipv6 comes back as an ipv4).
		again := c.t
		if c.t == IPv6 && !strings.Contains(got, ":") {
			again = IPv4
		}
		if got2, err := Canonicalize(again, got); err != nil || got2 != got {
			t.Errorf("%s: not idempotent: %q -> %q, %v", name, got, got2, err)
		}
	}
	if n := len(canonCases); n < 170 {
		t.Errorf("only %d cases", n)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Type: Domain, Value: "co.uk", Reason: "is a public suffix"}, `domain "co.uk" is a public suffix`},
		{&Error{Type: MD5, Value: "", Reason: reasonEmpty}, "md5 value is empty"},
		{&Error{Value: "hello", Reason: "is odd"}, `"hello" is odd`},
		{&Error{Type: URL, Value: strings.Repeat("a", 101), Reason: "x"}, `url "` + strings.Repeat("a", 100) + `…" x`},
		{&Error{Type: URL, Value: strings.Repeat("ä", 100), Reason: "x"}, `url "` + strings.Repeat("ä", 100) + `" x`},
		{&Error{Type: URL, Value: "a\xffb", Reason: "x"}, `url "a\xffb" x`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

// TestCanonicalizeNoAlloc pins the fast paths: values already in canonical
// form must not allocate, since bulk import mostly sees those.
func TestCanonicalizeNoAlloc(t *testing.T) {
	for _, c := range []struct {
		t     Type
		in    string
		limit float64
	}{
		{MD5, md5Empty, 0},
		{SHA256, sha256Empty, 0},
		{X509SHA1, sha1Empty, 0},
		{JA4, ja4Example, 0},
		{IPv4, "192.0.2.1", 0},
		{IPv6, "2001:db8::1", 0},
		{CIDR, "192.0.2.0/24", 0},
		{URL, "http://example.com/login.php?id=1", 0},
		{Email, "user@example.com", 0},
		// publicsuffix.PublicSuffix allocates once (a net/netip parse error).
		{Domain, "www.example.com", 1},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Canonicalize(c.t, c.in) }); n > c.limit {
			t.Errorf("%s %q: %v allocations, want at most %v", c.t, c.in, n, c.limit)
		}
	}
}

var benchInputs = []struct {
	t  Type
	in string
}{
	{IPv4, "192.0.2.1"},
	{IPv4, "198[.]51[.]100[.]7"},
	{IPv6, "2001:db8::1"},
	{CIDR, "203.0.113.0/24"},
	{Domain, "www.example.com"},
	{Domain, "Evil-Domain[.]Example.NET"},
	{Domain, "bücher.example"},
	{URL, "http://example.com/login.php?id=1"},
	{URL, "hxxps://Evil[.]Example.com:443/a/../b/%7Euser?q=1#x"},
	{Email, "user@example.com"},
	{MD5, md5Empty},
	{SHA1, strings.ToUpper(sha1Empty)},
	{SHA256, sha256Empty},
	{SHA256, sha256Empty},
	{SHA256, sha256Empty},
	{SHA512, sha512Empty},
	{X509SHA256, colons(sha256Empty)},
	{JA3, md5Empty},
	{JA4, ja4Example},
}

// BenchmarkCanonicalize runs over a mix of types, already-canonical and
// not, roughly as a feed would deliver them.
func BenchmarkCanonicalize(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in := benchInputs[i%len(benchInputs)]
		if _, err := Canonicalize(in.t, in.in); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, c := range canonCases {
		if len(c.in) < 300 {
			f.Add(string(c.t), c.in)
		}
	}
	f.Fuzz(func(t *testing.T, typ, in string) {
		ts := Types
		if k, err := ParseType(typ); err == nil {
			ts = []Type{k}
		}
		for _, ty := range ts {
			got, err := Canonicalize(ty, in)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s %q: error %v is not an *Error", ty, in, err)
				}
				_ = err.Error()
				continue
			}
			if !utf8.ValidString(got) {
				t.Fatalf("%s %q: output %q is not valid UTF-8", ty, in, got)
			}
			again := ty
			if ty == IPv6 && !strings.Contains(got, ":") {
				again = IPv4
			}
			got2, err := Canonicalize(again, got)
			if err != nil {
				t.Fatalf("%s %q: canonical %q refused: %v", ty, in, got, err)
			}
			if got2 != got {
				t.Fatalf("%s %q: not idempotent: %q -> %q", ty, in, got, got2)
			}
		}
	})
}

// BenchmarkCanonicalizeEach times each input of the mix on its own, to show
// which types dominate.
func BenchmarkCanonicalizeEach(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(string(in.t)+"/"+truncate(in.in, 20), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(in.t, in.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCanonicalizeAs: the type a value is stored as agrees with its
// canonical form (an IPv4-mapped IPv6 address is an IPv4 address).
func TestCanonicalizeAs(t *testing.T) {
	for _, tc := range []struct {
		t         Type
		raw       string
		wantT     Type
		wantValue string
	}{
		{IPv6, "::ffff:198.51.100.7", IPv4, "198.51.100.7"},
		{IPv6, "2001:DB8::1", IPv6, "2001:db8::1"},
		{IPv4, "198.51.100.7", IPv4, "198.51.100.7"},
		{Domain, "Example.ORG", Domain, "example.org"},
	} {
		gt, gv, err := CanonicalizeAs(tc.t, tc.raw)
		if err != nil || gt != tc.wantT || gv != tc.wantValue {
			t.Errorf("CanonicalizeAs(%s, %q) = %s, %q, %v; want %s, %q", tc.t, tc.raw, gt, gv, err, tc.wantT, tc.wantValue)
		}
	}
	if _, _, err := CanonicalizeAs(IPv6, "not an address"); err == nil {
		t.Error("CanonicalizeAs accepted a bad address")
	}
}

// TestDomainTopLevelLabel: a domain's last label has a top-level domain's
// shape — letters, or an internationalised "xn--" one. Names ending in
// "rpz-ip" and the like (read by DNS firewalls as rules on addresses or
// clients), or in digits and hyphens, are refused.
func TestDomainTopLevelLabel(t *testing.T) {
	for _, v := range []string{"8.0.0.0.10.rpz-ip", "32.1.0.0.127.rpz-client-ip", "cloudflare.com.rpz-nsdname", "evil.example1", "evil.ex_ample"} {
		for _, typ := range []Type{Domain, Hostname} {
			if got, err := Canonicalize(typ, v); err == nil {
				t.Errorf("Canonicalize(%s, %q) = %q, want refused", typ, v, got)
			}
		}
	}
	for _, v := range []string{"evil.example.org", "пример.рф", "xn--e1afmkfd.xn--p1ai", "c2.onion", "a.b.bit"} {
		if _, err := Canonicalize(Domain, v); err != nil {
			t.Errorf("Canonicalize(domain, %q): %v", v, err)
		}
	}
}

// Reverse-DNS zones and the special-use names that name local things are
// refused as domains, hostnames, URL hosts and email domains: exported to a
// response policy zone, "10.in-addr.arpa" became "*.10.in-addr.arpa CNAME ."
// and broke every reverse lookup of 10.0.0.0/8. ".onion" stays accepted.
func TestSpecialUseNames(t *testing.T) {
	refused := []struct{ name, reason string }{
		{"arpa", `is "arpa", the zone of reverse DNS`},
		{"in-addr.arpa", `is under "arpa"`},
		{"10.in-addr.arpa", `is under "arpa"`},
		{"168.192.in-addr.arpa", `is under "arpa"`},
		{"1.0.0.127.in-addr.arpa", `is under "arpa"`},
		{"d.f.ip6.arpa", `is under "arpa"`},
		{"resolver.arpa", `is under "arpa"`},
		{"router.home.arpa", `is under "arpa"`},
		{"10.IN-ADDR.ARPA.", `is under "arpa"`},
		{"printer.local", `is under "local"`},
		{"localhost", `is "localhost", which names the machine itself`},
		{"app.localhost", `is under "localhost"`},
		{"dc01.hospital.internal", `is under "internal"`},
		{"staging.test", `is under "test"`},
		{"nothing.invalid", `is under "invalid"`},
	}
	for _, c := range refused {
		in := map[Type]string{
			Domain:   c.name,
			Hostname: c.name,
			URL:      "http://" + c.name + "/x",
			Email:    "user@" + c.name,
		}
		for typ, v := range in {
			got, err := Canonicalize(typ, v)
			if err == nil {
				t.Errorf("Canonicalize(%s, %q) = %q, want refused", typ, v, got)
				continue
			}
			// Single labels are refused as domains and email domains
			// before the special-use rule; URL hosts may be single labels.
			if !strings.Contains(c.name, ".") && typ != URL {
				continue
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("Canonicalize(%s, %q): error %q does not contain %q", typ, v, err, c.reason)
			}
		}
	}
	for _, v := range []string{"abcdefghijk.onion", "arpa.example.com", "local.example.com", "localhost.example.com", "test.com", "testing.internal-health.org", "invalid.org"} {
		for _, typ := range []Type{Domain, Hostname} {
			if _, err := Canonicalize(typ, v); err != nil {
				t.Errorf("Canonicalize(%s, %q): %v", typ, v, err)
			}
		}
		if _, err := Canonicalize(URL, "http://"+v+"/"); err != nil {
			t.Errorf("Canonicalize(url, %q): %v", "http://"+v+"/", err)
		}
		if _, err := Canonicalize(Email, "user@"+v); err != nil {
			t.Errorf("Canonicalize(email, %q): %v", "user@"+v, err)
		}
	}
}
