package misp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// MISP's attribute categories.
const (
	catAntivirus    = "Antivirus detection"
	catArtifacts    = "Artifacts dropped"
	catAttribution  = "Attribution"
	catExternal     = "External analysis"
	catFinancial    = "Financial fraud"
	catInternal     = "Internal reference"
	catNetwork      = "Network activity"
	catOther        = "Other"
	catDelivery     = "Payload delivery"
	catInstallation = "Payload installation"
	catPayloadType  = "Payload type"
	catPersistence  = "Persistence mechanism"
	catPerson       = "Person"
	catSocial       = "Social network"
	catSupport      = "Support Tool"
	catTargeting    = "Targeting data"
)

// split says how a MISP value holds its indicators.
type split int

const (
	splitNone       split = iota // context: no indicator
	splitPlain                   // the whole value, of the type's hdn type
	splitAddress                 // an address or CIDR block: ipv4, ipv6 or cidr by the value
	splitAddressEnd              // "address|port": the address
	splitHostEnd                 // "hostname|port": the host name
	splitDomainAddr              // "domain|address": both
	splitFileHash                // "filename|hash": the hash
	splitPattern                 // a STIX pattern: its plain indicators, or a stix-pattern indicator
)

// typeInfo is one row of the type table: MISP's defaults for the type and
// what hdn makes of it.
type typeInfo struct {
	category string // MISP's default category
	toIDS    bool   // MISP's default to_ids
	hdn      indicator.Type
	split    split
}

