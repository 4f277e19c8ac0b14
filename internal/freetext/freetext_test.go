package freetext

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// brief renders candidates as "type value", or "type value <- raw" when
// the text differs from the value, for compact expectations.
func brief(cs []Candidate) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		s := string(c.Type) + " " + c.Value
		if c.Raw != c.Value {
			s += " <- " + c.Raw
		}
		out = append(out, s)
	}
	return out
}

const (
	md5Hex    = "d41d8cd98f00b204e9800998ecf8427e"
	sha1Hex   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha512Hex = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

func TestExtract(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		// Nothing to find.
		{"empty", "", nil},
		{"prose", "The actor used spearphishing, then moved laterally.", nil},
		{"abbreviations", "e.g. this, i.e. that, etc. and a.k.a. U.S. vs. No. 5", nil},
		{"version numbers", "version 1.2.3 and 10.0.19041 and v2.1", nil},
		{"four-part versions", "Version 1.2.3.4 of the tool, build 10.0.19041.1, firmware: 4.4.2.1 and ver. 5.1.0.2", nil},
		{"an address after a version", "version 1.2.3.4 connects to 198.51.100.7 and updates from 1[.]2[.]3[.]4", []string{
			"ipv4 198.51.100.7", "ipv4 1.2.3.4 <- 1[.]2[.]3[.]4"}},
		{"addresses after words that are no versions", "UPDATE: 203.0.113.5 is also a C2. Patch 203.0.113.6 now, see v 198.51.100.8", []string{
			"ipv4 203.0.113.5", "ipv4 203.0.113.6", "ipv4 198.51.100.8"}},
		{"file names", "invoice.pdf setup.exe document.docx payload.bin script.ps1 loader.dll", nil},
		{"file-extension TLDs", "malware.zip clip.mov Notes.one readme.md run.sh libcrypto.so main.rs x.py Safari.app Main.java id_rsa.pub update.cab", nil},
		{"code and run-together sentences", "ADODB.Stream and System.Net; it was done.Now we", nil},
		{"time and MAC", "at 12:30:45 from 00:11:22:33:44:55", nil},
		{"unknown TLD", "host.local and printer.lan and x.internal", nil},
		{"plain words of hash length", "abcdefabcdefabcdefabcdefabcdefab 12345678901234567890123456789012", nil},
		{"unspecified IPv6", "the :: operator", nil},
		{"logo file with at", "logo@2x.png", nil},
		{"number host without scheme", "upgrade 2.0/3.0 then", nil},

		// IPv4.
		{"ipv4", "seen from 198.51.100.7 today", []string{"ipv4 198.51.100.7"}},
		{"ipv4 sentence end", "It connected to 198.51.100.7.", []string{"ipv4 198.51.100.7"}},
		{"ipv4 defanged last dot", "1.2.3[.]4", []string{"ipv4 1.2.3.4 <- 1.2.3[.]4"}},
		{"ipv4 defanged every dot", "1[.]2[.]3[.]4 and 5(.)6(.)7(.)8 and 9{.}9{.}9{.}9", []string{
			"ipv4 1.2.3.4 <- 1[.]2[.]3[.]4", "ipv4 5.6.7.8 <- 5(.)6(.)7(.)8", "ipv4 9.9.9.9 <- 9{.}9{.}9{.}9"}},
		{"ipv4 dot word", "10[dot]0[dot]0[dot]1", []string{"ipv4 10.0.0.1 <- 10[dot]0[dot]0[dot]1"}},
		{"ipv4 with port", "1.2.3.4:8080", []string{"ipv4 1.2.3.4"}},
		{"ipv4 defanged with defanged port", "1.2.3[.]4[:]8080", []string{"ipv4 1.2.3.4 <- 1.2.3[.]4"}},
		{"ipv4 in brackets", "[198.51.100.7] (203.0.113.9)", []string{"ipv4 198.51.100.7", "ipv4 203.0.113.9"}},
		{"ipv4 private kept", "10.1.2.3 and 127.0.0.1", []string{"ipv4 10.1.2.3", "ipv4 127.0.0.1"}},
		{"ipv4 range", "192.0.2.1-192.0.2.254", []string{"ipv4 192.0.2.1", "ipv4 192.0.2.254"}},
		{"ipv4 list", "1.1.1.1,2.2.2.2;3.3.3.3", []string{"ipv4 1.1.1.1", "ipv4 2.2.2.2", "ipv4 3.3.3.3"}},
		{"ipv4 leading zero refused", "010.1.1.1", nil},
		{"ipv4 out of range", "256.1.1.1 and 1.2.3.4.5", nil},
		{"ipv4 key value", "src_ip=203.0.113.5&x", []string{"ipv4 203.0.113.5"}},

		// IPv6.
		{"ipv6", "C2 2001:db8::1 up", []string{"ipv6 2001:db8::1"}},
		{"ipv6 bracketed with port", "[2001:db8::2]:443", []string{"ipv6 2001:db8::2"}},
		{"ipv6 upper case", "2001:DB8:0:0:0:0:0:1", []string{"ipv6 2001:db8::1 <- 2001:DB8:0:0:0:0:0:1"}},
		{"ipv6 mapped is ipv4", "::ffff:192.0.2.1", []string{"ipv4 192.0.2.1 <- ::ffff:192.0.2.1"}},
		{"ipv6 trailing colons", "prefix 2001:db8:: is", []string{"ipv6 2001:db8::"}},
		{"ipv6 zone dropped", "fe80::1%eth0", []string{"ipv6 fe80::1"}},

		// CIDR.
		{"cidr", "block 10.0.0.0/8.", []string{"cidr 10.0.0.0/8"}},
		{"cidr host bits", "192.0.2.77/24", []string{"cidr 192.0.2.0/24 <- 192.0.2.77/24"}},
		{"cidr ipv6", "2001:db8::/32", []string{"cidr 2001:db8::/32"}},
		{"cidr defanged", "192.0.2[.]0/24", []string{"cidr 192.0.2.0/24 <- 192.0.2[.]0/24"}},
		{"cidr too broad gives the address", "1.0.0.0/4", []string{"ipv4 1.0.0.0"}},

		// Domains.
		{"domain", "resolve evil.example.com now", []string{"domain evil.example.com"}},
		{"domain com", "resolve evil-site.com now", []string{"domain evil-site.com"}},
		{"domain defanged", "evil[.]com", []string{"domain evil.com <- evil[.]com"}},
		{"domain defanged dot word", "evil[dot]co[dot]uk, x(DOT)org", []string{"domain evil.co.uk <- evil[dot]co[dot]uk", "domain x.org <- x(DOT)org"}},
		{"domain spaced brackets", "evil [.] com and bad [dot] net and worse[.] org", []string{
			"domain evil.com <- evil [.] com", "domain bad.net <- bad [dot] net", "domain worse.org <- worse[.] org"}},
		{"domain spaced capitals", "evil DOT com but not evil dot com", []string{"domain evil.com <- evil DOT com"}},
		{"domain regex escape", `evil\.com`, []string{`domain evil.com <- evil\.com`}},
		{"domain upper", "EVIL.COM", []string{"domain evil.com <- EVIL.COM"}},
		{"domain trailing dot", "see evil.com.", []string{"domain evil.com"}},
		{"domain in quotes and markup", `"evil.com" 'bad.net' **worse[.]org** (a.info) <b.biz> “c.io”`, []string{
			"domain evil.com", "domain bad.net", "domain worse.org <- worse[.]org", "domain a.info", "domain b.biz", "domain c.io"}},
		{"domain wildcard", "*.evil.com", []string{"domain evil.com"}},
		{"domain with port", "evil.com:8443", []string{"domain evil.com"}},
		{"domain public suffix alone refused", "co.uk", nil},
		{"domain private suffix kept", "x.duckdns.org", []string{"domain x.duckdns.org"}},
		{"domain idn", "bücher.de", []string{"domain xn--bcher-kva.de <- bücher.de"}},
		{"domain inside cjk prose", "请访问evil.com获取", []string{"domain evil.com"}},
		{"file-extension TLD defanged", "malware[.]zip", []string{"domain malware.zip <- malware[.]zip"}},
		{"file-extension TLD three labels", "update.evil.zip", []string{"domain update.evil.zip"}},
		{"underscore label", "_dmarc.evil.com", []string{"domain _dmarc.evil.com"}},
		{"domain repeated", "evil.com, EVIL.com and evil[.]com", []string{"domain evil.com"}},

		// URLs.
		{"url", "get http://evil.com/a.exe now", []string{"url http://evil.com/a.exe"}},
		{"url defanged", "hxxps[://]evil[.]com/login", []string{"url https://evil.com/login <- hxxps[://]evil[.]com/login"}},
		{"url hXXp and colon", "hXXp[:]//evil[.]com/x", []string{"url http://evil.com/x <- hXXp[:]//evil[.]com/x"}},
		{"url fxp", "fxp://files.evil.com/a", []string{"url ftp://files.evil.com/a <- fxp://files.evil.com/a"}},
		{"url meow", "meows://cats.evil.com/", []string{"url https://cats.evil.com/ <- meows://cats.evil.com/"}},
		{"url slash form", "hxxp://evil[.]com[/]gate[.]php", []string{"url http://evil.com/gate.php <- hxxp://evil[.]com[/]gate[.]php"}},
		{"url trailing punctuation", "(see http://evil.com/a). Or http://evil.com/b, or http://evil.com/c!", []string{
			"url http://evil.com/a", "url http://evil.com/b", "url http://evil.com/c"}},
		{"url balanced parentheses", "https://en.wikipedia.org/wiki/Foo_(bar)", []string{"url https://en.wikipedia.org/wiki/Foo_(bar)"}},
		{"url in angle brackets", "<https://evil.com/x>", []string{"url https://evil.com/x"}},
		{"url in html", `<a href="http://evil.com/x?a=1&b=2">click</a>`, []string{"url http://evil.com/x?a=1&b=2"}},
		{"url html escaped quote", `href=&quot;http://evil.com/x&quot;`, []string{"url http://evil.com/x"}},
		{"url markdown link", "[evil[.]com](hxxp://evil[.]com/a)", []string{"domain evil.com <- evil[.]com", "url http://evil.com/a <- hxxp://evil[.]com/a"}},
		{"url markdown bold", "**hxxp://evil[.]com/x**", []string{"url http://evil.com/x <- hxxp://evil[.]com/x"}},
		{"url html ampersand", `<a href="http://evil.com/x?a=1&amp;b=2">`, []string{"url http://evil.com/x?a=1&b=2 <- http://evil.com/x?a=1&amp;b=2"}},
		{"weak file-extension TLD in lower case", "find-my-location.app and hk-whatsapp.one", []string{"domain find-my-location.app", "domain hk-whatsapp.one"}},
		{"url comma in path", `"http://anavip.com.br/Kitchen_and_Bath_Beyond,_Inc/",#phishing`, []string{"url http://anavip.com.br/Kitchen_and_Bath_Beyond,_Inc/"}},
		{"url csv row after query", "url,http://a.example.com/x?e=1&y=2,,https://x.com/s/1", []string{"url http://a.example.com/x?e=1&y=2", "url https://x.com/s/1"}},
		{"url csv row tag after query", "http://a.example.com/?uid=a@example.jp,#phishing,x", []string{"url http://a.example.com/?uid=a@example.jp"}},
		{"file-extension TLD subdomain", "login-verify.vercel.app", []string{"domain login-verify.vercel.app"}},
		{"pl is a domain", "allegro-lokalnie.pl", []string{"domain allegro-lokalnie.pl"}},
		{"url query with comma", "http://evil.com/s?q=a,b", []string{"url http://evil.com/s?q=a,b"}},
		{"url comma list", "http://a.com/x,http://b.com/y", []string{"url http://a.com/x", "url http://b.com/y"}},
		{"url ipv6 host", "http://[2001:db8::1]:8080/x", []string{"url http://[2001:db8::1]:8080/x"}},
		{"url host not listed", "hxxp://evil[.]com/a and user@corp.com", []string{"url http://evil.com/a <- hxxp://evil[.]com/a", "email user@corp.com"}},
		{"url canonical", "HTTP://Evil.COM:80/a/../b#frag", []string{"url http://evil.com/b <- HTTP://Evil.COM:80/a/../b#frag"}},
		{"url file-extension host", "https://malware.zip/x", []string{"url https://malware.zip/x"}},
		{"url without scheme", "evil.com/login.php", []string{"url http://evil.com/login.php <- evil.com/login.php"}},
		{"url without scheme ip port", "203.0.113.5:8080/gate.php?id=1", []string{"url http://203.0.113.5:8080/gate.php?id=1 <- 203.0.113.5:8080/gate.php?id=1"}},
		{"url without scheme file host", "archive.zip/contents/a.txt", nil},
		{"other scheme gives host", "tcp://198.51.100.7:4444 and smb://files.evil.com/share", []string{"ipv4 198.51.100.7", "domain files.evil.com"}},
		{"redirect kept whole", "http://a.com/r?u=http://b.com/x", []string{"url http://a.com/r?u=http://b.com/x"}},
		{"url ending at brackets", "[http://evil.com/x]", []string{"url http://evil.com/x"}},
		{"scheme only", "http:// and hxxp://", nil},
		{"scheme left in a piece", "0://#A://A and x://#evil.com/a", []string{"url http://evil.com/a <- evil.com/a"}},

		// E-mail.
		{"email", "from bad.actor+x@evil.com.", []string{"email bad.actor+x@evil.com"}},
		{"email defanged", "user[at]example[.]com and u2(at)example(dot)org and u3[@]example.net", []string{
			"email user@example.com <- user[at]example[.]com", "email u2@example.org <- u2(at)example(dot)org", "email u3@example.net <- u3[@]example.net"}},
		{"email spaced", "user [at] example [dot] com", []string{"email user@example.com <- user [at] example [dot] com"}},
		{"email capitals", "john AT corp DOT com", []string{"email john@corp.com <- john AT corp DOT com"}},
		{"email header", "From: \"Billing\" <Billing@Evil-Corp.com>", []string{"email billing@evil-corp.com <- Billing@Evil-Corp.com"}},
		{"mailto", "mailto:x@evil.com?subject=hi", []string{"email x@evil.com"}},
		{"email unknown TLD", "root@localhost.localdomain", nil},
		{"message id", "Message-ID: <20260723.4471@mail.evil.com>", []string{"email 20260723.4471@mail.evil.com"}},
		{"twitter handle", "@evil_actor said", nil},

		// Hashes and fingerprints.
		{"md5", "md5 " + md5Hex, []string{"md5 " + md5Hex}},
		{"sha1 upper", strings.ToUpper(sha1Hex), []string{"sha1 " + sha1Hex + " <- " + strings.ToUpper(sha1Hex)}},
		{"sha256 prefixed", "sha256:" + sha256Hex, []string{"sha256 " + sha256Hex}},
		{"sha512", sha512Hex, []string{"sha512 " + sha512Hex}},
		{"hash key value", "MD5=" + md5Hex + "&SHA1=" + sha1Hex, []string{"md5 " + md5Hex, "sha1 " + sha1Hex}},
		{"hash file name", sha256Hex + ".exe and sample_" + md5Hex + ".bin", []string{"sha256 " + sha256Hex, "md5 " + md5Hex}},
		{"hash in longer hex run", "0" + md5Hex + " " + md5Hex + "a", nil},
		{"hash wrong length", md5Hex[:31] + " " + sha1Hex + "00", nil},
		{"hash after non-hex letter", "x" + md5Hex, []string{"md5 " + md5Hex}},
		{"hash in table", "| " + md5Hex + " | loader |", []string{"md5 " + md5Hex}},
		{"x509 sha1", "Fingerprint=DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09", []string{
			"x509-sha1 " + sha1Hex + " <- DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09"}},
		{"x509 sha256 prefixed", "SHA256:" + colonHex(sha256Hex), []string{"x509-sha256 " + sha256Hex + " <- " + colonHex(sha256Hex)}},
		{"x509 wrong length", colonHex(md5Hex), nil},
		{"ja4", "ja4=t13d1516h2_8daaf6152771_b186095e22b6", []string{"ja4 t13d1516h2_8daaf6152771_b186095e22b6"}},

		// Mixed.
		{"windows path", `C:\Users\Public\evil.com\x.exe`, []string{"domain evil.com"}},
		{"unicode separators", "evil.com\u00a0bad.net→worse.org…", []string{"domain evil.com", "domain bad.net", "domain worse.org"}},
		{"json", `{"ip":"192.0.2.5","domain":"evil.com","url":"https://evil.com/a"}`, []string{
			"ipv4 192.0.2.5", "domain evil.com", "url https://evil.com/a"}},
		{"csv", "192.0.2.5,evil.com,https://evil.com/a", []string{"ipv4 192.0.2.5", "domain evil.com", "url https://evil.com/a"}},
		{"received header", "Received: from mail.evil.com (mail.evil.com [203.0.113.5]) by mx.corp.example", []string{
			"domain mail.evil.com", "ipv4 203.0.113.5"}},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			cs, err := Extract(c.in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkCandidates(t, c.in, cs)
			if got := brief(cs); !slices.Equal(got, c.want) {
				t.Errorf("Extract(%q)\n got: %q\nwant: %q", c.in, got, c.want)
			}
		})
	}
	if len(cases) < 60 {
		t.Errorf("only %d cases", len(cases))
	}
}

