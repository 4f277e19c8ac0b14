package export

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// zeekEncoder writes a Zeek intel framework file: tab-separated, a
// "#fields" header, "-" for an unset field. Zeek's input reader unescapes
// \xHH in string fields, so a tab, newline or backslash inside a field is
// written that way; a field that would read as the unset marker "-" or the
// empty marker "(empty)" is escaped too, and so is a "#" that would start
// a comment line.
type zeekEncoder struct {
	w   *writer
	opt Options
	b   bytes.Buffer
}

// ZeekFields is the header line of the Zeek intel file.
const ZeekFields = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"

// zeekTypes maps indicator types to Zeek intel types. Zeek matches
// Intel::URL without the scheme; certificates are files to Zeek's file
// analysis, so a certificate's SHA-256 is a FILE_HASH while its SHA-1 is
// the CERT_HASH that Zeek's x509 script looks for. JA3/JA3S/JA4 have no
// intel type.
var zeekTypes = map[indicator.Type]string{
	indicator.IPv4:       "Intel::ADDR",
	indicator.IPv6:       "Intel::ADDR",
	indicator.CIDR:       "Intel::SUBNET",
	indicator.Domain:     "Intel::DOMAIN",
	indicator.Hostname:   "Intel::DOMAIN",
	indicator.URL:        "Intel::URL",
	indicator.Email:      "Intel::EMAIL",
	indicator.MD5:        "Intel::FILE_HASH",
	indicator.SHA1:       "Intel::FILE_HASH",
	indicator.SHA256:     "Intel::FILE_HASH",
	indicator.SHA512:     "Intel::FILE_HASH",
	indicator.X509SHA1:   "Intel::CERT_HASH",
	indicator.X509SHA256: "Intel::FILE_HASH",
}

func (e *zeekEncoder) begin() error {
	e.w.str("# hdn Zeek intel file from " + oneLineComment(e.opt.HubName) + ", generated " + stamp(e.opt.Now) + "\n")
	e.w.str("# Load with: redef Intel::read_files += { \"/path/to/hdn.intel\" };\n")
	e.w.str(ZeekFields + "\n")
	return e.w.err
}

func (e *zeekEncoder) end() (int, error) { return 0, e.w.err }

func (e *zeekEncoder) add(ind *model.Indicator) (int, bool) {
	zt, ok := zeekTypes[ind.Type]
	if !ok {
		return 0, false
	}
	v, ok := zeekIndicator(ind)
	if !ok {
		return 0, false
	}
	b := &e.b
	b.Reset()
	zeekField(b, v)
	b.WriteByte('\t')
	b.WriteString(zt)
	b.WriteByte('\t')
	zeekField(b, e.opt.HubName)
	b.WriteByte('\t')
	zeekDesc(b, ind)
	b.WriteString("\t-\n")
	e.w.Write(b.Bytes())
	return 1, true
}

// zeekIndicator is the value as Zeek compares it.
func zeekIndicator(ind *model.Indicator) (string, bool) {
	v := ind.Value
	switch ind.Type {
	case indicator.IPv4, indicator.IPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", false
		}
		return a.String(), true
	case indicator.CIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", false
		}
		return p.Masked().String(), true
	case indicator.Domain, indicator.Hostname:
		return v, dnsName(v)
	case indicator.URL:
		// Zeek checks host[:port]/target without the scheme (HTTP::build_url:
		// the port unless 80), the target percent-decoded as its http.log
		// has it.
		t, ok := parseHTTPURL(v)
		if !ok {
			return "", false
		}
		host := t.host
		if t.port != "" {
			host += ":" + t.port
		}
		return host + percentDecode(t.target), true
	case indicator.Email:
		return v, oneLine(v) && strings.IndexByte(v, '@') > 0
	}
	return v, isHexAny(v)
}

// percentDecode decodes every %HH escape; a "%" not followed by two hex
// digits stays as it is.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1:i+3], 2) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// isHexAny reports whether s is a non-empty string of hex digits.
func isHexAny(s string) bool { return s != "" && isHex(s, len(s)) }

// zeekDesc writes the meta.desc: TLP, labels, description and the hdn id,
// joined by " | ". It starts with "TLP:", so it is never read as the unset
// or empty marker nor as a comment.
func zeekDesc(b *bytes.Buffer, ind *model.Indicator) {
	zeekEscape(b, tlpName(string(ind.TLP)))
	for i, l := range ind.Labels {
		if i == 0 {
			b.WriteString(" | ")
		} else {
			b.WriteString(", ")
		}
		zeekEscape(b, l)
	}
	if ind.Description != "" {
		b.WriteString(" | ")
		zeekEscape(b, ind.Description)
	}
	b.WriteString(" | hdn ")
	zeekEscape(b, ind.ID)
}

// zeekField writes s as one field.
func zeekField(b *bytes.Buffer, s string) {
	switch s {
	case "", "-":
		if s == "" {
			b.WriteByte('-')
		} else {
			b.WriteString(`\x2d`)
		}
		return
	case "(empty)":
		b.WriteString(`\x28empty)`)
		return
	}
	if s[0] == '#' {
		b.WriteString(`\x23`)
		s = s[1:]
	}
	zeekEscape(b, s)
}

// zeekEscape writes s with control bytes and backslashes as \xHH.
func zeekEscape(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}
