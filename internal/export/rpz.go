package export

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// rpzEncoder writes a DNS response policy zone (the RPZ draft,
// draft-vixie-dnsop-dns-rpz) that BIND, Unbound, Knot Resolver and
// PowerDNS Recursor load. A domain is a QNAME trigger for the name and all
// its sub-domains (name and *.name); a hostname for the name only; an
// address or network is a response-IP trigger (rpz-ip), so any answer
// resolving to it is blocked. Other types have no place in DNS.
type rpzEncoder struct {
	w      *writer
	opt    Options
	action string
	b      bytes.Buffer
}

// rpzActions maps Options.RPZAction to the record data of the policy.
var rpzActions = map[string]string{
	"nxdomain": ".",
	"nodata":   "*.",
	"drop":     "rpz-drop.",
	"passthru": "rpz-passthru.",
}

// RPZ timers. Refresh is short so that secondaries pick up a new indicator
// within minutes; a record's TTL is short so that a revoked one stops
// blocking soon after.
const (
	rpzTTL     = 300
	rpzRefresh = 300
	rpzRetry   = 60
	rpzExpire  = 604800
	rpzMinimum = 60
)

func (e *rpzEncoder) begin() error {
	e.action = rpzActions[e.opt.RPZAction]
	mname := "localhost."
	if l := hubLabel(e.opt.HubName); l != "" && validZoneName(l+"."+e.opt.RPZOrigin) {
		mname = l + "." + e.opt.RPZOrigin + "."
	}
	b := &e.b
	b.Reset()
	b.WriteString("; hdn response policy zone from " + oneLineComment(e.opt.HubName) + ", generated " + stamp(e.opt.Now) + "\n")
	b.WriteString("; policy: " + e.opt.RPZAction + " (CNAME " + e.action + ")\n")
	b.WriteString("$ORIGIN " + e.opt.RPZOrigin + ".\n")
	b.WriteString("$TTL " + strconv.Itoa(rpzTTL) + "\n")
	// The serial is the Unix time of the export: it only grows, as
	// secondaries need, and fits the 32-bit serial until 2106.
	b.WriteString("@ IN SOA " + mname + " hostmaster." + e.opt.RPZOrigin + ". (" +
		strconv.FormatInt(e.opt.Now.Unix(), 10) + " " + strconv.Itoa(rpzRefresh) + " " + strconv.Itoa(rpzRetry) + " " +
		strconv.Itoa(rpzExpire) + " " + strconv.Itoa(rpzMinimum) + ")\n")
	b.WriteString("@ IN NS localhost.\n")
	e.w.Write(b.Bytes())
	return e.w.err
}

func (e *rpzEncoder) end() (int, error) { return 0, e.w.err }

func (e *rpzEncoder) add(ind *model.Indicator) (int, bool) {
	b := &e.b
	b.Reset()
	n := 0
	switch ind.Type {
	case indicator.Domain, indicator.Hostname:
		name := strings.ToLower(ind.Value)
		// Room for "*." and the origin within DNS's 255 bytes. A name
		// with a label "rpz-…" would be read as another kind of trigger
		// ("8.0.0.0.10.rpz-ip": every answer in 10.0.0.0/8); the hub
		// refuses such domains, and one stored before is left out.
		if !dnsName(name) || len(name)+2+len(e.opt.RPZOrigin)+2 > 255 || rpzReserved(name) {
			return 0, false
		}
		e.record(name)
		n++
		if ind.Type == indicator.Domain {
			e.record("*." + name)
			n++
		}
	case indicator.IPv4, indicator.IPv6, indicator.CIDR:
		owner, ok := rpzIP(ind)
		if !ok {
			return 0, false
		}
		e.record(owner)
		n++
	default:
		return 0, false
	}
	e.w.Write(b.Bytes())
	return n, true
}

func (e *rpzEncoder) record(owner string) {
	e.b.WriteString(owner)
	e.b.WriteString(" CNAME ")
	e.b.WriteString(e.action)
	e.b.WriteByte('\n')
}

// rpzIP is the owner name of a response-IP trigger: the prefix length, then
// the address in reverse order, then "rpz-ip". IPv4 is written in its four
// octets; IPv6 in its eight 16-bit words in hex without leading zeros, the
// run of zero words that the text form shortens to "::" written as "zz".
func rpzIP(ind *model.Indicator) (string, bool) {
	var p netip.Prefix
	switch ind.Type {
	case indicator.IPv4, indicator.IPv6:
		a, err := netip.ParseAddr(ind.Value)
		if err != nil || a.Zone() != "" || (ind.Type == indicator.IPv4) != a.Is4() {
			return "", false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	case indicator.CIDR:
		var err error
		if p, err = netip.ParsePrefix(ind.Value); err != nil {
			return "", false
		}
		p = p.Masked()
	}
	a := p.Addr()
	var parts []string
	if a.Is4() {
		o := a.As4()
		parts = []string{strconv.Itoa(int(o[3])), strconv.Itoa(int(o[2])), strconv.Itoa(int(o[1])), strconv.Itoa(int(o[0]))}
	} else {
		b := a.As16()
		var w [8]uint16
		for i := range w {
			w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		// The longest run of two or more zero words (the first of equal
		// ones), which RFC 5952 text shortens to "::", becomes zz.
		zs, zl := -1, 1
		for i := 0; i < 8; {
			if w[i] != 0 {
				i++
				continue
			}
			j := i
			for j < 8 && w[j] == 0 {
				j++
			}
			if j-i > zl {
				zs, zl = i, j-i
			}
			i = j
		}
		for i := 7; i >= 0; i-- {
			switch {
			case zs >= 0 && i >= zs && i < zs+zl:
				if i == zs {
					parts = append(parts, "zz")
				}
			default:
				parts = append(parts, strconv.FormatUint(uint64(w[i]), 16))
			}
		}
	}
	return strconv.Itoa(p.Bits()) + "." + strings.Join(parts, ".") + ".rpz-ip", true
}

// validZoneName reports whether s (without a trailing dot) is a DNS name a
// zone file can carry as an origin.
func validZoneName(s string) bool { return dnsName(s) && len(s) <= 250 }

// hubLabel makes the hub name one DNS label, or "".
func hubLabel(s string) string {
	l := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s), "-")
	if len(l) > 63 {
		l = strings.Trim(l[:63], "-")
	}
	return l
}

// rpzReserved says whether a name has a label that response policy zones
// reserve for their triggers and actions (rpz-ip, rpz-nsdname,
// rpz-client-ip, rpz-passthru, …).
func rpzReserved(name string) bool {
	for label := range strings.SplitSeq(name, ".") {
		if strings.HasPrefix(label, "rpz-") {
			return true
		}
	}
	return false
}
