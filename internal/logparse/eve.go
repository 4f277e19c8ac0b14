package logparse

// EVE event types whose own section holds observations.
type eveType uint8

const (
	eveUnknown eveType = iota // event_type not seen yet
	eveOther                  // flow, alert, anomaly, …: addresses only
	eveDNS
	eveHTTP
	eveTLS
	eveFileinfo
	eveSMTP
	eveQUIC
)

// Sections of an EVE event that may be read, by the event type they
// belong to. "email" belongs to smtp events.
type eveSection uint8

const (
	secDNS eveSection = iota
	secHTTP
	secTLS
	secFileinfo
	secSMTP
	secEmail
	secQUIC
	nSections
)

// Bits of the top-level fields; once all are read and the event's own
// section is done, the rest of the line is not scanned.
const (
	haveTime = 1 << iota
	haveFlow
	haveType
	haveSrc
	haveDest
	haveSrcPort
	haveDestPort
	haveProto
	haveAll = haveTime | haveFlow | haveType | haveSrc | haveDest | haveSrcPort | haveDestPort | haveProto
)

type span struct{ start, end int }

// ParseEVE reads one line of Suricata EVE JSON.
//
// Every event contributes its addresses (src_ip, dest_ip). The section of
// the event's own type contributes the rest: dns (DNS records of versions
// 1, 2 and 3: the query name, answer names and data, grouped answers), http
// (hostname and the URL made of hostname, port and url), tls (sni,
// certificate fingerprint, ja3/ja3s hashes, ja4, subjectaltname), fileinfo
// (md5, sha1, sha256), smtp and email (envelope and header addresses), quic
// (sni, ja3, ja4). Sections of other types that events carry as metadata
// (an alert's or a fileinfo event's "http") are skipped: the event of that
// type reports them, once.
//
// Once the metadata and the event's own section have been read, the rest of
// the line is not scanned (nor checked).
func ParseEVE(line []byte, ev *Event) error {
	ev.reset(line)
	b := line
	i := skipWS(b, 0)
	if i >= len(b) {
		return ErrEmpty
	}
	var (
		have    uint
		typ     eveType
		secDone bool // the event type's own section has been read
		pending [nSections]span
	)
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveTop)
		if v < 0 {
			return ErrSyntax
		}
		if done {
			break
		}
		end := -1
		sec := eveSection(nSections)
		switch string(key) {
		case "timestamp":
			var ok bool
			if ev.Time, end, ok = ev.str(b, v); ok {
				ev.TimeFormat = TimeText
				have |= haveTime
			}
		case "flow_id":
			var ok bool
			if ev.FlowID, end, ok = number(b, v); ok {
				have |= haveFlow
			} else {
				ev.FlowID = nil
			}
		case "event_type":
			var t []byte
			var ok bool
			if t, end, ok = ev.str(b, v); ok {
				ev.Type = t
				typ = eveTypeOf(t)
				have |= haveType
				secDone = typ == eveOther
				if !secDone {
					// The section may have come before event_type.
					for s := range pending {
						if p := pending[s]; p.end > 0 && sectionOf(eveSection(s), typ) {
							if ev.eveSection(b, p.start, eveSection(s)) < 0 {
								return ErrSyntax
							}
							secDone = secDone || eveSection(s) != secEmail
						}
					}
				}
			}
		case "src_ip":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				if a, good := ev.addIP("src_ip", s); good {
					ev.SrcIP = a
				}
				have |= haveSrc
			}
		case "dest_ip":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				if a, good := ev.addIP("dest_ip", s); good {
					ev.DestIP = a
				}
				have |= haveDest
			}
		case "src_port":
			ev.SrcPort, end = port(b, v)
			have |= haveSrcPort
		case "dest_port":
			ev.DestPort, end = port(b, v)
			have |= haveDestPort
		case "proto":
			var ok bool
			if ev.Proto, end, ok = ev.str(b, v); ok {
				have |= haveProto
			} else if ev.Proto, end, ok = number(b, v); ok {
				have |= haveProto
			}
		case "dns":
			sec = secDNS
		case "http":
			sec = secHTTP
		case "tls":
			sec = secTLS
		case "fileinfo":
			sec = secFileinfo
		case "smtp":
			sec = secSMTP
		case "email":
			sec = secEmail
		case "quic":
			sec = secQUIC
		default:
			end = skipValue(b, v)
		}
		if sec != nSections {
			switch {
			case typ == eveUnknown:
				end = skipValue(b, v)
				pending[sec] = span{v, end}
			case sectionOf(sec, typ):
				end = ev.eveSection(b, v, sec)
				secDone = secDone || sec != secEmail
			default:
				end = skipValue(b, v)
			}
		}
		if end < 0 {
			return ErrSyntax
		}
		if have == haveAll && secDone && typ != eveSMTP {
			// smtp events may still have an "email" section to come.
			break
		}
		j = end
	}
	ev.finish()
	return nil
}

