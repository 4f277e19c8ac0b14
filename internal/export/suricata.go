package export

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// suricataRules writes Suricata rules (Suricata 6 and later; ja4 needs 7).
// Names match in DNS queries, TLS SNI and HTTP Host; a domain with its
// sub-domains (dotprefix + endswith), a hostname exactly. URLs match the
// HTTP host and the raw request target; addresses and networks match either
// side of any IP packet; JA3/JA3S/JA4 match their sticky buffers. Hashes and
// e-mail addresses have no rule: hashes go to datasets and lists
// (filemd5/filesha256 lists), see docs/EXPORTS.md.
type suricataRules struct {
	w    *writer
	opt  Options
	sids *sidAllocator
	b    bytes.Buffer
}

func newSuricataRules(w *writer, opt Options) *suricataRules {
	return &suricataRules{w: w, opt: opt, sids: newSIDAllocator(opt.SIDBase)}
}

func (e *suricataRules) begin() error {
	e.w.str("# hdn Suricata rules from " + oneLineComment(e.opt.HubName) + ", generated " + stamp(e.opt.Now) + "\n")
	e.w.str("# Indicators shared through the Healthcare Detection Network; each rule's metadata names its hdn_id and TLP.\n")
	e.w.str("# sids are derived from the indicator id and stay the same across exports (docs/EXPORTS.md).\n")
	return e.w.err
}

func (e *suricataRules) end() (int, error) { return 0, e.w.err }

func (e *suricataRules) add(ind *model.Indicator) (int, bool) {
	switch ind.Type {
	case indicator.Domain, indicator.Hostname:
		if !dnsName(ind.Value) {
			return 0, false
		}
		slot := e.sids.slot(ind.ID)
		rev := revision(ind.Seq)
		sub := ind.Type == indicator.Domain
		name := strings.ToLower(ind.Value)
		e.nameRule(ind, "dns", "dns.query", "DNS query", name, sub, true, e.sids.sid(slot, RuleMain), rev)
		e.nameRule(ind, "tls", "tls.sni", "TLS SNI", name, sub, true, e.sids.sid(slot, RuleTLS), rev)
		// http.host is lower-cased by Suricata: nocase would add nothing.
		e.nameRule(ind, "http", "http.host", "HTTP Host", name, sub, false, e.sids.sid(slot, RuleHTTP), rev)
		return 3, true
	case indicator.URL:
		t, ok := parseHTTPURL(ind.Value)
		if !ok {
			return 0, false
		}
		slot := e.sids.slot(ind.ID)
		b := &e.b
		b.Reset()
		port := "any"
		if t.port != "" {
			port = t.port
		}
		b.WriteString("alert http any any -> any ")
		b.WriteString(port)
		b.WriteString(" (")
		ruleMsg(b, ind, "")
		b.WriteString(`flow:established,to_server; http.host; content:"`)
		content(b, t.host)
		b.WriteString(`"; bsize:`)
		writeInt(b, len(t.host))
		b.WriteString(`; http.uri.raw; content:"`)
		content(b, t.target)
		if t.query {
			b.WriteString(`"; bsize:`)
			writeInt(b, len(t.target))
			b.WriteString("; ")
		} else {
			// Without a query the URL matches with any query too.
			b.WriteString(`"; startswith; pcre:"/^`)
			pcreLiteral(b, t.target)
			b.WriteString(`(?:\x3f|$)/"; `)
		}
		ruleTail(b, ind, "", e.sids.sid(slot, RuleMain), revision(ind.Seq))
		if b.Len() > maxRuleLine {
			// Suricata reads a rule file in lines of 8 KiB: a longer rule
			// would not load, its rest would be read as another broken
			// rule, and `suricata -T` (suricata-update's check) would
			// refuse the whole file.
			return 0, false
		}
		e.w.Write(b.Bytes())
		return 1, true
	case indicator.IPv4, indicator.IPv6, indicator.CIDR:
		addr, ok := ruleAddr(ind)
		if !ok {
			return 0, false
		}
		slot := e.sids.slot(ind.ID)
		b := &e.b
		b.Reset()
		b.WriteString("alert ip any any <> ")
		b.WriteString(addr)
		b.WriteString(" any (")
		ruleMsg(b, ind, "")
		b.WriteString("threshold:type limit, track by_src, count 1, seconds 60; ")
		ruleTail(b, ind, "", e.sids.sid(slot, RuleMain), revision(ind.Seq))
		e.w.Write(b.Bytes())
		return 1, true
	case indicator.JA3, indicator.JA3S, indicator.JA4:
		if !fingerprint(ind.Type, ind.Value) {
			return 0, false
		}
		buf := fingerprintBuffers[ind.Type]
		slot := e.sids.slot(ind.ID)
		b := &e.b
		b.Reset()
		b.WriteString("alert tls any any -> any any (")
		ruleMsg(b, ind, "")
		b.WriteString(buf + `; content:"`)
		content(b, ind.Value)
		b.WriteString(`"; `)
		ruleTail(b, ind, "", e.sids.sid(slot, RuleMain), revision(ind.Seq))
		e.w.Write(b.Bytes())
		return 1, true
	}
	return 0, false
}

