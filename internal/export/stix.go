package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// STIX 2.1 bundle: the hub's identity, one indicator per hdn indicator
// (id indicator--<hdn id>, a STIX pattern on the matching cyber-observable),
// and the TLP marking definitions the indicators refer to. Every indicator
// is marked with the official TLP 2.0 marking definition of its level and,
// where TLP 1.0 has the same level, with the predefined TLP 1.0 one too, for
// consumers that know only TLP 1.0 (amber+strict has no TLP 1.0
// equivalent). JA3, JA3S and JA4 have no STIX cyber-observable and are
// skipped.

// stixNamespace is the UUIDv5 namespace of the ids this package derives:
// UUIDv5(URL namespace, "urn:hdn:stix").
var stixNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:hdn:stix"))

// HubIdentityID is the STIX id of the identity of the hub named name:
// identity--UUIDv5(stixNamespace, "identity:"+name). Other STIX outputs of
// the hub (TAXII) use it so that created_by_ref agrees everywhere.
func HubIdentityID(name string) string {
	return "identity--" + uuid.NewSHA1(stixNamespace, []byte("identity:"+name)).String()
}

// identityCreated is the fixed created and modified time of the hub
// identity: it is the same object in every export.
const identityCreated = "2020-01-01T00:00:00.000Z"

// The TLP 2.0 marking definitions (OASIS cti-stix-common-objects,
// extension-definition-specifications/tlp-2.0) and the TLP 1.0 ones
// predefined by STIX 2.1 (section 7.2.1.4).
const (
	tlp2ExtensionID      = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
	tlp2ExtensionCreator = "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01"
	tlp2Created          = "2022-10-01T00:00:00.000Z"
	tlp1Created          = "2017-01-20T00:00:00.000Z"
)

type tlpMarking struct {
	level policy.TLP
	name  string // "TLP:AMBER+STRICT"
	v2    string // TLP 2.0 marking-definition id
	v1    string // TLP 1.0 marking-definition id, "" when none
	v1tlp string // TLP 1.0 definition.tlp
}