// The keys each object parser reads; nextField skips the others.
var (
	eveTop          = newKeySet("timestamp", "flow_id", "event_type", "src_ip", "dest_ip", "src_port", "dest_port", "proto", "dns", "http", "tls", "fileinfo", "smtp", "email", "quic")
	eveDNSKeys      = newKeySet("rrname", "rrtype", "rdata", "queries", "answers", "grouped")
	dnsRecordKeys   = newKeySet("rrname", "rrtype", "rdata")
	eveHTTPKeys     = newKeySet("hostname", "url", "http_port")
	eveTLSKeys      = newKeySet("sni", "fingerprint", "ja3", "ja3s", "ja4", "subjectaltname")
	hashKeys        = newKeySet("hash")
	eveFileinfoKeys = newKeySet("md5", "sha1", "sha256")
	eveSMTPKeys     = newKeySet("mail_from", "rcpt_to")
	eveEmailKeys    = newKeySet("from", "to", "cc", "bcc", "reply_to")
)

func eveTypeOf(t []byte) eveType {
	switch string(t) {
	case "dns":
		return eveDNS
	case "http":
		return eveHTTP
	case "tls":
		return eveTLS
	case "fileinfo":
		return eveFileinfo
	case "smtp":
		return eveSMTP
	case "quic":
		return eveQUIC
	}
	return eveOther
}

// sectionOf reports whether section s is the own section of event type t.
func sectionOf(s eveSection, t eveType) bool {
	switch s {
	case secDNS:
		return t == eveDNS
	case secHTTP:
		return t == eveHTTP
	case secTLS:
		return t == eveTLS
	case secFileinfo:
		return t == eveFileinfo
	case secSMTP, secEmail:
		return t == eveSMTP
	case secQUIC:
		return t == eveQUIC
	}
	return false
}

func (ev *Event) eveSection(b []byte, i int, s eveSection) int {
	if i >= len(b) || b[i] != '{' {
		return skipValue(b, i) // not an object: nothing of ours
	}
	switch s {
	case secDNS:
		return ev.eveDNS(b, i)
	case secHTTP:
		return ev.eveHTTP(b, i)
	case secTLS:
		return ev.eveTLS(b, i, "tls.sni", "tls.ja3.hash", "tls.ja4")
	case secFileinfo:
		return ev.eveFileinfo(b, i)
	case secSMTP:
		return ev.eveSMTP(b, i)
	case secEmail:
		return ev.eveEmail(b, i)
	case secQUIC:
		return ev.eveTLS(b, i, "quic.sni", "quic.ja3.hash", "quic.ja4")
	}
	return skipValue(b, i)
}

// eveDNS reads a dns section: version 1 and 2 records ("rrname", and for
// answers "rrtype"/"rdata" or "answers"/"grouped") and version 3 records
// (Suricata 8: "queries" and "answers" arrays).
func (ev *Event) eveDNS(b []byte, i int) int {
	var rr dnsRecord
	answers := false
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveDNSKeys)
		if v < 0 {
			return -1
		}
		if done {
			rr.emit(ev, "dns.rdata")
			return v
		}
		var end int
		switch string(key) {
		case "rrname":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				ev.addName("dns.rrname", s)
			}
		case "rrtype":
			var ok bool
			if rr.typ, end, ok = ev.str(b, v); !ok {
				rr.typ = nil
			}
		case "rdata":
			var ok bool
			if rr.data, end, ok = ev.str(b, v); !ok {
				rr.data = nil
			}
		case "queries":
			end = ev.dnsRecords(b, v, "dns.queries.rrname", "")
		case "answers":
			answers = true
			end = ev.dnsRecords(b, v, "dns.answers.rrname", "dns.answers.rdata")
		case "grouped":
			if answers {
				// The same records again, grouped by type.
				end = skipValue(b, v)
			} else {
				end = ev.dnsGrouped(b, v)
			}
		default:
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

// dnsRecord is one query or resource record. Its name is observed at
// once; its data once the whole record is read, since rdata is read
// according to rrtype.
type dnsRecord struct{ typ, data []byte }

func (rr *dnsRecord) emit(ev *Event, dataField string) {
	if rr.data != nil && dataField != "" {
		ev.dnsData(dataField, rr.typ, rr.data)
	}
}

// dnsData observes the data of a record: an address for A and AAAA, a name
// for the types whose data is a name; other types (TXT, SOA, …) are not
// read. Without a type, the data is taken for whatever it looks like.
func (ev *Event) dnsData(field string, typ, data []byte) {
	switch string(typ) {
	case "A", "AAAA":
		ev.addIP(field, data)
	case "CNAME", "PTR", "NS", "MX", "DNAME":
		ev.addName(field, data)
	case "":
		ev.addNameOrIP(field, data)
	}
}

