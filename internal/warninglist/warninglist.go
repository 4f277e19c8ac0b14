// Package warninglist screens indicator submissions against warninglists in
// MISP's format (DESIGN.md section 10). A list is of one of two kinds:
// Refuse (the value is benign in itself, so sharing it as an indicator is a
// mistake) or Flag (the value lives on popular infrastructure and may well be
// real; it is accepted with the list named and a shorter lifetime).
//
// A Set is built once (Default, LoadDir, With, WithKinds) and then only read:
// Check runs on every submitted indicator and does no I/O.
//
// # Matching
//
// Values given to Check are canonical (package indicator). Per list type:
//
//   - hostname: a domain or hostname hits when it equals an entry or is a
//     sub-domain of one. Entries are lower-cased and a leading "." or "*." and
//     a trailing "." are dropped. The lookup is one map probe per dot-suffix
//     of the value.
//   - string: exact match; case-insensitive for every indicator type except
//     url and ja4. Entries that are URLs are also stored in their canonical
//     form. An exact match on a hostname list counts too, for any type.
//   - substring: an entry occurs in the value (case-insensitive as above).
//   - cidr: an ipv4 or ipv6 value lies inside an entry; a cidr value overlaps
//     an entry (one contains the other). Bare addresses are /32 or /128.
//   - regex: a Go (RE2) regular expression matches the value; MISP's PHP
//     form with delimiters ("/^foo$/i") is accepted.
//
// Per indicator type:
//
//   - url: the whole URL is checked against string, substring and regex lists
//     that apply to urls; its host against hostname and string lists (as a
//     hostname) or, when it is an IP address, against cidr and string lists.
//     A hit on the host name from a Refuse list is reported as Flag when the
//     URL has a path other than "/" or a query: a phishing form on a
//     document-sharing site is a possible indicator, the site is not.
//   - email: the whole address is checked against string, substring and regex
//     lists; its domain against hostname lists, and such hits are always Flag
//     (a phishing sender at a free-mail domain is a real indicator).
//
// A list's matching_attributes (MISP attribute types) restrict the indicator
// types it applies to; see [ListInfo.Types]. For a URL's host, a list that
// applies to url, domain or hostname applies; for an email's domain, one that
// applies to email, domain or hostname.
//
// # Delegating lists
//
// Some hostname lists name zones whose sub-domains are handed out to anyone:
// dynamic-DNS providers, free web hosting. Such a list has Delegates set.
// A strict sub-domain of one of its entries, at least as many labels below
// it as the zone's customers' names lie (one, unless customerZones says
// more: amazonaws.com's are three below), belongs to a customer, not to the
// provider, so refuse hits on the zone or on a parent of it (a top-sites list
// that names "duckdns.org") are reported as Flag. The entry itself, a name
// less deep (elb.amazonaws.com, s3.eu-west-2.amazonaws.com) and www directly
// under the zone are the provider's own and are refused, whatever the
// list's kind.
//
// # Domains above an entry
//
// A domain indicator matches every name under it, so a domain value that is
// a parent of a hostname entry hits that list too, with its kind (refused,
// whatever the kind, when the entry is a delegating zone), as a cidr value
// that contains an entry does.
package warninglist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is what a hit on a list does to a submission.
type Kind string

// The kinds of list.
const (
	// Refuse: the value is benign in itself; it is refused unless a
	// coordinator overrides.
	Refuse Kind = "refuse"
	// Flag: the value is suspicious but possible; it is accepted with the
	// list named and a shorter default lifetime.
	Flag Kind = "flag"
)

// ParseKind reads a kind ("refuse" or "flag", case-insensitive).
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if !k.valid() {
		return "", fmt.Errorf("warninglist kind %q is neither %q nor %q", s, Refuse, Flag)
	}
	return k, nil
}

func (k Kind) valid() bool { return k == Refuse || k == Flag }

// The MISP list types.
const (
	typeString    = "string"
	typeSubstring = "substring"
	typeHostname  = "hostname"
	typeCIDR      = "cidr"
	typeRegex     = "regex"
)

