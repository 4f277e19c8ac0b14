// Package logparse reads sensor telemetry — Suricata EVE JSON, Zeek logs
// (TSV and JSON), Squid access logs and plain lists of observables — one
// line at a time, and reports the event's metadata (time, flow, addresses,
// ports, protocol) and the values in it that indicators are matched against
// (observations), each with the field it came from.
//
// The parsers are built for a sensor's hot path: they read only the fields
// that matter (a hand-written, field-selective JSON scanner; no unmarshalling
// into maps or structs), skip the rest quickly, and allocate nothing once an
// Event has been reused for a few lines. Observation values are sub-slices of
// the line, or of the Event's scratch buffer when a value had to be unescaped
// or assembled (a URL from host and path); they are valid until the Event is
// reset or the line buffer is reused.
//
// The package is pure: no I/O, no matching. internal/match drives it.
package logparse

import (
	"errors"
	"net/netip"
)

// Kind says what an observation is, and so which indicators it is compared
// with.
type Kind uint8

// The observation kinds.
const (
	// KindName is a DNS name or host name, as seen (any case, maybe a
	// trailing dot); domain and hostname indicators.
	KindName Kind = iota + 1
	// KindIP is an address; Addr holds it (IPv4-mapped IPv6 unmapped).
	// ipv4, ipv6 and cidr indicators.
	KindIP
	// KindURL is an absolute URL as seen (not canonical); url indicators.
	KindURL
	// KindHash is a hex digest without colons, any case: file hashes,
	// certificate fingerprints, JA3/JA3S; every hash type.
	KindHash
	// KindEmail is an e-mail address as seen (any case); email indicators.
	KindEmail
	// KindJA4 is a JA4 fingerprint; ja4 indicators.
	KindJA4
)

