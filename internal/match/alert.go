package match

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
)

// Severity is the Suricata severity of an alert on an indicator (1 is the
// highest, 3 the lowest). The labels give the base: ransomware, espionage,
// c2 (and their usual synonyms) 1; malware, phishing, botnet, exploit 2;
// anything else 3. A confidence of 80 or more raises it one step, a
// confidence from 1 to 39 lowers it one step (0 means not stated).
func Severity(labels []string, confidence int) int {
	sev := 3
	for _, l := range labels {
		switch l {
		case "ransomware", "espionage", "c2", "command-and-control", "apt", "wiper":
			sev = 1
		case "malware", "phishing", "botnet", "exploit", "trojan", "backdoor", "stealer", "rat":
			sev = min(sev, 2)
		}
	}
	switch {
	case confidence >= 80 && sev > 1:
		sev--
	case confidence > 0 && confidence < 40 && sev < 3:
		sev++
	}
	return sev
}

// Category is the Suricata alert category of an indicator, taken from the
// descriptions of Suricata's classification.config so that SIEM rules
// written for Suricata classify it: the first of espionage, c2, malware,
// phishing found among the labels, else "Potentially Bad Traffic".
func Category(labels []string) string {
	rank, cat := 5, "Potentially Bad Traffic"
	for _, l := range labels {
		r, c := 5, ""
		switch l {
		case "espionage", "apt":
			r, c = 1, "Targeted Malicious Activity was Detected"
		case "c2", "command-and-control":
			r, c = 2, "Malware Command and Control Activity Detected"
		case "ransomware", "malware", "botnet", "trojan", "backdoor", "stealer", "rat", "wiper":
			r, c = 3, "A Network Trojan was detected"
		case "phishing":
			r, c = 4, "Possible Social Engineering Attempted"
		}
		if r < rank {
			rank, cat = r, c
		}
	}
	return cat
}

// alertInd is the indicator side of an alert, from a Ref or an Indicator.
type alertInd struct {
	ref  Ref
	ind  *Indicator
	prof *profile
}

func (a *alertInd) appendID(b []byte) []byte {
	if a.ind != nil {
		return appendString(b, a.ind.ID)
	}
	var buf [256]byte
	return appendBytesString(b, a.ref.appendID(buf[:0]))
}

// AppendAlert appends one alert — a JSON line shaped like a Suricata alert
// — for an event that matched ind with the value observed in field. The
// event's own timestamp, flow_id, addresses, ports and protocol are at the
// top level; "alert" has the signature (naming the indicator), category
// and severity; "hdn" names the indicator (id, type, value, tlp, labels,
// confidence, report, valid_until), the observed value and the field. An
// event without a time is stamped with the current time.
func AppendAlert(dst []byte, ev *logparse.Event, ind *Indicator, observed []byte, field string) []byte {
	p := newProfile(ind.Type, ind.TLP, ind.Labels, ind.Confidence, ind.Report)
	return appendAlert(dst, ev, &alertInd{ind: ind, prof: &p}, observed, field, time.Now)
}

