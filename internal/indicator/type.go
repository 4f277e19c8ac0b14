// Package indicator knows the indicator types of the network and their
// canonical forms (DESIGN.md section 3): it refangs defanged input, detects a
// value's type, and turns every accepted value into exactly one canonical
// string, or says which input was refused and why. It is pure: no I/O.
package indicator

import (
	"fmt"
	"strings"
)

// Type is an indicator type.
type Type string

// The indicator types.
const (
	IPv4       Type = "ipv4"
	IPv6       Type = "ipv6"
	CIDR       Type = "cidr"
	Domain     Type = "domain"
	Hostname   Type = "hostname"
	URL        Type = "url"
	Email      Type = "email"
	MD5        Type = "md5"
	SHA1       Type = "sha1"
	SHA256     Type = "sha256"
	SHA512     Type = "sha512"
	X509SHA1   Type = "x509-sha1"
	X509SHA256 Type = "x509-sha256"
	JA3        Type = "ja3"
	JA3S       Type = "ja3s"
	JA4        Type = "ja4"
	// STIXPattern is a STIX 2.1 pattern that is not a single comparison on
	// one of the types above ("[file:name = 'x.exe' AND file:size > 1000]",
	// "[a] FOLLOWEDBY [b] WITHIN 60 SECONDS"): a pattern indicator, which a
	// sensor evaluates where it observes the objects the pattern names.
	STIXPattern Type = "stix-pattern"
)

// Types lists every type.
var Types = []Type{IPv4, IPv6, CIDR, Domain, Hostname, URL, Email, MD5, SHA1, SHA256, SHA512, X509SHA1, X509SHA256, JA3, JA3S, JA4, STIXPattern}

// ParseType checks a type name (case-insensitive).
func ParseType(s string) (Type, error) {
	t := Type(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Types {
		if k == t {
			return t, nil
		}
	}
	return "", fmt.Errorf("type %q is not a known indicator type", s)
}
