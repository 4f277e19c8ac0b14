package iocfile

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// kind is what a foreign type name (CSV type column, MISP attribute type,
// STIX object path) says about a value: an indicator type, or one of the
// address kinds below, whose exact type depends on the value.
type kind string

// Address kinds. A value of an address kind is an ipv4 or ipv6 address, or a
// cidr block when it has a "/" (a block of one address, /32 or /128, is the
// address). kindIP takes either family; kindIPv4 and kindIPv6 refuse the
// other one (STIX ipv4-addr and ipv6-addr). kindIPPort is an address with an
// optional ":port" (ThreatFox "ip:port"), which is dropped.
const (
	kindIP     kind = "ip"
	kindIPv4   kind = "ip/4"
	kindIPv6   kind = "ip/6"
	kindIPPort kind = "ip:port"
)

// foreignTypes maps type names used by other tools to kinds, for CSV type
// columns. Keys are lower case. The hdn type names themselves are accepted
// too (see typeKind).
var foreignTypes = map[string]kind{
	// addresses (ipv4 and ipv6 go by the value, so an IPv6 address in an
	// "ip"/"ipv4" row is still taken)
	"ip": kindIP, "ipv4": kindIP, "ipv6": kindIP, "ip-dst": kindIP, "ip-src": kindIP,
	"ipv4-addr": kindIP, "ipv6-addr": kindIP, "ip-addr": kindIP, "ip_address": kindIP,
	"ip:port": kindIPPort,
	// names
	"domain": kind(indicator.Domain), "domain-name": kind(indicator.Domain), "fqdn": kind(indicator.Domain),
	"hostname": kind(indicator.Hostname),
	"url":      kind(indicator.URL), "uri": kind(indicator.URL), "link": kind(indicator.URL),
	// hashes (OTX "FileHash-…", ThreatFox "…_hash")
	"md5": kind(indicator.MD5), "filehash-md5": kind(indicator.MD5), "md5_hash": kind(indicator.MD5),
	"sha1": kind(indicator.SHA1), "sha-1": kind(indicator.SHA1), "filehash-sha1": kind(indicator.SHA1), "sha1_hash": kind(indicator.SHA1),
	"sha256": kind(indicator.SHA256), "sha-256": kind(indicator.SHA256), "filehash-sha256": kind(indicator.SHA256), "sha256_hash": kind(indicator.SHA256),
	"sha512": kind(indicator.SHA512), "sha-512": kind(indicator.SHA512),
	// e-mail
	"email": kind(indicator.Email), "email-src": kind(indicator.Email), "email-dst": kind(indicator.Email),
	"email-addr": kind(indicator.Email), "email-address": kind(indicator.Email),
	// TLS
	"ja3": kind(indicator.JA3), "ja3-fingerprint-md5": kind(indicator.JA3),
	"x509-fingerprint-sha1": kind(indicator.X509SHA1), "x509-fingerprint-sha256": kind(indicator.X509SHA256),
}

// typeKind maps a type name from a CSV type column to a kind.
func typeKind(name string) (kind, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if k, ok := foreignTypes[n]; ok {
		return k, true
	}
	if t, err := indicator.ParseType(n); err == nil {
		return kind(t), true
	}
	return "", false
}

// canonical canonicalises raw as a value of kind k.
func canonical(k kind, raw string) (indicator.Type, string, error) {
	switch k {
	case kindIP, kindIPv4, kindIPv6, kindIPPort:
		return canonicalIP(k, raw)
	}
	t := indicator.Type(k)
	c, err := indicator.Canonicalize(t, raw)
	if err != nil {
		return "", "", err
	}
	if t == indicator.CIDR {
		t, c = singleAddress(c)
	}
	return t, c, nil
}

// detect works out the type of a value that came without one.
func detect(raw string) (indicator.Type, string, error) {
	t, c, err := indicator.Detect(raw)
	if err != nil {
		return "", "", err
	}
	if t == indicator.CIDR {
		t, c = singleAddress(c)
	}
	return t, c, nil
}

func canonicalIP(k kind, raw string) (indicator.Type, string, error) {
	s := indicator.Refang(raw)
	if k == kindIPPort {
		s = dropPort(s)
	}
	var t indicator.Type
	switch {
	case strings.IndexByte(s, '/') >= 0:
		t = indicator.CIDR
	case strings.IndexByte(s, ':') >= 0:
		t = indicator.IPv6
	default:
		t = indicator.IPv4
	}
	c, err := indicator.Canonicalize(t, s)
	if err != nil {
		if e := (*indicator.Error)(nil); errors.As(err, &e) {
			e.Value = raw
		}
		return "", "", err
	}
	switch t {
	case indicator.CIDR:
		t, c = singleAddress(c)
	case indicator.IPv6:
		if strings.IndexByte(c, ':') < 0 { // IPv4-mapped, unmapped by Canonicalize
			t = indicator.IPv4
		}
	}
	v6 := t == indicator.IPv6 || t == indicator.CIDR && strings.IndexByte(c, ':') >= 0
	switch {
	case k == kindIPv4 && v6:
		return "", "", &indicator.Error{Type: indicator.IPv4, Value: raw, Reason: "is an IPv6 address, not IPv4"}
	case k == kindIPv6 && !v6:
		return "", "", &indicator.Error{Type: indicator.IPv6, Value: raw, Reason: "is an IPv4 address, not IPv6"}
	}
	return t, c, nil
}

// singleAddress turns a canonical cidr block of one address ("1.2.3.4/32")
// into that address, so that it is matched exactly like the address.
func singleAddress(c string) (indicator.Type, string) {
	p, err := netip.ParsePrefix(c)
	if err != nil || !p.IsSingleIP() {
		return indicator.CIDR, c
	}
	if p.Addr().Is4() {
		return indicator.IPv4, p.Addr().String()
	}
	return indicator.IPv6, p.Addr().String()
}

// dropPort removes a ":port" from "1.2.3.4:80" or "[2001:db8::1]:80".
func dropPort(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}

// labels normalises tags into Entry.Labels: lower case, trimmed, without a
// leading "#", without "tlp:" markings, de-duplicated in order of first
// appearance. It appends to dst.
func labels(dst []string, tags ...string) []string {
	var seen map[string]bool // only for long lists; short ones are scanned
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(t), "#")))
		if t == "" || strings.HasPrefix(t, "tlp:") {
			continue
		}
		if seen == nil && len(dst) > 8 {
			seen = make(map[string]bool, len(dst))
			for _, d := range dst {
				seen[d] = true
			}
		}
		if seen != nil {
			if seen[t] {
				continue
			}
			seen[t] = true
		} else if slices.Contains(dst, t) {
			continue
		}
		dst = append(dst, t)
	}
	return dst
}

// splitTags splits a tags cell: at "|", ";" or ",", and a piece made only of
// "#"-words separated by spaces ("#phishing #scam", as TweetFeed writes them)
// at the spaces. A tag with spaces but no "#" ("cobalt strike") is kept
// whole.
func splitTags(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ';' || r == ',' }) {
		words := strings.Fields(p)
		hashed := len(words) > 1
		for _, w := range words {
			if w[0] != '#' {
				hashed = false
				break
			}
		}
		if hashed {
			out = append(out, words...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// parseConfidence reads a confidence of 0–100; "" is 0.
func parseConfidence(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: confidence %q is not a whole number", ErrInvalidField, s)
	}
	return checkConfidence(n)
}

func checkConfidence(n int) (int, error) {
	if n < 0 || n > 100 {
		return 0, fmt.Errorf("%w: confidence %d is outside 0–100", ErrInvalidField, n)
	}
	return n, nil
}
