package logparse

import (
	"bytes"
	"strconv"
)

// zrole is what a Zeek field means to matching.
type zrole uint8

const (
	zNone zrole = iota
	zTS
	zUID
	zFUID
	zOrigH
	zOrigP
	zRespH
	zRespP
	zProto
	zPath
	zQuery
	zAnswers
	zHost
	zURI
	zServerName
	zJA3
	zJA3S
	zJA4
	zCertFps
	zClientCertFps
	zFingerprint
	zSANDNS
	zSANEmail
	zMD5
	zSHA1
	zSHA256
	zTxHosts
	zRxHosts
	zMailfrom
	zRcptto
	zFrom
	zTo
	zCc
	zReplyTo
)

// zeekRole maps a field name to its role. The names are unique across the
// logs that matter (conn, dns, http, ssl, x509, files, smtp), so a Zeek JSON
// line needs no path; "host" is the one name other logs use for something
// else (an address in software.log), and the TSV header's #path settles it.
func zeekRole(name []byte) zrole {
	switch string(name) {
	case "ts":
		return zTS
	case "uid":
		return zUID
	case "fuid":
		return zFUID
	case "id.orig_h":
		return zOrigH
	case "id.orig_p":
		return zOrigP
	case "id.resp_h":
		return zRespH
	case "id.resp_p":
		return zRespP
	case "proto":
		return zProto
	case "_path":
		return zPath
	case "query":
		return zQuery
	case "answers":
		return zAnswers
	case "host":
		return zHost
	case "uri":
		return zURI
	case "server_name":
		return zServerName
	case "ja3":
		return zJA3
	case "ja3s":
		return zJA3S
	case "ja4":
		return zJA4
	case "cert_chain_fps":
		return zCertFps
	case "client_cert_chain_fps":
		return zClientCertFps
	case "fingerprint":
		return zFingerprint
	case "san.dns":
		return zSANDNS
	case "san.email":
		return zSANEmail
	case "md5":
		return zMD5
	case "sha1":
		return zSHA1
	case "sha256":
		return zSHA256
	case "tx_hosts":
		return zTxHosts
	case "rx_hosts":
		return zRxHosts
	case "mailfrom":
		return zMailfrom
	case "rcptto":
		return zRcptto
	case "from":
		return zFrom
	case "to":
		return zTo
	case "cc":
		return zCc
	case "reply_to":
		return zReplyTo
	}
	return zNone
}

var connPath = []byte("conn")

// zeekPaths names the log a field belongs to, for Zeek JSON lines without
// a "_path" (Zeek writes none when each log has its own file).
var zeekPaths = func() (p [zReplyTo + 1][]byte) {
	for r := zQuery; r <= zReplyTo; r++ {
		switch r {
		case zQuery, zAnswers:
			p[r] = []byte("dns")
		case zHost, zURI:
			p[r] = []byte("http")
		case zServerName, zJA3, zJA3S, zJA4, zCertFps, zClientCertFps:
			p[r] = []byte("ssl")
		case zFingerprint, zSANDNS, zSANEmail:
			p[r] = []byte("x509")
		case zMD5, zSHA1, zSHA256, zTxHosts, zRxHosts:
			p[r] = []byte("files")
		default:
			p[r] = []byte("smtp")
		}
	}
	return p
}()