func colonHex(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(h[i : i+2]))
	}
	return b.String()
}

// checkCandidates checks the invariants every result must hold: values
// canonical for their type, Raw at Offset, Line matching Offset, first
// appearances in order, no duplicates, positive counts.
func checkCandidates(t *testing.T, text string, cs []Candidate) {
	t.Helper()
	seen := map[key]bool{}
	for i, c := range cs {
		if v, err := indicator.Canonicalize(c.Type, c.Value); err != nil || v != c.Value {
			t.Errorf("candidate %d: %s %q is not canonical: %q, %v", i, c.Type, c.Value, v, err)
		}
		if c.Offset < 0 || c.Offset+len(c.Raw) > len(text) || text[c.Offset:c.Offset+len(c.Raw)] != c.Raw || c.Raw == "" {
			t.Errorf("candidate %d: raw %q is not at offset %d", i, c.Raw, c.Offset)
		} else if want := 1 + strings.Count(text[:c.Offset], "\n"); c.Line != want {
			t.Errorf("candidate %d: line %d, want %d", i, c.Line, want)
		}
		if i > 0 && c.Offset <= cs[i-1].Offset {
			t.Errorf("candidate %d: offset %d is not after %d", i, c.Offset, cs[i-1].Offset)
		}
		k := key{c.Type, c.Value}
		if seen[k] {
			t.Errorf("candidate %d: %s %q listed twice", i, c.Type, c.Value)
		}
		seen[k] = true
		if c.Count < 1 {
			t.Errorf("candidate %d: count %d", i, c.Count)
		}
	}
}