// types is the table of the MISP attribute types hdn knows, with MISP's
// sane defaults (MISP's Attribute model, typeDefinitions). Types not in it
// are read as context, and are not listed by DescribeTypes.
var types = map[string]typeInfo{
	// detection
	"ip-src":                  {catNetwork, true, indicator.IPv4, splitAddress},
	"ip-dst":                  {catNetwork, true, indicator.IPv4, splitAddress},
	"ip-src|port":             {catNetwork, true, indicator.IPv4, splitAddressEnd},
	"ip-dst|port":             {catNetwork, true, indicator.IPv4, splitAddressEnd},
	"domain":                  {catNetwork, true, indicator.Domain, splitPlain},
	"hostname":                {catNetwork, true, indicator.Hostname, splitPlain},
	"hostname|port":           {catNetwork, true, indicator.Hostname, splitHostEnd},
	"domain|ip":               {catNetwork, true, indicator.Domain, splitDomainAddr},
	"url":                     {catNetwork, true, indicator.URL, splitPlain},
	"email":                   {catSocial, true, indicator.Email, splitPlain},
	"email-src":               {catDelivery, true, indicator.Email, splitPlain},
	"email-dst":               {catNetwork, true, indicator.Email, splitPlain},
	"email-reply-to":          {catDelivery, false, indicator.Email, splitPlain},
	"md5":                     {catDelivery, true, indicator.MD5, splitPlain},
	"sha1":                    {catDelivery, true, indicator.SHA1, splitPlain},
	"sha256":                  {catDelivery, true, indicator.SHA256, splitPlain},
	"sha512":                  {catDelivery, true, indicator.SHA512, splitPlain},
	"filename|md5":            {catDelivery, true, indicator.MD5, splitFileHash},
	"filename|sha1":           {catDelivery, true, indicator.SHA1, splitFileHash},
	"filename|sha256":         {catDelivery, true, indicator.SHA256, splitFileHash},
	"filename|sha512":         {catDelivery, true, indicator.SHA512, splitFileHash},
	"malware-sample":          {catDelivery, true, indicator.MD5, splitFileHash},
	"x509-fingerprint-sha1":   {catNetwork, true, indicator.X509SHA1, splitPlain},
	"x509-fingerprint-sha256": {catNetwork, true, indicator.X509SHA256, splitPlain},
	"ja3-fingerprint-md5":     {catNetwork, true, indicator.JA3, splitPlain},

	// context: informs an analyst, is never matched
	"AS":                     {catNetwork, false, "", splitNone},
	"attachment":             {catExternal, false, "", splitNone},
	"campaign-id":            {catAttribution, false, "", splitNone},
	"campaign-name":          {catAttribution, false, "", splitNone},
	"comment":                {catOther, false, "", splitNone},
	"cookie":                 {catNetwork, false, "", splitNone},
	"email-attachment":       {catDelivery, true, "", splitNone},
	"email-body":             {catDelivery, false, "", splitNone},
	"email-subject":          {catDelivery, false, "", splitNone},
	"filename":               {catDelivery, true, "", splitNone},
	"hassh-md5":              {catNetwork, true, "", splitNone},
	"hasshserver-md5":        {catNetwork, true, "", splitNone},
	"hex":                    {catOther, false, "", splitNone},
	"http-method":            {catNetwork, false, "", splitNone},
	"imphash":                {catDelivery, true, "", splitNone},
	"jarm-fingerprint":       {catNetwork, true, "", splitNone},
	"link":                   {catExternal, false, "", splitNone},
	"mac-address":            {catNetwork, false, "", splitNone},
	"mutex":                  {catArtifacts, true, "", splitNone},
	"named pipe":             {catArtifacts, false, "", splitNone},
	"other":                  {catOther, false, "", splitNone},
	"pattern-in-file":        {catInstallation, true, "", splitNone},
	"pattern-in-memory":      {catInstallation, true, "", splitNone},
	"pattern-in-traffic":     {catNetwork, true, "", splitNone},
	"pdb":                    {catArtifacts, false, "", splitNone},
	"port":                   {catNetwork, false, "", splitNone},
	"regkey":                 {catPersistence, true, "", splitNone},
	"regkey|value":           {catPersistence, true, "", splitNone},
	"sha224":                 {catDelivery, true, "", splitNone},
	"sha384":                 {catDelivery, true, "", splitNone},
	"sigma":                  {catInstallation, true, "", splitNone},
	"snort":                  {catNetwork, true, "", splitNone},
	"ssdeep":                 {catDelivery, true, "", splitNone},
	"stix2-pattern":          {catInstallation, true, indicator.STIXPattern, splitPattern},
	"text":                   {catOther, false, "", splitNone},
	"threat-actor":           {catAttribution, false, "", splitNone},
	"tlsh":                   {catDelivery, true, "", splitNone},
	"uri":                    {catNetwork, true, "", splitNone}, // a path without a host: not a url
	"user-agent":             {catNetwork, false, "", splitNone},
	"vulnerability":          {catExternal, false, "", splitNone},
	"whois-registrant-email": {catAttribution, false, "", splitNone},
	"x509-fingerprint-md5":   {catNetwork, true, "", splitNone},
	"yara":                   {catInstallation, true, "", splitNone},
}