// zeekValue applies one (unescaped, set) value of a field.
func (ev *Event) zeekValue(r zrole, v []byte) {
	if ev.Type == nil && r >= zQuery {
		ev.Type = zeekPaths[r]
	}
	switch r {
	case zTS:
		ev.Time = v
		if _, _, ok := number(v, 0); ok {
			ev.TimeFormat = TimeEpoch
		} else {
			ev.TimeFormat = TimeText
		}
	case zUID:
		ev.UID = v
	case zFUID:
		if ev.UID == nil {
			ev.UID = v
		}
	case zOrigH:
		if a, ok := ev.addIP("id.orig_h", v); ok {
			ev.SrcIP = a
		}
	case zRespH:
		if a, ok := ev.addIP("id.resp_h", v); ok {
			ev.DestIP = a
		}
	case zOrigP:
		ev.SrcPort, _ = parsePort(v)
	case zRespP:
		ev.DestPort, _ = parsePort(v)
	case zProto:
		ev.Proto = v
	case zPath:
		ev.Type = v
	case zQuery:
		ev.addName("dns.query", v)
	case zAnswers:
		ev.addNameOrIP("dns.answers", v)
	case zHost:
		ev.setHTTPHost("http.host", v)
	case zURI:
		ev.setHTTPPath("http.uri", v)
	case zServerName:
		ev.addName("ssl.server_name", v)
	case zJA3:
		ev.addHash("ssl.ja3", v)
	case zJA3S:
		ev.addHash("ssl.ja3s", v)
	case zJA4:
		ev.add(KindJA4, "ssl.ja4", v)
	case zCertFps:
		ev.addHash("ssl.cert_chain_fps", v)
	case zClientCertFps:
		ev.addHash("ssl.client_cert_chain_fps", v)
	case zFingerprint:
		ev.addHash("x509.fingerprint", v)
	case zSANDNS:
		ev.addNameOrIP("x509.san.dns", v)
	case zSANEmail:
		ev.addEmails("x509.san.email", v)
	case zMD5:
		ev.addHash("files.md5", v)
	case zSHA1:
		ev.addHash("files.sha1", v)
	case zSHA256:
		ev.addHash("files.sha256", v)
	case zTxHosts:
		if a, ok := ev.addIP("files.tx_hosts", v); ok && !ev.SrcIP.IsValid() {
			ev.SrcIP = a
		}
	case zRxHosts:
		if a, ok := ev.addIP("files.rx_hosts", v); ok && !ev.DestIP.IsValid() {
			ev.DestIP = a
		}
	case zMailfrom:
		ev.addEmails("smtp.mailfrom", v)
	case zRcptto:
		ev.addEmails("smtp.rcptto", v)
	case zFrom:
		ev.addEmails("smtp.from", v)
	case zTo:
		ev.addEmails("smtp.to", v)
	case zCc:
		ev.addEmails("smtp.cc", v)
	case zReplyTo:
		ev.addEmails("smtp.reply_to", v)
	}
}

// vectorRole reports whether a field holds a set or vector.
func vectorRole(r zrole) bool {
	switch r {
	case zAnswers, zCertFps, zClientCertFps, zSANDNS, zSANEmail, zTxHosts, zRxHosts, zRcptto, zTo, zCc:
		return true
	}
	return false
}

// ZeekHeader is the state a Zeek TSV log declares in its "#" lines: the
// separators, the unset and empty markers, the path and the fields. It is
// immutable; WithLine returns a new header, so one can be shared between
// goroutines parsing the lines that follow it.
type ZeekHeader struct {
	// Path is the log's path ("dns", "conn"), from #path.
	Path   string
	path   []byte
	sep    byte
	setSep byte
	empty  string
	unset  string
	roles  []zrole
}

// NewZeekHeader returns the header in force before any "#" line: Zeek's
// defaults, and no fields.
func NewZeekHeader() *ZeekHeader {
	return &ZeekHeader{sep: '\t', setSep: ',', empty: "(empty)", unset: "-"}
}

// Fields reports how many fields the header declares.
func (h *ZeekHeader) Fields() int { return len(h.roles) }

// IsHeader reports whether a line is a Zeek "#" line.
func IsHeader(line []byte) bool { return len(line) > 0 && line[0] == '#' }

// WithLine returns the header updated by one "#" line. "#separator" starts
// a new log (Zeek writes it first), so it forgets the fields.
func (h *ZeekHeader) WithLine(line []byte) (*ZeekHeader, error) {
	line = bytes.TrimRight(line, "\r\n")
	if !IsHeader(line) {
		return h, ErrSyntax
	}
	n := *h
	if bytes.HasPrefix(line, []byte("#separator ")) {
		v, err := zeekUnescapeHeader(line[len("#separator "):])
		if err != nil || len(v) != 1 {
			return h, ErrSyntax
		}
		n = *NewZeekHeader()
		n.sep = v[0]
		return &n, nil
	}
	name, rest, _ := bytes.Cut(line[1:], []byte{h.sep})
	switch string(name) {
	case "set_separator":
		v, err := zeekUnescapeHeader(rest)
		if err != nil || len(v) != 1 {
			return h, ErrSyntax
		}
		n.setSep = v[0]
	case "empty_field":
		n.empty = string(rest)
	case "unset_field":
		n.unset = string(rest)
	case "path":
		n.Path = string(rest)
		n.path = []byte(n.Path)
	case "fields":
		names := bytes.Split(rest, []byte{h.sep})
		n.roles = make([]zrole, len(names))
		for i, f := range names {
			n.roles[i] = zeekRole(f)
		}
	}
	// "host" is the HTTP Host header only in http.log.
	if n.Path != "http" && n.Path != "" {
		for i, r := range n.roles {
			if r == zHost || r == zURI {
				n.roles[i] = zNone
			}
		}
	}
	return &n, nil
}