func TestExtractPositions(t *testing.T) {
	text := "Report\r\nC2: hxxp://evil[.]com/gate.php\r\n\r\nAlso evil[.]com, EVIL.COM and 1.2.3.4:80.\nAgain 1.2.3[.]4"
	cs, err := Extract(text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkCandidates(t, text, cs)
	want := []Candidate{
		{Type: indicator.URL, Value: "http://evil.com/gate.php", Raw: "hxxp://evil[.]com/gate.php", Offset: 12, Line: 2, Count: 1},
		{Type: indicator.Domain, Value: "evil.com", Raw: "evil[.]com", Offset: 47, Line: 4, Count: 2},
		{Type: indicator.IPv4, Value: "1.2.3.4", Raw: "1.2.3.4", Offset: 72, Line: 4, Count: 2},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("got  %+v\nwant %+v", cs, want)
	}
}

func TestExtractMaxCandidates(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "10.0.%d.%d ", i/250, i%250)
	}
	text := b.String() + b.String()
	all, err := Extract(text, Options{})
	if err != nil || len(all) != 300 {
		t.Fatalf("got %d candidates, %v; want 300", len(all), err)
	}
	cs, err := Extract(text, Options{MaxCandidates: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(cs, all[:5], func(a, b Candidate) bool { return a == b }) {
		t.Errorf("limited to 5: %v, want the first 5 of %v", brief(cs), brief(all[:5]))
	}
	for _, c := range cs {
		if c.Count != 2 {
			t.Errorf("%s counted %d times, want 2 (counting goes on past the limit)", c.Value, c.Count)
		}
	}
}

func TestExtractErrors(t *testing.T) {
	if _, err := Extract(strings.Repeat("a", MaxBytes+1), Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized text: %v, want ErrTooLarge", err)
	}
	if cs, err := Extract(strings.Repeat("a", MaxBytes), Options{}); err != nil || len(cs) != 0 {
		t.Errorf("text of exactly MaxBytes: %v, %v", cs, err)
	}
	_, err := Extract("line one\nevil.com \xff\xfe", Options{})
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("invalid UTF-8: %v, want ErrInvalidUTF8", err)
	}
	if !strings.Contains(err.Error(), "offset 18") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %q does not say where", err)
	}
}

// TestFileExtTLDs keeps the list of file-extension TLDs honest: every entry
// must be a top-level domain, or the rule is dead weight.
func TestFileExtTLDs(t *testing.T) {
	for tld := range fileExtTLDs {
		if typ, _, err := indicator.Detect("example." + tld); err != nil || typ != indicator.Domain {
			t.Errorf("%q is not a top-level domain Detect accepts: %v", tld, err)
		}
	}
}