// categoryTypes is MISP's category_type_mappings, restricted to the types
// in the table.
var categoryTypes = map[string][]string{
	catAntivirus: {"link", "comment", "text", "hex", "attachment", "other"},
	catArtifacts: {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "imphash", "filename",
		"filename|md5", "filename|sha1", "filename|sha256", "filename|sha512", "regkey", "regkey|value",
		"pattern-in-file", "pattern-in-memory", "pdb", "stix2-pattern", "yara", "sigma", "attachment",
		"malware-sample", "named pipe", "mutex", "comment", "text", "hex", "x509-fingerprint-sha1",
		"x509-fingerprint-md5", "x509-fingerprint-sha256", "other", "cookie"},
	catAttribution: {"threat-actor", "campaign-name", "campaign-id", "whois-registrant-email", "comment", "text",
		"x509-fingerprint-sha1", "x509-fingerprint-md5", "x509-fingerprint-sha256", "other", "email"},
	catExternal: {"md5", "sha1", "sha256", "filename", "filename|md5", "filename|sha1", "filename|sha256",
		"ip-src", "ip-dst", "ip-dst|port", "ip-src|port", "mac-address", "hostname", "domain", "domain|ip", "url",
		"user-agent", "regkey", "regkey|value", "AS", "snort", "pattern-in-file", "pattern-in-traffic",
		"pattern-in-memory", "vulnerability", "attachment", "malware-sample", "link", "comment", "text",
		"x509-fingerprint-sha1", "x509-fingerprint-md5", "x509-fingerprint-sha256", "ja3-fingerprint-md5",
		"jarm-fingerprint", "hassh-md5", "hasshserver-md5", "other"},
	catFinancial: {"comment", "text", "other", "hex"},
	catInternal:  {"text", "link", "comment", "other", "hex"},
	catNetwork: {"ip-src", "ip-dst", "ip-dst|port", "ip-src|port", "port", "hostname", "domain", "domain|ip",
		"mac-address", "email", "email-dst", "email-src", "url", "uri", "user-agent", "http-method", "AS", "snort",
		"pattern-in-file", "stix2-pattern", "pattern-in-traffic", "attachment", "comment", "text",
		"x509-fingerprint-md5", "x509-fingerprint-sha1", "x509-fingerprint-sha256", "ja3-fingerprint-md5",
		"jarm-fingerprint", "hassh-md5", "hasshserver-md5", "other", "hex", "cookie", "hostname|port", "email-subject"},
	catOther: {"comment", "text", "other", "port", "hex"},
	catDelivery: {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "imphash", "tlsh", "filename",
		"filename|md5", "filename|sha1", "filename|sha256", "filename|sha512", "mac-address", "ip-src", "ip-dst",
		"ip-dst|port", "ip-src|port", "hostname", "domain", "email", "email-src", "email-dst", "email-subject",
		"email-attachment", "email-body", "url", "user-agent", "AS", "pattern-in-file", "pattern-in-traffic",
		"stix2-pattern", "yara", "sigma", "attachment", "malware-sample", "link", "comment", "text", "hex",
		"vulnerability", "x509-fingerprint-sha1", "x509-fingerprint-md5", "x509-fingerprint-sha256",
		"ja3-fingerprint-md5", "jarm-fingerprint", "hassh-md5", "hasshserver-md5", "other", "hostname|port",
		"email-reply-to", "whois-registrant-email"},
	catInstallation: {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "imphash", "tlsh", "filename",
		"filename|md5", "filename|sha1", "filename|sha256", "filename|sha512", "pattern-in-file",
		"pattern-in-traffic", "pattern-in-memory", "stix2-pattern", "yara", "sigma", "vulnerability", "attachment",
		"malware-sample", "comment", "text", "hex", "x509-fingerprint-sha1", "x509-fingerprint-md5",
		"x509-fingerprint-sha256", "other"},
	catPayloadType: {"comment", "text", "other"},
	catPersistence: {"filename", "regkey", "regkey|value", "comment", "text", "other", "hex"},
	catPerson:      {"comment", "text", "other", "email"},
	catSocial:      {"email", "email-src", "email-dst", "comment", "text", "other", "whois-registrant-email"},
	catSupport:     {"link", "text", "attachment", "comment", "other", "hex"},
	catTargeting:   {"comment"},
}

// defaultToIDS is MISP's default to_ids for a type; false for types the
// table does not know.
func defaultToIDS(mispType string) bool { return types[mispType].toIDS }

// HDNType says which indicator type a MISP attribute type gives, and false
// for types that hdn keeps as context only (link, text, comment, filename,
// AS, uri — a path without a host —, regkey, yara, snort, mutex, …).
//
// For the address types (ip-src, ip-dst and their "|port" forms) the type
// returned is ipv4, but the value decides: an IPv6 address is ipv6 and a
// block with a prefix length is cidr (Split does this). Composite types
// give the type of their indicator part: filename|md5 and malware-sample
// give md5, hostname|port hostname, domain|ip domain (and Split returns the
// address as a second indicator).
func HDNType(mispType string) (indicator.Type, bool) {
	ti, ok := types[mispType]
	if !ok || ti.hdn == "" {
		return "", false
	}
	return ti.hdn, true
}

