package indicator

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/stixpattern"
)

// canonPattern canonicalises a stix-pattern value: the pattern as package
// stixpattern prints it once parsed and validated, held to the rules of
// checkPatternRules (the values it compares, and how broadly it matches).
func canonPattern(raw string) (string, error) {
	c, p, err := parsePattern(raw)
	if err != nil {
		return "", err
	}
	if err := checkPatternRules(raw, p); err != nil {
		return "", err
	}
	return c, nil
}

// parsePattern parses and canonicalises a pattern, checking its syntax and
// length only.
func parsePattern(raw string) (string, *stixpattern.Pattern, error) {
	s := strings.TrimSpace(raw)
	fail := func(reason string) (string, *stixpattern.Pattern, error) {
		return "", nil, &Error{Type: STIXPattern, Value: raw, Reason: reason}
	}
	switch {
	case len(s) > MaxPatternLen:
		return fail(fmt.Sprintf("is longer than %d bytes", MaxPatternLen))
	case !utf8.ValidString(s):
		return fail("is not valid UTF-8")
	case s == "":
		return fail(reasonEmpty)
	}
	p, err := stixpattern.Parse(s)
	if err != nil {
		return fail("is not a valid STIX pattern: " + strings.TrimPrefix(err.Error(), "stixpattern: "))
	}
	c := p.String()
	if len(c) > MaxPatternLen {
		return fail(fmt.Sprintf("is longer than %d bytes once canonicalised", MaxPatternLen))
	}
	return c, p, nil
}

// Typed is an indicator value with its type.
type Typed struct {
	Type  Type
	Value string
}

// FromSTIXPattern reads a STIX pattern as hdn indicators. A pattern that is
// an OR of '=' comparisons on observables the plain types cover —
// domain-name:value, ipv4-addr:value and ipv6-addr:value (an address or a
// CIDR block), url:value, email-addr:value, file:hashes.MD5, SHA-1, SHA-256
// and SHA-512, x509-certificate:hashes.SHA-1 and SHA-256 (hash names in any
// case, with or without '-') — gives one plain indicator per distinct value
// (a CIDR block of one address becomes that address; an IP address given
// as a domain-name value becomes an address indicator):
// it matches exactly when one of them does. Values refused by Canonicalize
// come back in refused (and the others still count). Any other valid
// pattern gives one stix-pattern indicator, the pattern canonicalised, if
// it keeps the rules of checkPatternRules. err is set when the pattern is
// not a valid STIX pattern, or is a pattern indicator those rules refuse.
func FromSTIXPattern(pattern string) (plain []Typed, refused []error, err error) {
	canon, p, err := parsePattern(pattern)
	if err != nil {
		return nil, nil, err
	}
	eqs, ok := p.Equalities()
	for _, e := range eqs {
		if _, known := stixPathType(e.ObjectType, e.Props); !known {
			ok = false
			break
		}
	}
	if !ok {
		if err := checkPatternRules(pattern, p); err != nil {
			return nil, nil, err
		}
		return []Typed{{STIXPattern, canon}}, nil, nil
	}
	seen := make(map[Typed]bool, len(eqs))
	for _, e := range eqs {
		t, _ := stixPathType(e.ObjectType, e.Props)
		if t == IPv4 || t == Domain && isAddress(e.Value) {
			t = addressType(e.Value)
		}
		v, err := Canonicalize(t, e.Value)
		if err != nil {
			refused = append(refused, err)
			continue
		}
		if t == IPv6 && !strings.Contains(v, ":") { // an IPv4-mapped address
			t = IPv4
		}
		t, v = oneAddress(t, v)
		k := Typed{t, v}
		if !seen[k] {
			seen[k] = true
			plain = append(plain, k)
		}
	}
	return plain, refused, nil
}

// stixPathType maps an object path (its object type and unquoted steps) to
// the plain type of its values; IPv4 stands for any address or CIDR
// (addressType decides).
func stixPathType(objectType string, props []string) (Type, bool) {
	switch {
	case len(props) == 1 && props[0] == "value":
		switch objectType {
		case "domain-name":
			return Domain, true
		case "ipv4-addr", "ipv6-addr":
			return IPv4, true
		case "url":
			return URL, true
		case "email-addr":
			return Email, true
		}
	case len(props) == 2 && props[0] == "hashes":
		h := strings.ToUpper(strings.NewReplacer("-", "", "_", "").Replace(props[1]))
		switch objectType {
		case "file":
			switch h {
			case "MD5":
				return MD5, true
			case "SHA1":
				return SHA1, true
			case "SHA256":
				return SHA256, true
			case "SHA512":
				return SHA512, true
			}
		case "x509-certificate":
			switch h {
			case "SHA1":
				return X509SHA1, true
			case "SHA256":
				return X509SHA256, true
			}
		}
	}
	return "", false
}

// oneAddress returns a CIDR block of one address as that address, and any
// other value as it is.
func oneAddress(t Type, v string) (Type, string) {
	if t != CIDR {
		return t, v
	}
	if pfx, err := netip.ParsePrefix(v); err == nil && pfx.IsSingleIP() {
		if pfx.Addr().Is6() {
			return IPv6, pfx.Addr().String()
		}
		return IPv4, pfx.Addr().String()
	}
	return t, v
}

// isAddress says whether v is an IP address: producers do put addresses in
// domain-name:value, and the address is what they mean.
func isAddress(v string) bool {
	_, err := netip.ParseAddr(strings.TrimSpace(v))
	return err == nil
}

// addressType is the type of an address or CIDR value of an ipv4-addr or
// ipv6-addr comparison (STIX allows a CIDR block in both).
func addressType(v string) Type {
	switch {
	case strings.Contains(v, "/"):
		return CIDR
	case strings.Contains(v, ":"):
		return IPv6
	}
	return IPv4
}