// dnsRecords reads an array of records ({"rrname", "rrtype", "rdata"}).
func (ev *Event) dnsRecords(b []byte, i int, nameField, dataField string) int {
	if i < len(b) && b[i] != '[' {
		return skipValue(b, i)
	}
	j, done := openValue(b, i, '[')
	for !done {
		if j < 0 {
			return -1
		}
		var end int
		if b[j] == '{' {
			var rr dnsRecord
			end = -1
			for k, first := j, true; ; first = false {
				key, v, done := nextField(b, k, first, dnsRecordKeys)
				if v < 0 {
					return -1
				}
				if done {
					end = v
					break
				}
				var e int
				var ok bool
				switch string(key) {
				case "rrname":
					var s []byte
					if s, e, ok = ev.str(b, v); ok {
						ev.addName(nameField, s)
					}
				case "rrtype":
					if rr.typ, e, ok = ev.str(b, v); !ok {
						rr.typ = nil
					}
				case "rdata":
					if rr.data, e, ok = ev.str(b, v); !ok {
						rr.data = nil
					}
				default:
					e = skipValue(b, v)
				}
				if e < 0 {
					return -1
				}
				k = e
			}
			rr.emit(ev, dataField)
		} else {
			end = skipValue(b, j)
		}
		j, done = nextItem(b, end, ']')
	}
	return j
}

// dnsGrouped reads {"A": ["192.0.2.1"], "CNAME": ["x.example"], …}.
func (ev *Event) dnsGrouped(b []byte, i int) int {
	if i >= len(b) || b[i] != '{' {
		return skipValue(b, i)
	}
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, nil)
		if done || v < 0 {
			return v
		}
		end := ev.eachString(b, v, func(s []byte) { ev.dnsData("dns.grouped", key, s) })
		if end < 0 {
			return -1
		}
		j = end
	}
}

func (ev *Event) eveHTTP(b []byte, i int) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveHTTPKeys)
		if done || v < 0 {
			return v
		}
		var end int
		switch string(key) {
		case "hostname":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				ev.setHTTPHost("http.hostname", s)
			}
		case "url":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				ev.setHTTPPath("http.url", s)
			}
		case "http_port":
			ev.httpPort, end = port(b, v)
		default:
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

// eveTLS reads a tls or quic section.
func (ev *Event) eveTLS(b []byte, i int, sniField, ja3Field, ja4Field string) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveTLSKeys)
		if done || v < 0 {
			return v
		}
		var end int
		switch string(key) {
		case "sni":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				ev.addName(sniField, s)
			}
		case "fingerprint":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok {
				ev.addHash("tls.fingerprint", s)
			}
		case "ja3":
			end = ev.hashObject(b, v, ja3Field)
		case "ja3s":
			end = ev.hashObject(b, v, "tls.ja3s.hash")
		case "ja4":
			var s []byte
			var ok bool
			if s, end, ok = ev.str(b, v); ok && len(s) > 0 {
				ev.add(KindJA4, ja4Field, s)
			}
		case "subjectaltname":
			end = ev.eachString(b, v, func(s []byte) { ev.addNameOrIP("tls.subjectaltname", s) })
		default:
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

// hashObject reads {"hash": "…", "string": "…"} (ja3, ja3s).
func (ev *Event) hashObject(b []byte, i int, field string) int {
	if i < len(b) && b[i] != '{' {
		return skipValue(b, i)
	}
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, hashKeys)
		if done || v < 0 {
			return v
		}
		var end int
		if string(key) == "hash" {
			end = ev.hashValue(b, v, field)
		} else {
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

// hashValue reads the string value at v as a digest found in field, and
// returns where the value ends (a value that is not a string is skipped).
func (ev *Event) hashValue(b []byte, v int, field string) int {
	s, end, ok := ev.str(b, v)
	if ok {
		ev.addHash(field, s)
	}
	return end
}

func (ev *Event) eveFileinfo(b []byte, i int) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveFileinfoKeys)
		if done || v < 0 {
			return v
		}
		var end int
		var field string
		switch string(key) {
		case "md5":
			field = "fileinfo.md5"
		case "sha1":
			field = "fileinfo.sha1"
		case "sha256":
			field = "fileinfo.sha256"
		}
		if field != "" {
			end = ev.hashValue(b, v, field)
		} else {
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

func (ev *Event) eveSMTP(b []byte, i int) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveSMTPKeys)
		if done || v < 0 {
			return v
		}
		var end int
		switch string(key) {
		case "mail_from":
			end = ev.eachString(b, v, func(s []byte) { ev.addEmails("smtp.mail_from", s) })
		case "rcpt_to":
			end = ev.eachString(b, v, func(s []byte) { ev.addEmails("smtp.rcpt_to", s) })
		default:
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}

func (ev *Event) eveEmail(b []byte, i int) int {
	for j, first := i, true; ; first = false {
		key, v, done := nextField(b, j, first, eveEmailKeys)
		if done || v < 0 {
			return v
		}
		var field string
		switch string(key) {
		case "from":
			field = "email.from"
		case "to":
			field = "email.to"
		case "cc":
			field = "email.cc"
		case "bcc":
			field = "email.bcc"
		case "reply_to":
			field = "email.reply_to"
		}
		var end int
		if field != "" {
			end = ev.eachString(b, v, func(s []byte) { ev.addEmails(field, s) })
		} else {
			end = skipValue(b, v)
		}
		if end < 0 {
			return -1
		}
		j = end
	}
}