// MISPType is the MISP attribute type and MISP's default category for an
// indicator type. The address types (ipv4, ipv6, cidr) become ip-dst,
// email email-src. MISP has no type for ja3s and ja4: they become "text",
// and ExportEvent tags the attribute hdn:type="ja3s" (or "ja4") so that
// Import reads it back as that type.
func MISPType(t indicator.Type) (mispType, category string) {
	switch t {
	case indicator.IPv4, indicator.IPv6, indicator.CIDR:
		return "ip-dst", catNetwork
	case indicator.Domain:
		return "domain", catNetwork
	case indicator.Hostname:
		return "hostname", catNetwork
	case indicator.URL:
		return "url", catNetwork
	case indicator.Email:
		return "email-src", catDelivery
	case indicator.MD5, indicator.SHA1, indicator.SHA256, indicator.SHA512:
		return string(t), catDelivery
	case indicator.X509SHA1:
		return "x509-fingerprint-sha1", catNetwork
	case indicator.X509SHA256:
		return "x509-fingerprint-sha256", catNetwork
	case indicator.JA3:
		return "ja3-fingerprint-md5", catNetwork
	case indicator.JA3S, indicator.JA4:
		return "text", catNetwork
	case indicator.STIXPattern:
		return "stix2-pattern", catInstallation
	}
	return "text", catOther
}

// Reasons Split refuses an attribute as a whole.
var (
	// ErrContextType: the MISP type gives no indicator (HDNType is false).
	ErrContextType = errors.New("MISP attribute type is context, not an indicator type")
	// ErrComposite: a composite type ("domain|ip", "filename|md5") whose
	// value lacks the "|".
	ErrComposite = errors.New(`composite value has no "|"`)
)

// Part is one indicator a MISP attribute value holds.
type Part struct {
	Type indicator.Type
	// Value is the canonical form; empty when Err is set.
	Value string
	// Err says why the piece was refused: an *indicator.Error.
	Err error
}

// Split canonicalises the indicators in a MISP attribute value: one for
// most types, two for domain|ip (the domain, then the address). Each part
// has its value or the reason it was refused, so one bad half of a
// domain|ip does not lose the other. The error is ErrContextType for a type
// that gives no indicator and ErrComposite for a composite value without
// "|". Values may be defanged.
func Split(mispType, value string) ([]Part, error) {
	ti, ok := types[mispType]
	if !ok || ti.split == splitNone {
		return nil, fmt.Errorf("%w: %.100q", ErrContextType, mispType)
	}
	switch ti.split {
	case splitAddress:
		return []Part{addressPart(value)}, nil
	case splitPattern:
		plain, refused, err := indicator.FromSTIXPattern(value)
		if err != nil {
			return []Part{{Type: indicator.STIXPattern, Err: err}}, nil
		}
		parts := make([]Part, 0, len(plain)+len(refused))
		for _, p := range plain {
			parts = append(parts, Part{Type: p.Type, Value: p.Value})
		}
		for _, err := range refused {
			t := indicator.STIXPattern
			var ie *indicator.Error
			if errors.As(err, &ie) {
				t = ie.Type
			}
			parts = append(parts, Part{Type: t, Err: err})
		}
		return parts, nil
	case splitAddressEnd, splitHostEnd, splitFileHash:
		i := strings.LastIndexByte(value, '|')
		if i < 0 {
			return nil, fmt.Errorf("%w: %s value %.100q", ErrComposite, mispType, value)
		}
		head, tail := value[:i], value[i+1:]
		switch ti.split {
		case splitAddressEnd:
			return []Part{addressPart(head)}, nil
		case splitHostEnd:
			return []Part{plainPart(ti.hdn, head)}, nil
		}
		return []Part{plainPart(ti.hdn, tail)}, nil
	case splitDomainAddr:
		d, a, ok := strings.Cut(value, "|")
		if !ok {
			return nil, fmt.Errorf("%w: %s value %.100q", ErrComposite, mispType, value)
		}
		return []Part{plainPart(indicator.Domain, d), addressPart(a)}, nil
	}
	return []Part{plainPart(ti.hdn, value)}, nil
}

