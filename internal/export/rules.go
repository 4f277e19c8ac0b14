package export

import (
	"bytes"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// What Suricata and Snort rules share: escaping, the message, the metadata,
// and reading an indicator's value into what a rule matches on.

// contentSafe reports whether byte c may stand as itself inside a content
// string. The rule languages reserve ", ;, \ and | (and : in Snort); the
// rest is kept to a conservative set so that no parser, old or new, reads
// anything into it.
func contentSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~/?=&%+@!*,$", c) >= 0
}

// content writes s as the inside of a content:"…" string: safe bytes as
// they are, runs of the others as |hex| (the documented escape for ", ;, :
// and |, and the only one for control bytes).
func content(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789ABCDEF"
	inHex := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if contentSafe(c) {
			if inHex {
				b.WriteByte('|')
				inHex = false
			}
			b.WriteByte(c)
			continue
		}
		if inHex {
			b.WriteByte(' ')
		} else {
			b.WriteByte('|')
			inHex = true
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	if inHex {
		b.WriteByte('|')
	}
}

// pcreLiteral writes s as a PCRE pattern matching exactly s: letters and
// digits as they are, every other byte as \xHH, so that no character of
// the pattern is special to PCRE or to the rule parser.
func pcreLiteral(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
}

// msgText makes s fit a msg:"…" string: ", ; and \ escaped with a
// backslash (the escapes both engines accept there), every byte outside
// printable ASCII replaced by "?", and cut to max bytes.
func msgText(b *bytes.Buffer, s string, max int) {
	cut := len(s) > max
	if cut {
		s = s[:max-3]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == ';' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	if cut {
		b.WriteString("...")
	}
}

// metaWord writes s as one word of a metadata value: letters, digits and
// -._+:@ kept, every other byte "_".
func metaWord(b *bytes.Buffer, s string) {
	if s == "" {
		b.WriteString("none")
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._+:@", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
}

// ruleMsg is the msg of a rule: "HDN <type> <value> <what> TLP:<level>
// (<labels>)".
func ruleMsg(b *bytes.Buffer, ind *model.Indicator, what string) {
	b.WriteString(`msg:"HDN `)
	msgText(b, string(ind.Type), 40)
	b.WriteByte(' ')
	msgText(b, ind.Value, 200)
	if what != "" {
		b.WriteByte(' ')
		b.WriteString(what)
	}
	b.WriteByte(' ')
	msgText(b, tlpName(string(ind.TLP)), 40)
	if len(ind.Labels) > 0 {
		b.WriteString(" (")
		room := 120
		for i, l := range ind.Labels {
			if i > 0 {
				b.WriteString(", ")
			}
			if room <= 3 {
				b.WriteString("...")
				break
			}
			msgText(b, l, room)
			room -= len(l) + 2
		}
		b.WriteByte(')')
	}
	b.WriteString(`"; `)
}

// ruleTail ends a rule: metadata naming the indicator, classtype, sid and
// rev. extra metadata (Snort's "service dns") comes first.
func ruleTail(b *bytes.Buffer, ind *model.Indicator, extraMeta string, sid, rev int64) {
	b.WriteString("metadata:")
	if extraMeta != "" {
		b.WriteString(extraMeta)
		b.WriteString(", ")
	}
	b.WriteString("hdn_id ")
	metaWord(b, ind.ID)
	b.WriteString(", hdn_type ")
	metaWord(b, string(ind.Type))
	b.WriteString(", tlp ")
	metaWord(b, string(ind.TLP))
	b.WriteString("; classtype:trojan-activity; sid:")
	b.Write(strconv.AppendInt(b.AvailableBuffer(), sid, 10))
	b.WriteString("; rev:")
	b.Write(strconv.AppendInt(b.AvailableBuffer(), rev, 10))
	b.WriteString(";)\n")
}

// writeInt writes n in decimal.
func writeInt(b *bytes.Buffer, n int) {
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(n), 10))
}

// ruleAddr reads an address indicator (ipv4, ipv6, cidr) into the address
// of a rule header: [address] or [network/bits].
func ruleAddr(ind *model.Indicator) (string, bool) {
	switch ind.Type {
	case indicator.IPv4, indicator.IPv6:
		a, err := netip.ParseAddr(ind.Value)
		if err != nil || a.Zone() != "" || (ind.Type == indicator.IPv4) != a.Is4() {
			return "", false
		}
		return "[" + a.String() + "]", true
	case indicator.CIDR:
		p, err := netip.ParsePrefix(ind.Value)
		if err != nil {
			return "", false
		}
		return "[" + p.Masked().String() + "]", true
	}
	return "", false
}

// dnsName checks a domain or hostname value as a DNS name that rules and
// zones can carry: labels of 1–63 letters, digits, "-" or "_", 253
// characters at most.
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// httpTarget is what an HTTP rule for a URL matches: the host as the Host
// header carries it (without port), the destination port when the URL names
// one, and the request target (path and query) as sent.
type httpTarget struct {
	host   string
	port   string
	target string // path, and "?query" when there is one
	query  bool
}

func parseHTTPURL(s string) (httpTarget, bool) {
	if !oneLine(s) || strings.ContainsAny(s, " \t") {
		return httpTarget{}, false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return httpTarget{}, false
	}
	t := httpTarget{host: strings.ToLower(u.Hostname()), port: u.Port()}
	if t.host == "" {
		return httpTarget{}, false
	}
	if strings.IndexByte(t.host, ':') >= 0 {
		t.host = "[" + t.host + "]"
	}
	if t.port != "" {
		n, err := strconv.Atoi(t.port)
		if err != nil || n < 1 || n > 65535 {
			return httpTarget{}, false
		}
		t.port = strconv.Itoa(n)
	}
	// The request target is taken from the value as it is, not re-escaped:
	// the canonical form already fixed its escapes.
	rest := s[strings.Index(s, "://")+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" || rest[0] == '?' {
		rest = "/" + rest
	}
	t.target = rest
	t.query = strings.IndexByte(rest, '?') >= 0
	return t, true
}