// Limits on what Parse accepts. They bound memory at load time and, for
// substring and regex lists, whose entries are tried one by one, the time
// Check takes per value.
const (
	MaxEntries          = 2_000_000
	MaxEntryLen         = 4096
	MaxRegexLen         = 1024
	MaxRegexEntries     = 1_000
	MaxSubstringEntries = 10_000
)

// List is one warninglist in MISP's JSON format:
//
//	{"name": "...", "description": "...", "version": 1, "type": "cidr",
//	 "list": ["10.0.0.0/8", ...], "matching_attributes": ["ip-src", "ip-dst"]}
//
// Build it with Parse (or LoadDir, Default). Parse compiles the entries for
// matching; changing Type, Entries or MatchingAttributes afterwards has no
// effect on matching (NewSet refuses a list whose Type was changed). Name,
// Kind and Delegates are read by NewSet and may be set before it.
type List struct {
	// Name identifies the list in hits, in WithKinds and in the API. Parse
	// takes MISP's "name"; LoadDir and Default use the file's name
	// ("amazon-aws" for amazon-aws.json or amazon-aws/list.json) and keep
	// MISP's "name" in Title.
	Name string
	// Title is MISP's "name", a human-readable title.
	Title       string
	Description string
	Version     int
	// Type is how the list is matched: MISP's "type", unless the shipped
	// kinds table says otherwise (a "string" list of host names matched as
	// "hostname").
	Type               string
	Entries            []string
	MatchingAttributes []string
	Kind               Kind
	// Delegates marks a hostname list whose entries are zones handing out
	// sub-domains to anyone (see the package documentation).
	Delegates bool

	c *compiled
}

