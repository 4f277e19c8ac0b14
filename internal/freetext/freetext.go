// Package freetext finds candidate indicators in pasted text — a threat
// report, an e-mail with its headers, a chat message — so that an analyst
// can review them, with their detected types, before saving (DESIGN.md
// section 3, "CSV/free text" submission). It is pure: no I/O.
//
// Every candidate's value is canonical (package indicator) and its type is
// the one indicator.Detect gives: a host name comes out as type domain,
// never hostname (the analyst may change it before saving), and a 32-digit
// hash as md5, never ja3. Candidates are de-duplicated by type and value, in
// the order of their first appearance; Raw is that first appearance as
// written, defanged forms and all, at Offset. Scanning is one pass over the
// text, word by word, so the cost is linear in its length.
//
// # Defanged input
//
// Everything indicator.Refang undoes is undone here too, inside a word:
// "hxxp://", "hxxps://", "fxp://" (any case of the x's), "[.]", "(.)",
// "{.}", "[dot]", "(dot)", "{dot}", "[:]", "[://]", "[at]", "(at)", "[@]".
// On top of that, as analysts write them:
//   - "meow://" and "meows://" (sandbox reports) are http and https;
//   - "[/]" is "/", and "\." between letters or digits is "." (regex style);
//   - the dot and at forms may stand between spaces: "user [at] example
//     [dot] com", "evil (.) com";
//   - " DOT " and " AT " in capitals between lower-case words:
//     "user AT example DOT com".
//
// The spelled-out lower-case " dot " and " at " are not undone: they are
// ordinary English ("the dot com bubble", "look at this") and would turn
// prose into indicators.
//
// # URLs
//
// A URL starts at a web scheme: http, https, ftp, ws, wss, or a defanged
// form of one. It ends at white space, at a quote or angle bracket, at a
// closing ")", "]" or "}" that it did not open (so the balanced parentheses
// of a Wikipedia link are kept, and "(see http://x.example/a)." loses its
// ")."), at an HTML-escaped quote or angle bracket ("&quot;"), and at a
// comma that separates it from the next item of a list or CSV row: any
// comma in the host; a comma followed by another, by "#" or by a URL; and
// in the path, a comma not followed by a plain segment going on to a "/"
// ("/Acme,_Inc/x.html" and "?ids=1,2" keep theirs, "http://a.example/x,b"
// does not). Trailing ". , ; : ! ? ' *" are dropped. "&amp;" in a URL is
// read as "&", as in an HTML href. Other schemes ("tcp://1.2.3.4:443",
// "smb://host/share") do not make URLs: a sensor needs their host, which is
// taken as an address or domain.
//
// A host with a path or query but no scheme ("evil.example/login.php",
// "203.0.113.5:8080/gate") is a URL with "http://" prefixed, as Detect
// makes it, provided its host is a dotted-quad IPv4 address, a bracketed
// IPv6 address, or a name that passes the domain rules below, and it has no
// "user@" part.
//
// A URL is one candidate: its host, and a hash in its path, are not listed
// on their own as well. This follows MISP's free-text import, which lists
// the URL and not the bare host. A name that also appears outside any URL
// is listed as a domain for those appearances, and Count counts only them.
// An e-mail address is treated the same way.
//
// # Addresses
//
// IPv4 and IPv6 addresses are found with or without a port ("1.2.3.4:8080"
// and "[2001:db8::1]:443" give the address; Raw is "1.2.3.4"), a zone
// ("fe80::1%eth0" gives "fe80::1"), in ranges ("192.0.2.1-192.0.2.9" gives
// both ends) and in key=value pairs. Private and reserved addresses are
// kept: the hub's warninglists decide what is benign. "::" alone is dropped.
// CIDR blocks are found as Detect reads them ("10.0.0.0/8"; /0 to /7 are
// refused by the canonical form, leaving the address). Version numbers
// ("1.2.3", "120.0.6099.109") are not addresses; a four-part version that
// is a valid address is one unless the word before it says it is a version
// ("version 1.2.3.4", "build 10.0.19041.1", "firmware: 4.4.2.1"; see
// versionWords) and it is not defanged.
//
// # Domains
//
// A domain must end in a top-level domain from the ICANN section of the
// public suffix list (Detect's rule), so "invoice.pdf", "setup.exe",
// "e.g.", "i.e." and "etc." are not domains, nor are ".local" names. Two
// more rules keep file names and code out; both are waived when the name
// was written defanged, since nobody defangs a file name.
//
// First, a name of two labels whose top-level domain is also a common file
// extension — zip, mov, cab, py, sh, so, rs, md, java, pub — is taken for a
// file ("malware.zip", "readme.md", "libcrypto.so", "PEHash.py"). For app
// and one, whose domains are popular with phishing sites, this holds only
// when the name is written with capitals, as file names are and domains
// rarely ("Safari.app", "Invoice.one"; "find-my-location.app" is a domain).
// With three labels or more ("update.evil.zip", "x.vercel.app") it is a
// domain, and so is such a host in a URL with a scheme. "pl", "cc", "ai" and
// the like are deliberately not in the list: their domains turn up in
// reports far more often than Perl scripts, C++ sources or Illustrator
// files.
//
// Second, a name whose last label is written in mixed case is code or
// prose ("ADODB.Stream", "System.Net", two sentences run together as in
// "done.Now"); "EVIL.COM" and "evil.com" are domains.
//
// Text in scripts written without spaces is split from ASCII letters and
// digits, so "访问evil.com获取" gives "evil.com".
//
// # E-mail addresses, hashes, fingerprints
//
// An e-mail address needs a domain with an ICANN top-level domain
// ("logo@2x.png" is a file); "mailto:" links and Message-IDs that look
// like addresses are found too.
//
// A hash is a run of exactly 32, 40, 64 or 128 hex digits bounded by
// non-hex characters, so never part of a longer hex run ("sha256:…",
// "MD5=…", "<sha256>.exe" and "0x…" work), holding at least one digit and
// one letter: an all-digit or all-letter run is a number or a word far more
// often than a hash. It is md5, sha1, sha256 or sha512 by length.
//
// Certificate fingerprints written as colon-separated hex of 20 or 32 bytes
// are x509-sha1 and x509-sha256; JA4 fingerprints of the exact shape are
// ja4.
package freetext

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// MaxBytes is the largest text Extract accepts. A report of a hundred pages
// is well under it; a larger paste is almost certainly a mistake (a binary,
// a log file) and better handled by a file import.
const MaxBytes = 4 << 20