// fingerprintBuffers are the sticky buffers of the TLS fingerprints.
var fingerprintBuffers = map[indicator.Type]string{indicator.JA3: "ja3.hash", indicator.JA3S: "ja3s.hash", indicator.JA4: "ja4.hash"}

// nameRule writes one rule for a name in a sticky buffer: with sub-domains
// through dotprefix (".name" at the end of ".<buffer>"), or exactly (bsize).
func (e *suricataRules) nameRule(ind *model.Indicator, proto, buffer, what, name string, sub, nocase bool, sid, rev int64) {
	b := &e.b
	b.Reset()
	b.WriteString("alert ")
	b.WriteString(proto)
	b.WriteString(" any any -> any any (")
	ruleMsg(b, ind, what)
	b.WriteString(buffer + "; ")
	if sub {
		b.WriteString(`dotprefix; content:".`)
	} else {
		b.WriteString(`content:"`)
	}
	content(b, name)
	b.WriteString(`"; `)
	if nocase {
		b.WriteString("nocase; ")
	}
	if sub {
		b.WriteString("endswith; ")
	} else {
		b.WriteString("bsize:")
		writeInt(b, len(name))
		b.WriteString("; ")
	}
	ruleTail(b, ind, "", sid, rev)
	e.w.Write(b.Bytes())
}

// fingerprint checks a JA3/JA3S (32 hex digits) or JA4 value (letters,
// digits and "_").
func fingerprint(t indicator.Type, v string) bool {
	if t == indicator.JA4 {
		if v == "" || len(v) > 128 {
			return false
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
		return true
	}
	return isHex(v, 32)
}

// isHex reports whether s is n lower- or upper-case hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// oneLineComment makes s safe for the rest of a comment line.
func oneLineComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return ' '
		}
		return r
	}, s)
}

// Datasets. Suricata reads a dataset file as one value per line ending in
// "\n", with no comments: type string as base64 (standard alphabet, padded),
// md5 and sha256 as hex, ipv4 and ip as addresses. Its reader takes lines of
// at most 1023 bytes, so a longer value is skipped.

// datasetType is one Options.DatasetType: the indicator types it takes and
// how each value is written.
type datasetType struct {
	suricata string // the Suricata dataset type
	types    []indicator.Type
}

var datasetTypes = map[string]datasetType{
	"domain": {"string", []indicator.Type{indicator.Domain, indicator.Hostname}},
	"string": {"string", []indicator.Type{indicator.Domain, indicator.Hostname}}, // Suricata's name for it
	"md5":    {"md5", []indicator.Type{indicator.MD5}},
	"sha256": {"sha256", []indicator.Type{indicator.SHA256}},
	"ipv4":   {"ipv4", []indicator.Type{indicator.IPv4}},
	"ip":     {"ip", []indicator.Type{indicator.IPv4, indicator.IPv6}},
	"ja3":    {"string", []indicator.Type{indicator.JA3}},
	"ja3s":   {"string", []indicator.Type{indicator.JA3S}},
	"ja4":    {"string", []indicator.Type{indicator.JA4}},
}

func datasetTypeNames() string {
	return "domain (or string), md5, sha256, ipv4, ip, ja3, ja3s, ja4"
}

// maxRuleLine is the longest rule line written, newline included: Suricata
// reads rule files with a buffer of 8,192 bytes (DETECT_MAX_RULE_SIZE).
const maxRuleLine = 8000

// maxDatasetLine is the longest line (without "\n") Suricata's dataset
// loader reads whole: it reads with fgets into 1024 bytes.
const maxDatasetLine = 1022

type datasetEncoder struct {
	w   *writer
	opt Options
	dt  datasetType
	buf []byte
}

func (e *datasetEncoder) begin() error      { return e.w.err }
func (e *datasetEncoder) end() (int, error) { return 0, e.w.err }
func (e *datasetEncoder) add(ind *model.Indicator) (int, bool) {
	if !slices.Contains(e.dt.types, ind.Type) {
		return 0, false
	}
	v := ind.Value
	switch e.dt.suricata {
	case "string":
		ok := false
		switch ind.Type {
		case indicator.Domain, indicator.Hostname:
			ok = dnsName(v)
			v = strings.ToLower(v)
		default:
			ok = fingerprint(ind.Type, v)
			if ind.Type != indicator.JA4 {
				v = strings.ToLower(v)
			}
		}
		if !ok {
			return 0, false
		}
		e.buf = base64.StdEncoding.AppendEncode(e.buf[:0], []byte(v))
	case "md5", "sha256":
		n := 32
		if e.dt.suricata == "sha256" {
			n = 64
		}
		if !isHex(v, n) {
			return 0, false
		}
		e.buf = append(e.buf[:0], strings.ToLower(v)...)
	case "ipv4", "ip":
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" || (ind.Type == indicator.IPv4) != a.Is4() {
			return 0, false
		}
		e.buf = a.AppendTo(e.buf[:0])
	}
	if len(e.buf) > maxDatasetLine {
		return 0, false
	}
	e.buf = append(e.buf, '\n')
	e.w.Write(e.buf)
	return 1, true
}
