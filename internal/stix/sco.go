package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// SCONamespace is the UUIDv5 namespace of deterministic identifiers of STIX
// Cyber-observable Objects (STIX 2.1 section 2.9).
var SCONamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// ErrInvalidSCO is wrapped by DeterministicID's errors about the object
// itself (as opposed to ErrNotCanonicalizable about one of its values).
var ErrInvalidSCO = errors.New("invalid STIX cyber-observable object")

// scoContributing lists, per SCO type of STIX 2.1 section 6, the ID
// contributing properties in the order the specification gives them (the
// order does not matter for the result: JCS sorts the members). required
// marks a contributing property the type cannot be without, so that an
// object lacking it is refused instead of silently given a random UUID.
var scoContributing = map[string]struct {
	props    []string
	required string
}{
	"artifact":             {props: []string{"hashes", "payload_bin"}},
	"autonomous-system":    {props: []string{"number"}, required: "number"},
	"directory":            {props: []string{"path"}, required: "path"},
	"domain-name":          {props: []string{"value"}, required: "value"},
	"email-addr":           {props: []string{"value"}, required: "value"},
	"email-message":        {props: []string{"from_ref", "subject", "body"}},
	"file":                 {props: []string{"hashes", "name", "extensions", "parent_directory_ref"}},
	"ipv4-addr":            {props: []string{"value"}, required: "value"},
	"ipv6-addr":            {props: []string{"value"}, required: "value"},
	"mac-addr":             {props: []string{"value"}, required: "value"},
	"mutex":                {props: []string{"name"}, required: "name"},
	"network-traffic":      {props: []string{"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"}},
	"process":              {props: nil}, // always UUIDv4 (STIX 2.1 section 6.11)
	"software":             {props: []string{"name", "cpe", "swid", "vendor", "version"}, required: "name"},
	"url":                  {props: []string{"value"}, required: "value"},
	"user-account":         {props: []string{"account_type", "user_id", "account_login"}},
	"windows-registry-key": {props: []string{"key", "values"}},
	"x509-certificate":     {props: []string{"hashes", "serial_number"}},
}

// ContributingProperties returns the ID contributing properties of an SCO
// type as STIX 2.1 defines them, or nil for a type with none (process) and
// for types STIX 2.1 does not define (custom SCOs, SDOs, SROs). The caller
// may modify the result.
func ContributingProperties(scoType string) []string {
	return slices.Clone(scoContributing[scoType].props)
}

// hashPreference is the order in which STIX 2.1 section 2.9 picks the one
// hash that contributes to an identifier.
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// hashNames maps the hash algorithm names of the STIX 2.1 hashing-algorithm-ov
// vocabulary, upper-cased and without hyphens, to their spelling there.
// "sha256" and "SHA256" thus become "SHA-256", as the OASIS python-stix2
// library normalises them before computing an identifier.
var hashNames = map[string]string{
	"MD5":     "MD5",
	"SHA1":    "SHA-1",
	"SHA256":  "SHA-256",
	"SHA512":  "SHA-512",
	"SHA3256": "SHA3-256",
	"SHA3512": "SHA3-512",
	"SSDEEP":  "SSDEEP",
	"TLSH":    "TLSH",
}

func normalHashName(k string) string {
	if n, ok := hashNames[strings.ToUpper(strings.ReplaceAll(k, "-", ""))]; ok {
		return n
	}
	return k
}

// DeterministicID returns the identifier ("type--uuid") of a STIX 2.1
// cyber-observable object given as a JSON object (as encoding/json decodes
// it, or with Go typed values that Canonicalize accepts). Per STIX 2.1
// section 2.9 the UUID is a UUIDv5 in SCONamespace over the RFC 8785
// canonical JSON of an object holding just the type's ID contributing
// properties that are present; with none present (or for a type without
// contributing properties) it is a random UUIDv4.
//
// Choices where the specification leaves room, following the OASIS
// python-stix2 library:
//   - A property that is null or an empty list counts as absent.
//   - hashes contributes a single hash: MD5, else SHA-1, else SHA-256, else
//     SHA-512; known algorithm names are first normalised to the vocabulary
//     spelling ("sha256" → "SHA-256"). Without any of the four, python-stix2
//     takes the first hash in the object's member order, which a Go map does
//     not keep; this takes the name that sorts first in JCS order instead.
//   - Values such as timestamps and references contribute as written; nothing
//     is re-formatted.
//
// An existing "id" member is ignored. The object's type must be a string; a
// type STIX 2.1 does not define gets a UUIDv4.
func DeterministicID(sco map[string]any) (string, error) {
	typ, ok := sco["type"].(string)
	if !ok || typ == "" {
		return "", fmt.Errorf("%w: no type", ErrInvalidSCO)
	}
	def := scoContributing[typ]
	if def.required != "" && isAbsent(sco[def.required]) {
		return "", fmt.Errorf("%w: %s has no %s", ErrInvalidSCO, typ, def.required)
	}
	contributing := map[string]any{}
	for _, p := range def.props {
		v := sco[p]
		if isAbsent(v) {
			continue
		}
		if p == "hashes" {
			h, err := chooseOneHash(v)
			if err != nil {
				return "", fmt.Errorf("%w: %s hashes: %w", ErrInvalidSCO, typ, err)
			}
			v = h
		}
		contributing[p] = v
	}
	if len(contributing) == 0 {
		u, err := uuid.NewRandom()
		if err != nil {
			return "", fmt.Errorf("stix: random uuid: %w", err)
		}
		return typ + "--" + u.String(), nil
	}
	data, err := Canonicalize(contributing)
	if err != nil {
		return "", fmt.Errorf("stix: %s id: %w", typ, err)
	}
	return typ + "--" + uuid.NewSHA1(SCONamespace, data).String(), nil
}

func isAbsent(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	}
	return false
}

// chooseOneHash reduces a hashes dictionary to the one member that
// contributes to an identifier.
func chooseOneHash(v any) (map[string]any, error) {
	var hashes map[string]any
	switch h := v.(type) {
	case map[string]any:
		hashes = h
	case map[string]string:
		hashes = make(map[string]any, len(h))
		for k, s := range h {
			hashes[k] = s
		}
	case json.RawMessage:
		if err := json.Unmarshal(h, &hashes); err != nil {
			return nil, fmt.Errorf("not an object: %w", err)
		}
	default:
		return nil, fmt.Errorf("not an object but %T", v)
	}
	if len(hashes) == 0 {
		return nil, errors.New("empty")
	}
	normal := make(map[string]any, len(hashes))
	for k, val := range hashes {
		n := normalHashName(k)
		// An exact vocabulary spelling wins over a variant of it.
		if _, taken := normal[n]; taken && k != n {
			continue
		}
		normal[n] = val
	}
	for _, name := range hashPreference {
		if val, ok := normal[name]; ok {
			return map[string]any{name: val}, nil
		}
	}
	first := slices.MinFunc(keysOf(normal), compareUTF16)
	return map[string]any{first: normal[first]}, nil
}