var tlpMarkings = []tlpMarking{
	{policy.Clear, "TLP:CLEAR", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"},
	{policy.Green, "TLP:GREEN", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"},
	{policy.Amber, "TLP:AMBER", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber"},
	{policy.AmberStrict, "TLP:AMBER+STRICT", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "", ""},
	{policy.Red, "TLP:RED", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"},
}

// indicatorTypes is STIX 2.1's indicator-type-ov: labels from it become
// indicator_types, the others stay labels.
var indicatorTypes = map[string]bool{
	"anomalous-activity": true, "anonymization": true, "benign": true, "compromised": true,
	"malicious-activity": true, "attribution": true, "unknown": true,
}

type stixIdentity struct {
	Type          string   `json:"type"`
	SpecVersion   string   `json:"spec_version"`
	ID            string   `json:"id"`
	Created       string   `json:"created"`
	Modified      string   `json:"modified"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	IdentityClass string   `json:"identity_class"`
	Sectors       []string `json:"sectors"`
}

type stixIndicator struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	CreatedByRef      string   `json:"created_by_ref"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	Name              string   `json:"name"`
	Description       string   `json:"description,omitempty"`
	IndicatorTypes    []string `json:"indicator_types,omitempty"`
	Pattern           string   `json:"pattern"`
	PatternType       string   `json:"pattern_type"`
	PatternVersion    string   `json:"pattern_version"`
	ValidFrom         string   `json:"valid_from"`
	ValidUntil        string   `json:"valid_until,omitempty"`
	Labels            []string `json:"labels,omitempty"`
	Confidence        int      `json:"confidence,omitempty"`
	Revoked           bool     `json:"revoked,omitempty"`
	ObjectMarkingRefs []string `json:"object_marking_refs,omitempty"`
}

type stixExtensionDefinition struct {
	ID             string   `json:"id"`
	Type           string   `json:"type"`
	SpecVersion    string   `json:"spec_version"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Created        string   `json:"created"`
	Modified       string   `json:"modified"`
	CreatedByRef   string   `json:"created_by_ref"`
	Schema         string   `json:"schema"`
	Version        string   `json:"version"`
	ExtensionTypes []string `json:"extension_types"`
}

type stixTLP2Marking struct {
	Type        string                       `json:"type"`
	SpecVersion string                       `json:"spec_version"`
	ID          string                       `json:"id"`
	Created     string                       `json:"created"`
	Name        string                       `json:"name"`
	Extensions  map[string]stixTLP2Extension `json:"extensions"`
}

type stixTLP2Extension struct {
	ExtensionType string `json:"extension_type"`
	TLP           string `json:"tlp_2_0"`
}

type stixTLP1Marking struct {
	Type           string            `json:"type"`
	SpecVersion    string            `json:"spec_version"`
	ID             string            `json:"id"`
	Created        string            `json:"created"`
	DefinitionType string            `json:"definition_type"`
	Name           string            `json:"name"`
	Definition     map[string]string `json:"definition"`
}

type stixEncoder struct {
	w        *writer
	opt      Options
	identity string
	used     [5]bool // tlpMarkings used
	buf      bytes.Buffer
	enc      *json.Encoder
}

func newSTIXEncoder(w *writer, opt Options) *stixEncoder {
	e := &stixEncoder{w: w, opt: opt, identity: HubIdentityID(opt.HubName)}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// object writes one object of the objects array, after a comma unless it is
// the first.
func (e *stixEncoder) object(v any, first bool) {
	e.buf.Reset()
	if !first {
		e.buf.WriteString(",\n")
	}
	if err := e.enc.Encode(v); err != nil {
		if e.w.err == nil {
			e.w.err = err
		}
		return
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	e.w.Write(e.buf.Bytes())
}

func (e *stixEncoder) begin() error {
	bundle := "bundle--" + uuid.NewSHA1(stixNamespace, []byte("bundle:"+e.opt.HubName+"@"+e.opt.Now.Format(time.RFC3339Nano))).String()
	e.w.str(`{"type":"bundle","id":"` + bundle + `","objects":[` + "\n")
	e.object(stixIdentity{
		Type: "identity", SpecVersion: "2.1", ID: e.identity,
		Created: identityCreated, Modified: identityCreated,
		Name:          e.opt.HubName,
		Description:   "Healthcare Detection Network hub",
		IdentityClass: "organization",
		Sectors:       []string{"healthcare"},
	}, true)
	return e.w.err
}

func (e *stixEncoder) add(ind *model.Indicator) (int, bool) {
	o, level, ok := stixIndicatorObject(ind, e.identity, e.opt.Now)
	if !ok {
		return 0, false
	}
	if level >= 0 {
		e.used[level] = true
	}
	e.object(o, false)
	return 1, true
}

// ErrNotExpressible is returned by STIXIndicator for an indicator that STIX
// cannot express (JA3, JA3S, JA4; a value that is not valid UTF-8).
var ErrNotExpressible = errors.New("export: indicator not expressible in STIX 2.1")

// STIXIndicator is the STIX 2.1 indicator object of one hdn indicator, as
// the STIX export writes it: created by the identity of the hub named
// hubName (HubIdentityID), marked with the TLP marking definitions of its
// level. Other STIX outputs of the hub (TAXII) use it so that an object is
// the same everywhere.
func STIXIndicator(ind *model.Indicator, hubName string) (json.RawMessage, error) {
	o, _, ok := stixIndicatorObject(ind, HubIdentityID(hubName), ind.Modified)
	if !ok {
		return nil, ErrNotExpressible
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// stixIndicatorObject builds the indicator object of ind and says which of
// tlpMarkings it uses (-1: none).
func stixIndicatorObject(ind *model.Indicator, identity string, now time.Time) (stixIndicator, int, bool) {
	pattern, ok := stixPattern(ind)
	if !ok || !utf8.ValidString(ind.Description) {
		return stixIndicator{}, -1, false
	}
	created := firstSet(ind.Created, ind.ValidFrom, now)
	modified := firstSet(ind.Modified, created)
	if modified.Before(created) {
		modified = created
	}
	validFrom := firstSet(ind.ValidFrom, created)
	o := stixIndicator{
		Type: "indicator", SpecVersion: "2.1", ID: stixIndicatorID(ind.ID),
		CreatedByRef: identity,
		Created:      stixTime(created), Modified: stixTime(modified),
		Name:        ind.Value,
		Description: ind.Description,
		Pattern:     pattern, PatternType: "stix", PatternVersion: "2.1",
		ValidFrom:  stixTime(validFrom),
		Confidence: min(max(ind.Confidence, 0), 100),
		Revoked:    ind.Revoked,
	}
	if !ind.ValidUntil.IsZero() && ind.ValidUntil.Truncate(time.Millisecond).After(validFrom.Truncate(time.Millisecond)) {
		o.ValidUntil = stixTime(ind.ValidUntil)
	}
	for _, l := range ind.Labels {
		if !utf8.ValidString(l) || l == "" {
			continue
		}
		if indicatorTypes[l] {
			o.IndicatorTypes = append(o.IndicatorTypes, l)
		} else {
			o.Labels = append(o.Labels, l)
		}
	}
	level := -1
	for i, m := range tlpMarkings {
		if m.level == ind.TLP {
			level = i
			o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, m.v2)
			if m.v1 != "" {
				o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, m.v1)
			}
		}
	}
	return o, level, true
}

func (e *stixEncoder) end() (int, error) {
	n := 0
	any2 := false
	for _, u := range e.used {
		any2 = any2 || u
	}
	if any2 {
		e.object(stixExtensionDefinition{
			ID: tlp2ExtensionID, Type: "extension-definition", SpecVersion: "2.1",
			Name: "TLP 2.0", Description: "This defines TLP 2.0 as a STIX extension",
			Created: tlp2Created, Modified: tlp2Created, CreatedByRef: tlp2ExtensionCreator,
			Schema:         "https://github.com/oasis-open/cti-stix-common-objects/tree/master/extension-definition-specifications/tlp-2.0",
			Version:        "1.0.0",
			ExtensionTypes: []string{"property-extension"},
		}, false)
		n++
	}
	for i, m := range tlpMarkings {
		if !e.used[i] {
			continue
		}
		e.object(stixTLP2Marking{
			Type: "marking-definition", SpecVersion: "2.1", ID: m.v2, Created: tlp2Created, Name: m.name,
			Extensions: map[string]stixTLP2Extension{tlp2ExtensionID: {ExtensionType: "property-extension", TLP: string(m.level)}},
		}, false)
		n++
	}
	for i, m := range tlpMarkings {
		if !e.used[i] || m.v1 == "" {
			continue
		}
		e.object(stixTLP1Marking{
			Type: "marking-definition", SpecVersion: "2.1", ID: m.v1, Created: tlp1Created,
			DefinitionType: "tlp", Name: "TLP:" + strings.ToUpper(m.v1tlp), Definition: map[string]string{"tlp": m.v1tlp},
		}, false)
		n++
	}
	e.w.str("\n]}\n")
	return n + 1, e.w.err // and the identity
}

// stixIndicatorID is indicator--<hdn id> when the id is a UUID (it always
// is in the hub), else an id derived from it.
func stixIndicatorID(id string) string {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return "indicator--" + u.String()
	}
	return "indicator--" + uuid.NewSHA1(stixNamespace, []byte("indicator:"+id)).String()
}

// stixPattern is the STIX pattern of an indicator.
func stixPattern(ind *model.Indicator) (string, bool) {
	v := ind.Value
	if v == "" || !utf8.ValidString(v) {
		return "", false
	}
	var path string
	switch ind.Type {
	case indicator.IPv4, indicator.IPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" || (ind.Type == indicator.IPv4) != a.Is4() {
			return "", false
		}
		path, v = "ipv6-addr:value", a.String()
		if a.Is4() {
			path = "ipv4-addr:value"
		}
	case indicator.CIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", false
		}
		p = p.Masked()
		path, v = "ipv6-addr:value", p.String()
		if p.Addr().Is4() {
			path = "ipv4-addr:value"
		}
	case indicator.Domain, indicator.Hostname:
		path = "domain-name:value"
	case indicator.URL:
		path = "url:value"
	case indicator.Email:
		path = "email-addr:value"
	case indicator.MD5:
		path = "file:hashes.MD5"
	case indicator.SHA1:
		path = "file:hashes.'SHA-1'"
	case indicator.SHA256:
		path = "file:hashes.'SHA-256'"
	case indicator.SHA512:
		path = "file:hashes.'SHA-512'"
	case indicator.X509SHA1:
		path = "x509-certificate:hashes.'SHA-1'"
	case indicator.X509SHA256:
		path = "x509-certificate:hashes.'SHA-256'"
	default:
		return "", false
	}
	return "[" + path + " = '" + stixQuote.Replace(v) + "']", true
}

// stixQuote escapes a string literal of a STIX pattern.
var stixQuote = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// stixTime is a STIX timestamp: UTC, millisecond precision, "Z".
func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