// DefaultMaxCandidates is the number of distinct candidates Extract returns
// when Options.MaxCandidates is not set.
const DefaultMaxCandidates = 10_000

// Errors returned by Extract, wrapped with the details; check them with
// errors.Is.
var (
	ErrTooLarge    = errors.New("text is too large")
	ErrInvalidUTF8 = errors.New("text is not valid UTF-8")
)

// Candidate is one indicator found in the text.
type Candidate struct {
	Type indicator.Type `json:"type"`
	// Value is the canonical form.
	Value string `json:"value"`
	// Raw is the first appearance as written in the text, defanged form
	// kept.
	Raw string `json:"raw"`
	// Offset is the byte offset of Raw in the text.
	Offset int `json:"offset"`
	// Line is the 1-based line of Offset.
	Line int `json:"line"`
	// Count is the number of appearances in the text.
	Count int `json:"count"`
}

// Options tune Extract. The zero value is ready to use.
type Options struct {
	// MaxCandidates bounds the number of distinct candidates returned;
	// 0 means DefaultMaxCandidates. When the text holds more, the first
	// ones in order of appearance are returned, so a result of exactly
	// MaxCandidates may be cut short; their counts still cover the whole
	// text.
	MaxCandidates int
}

// Extract returns the candidate indicators in text, in the order of their
// first appearance. It fails only when text is longer than MaxBytes
// (ErrTooLarge) or is not valid UTF-8 (ErrInvalidUTF8, saying at which
// byte).
func Extract(text string, opt Options) ([]Candidate, error) {
	if len(text) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d are accepted", ErrTooLarge, len(text), MaxBytes)
	}
	if i := invalidUTF8(text); i >= 0 {
		return nil, fmt.Errorf("%w: byte 0x%02x at offset %d (line %d) does not start a valid character",
			ErrInvalidUTF8, text[i], i, 1+strings.Count(text[:i], "\n"))
	}
	e := extractor{text: text, max: opt.MaxCandidates, line: 1}
	if e.max <= 0 {
		e.max = DefaultMaxCandidates
	}
	e.run()
	return e.out, nil
}

// invalidUTF8 returns the offset of the first byte that is not part of a
// valid UTF-8 sequence, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// extractor holds the state of one Extract call.
type extractor struct {
	text string
	max  int

	// The current word, refanged: f, which starts at text[wordStart], and
	// the defanging forms in it, in order. Between forms a byte of f is a
	// byte of text, so the forms alone map f back to text.
	f         []byte
	wordStart int
	forms     []form

	seen map[key]int // index into out
	out  []Candidate

	// A cursor for line numbers: offsets arrive in increasing order, so
	// counting newlines from the last one keeps the whole run linear.
	lineOff, line int
}

// form records that f[f0:f1] stands for the defanged text[t0:t1] ("." for
// "[.]", "://" for "[://]", "http" for "hxxp", "." for " [dot] ").
type form struct {
	f0, f1, t0, t1 int
}

// textStart returns the offset in text of the byte f[i] comes from.
func (e *extractor) textStart(i int) int {
	k := sort.Search(len(e.forms), func(k int) bool { return e.forms[k].f0 > i }) - 1
	if k < 0 {
		return e.wordStart + i
	}
	g := e.forms[k]
	if i < g.f1 {
		return g.t0
	}
	return g.t1 + i - g.f1
}

// textEnd returns the offset in text just after the bytes f[i] comes from.
func (e *extractor) textEnd(i int) int {
	k := sort.Search(len(e.forms), func(k int) bool { return e.forms[k].f0 > i }) - 1
	if k >= 0 && i < e.forms[k].f1 {
		return e.forms[k].t1
	}
	return e.textStart(i) + 1
}

// defanged reports whether f[a:b] holds a defanging form.
func (e *extractor) defanged(a, b int) bool {
	k := sort.Search(len(e.forms), func(k int) bool { return e.forms[k].f1 > a })
	return k < len(e.forms) && e.forms[k].f0 < b
}

type key struct {
	t indicator.Type
	v string
}

// add records an appearance of (t, v) written as f[a:b].
func (e *extractor) add(t indicator.Type, v string, a, b int) {
	k := key{t, v}
	if i, ok := e.seen[k]; ok {
		e.out[i].Count++
		return
	}
	if len(e.out) >= e.max {
		return
	}
	if e.seen == nil {
		e.seen = make(map[key]int)
	}
	start, end := e.textStart(a), e.textEnd(b-1)
	e.seen[k] = len(e.out)
	e.out = append(e.out, Candidate{
		Type:   t,
		Value:  v,
		Raw:    e.text[start:end],
		Offset: start,
		Line:   e.lineAt(start),
		Count:  1,
	})
}

func (e *extractor) lineAt(off int) int {
	if off < e.lineOff { // not expected; stay correct anyway
		e.lineOff, e.line = 0, 1
	}
	e.line += strings.Count(e.text[e.lineOff:off], "\n")
	e.lineOff = off
	return e.line
}