// zeekUnescapeHeader decodes the "\x09" form of a separator.
func zeekUnescapeHeader(v []byte) ([]byte, error) {
	if len(v) == 4 && v[0] == '\\' && v[1] == 'x' {
		n, err := strconv.ParseUint(string(v[2:]), 16, 8)
		if err != nil {
			return nil, err
		}
		return []byte{byte(n)}, nil
	}
	return v, nil
}

// ParseZeekTSV reads one data line of a Zeek TSV log under header h
// (built from the log's "#" lines with WithLine). A "#" line is not data:
// it returns ErrEmpty.
func ParseZeekTSV(line []byte, h *ZeekHeader, ev *Event) error {
	ev.reset(line)
	line = trimEOL(line)
	if len(line) == 0 || line[0] == '#' {
		return ErrEmpty
	}
	if len(h.roles) == 0 || bytes.Count(line, []byte{h.sep})+1 != len(h.roles) {
		return ErrNoFields
	}
	ev.Type = h.path
	rest := line
	for col := 0; col < len(h.roles); col++ {
		v := rest
		if k := bytes.IndexByte(rest, h.sep); k >= 0 {
			v, rest = rest[:k], rest[k+1:]
		}
		r := h.roles[col]
		if r == zNone || string(v) == h.unset || string(v) == h.empty {
			continue
		}
		if !vectorRole(r) {
			ev.zeekValue(r, ev.zeekUnescape(v))
			continue
		}
		for len(v) > 0 {
			e := v
			if k := bytes.IndexByte(v, h.setSep); k >= 0 {
				e, v = v[:k], v[k+1:]
			} else {
				v = nil
			}
			if len(e) > 0 {
				ev.zeekValue(r, ev.zeekUnescape(e))
			}
		}
	}
	ev.finish()
	return nil
}

// zeekUnescape decodes Zeek's ASCII escapes ("\x09", "\\") into the
// scratch buffer when there are any.
func (ev *Event) zeekUnescape(v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return v
	}
	start := len(ev.buf)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			if v[i+1] == '\\' {
				ev.buf = append(ev.buf, '\\')
				i++
				continue
			}
			if v[i+1] == 'x' && i+3 < len(v) {
				if r, ok := hex2(v[i+2], v[i+3]); ok {
					ev.buf = append(ev.buf, r)
					i += 3
					continue
				}
			}
		}
		ev.buf = append(ev.buf, c)
	}
	return ev.buf[start:]
}

func hex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// ParseZeekJSON reads one line of a Zeek log written as JSON (flat dotted
// names such as "id.orig_h", as Zeek writes them; a nested "id" object is
// read too). The log kind needs no path: the fields tell.
func ParseZeekJSON(line []byte, ev *Event) error {
	ev.reset(line)
	b := line
	i := skipWS(b, 0)
	if i >= len(b) {
		return ErrEmpty
	}
	notHTTP := false
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, nil)
		if v < 0 {
			return ErrSyntax
		}
		if done {
			break
		}
		var end int
		r := zeekRole(key)
		switch {
		case r == zNone:
			if string(key) == "id" && b[v] == '{' { // nested id.* (some shippers write it so)
				end = ev.zeekJSONID(b, v)
			} else {
				end = skipValue(b, v)
			}
		case r == zTS || r == zOrigP || r == zRespP:
			var s []byte
			var ok bool
			if b[v] == '"' {
				s, end, ok = ev.str(b, v)
			} else {
				s, end, ok = number(b, v)
			}
			if ok {
				ev.zeekValue(r, s)
			}
		case vectorRole(r):
			end = ev.eachString(b, v, func(s []byte) { ev.zeekValue(r, s) })
		default:
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				if r == zPath && string(s) != "http" {
					notHTTP = true
				}
				ev.zeekValue(r, s)
			}
		}
		if end < 0 {
			return ErrSyntax
		}
		j = end
	}
	if notHTTP {
		ev.httpHost, ev.httpPath = nil, nil
	}
	if ev.Type == nil && ev.SrcIP.IsValid() {
		ev.Type = connPath
	}
	ev.finish()
	return nil
}

// zeekJSONID reads a nested {"orig_h": …, "orig_p": …, "resp_h": …, "resp_p": …}.
func (ev *Event) zeekJSONID(b []byte, i int) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, nil)
		if done || v < 0 {
			return v
		}
		var r zrole
		switch string(key) {
		case "orig_h":
			r = zOrigH
		case "orig_p":
			r = zOrigP
		case "resp_h":
			r = zRespH
		case "resp_p":
			r = zRespP
		}
		var end int
		var s []byte
		var ok bool
		if v < len(b) && b[v] == '"' {
			s, end, ok = ev.str(b, v)
		} else {
			s, end, ok = number(b, v)
		}
		if ok && r != zNone {
			ev.zeekValue(r, s)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}
