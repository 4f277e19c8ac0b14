package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/stix"
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

// tlpLevels are the levels an indicator may be marked with, in the order
// their marking definitions follow the indicators in a bundle. The ids and
// the objects themselves, verbatim as OASIS publishes them, come from
// package stix.
var tlpLevels = []policy.TLP{policy.Clear, policy.Green, policy.Amber, policy.AmberStrict, policy.Red}

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
	Type              string                `json:"type"`
	SpecVersion       string                `json:"spec_version"`
	ID                string                `json:"id"`
	CreatedByRef      string                `json:"created_by_ref"`
	Created           string                `json:"created"`
	Modified          string                `json:"modified"`
	Name              string                `json:"name"`
	Description       string                `json:"description,omitempty"`
	IndicatorTypes    []string              `json:"indicator_types,omitempty"`
	Pattern           string                `json:"pattern"`
	PatternType       string                `json:"pattern_type"`
	PatternVersion    string                `json:"pattern_version"`
	ValidFrom         string                `json:"valid_from"`
	ValidUntil        string                `json:"valid_until,omitempty"`
	Labels            []string              `json:"labels,omitempty"`
	Confidence        int                   `json:"confidence,omitempty"`
	KillChainPhases   []stix.KillChainPhase `json:"kill_chain_phases,omitempty"`
	Revoked           bool                  `json:"revoked,omitempty"`
	ObjectMarkingRefs []string              `json:"object_marking_refs,omitempty"`
	// Quarantined (x_hdn_quarantined) marks an indicator in quarantine,
	// whose valid_until is then the quarantine's time (quarantineUntil).
	Quarantined bool `json:"x_hdn_quarantined,omitempty"`
}

type stixEncoder struct {
	w        *writer
	opt      Options
	identity string
	used     [5]bool // tlpLevels used
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
// tlpLevels it uses (-1: none).
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
	until := ind.ValidUntil
	if ind.Quarantined {
		until, o.Quarantined = quarantineUntil(until, modified, validFrom), true
	}
	if !until.IsZero() && until.Truncate(time.Millisecond).After(validFrom.Truncate(time.Millisecond)) {
		o.ValidUntil = stixTime(until)
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
	o.KillChainPhases = stix.KillChainPhases(ind.Tags)
	level := slices.Index(tlpLevels, ind.TLP)
	if level >= 0 {
		v2, v1 := stix.MarkingIDs(ind.TLP)
		o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, v2)
		if v1 != "" {
			o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, v1)
		}
	}
	return o, level, true
}

// quarantineUntil is the valid_until of a quarantined indicator: its
// modified time (when it was quarantined, or a later change while in
// quarantine), or its own valid_until when that came first. STIX has no
// suspension: revoked is for good (a release would need a new object), so
// a quarantined indicator is one that stopped being valid, and a release —
// a change, hence a newer version — is valid again. valid_until must be
// later than valid_from, so a quarantine before valid_from gives the
// millisecond after it.
func quarantineUntil(until, modified, validFrom time.Time) time.Time {
	if until.IsZero() || modified.Before(until) {
		until = modified
	}
	if floor := validFrom.Truncate(time.Millisecond).Add(time.Millisecond); until.Before(floor) {
		until = floor
	}
	return until
}

func (e *stixEncoder) end() (int, error) {
	n := 0
	// The objects kept as context, as they came, after the indicators.
	if e.opt.STIXObjects != nil {
		for raw, err := range e.opt.STIXObjects {
			if err != nil {
				return n, fmt.Errorf("export stix: reading kept objects: %w", err)
			}
			var head struct {
				ObjectMarkingRefs []string `json:"object_marking_refs"`
			}
			if json.Unmarshal(raw, &head) != nil {
				continue
			}
			for _, ref := range head.ObjectMarkingRefs {
				if t, ok := stix.TLPFromMarking(ref); ok {
					e.used[slices.Index(tlpLevels, t)] = true
				}
			}
			e.object(json.RawMessage(raw), false)
			n++
		}
	}
	any2 := false
	for _, u := range e.used {
		any2 = any2 || u
	}
	// The marking definitions the indicators refer to: the TLP 2.0
	// extension definition and TLP 2.0 markings, then TLP 1.0 ones.
	var ids []string
	if any2 {
		ids = append(ids, stix.TLP2ExtensionID)
	}
	var tlp1 []string
	for i, t := range tlpLevels {
		if !e.used[i] {
			continue
		}
		v2, v1 := stix.MarkingIDs(t)
		ids = append(ids, v2)
		if v1 != "" {
			tlp1 = append(tlp1, v1)
		}
	}
	ids = append(ids, tlp1...)
	for _, id := range ids {
		obj, ok := stix.MarkingObject(id)
		if !ok {
			return n, fmt.Errorf("export: no STIX object for marking %s", id)
		}
		e.object(obj, false)
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
	case indicator.STIXPattern:
		return v, true // canonical, as stored
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