func appendAlert(b []byte, ev *logparse.Event, a *alertInd, observed []byte, field string, now func() time.Time) []byte {
	p := a.prof
	b = append(b, `{"timestamp":`...)
	b = appendTime(b, ev, now)
	if len(ev.FlowID) > 0 {
		b = append(b, `,"flow_id":`...)
		b = append(b, ev.FlowID...)
	}
	b = append(b, `,"event_type":"alert"`...)
	if ev.SrcIP.IsValid() {
		b = append(b, `,"src_ip":"`...)
		b = ev.SrcIP.AppendTo(b)
		b = append(b, '"')
	}
	if ev.SrcPort >= 0 {
		b = append(b, `,"src_port":`...)
		b = strconv.AppendInt(b, int64(ev.SrcPort), 10)
	}
	if ev.DestIP.IsValid() {
		b = append(b, `,"dest_ip":"`...)
		b = ev.DestIP.AppendTo(b)
		b = append(b, '"')
	}
	if ev.DestPort >= 0 {
		b = append(b, `,"dest_port":`...)
		b = strconv.AppendInt(b, int64(ev.DestPort), 10)
	}
	if len(ev.Proto) > 0 {
		b = append(b, `,"proto":`...)
		b = appendUpperString(b, ev.Proto)
	}

	b = append(b, `,"alert":{"action":"allowed","signature_id":`...)
	b = strconv.AppendInt(b, signatureID(a, field), 10)
	b = append(b, `,"rev":1,"signature":`...)
	b = appendSignature(b, a)
	b = append(b, `,"category":`...)
	b = appendString(b, p.category)
	b = append(b, `,"severity":`...)
	b = strconv.AppendInt(b, int64(p.severity), 10)
	b = append(b, '}')

	b = append(b, `,"hdn":{"id":`...)
	b = a.appendID(b)
	b = append(b, `,"type":`...)
	b = appendString(b, string(p.typ))
	b = append(b, `,"value":`...)
	b = appendValue(b, a)
	if p.tlp != "" {
		b = append(b, `,"tlp":`...)
		b = appendString(b, p.tlp)
	}
	b = append(b, `,"labels":[`...)
	for i, l := range p.labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, l)
	}
	b = append(b, ']')
	if p.confidence != 0 {
		b = append(b, `,"confidence":`...)
		b = strconv.AppendInt(b, int64(p.confidence), 10)
	}
	if p.report != "" {
		b = append(b, `,"report":`...)
		b = appendString(b, p.report)
	}
	if vu := a.validUntil(); !vu.IsZero() {
		b = append(b, `,"valid_until":"`...)
		b = vu.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	b = append(b, `,"observed":`...)
	b = appendBytesString(b, observed)
	b = append(b, `,"field":`...)
	b = appendString(b, field)
	if len(ev.Type) > 0 {
		b = append(b, `,"event_type":`...)
		b = appendBytesString(b, ev.Type)
	}
	if len(ev.UID) > 0 {
		b = append(b, `,"uid":`...)
		b = appendBytesString(b, ev.UID)
	}
	return append(b, "}}\n"...)
}

func (a *alertInd) validUntil() time.Time {
	if a.ind != nil {
		return a.ind.ValidUntil
	}
	return a.ref.ValidUntil()
}

func appendValue(b []byte, a *alertInd) []byte {
	if a.ind != nil {
		return appendString(b, a.ind.Value)
	}
	var buf [256]byte
	return appendBytesString(b, a.ref.appendValue(buf[:0]))
}

// appendSignature writes "HDN <type> <value>", then " TLP:<LEVEL>" when
// the indicator has a TLP (as the exported rule's msg names it), and
// " - <report>" when the indicator belongs to a report.
func appendSignature(b []byte, a *alertInd) []byte {
	var buf [512]byte
	s := append(buf[:0], "HDN "...)
	s = append(s, a.prof.typ...)
	s = append(s, ' ')
	if a.ind != nil {
		s = append(s, a.ind.Value...)
	} else {
		s = a.ref.appendValue(s)
	}
	s = appendTLP(s, a.prof.tlp)
	if a.prof.report != "" {
		s = append(s, " - "...)
		s = append(s, a.prof.report...)
	}
	return appendBytesString(b, s)
}