// fileName is the file name of a filename|hash or malware-sample value,
// "" when there is none.
func fileName(mispType, value string) string {
	if types[mispType].split != splitFileHash {
		return ""
	}
	i := strings.LastIndexByte(value, '|')
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(value[:i])
}

func plainPart(t indicator.Type, raw string) Part {
	c, err := indicator.Canonicalize(t, raw)
	if err != nil {
		return Part{Type: t, Err: err}
	}
	if t == indicator.IPv6 && !strings.Contains(c, ":") {
		t = indicator.IPv4 // IPv4-mapped, unmapped by Canonicalize
	}
	return Part{Type: t, Value: c}
}

// addressPart reads an address of either family, or a CIDR block; a block
// of one address (/32, /128) is that address, so that it matches as one.
func addressPart(raw string) Part {
	s := indicator.Refang(strings.TrimSpace(raw))
	t := indicator.IPv4
	switch {
	case strings.Contains(s, "/"):
		t = indicator.CIDR
	case strings.Contains(s, ":"):
		t = indicator.IPv6
	}
	p := plainPart(t, s)
	if p.Err != nil {
		var ie *indicator.Error
		if errors.As(p.Err, &ie) {
			ie.Value = raw
		}
		return p
	}
	if p.Type == indicator.CIDR {
		if pfx, err := netip.ParsePrefix(p.Value); err == nil && pfx.IsSingleIP() {
			p.Value = pfx.Addr().String()
			p.Type = indicator.IPv4
			if pfx.Addr().Is6() {
				p.Type = indicator.IPv6
			}
		}
	}
	return p
}

// TypeDefault is MISP's default category and to_ids (0 or 1) for a type.
type TypeDefault struct {
	DefaultCategory string `json:"default_category"`
	ToIDS           int    `json:"to_ids"`
}

// DescribeTypesResult is what MISP's GET /attributes/describeTypes returns.
type DescribeTypesResult struct {
	Result DescribeTypesBody `json:"result"`
}

// DescribeTypesBody is the body of DescribeTypesResult.
type DescribeTypesBody struct {
	SaneDefaults         map[string]TypeDefault `json:"sane_defaults"`
	Types                []string               `json:"types"`
	Categories           []string               `json:"categories"`
	CategoryTypeMappings map[string][]string    `json:"category_type_mappings"`
}

// DescribeTypes lists the attribute types hdn takes, with MISP's defaults:
// the detection types of HDNType and the context types a hub is likely to
// meet. Import takes any other type too, as context.
func DescribeTypes() DescribeTypesResult {
	b := DescribeTypesBody{
		SaneDefaults:         make(map[string]TypeDefault, len(types)),
		CategoryTypeMappings: make(map[string][]string, len(categoryTypes)),
	}
	for name, ti := range types {
		d := TypeDefault{DefaultCategory: ti.category}
		if ti.toIDS {
			d.ToIDS = 1
		}
		b.SaneDefaults[name] = d
		b.Types = append(b.Types, name)
	}
	slices.Sort(b.Types)
	for c, ts := range categoryTypes {
		b.Categories = append(b.Categories, c)
		b.CategoryTypeMappings[c] = slices.Clone(ts)
	}
	slices.Sort(b.Categories)
	return DescribeTypesResult{Result: b}
}
