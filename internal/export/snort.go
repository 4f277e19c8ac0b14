package export

import (
	"bytes"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// snortRules writes Snort 2.9 rules (Snort 3 reads them after conversion
// with snort2lua). Snort 2.9 has no DNS or SNI buffer, so names are matched
// as they are encoded in a DNS query over UDP: a length-prefixed label
// sequence, which for a domain also matches its sub-domains, and for a
// hostname is anchored at the question (offset 12). URLs match the Host
// header and the raw URI; addresses match either side of any IP packet.
// Other types have no rule.
type snortRules struct {
	w    *writer
	opt  Options
	sids *sidAllocator
	b    bytes.Buffer
}

func newSnortRules(w *writer, opt Options) *snortRules {
	return &snortRules{w: w, opt: opt, sids: newSIDAllocator(opt.SIDBase)}
}

func (e *snortRules) begin() error {
	e.w.str("# hdn Snort 2.9 rules from " + oneLineComment(e.opt.HubName) + ", generated " + stamp(e.opt.Now) + "\n")
	e.w.str("# Indicators shared through the Healthcare Detection Network; each rule's metadata names its hdn_id and TLP.\n")
	e.w.str("# sids are derived from the indicator id and stay the same across exports (docs/EXPORTS.md).\n")
	return e.w.err
}

func (e *snortRules) end() (int, error) { return 0, e.w.err }

func (e *snortRules) add(ind *model.Indicator) (int, bool) {
	b := &e.b
	b.Reset()
	switch ind.Type {
	case indicator.Domain, indicator.Hostname:
		if !dnsName(ind.Value) {
			return 0, false
		}
		wire := dnsWire(strings.ToLower(ind.Value))
		b.WriteString("alert udp any any -> any 53 (")
		ruleMsg(b, ind, "DNS query")
		// byte_test: QR and opcode bits clear, a standard query.
		b.WriteString(`flow:to_server; byte_test:1,!&,0xF8,2; content:"`)
		content(b, wire)
		if ind.Type == indicator.Domain {
			b.WriteString(`"; nocase; fast_pattern:only; `)
		} else {
			b.WriteString(`"; offset:12; depth:`)
			writeInt(b, len(wire))
			b.WriteString("; nocase; ")
		}
		ruleTail(b, ind, "service dns", e.sids.sid(e.sids.slot(ind.ID), RuleMain), revision(ind.Seq))
	case indicator.URL:
		t, ok := parseHTTPURL(ind.Value)
		if !ok {
			return 0, false
		}
		port := "any"
		if t.port != "" {
			port = t.port
		}
		hostLine := t.host
		if t.port != "" {
			hostLine += ":" + t.port
		}
		b.WriteString("alert tcp any any -> any ")
		b.WriteString(port)
		b.WriteString(" (")
		ruleMsg(b, ind, "")
		b.WriteString(`flow:established,to_server; content:"`)
		content(b, t.target)
		b.WriteString(`"; http_raw_uri; pcre:"/^`)
		pcreLiteral(b, t.target)
		if t.query {
			b.WriteString(`$/I"; content:"`)
		} else {
			b.WriteString(`(?:\x3f|$)/I"; content:"`)
		}
		// The Host header line, whatever its spacing: content to find it
		// fast, the pcre (H: header buffer, m: per line) for its bounds.
		content(b, hostLine)
		b.WriteString(`"; http_header; nocase; pcre:"/^Host\x3a\s*`)
		pcreLiteral(b, hostLine)
		b.WriteString(`\s*$/Hmi"; `)
		ruleTail(b, ind, "service http", e.sids.sid(e.sids.slot(ind.ID), RuleMain), revision(ind.Seq))
	case indicator.IPv4, indicator.IPv6, indicator.CIDR:
		addr, ok := ruleAddr(ind)
		if !ok {
			return 0, false
		}
		b.WriteString("alert ip any any <> ")
		b.WriteString(addr)
		b.WriteString(" any (")
		ruleMsg(b, ind, "")
		b.WriteString("threshold:type limit, track by_src, count 1, seconds 60; ")
		ruleTail(b, ind, "", e.sids.sid(e.sids.slot(ind.ID), RuleMain), revision(ind.Seq))
	default:
		return 0, false
	}
	e.w.Write(b.Bytes())
	return 1, true
}

// dnsWire is name in DNS wire form: each label after its length byte, and
// the root's zero byte at the end. name must pass dnsName.
func dnsWire(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	for label := range strings.SplitSeq(name, ".") {
		b.WriteByte(byte(len(label)))
		b.WriteString(label)
	}
	b.WriteByte(0)
	return b.String()
}