// appendTLP appends " TLP:<LEVEL>" (upper case, as in the exported rules'
// msg: "TLP:AMBER+STRICT"), or nothing for an indicator without a TLP (one
// read from an IOC file by hdn match).
func appendTLP(b []byte, tlp string) []byte {
	if tlp == "" {
		return b
	}
	b = append(b, " TLP:"...)
	for i := 0; i < len(tlp); i++ {
		c := tlp[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// signatureID is the alert's signature_id: SignatureID of its indicator
// and field, derived without allocating.
func signatureID(a *alertInd, field string) int64 {
	var buf [256]byte
	var id []byte
	if a.ind != nil {
		id = append(buf[:0], a.ind.ID...)
	} else {
		id = a.ref.appendID(buf[:0])
	}
	return export.SID(id, ruleKind(a.prof.typ, field))
}

// SignatureID is the signature_id of an alert on the indicator with this
// id and type, seen in field: the sid of the Suricata rule the hub's
// exports give the indicator for what was seen (export.SID) — for a name
// seen in TLS (EVE tls.* and quic.sni, Zeek ssl.server_name) the sid of
// its TLS SNI rule, in an HTTP Host (EVE http.hostname, Zeek http.host)
// that of its HTTP Host rule, anywhere else that of its DNS rule; for any
// other type the sid of its one rule (or, for a type no rule expresses, the
// sid such a rule would have). A name in a certificate (EVE
// tls.subjectaltname, Zeek x509.san.dns) counts as TLS. A SIEM so correlates the sensor's alerts
// with Suricata's on the same indicator. It is not unique; hdn.id is.
func SignatureID(id string, t indicator.Type, field string) int64 {
	return export.SID([]byte(id), ruleKind(t, field))
}

// ruleKind is which of an indicator's exported rules an alert in field
// corresponds to.
func ruleKind(t indicator.Type, field string) export.RuleKind {
	if t != indicator.Domain && t != indicator.Hostname {
		return export.RuleMain
	}
	switch {
	case strings.HasPrefix(field, "tls."), strings.HasPrefix(field, "quic."), strings.HasPrefix(field, "ssl."), strings.HasPrefix(field, "x509."):
		return export.RuleTLS
	case strings.HasPrefix(field, "http."):
		return export.RuleHTTP
	}
	return export.RuleMain
}

// appendTime writes the event's time as Suricata does
// ("2006-01-02T15:04:05.000000+0000"): a text time as the log wrote it, an
// epoch time converted (UTC), no time as the current time.
func appendTime(b []byte, ev *logparse.Event, now func() time.Time) []byte {
	switch ev.TimeFormat {
	case logparse.TimeText:
		return appendBytesString(b, ev.Time)
	case logparse.TimeEpoch:
		if t, ok := epochTime(ev.Time); ok {
			return appendSuricataTime(b, t)
		}
		return appendBytesString(b, ev.Time)
	}
	return appendSuricataTime(b, now())
}

func appendSuricataTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000-0700")
	return append(b, '"')
}

// epochTime parses "1521911720.865716".
func epochTime(v []byte) (time.Time, bool) {
	var sec, nsec int64
	i := 0
	for ; i < len(v) && v[i] != '.'; i++ {
		if v[i] < '0' || v[i] > '9' || i > 12 {
			return time.Time{}, false
		}
		sec = sec*10 + int64(v[i]-'0')
	}
	if i < len(v) {
		scale := int64(100_000_000)
		for _, c := range v[i+1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec += int64(c-'0') * scale
			scale /= 10
		}
	}
	return time.Unix(sec, nsec), true
}

// JSON string writing. Escapes quotes, backslashes, control characters,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD, as encoding/json does.

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b = appendASCII(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b = appendRune(b, r, n, s[i:i+n])
		i += n
	}
	return append(b, '"')
}

func appendBytesString(b []byte, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b = appendASCII(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		b = appendRuneBytes(b, r, n, s[i:i+n])
		i += n
	}
	return append(b, '"')
}

func appendUpperString(b []byte, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= utf8.RuneSelf {
			c = '?'
		}
		b = appendASCII(b, c)
	}
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

func appendASCII(b []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(b, '\\', c)
	case c >= 0x20:
		return append(b, c)
	case c == '\n':
		return append(b, '\\', 'n')
	case c == '\r':
		return append(b, '\\', 'r')
	case c == '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
}

func appendRune(b []byte, r rune, n int, raw string) []byte {
	switch {
	case r == utf8.RuneError && n == 1:
		return append(b, `\ufffd`...)
	case r == '\u2028' || r == '\u2029':
		return append(b, '\\', 'u', '2', '0', '2', hexDigits[r&15])
	}
	return append(b, raw...)
}

func appendRuneBytes(b []byte, r rune, n int, raw []byte) []byte {
	switch {
	case r == utf8.RuneError && n == 1:
		return append(b, `\ufffd`...)
	case r == '\u2028' || r == '\u2029':
		return append(b, '\\', 'u', '2', '0', '2', hexDigits[r&15])
	}
	return append(b, raw...)
}