// ParseError says what is wrong with a warninglist. Entry numbers count
// from 1 in the order of MISP's "list" array.
type ParseError struct {
	List   string // the list's name, when it is known
	Field  string // the JSON field, when the problem is with one
	Entry  int    // the entry (from 1), when the problem is with one
	Value  string // the offending value, cut to 100 characters
	Reason string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.List != "" {
		fmt.Fprintf(&b, "list %q: ", e.List)
	} else {
		b.WriteString("warninglist: ")
	}
	switch {
	case e.Entry > 0:
		fmt.Fprintf(&b, "entry %d %q ", e.Entry, e.Value)
	case e.Field != "" && e.Value != "":
		fmt.Fprintf(&b, "field %q: %q ", e.Field, e.Value)
	case e.Field != "":
		fmt.Fprintf(&b, "field %q ", e.Field)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// listJSON is MISP's format (schema.json of misp-warninglists, which allows
// no other fields).
type listJSON struct {
	Name               *string   `json:"name"`
	Description        string    `json:"description"`
	Version            int       `json:"version"`
	Type               *string   `json:"type"`
	List               *[]string `json:"list"`
	MatchingAttributes []string  `json:"matching_attributes"`
}

// Parse reads one warninglist in MISP's JSON format and compiles it. Unknown
// fields are errors, as are a missing "name", "type" or "list", a type other
// than string, substring, hostname, cidr or regex, and any entry that cannot
// be matched as its type says (a cidr entry that is not an address or CIDR
// block, a regex Go cannot compile). Every error is a *ParseError naming the
// field or entry. Limits: MaxEntries entries of at most MaxEntryLen bytes;
// regex entries at most MaxRegexLen bytes and MaxRegexEntries per list;
// MaxSubstringEntries per substring list.
func Parse(data []byte, kind Kind) (*List, error) {
	return parse(data, kind, listSpec{})
}

// listSpec is what the kinds table (or a loader) says about a list beyond
// its file: its name, its semantics, whether it delegates.
type listSpec struct {
	name      string // the name to give the list; "" keeps MISP's
	kind      Kind   // "" keeps the kind given to Parse
	match     string // the type to match it as; "" keeps MISP's
	delegates bool
}

func parse(data []byte, kind Kind, spec listSpec) (*List, error) {
	perr := func(field, value, reason string) error {
		return &ParseError{List: spec.name, Field: field, Value: clip(value), Reason: reason}
	}
	if spec.kind != "" {
		kind = spec.kind
	}
	if !kind.valid() {
		return nil, perr("", "", fmt.Sprintf("kind %q is neither %q nor %q", kind, Refuse, Flag))
	}
	var j listJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, jsonError(spec.name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, perr("", "", "is not valid JSON: data after the list object")
	}
	l := &List{Name: spec.name, Description: j.Description, Version: j.Version,
		MatchingAttributes: j.MatchingAttributes, Kind: kind, Delegates: spec.delegates}
	if j.Name == nil || strings.TrimSpace(*j.Name) == "" {
		return nil, perr("name", "", "is missing or empty")
	}
	l.Title = *j.Name
	if l.Name == "" {
		l.Name = *j.Name
	}
	if j.Type == nil {
		return nil, &ParseError{List: l.Name, Field: "type", Reason: "is missing"}
	}
	l.Type = *j.Type
	if !knownType(l.Type) {
		return nil, &ParseError{List: l.Name, Field: "type", Value: clip(l.Type),
			Reason: "is not one of string, substring, hostname, cidr, regex"}
	}
	if spec.match != "" {
		l.Type = spec.match
	}
	if l.Delegates && l.Type != typeHostname {
		return nil, &ParseError{List: l.Name, Reason: fmt.Sprintf("only a hostname list can delegate, this one is matched as %q", l.Type)}
	}
	if j.List == nil {
		return nil, &ParseError{List: l.Name, Field: "list", Reason: "is missing"}
	}
	l.Entries = *j.List
	if n := len(l.Entries); n > MaxEntries {
		return nil, &ParseError{List: l.Name, Field: "list", Reason: fmt.Sprintf("has %d entries; at most %d are allowed", n, MaxEntries)}
	}
	for i, a := range l.MatchingAttributes {
		if strings.TrimSpace(a) == "" {
			return nil, &ParseError{List: l.Name, Field: "matching_attributes",
				Reason: fmt.Sprintf("has an empty attribute type at position %d", i+1)}
		}
	}
	c, err := compile(l)
	if err != nil {
		return nil, err
	}
	l.c = c
	return l, nil
}

func knownType(t string) bool {
	switch t {
	case typeString, typeSubstring, typeHostname, typeCIDR, typeRegex:
		return true
	}
	return false
}

// jsonError turns an encoding/json error into a ParseError that names the
// field.
func jsonError(name string, err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
	)
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		if strings.HasPrefix(field, "list") || strings.HasPrefix(field, "matching_attributes") {
			field, _, _ = strings.Cut(field, ".")
		}
		return &ParseError{List: name, Field: field, Reason: fmt.Sprintf("holds a JSON %s where %s is wanted", te.Value, jsonKind(te.Type.String()))}
	case errors.As(err, &se):
		return &ParseError{List: name, Reason: fmt.Sprintf("is not valid JSON: %v (at byte %d)", se, se.Offset)}
	case errors.Is(err, io.EOF):
		return &ParseError{List: name, Reason: "is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ParseError{List: name, Reason: "is not valid JSON: it ends too early"}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return &ParseError{List: name, Field: f, Reason: "is not a field of MISP's warninglist format"}
	}
	return &ParseError{List: name, Reason: "is not valid JSON: " + msg}
}

func jsonKind(goType string) string {
	switch goType {
	case "string", "*string":
		return "a string"
	case "int":
		return "an integer"
	case "[]string", "*[]string":
		return "an array of strings"
	}
	return "a " + goType
}

// maxQuoted is how much of an offending value an error quotes.
const maxQuoted = 100

// clip cuts s to maxQuoted characters so that one bad entry cannot blow up a
// log line.
func clip(s string) string {
	i := 0
	for k := 0; k < maxQuoted; k++ {
		if i >= len(s) {
			return s
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	if i >= len(s) {
		return s
	}
	return s[:i] + "…"
}