var kindNames = [...]string{KindName: "name", KindIP: "ip", KindURL: "url", KindHash: "hash", KindEmail: "email", KindJA4: "ja4"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Observation is one value of an event that indicators are matched against.
type Observation struct {
	Kind Kind
	// Field names where the value was found, in the log's own terms
	// ("dns.rrname", "tls.sni", "id.resp_h"). It is always a constant.
	Field string
	// Value is the value as found (unescaped). For KindIP it is the text of
	// the address.
	Value []byte
	// Addr is the parsed address of a KindIP observation.
	Addr netip.Addr
}

// TimeFormat says how Event.Time is written.
type TimeFormat uint8

// The time formats.
const (
	// TimeNone: the line had no time.
	TimeNone TimeFormat = iota
	// TimeText: an RFC 3339 time as the log wrote it (Suricata's
	// "2021-06-06T15:59:46.457984+0200", Zeek's ISO 8601 JSON times).
	TimeText
	// TimeEpoch: seconds since 1970 with an optional fraction (Zeek, Squid).
	TimeEpoch
)

// Event is one parsed line: its metadata and observations. Reuse one Event
// per goroutine; every Parse function resets it first.
type Event struct {
	// Type is the EVE event_type, or the Zeek log path when known
	// ("dns", "conn"), "squid" or "line".
	Type []byte
	// Time is the event's own time as written; see TimeFormat.
	Time       []byte
	TimeFormat TimeFormat
	// FlowID is Suricata's flow_id as written (decimal digits).
	FlowID []byte
	// UID is Zeek's connection uid (or the file's fuid).
	UID []byte
	// SrcIP and DestIP are the event's addresses; invalid when absent.
	SrcIP, DestIP netip.Addr
	// SrcPort and DestPort are -1 when absent.
	SrcPort, DestPort int32
	// Proto is the transport protocol as written ("TCP", "udp").
	Proto []byte
	// Obs are the observations, in the order found.
	Obs []Observation

	buf []byte // scratch: unescaped strings, assembled URLs

	// Parts of an HTTP request, joined into a URL once the whole line is
	// read (the port may come after the path).
	httpHost, httpPath []byte
	httpPort           int32
	httpHostField      string
	httpURLField       string
}

// Reset clears the event for the next line, keeping its buffers.
func (ev *Event) Reset() {
	obs := ev.Obs[:0]
	buf := ev.buf[:0]
	*ev = Event{Obs: obs, buf: buf, SrcPort: -1, DestPort: -1, httpPort: -1}
}

// reset is Reset, and makes room in the scratch buffer for anything a
// line can need (unescaped values are no longer than their source; one URL
// adds a scheme and a port), so the buffer never moves during a parse and
// every value stays where it was put.
func (ev *Event) reset(line []byte) {
	ev.Reset()
	if need := len(line) + 64; cap(ev.buf) < need {
		ev.buf = make([]byte, 0, need+need/4)
	}
}

// Scratch returns the event's scratch buffer (values that had to be
// unescaped or assembled live there); tests use it to check where
// observation values point.
func (ev *Event) Scratch() []byte { return ev.buf }

// add appends an observation.
func (ev *Event) add(k Kind, field string, v []byte) {
	ev.Obs = append(ev.Obs, Observation{Kind: k, Field: field, Value: v})
}

// addIP appends an IP observation if v is an address.
func (ev *Event) addIP(field string, v []byte) (netip.Addr, bool) {
	a, ok := parseAddr(v)
	if !ok {
		return netip.Addr{}, false
	}
	ev.Obs = append(ev.Obs, Observation{Kind: KindIP, Field: field, Value: v, Addr: a})
	return a, true
}

// addNameOrIP appends v as an address if it is one, else as a name if it
// could be one (DNS answers, Zeek vectors and URL hosts hold either).
func (ev *Event) addNameOrIP(field string, v []byte) {
	if len(v) == 0 {
		return
	}
	if _, ok := ev.addIP(field, v); ok {
		return
	}
	if nameLike(v) {
		ev.add(KindName, field, v)
	}
}

// addName appends a name observation if v could be a name.
func (ev *Event) addName(field string, v []byte) {
	if nameLike(v) {
		ev.add(KindName, field, v)
	}
}

// addHash appends a hex digest, dropping the colons of the "ab:cd:…" form
// that certificate fingerprints are written in.
func (ev *Event) addHash(field string, v []byte) {
	if len(v) == 0 {
		return
	}
	if len(v) > 2 && v[2] == ':' {
		start := len(ev.buf)
		for i := 0; i < len(v); i++ {
			if v[i] != ':' {
				ev.buf = append(ev.buf, v[i])
			}
		}
		v = ev.buf[start:]
	}
	ev.add(KindHash, field, v)
}

// addEmails appends every address found in a header or envelope value
// (`"Name" <a@b.example>`, `<a@b.example>`, `a@b.example, c@d.example`).
func (ev *Event) addEmails(field string, v []byte) {
	for i := 0; i < len(v); i++ {
		if v[i] != '@' {
			continue
		}
		s := i
		for s > 0 && localChar[v[s-1]] {
			s--
		}
		e := i + 1
		for e < len(v) && domainChar[v[e]] {
			e++
		}
		next := e
		for e > i+1 && v[e-1] == '.' {
			e--
		}
		if s < i && e > i+1 {
			ev.add(KindEmail, field, v[s:e])
		}
		i = next - 1
	}
}

// localChar marks bytes of an address's local part (RFC 5322 atext, dots,
// and non-ASCII); domainChar those of its domain.
var localChar, domainChar = func() (l, d [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		l[c] = alnum || b >= 0x80 || b == '.' || containsByte("!#$%&'*+-/=?^_`{|}~", b)
		d[c] = alnum || b >= 0x80 || b == '.' || b == '-' || b == '_'
	}
	return
}()

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// nameLike reports whether v could be a DNS name worth looking up: not
// empty, not longer than a name can be (with a trailing dot), and free of
// bytes that never occur in one (white space, quotes, slashes, "@", ":").
// It is a cheap filter, not a validator: the index decides.
func nameLike(v []byte) bool {
	if len(v) == 0 || len(v) > 254 {
		return false
	}
	for _, c := range v {
		if notNameChar[c] {
			return false
		}
	}
	return true
}

var notNameChar = func() (t [256]bool) {
	for c := 0; c <= ' '; c++ {
		t[c] = true
	}
	for _, c := range []byte("\"'/\\@:<>,;()[]{}|?#%=&+!$^`~\x7f") {
		t[c] = true
	}
	return t
}()

// setHTTP records the parts of an HTTP request, joined into a URL
// observation by finish.
func (ev *Event) setHTTPHost(field string, v []byte) {
	ev.httpHost, ev.httpHostField = v, field
}

func (ev *Event) setHTTPPath(field string, v []byte) {
	ev.httpPath, ev.httpURLField = v, field
}

// finish adds the observations that need the whole line: the URL of an
// HTTP request, which joins host, port and path.
func (ev *Event) finish() {
	host, path := ev.httpHost, ev.httpPath
	if host != nil {
		// A Host header may carry a port ("evil.example:8080"); an IPv6
		// literal is bracketed ("[2001:db8::1]:8080").
		h, port := splitHostPort(host)
		if port >= 0 && ev.httpPort < 0 {
			ev.httpPort = port
		}
		host = h
		ev.addNameOrIP(ev.httpHostField, trimBrackets(host))
	}
	if len(path) == 0 {
		return
	}
	if schemeEnd(path) > 0 {
		// Absolute form (a request to a proxy): the URL is complete, and
		// its host is observed too when it differs from the Host header.
		ev.add(KindURL, ev.httpURLField, path)
		if uh := urlHost(path); len(uh) > 0 && string(uh) != string(host) {
			ev.addNameOrIP(ev.httpURLField, trimBrackets(uh))
		}
		return
	}
	if len(host) == 0 || path[0] != '/' {
		return
	}
	port := ev.httpPort
	if port < 0 {
		port = ev.DestPort
	}
	start := len(ev.buf)
	ev.buf = append(ev.buf, "http://"...)
	ev.buf = append(ev.buf, host...)
	if port > 0 && port != 80 {
		ev.buf = append(ev.buf, ':')
		ev.buf = appendInt(ev.buf, int64(port))
	}
	ev.buf = append(ev.buf, path...)
	ev.add(KindURL, ev.httpURLField, ev.buf[start:])
}

// splitHostPort splits "host:port" when port is a number; an unbracketed
// value with more than one colon is an IPv6 address without a port.
func splitHostPort(h []byte) ([]byte, int32) {
	c := lastIndexByte(h, ':')
	if c < 0 {
		return h, -1
	}
	if h[0] != '[' && indexByte(h[:c], ':') >= 0 {
		return h, -1
	}
	if h[0] == '[' && h[c-1] != ']' {
		return h, -1
	}
	p, ok := parsePort(h[c+1:])
	if !ok {
		return h, -1
	}
	return h[:c], p
}

func trimBrackets(h []byte) []byte {
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// schemeEnd returns the length of "scheme://" at the start of u, or 0.
func schemeEnd(u []byte) int {
	if len(u) == 0 || !isAlpha(u[0]) {
		return 0
	}
	for i := 1; i < len(u) && i < 32; i++ {
		c := u[i]
		if isAlpha(c) || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.' {
			continue
		}
		if c == ':' && i+2 < len(u) && u[i+1] == '/' && u[i+2] == '/' {
			return i + 3
		}
		return 0
	}
	return 0
}

// urlHost returns the host of an absolute URL (brackets kept for IPv6),
// without userinfo and port.
func urlHost(u []byte) []byte {
	h, _ := urlHostPort(u)
	return h
}

// urlHostPort returns the host of an absolute URL (brackets kept for IPv6)
// and its explicit port, or -1.
func urlHostPort(u []byte) ([]byte, int32) {
	n := schemeEnd(u)
	if n == 0 {
		return nil, -1
	}
	rest := u[n:]
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' || c == '\\' {
			end = i
			break
		}
	}
	auth := rest[:end]
	if at := lastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	if len(auth) > 0 && auth[0] == '[' {
		rb := indexByte(auth, ']')
		if rb < 0 {
			return nil, -1
		}
		p := int32(-1)
		if rb+1 < len(auth) && auth[rb+1] == ':' {
			p, _ = parsePort(auth[rb+2:])
		}
		return auth[:rb+1], p
	}
	if c := lastIndexByte(auth, ':'); c >= 0 {
		p, _ := parsePort(auth[c+1:])
		return auth[:c], p
	}
	return auth, -1
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// parsePort parses a decimal port number.
func parsePort(b []byte) (int32, bool) {
	if len(b) == 0 || len(b) > 5 {
		return -1, false
	}
	var n int32
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1, false
		}
		n = n*10 + int32(c-'0')
	}
	if n > 65535 {
		return -1, false
	}
	return n, true
}

func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Errors returned by the parsers. They are values, not types, so that a
// malformed line costs no allocation; callers count them.
var (
	// ErrSyntax: the line is not well-formed in its format.
	ErrSyntax = errors.New("logparse: malformed line")
	// ErrNoFields: a Zeek TSV line came before any #fields header, or has
	// a different number of columns.
	ErrNoFields = errors.New("logparse: zeek line does not fit the #fields header")
	// ErrUnrecognised: a line of a list holds nothing that is an observable.
	ErrUnrecognised = errors.New("logparse: not an observable")
	// ErrEmpty: the line is blank or a comment; it is not an event.
	ErrEmpty = errors.New("logparse: empty line")
)
