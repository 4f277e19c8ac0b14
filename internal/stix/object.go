package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Object is what the hub reads of one STIX 2.1 object before deciding what
// to make of it; Raw keeps the object exactly as it came.
type Object struct {
	Raw      json.RawMessage
	Type     string
	ID       string
	Created  time.Time // zero when absent (cyber-observables have none)
	Modified time.Time // zero when absent
	// Version is the object's version as TAXII names it: its modified,
	// else its created, as written.
	Version string
	// MarkingRefs are the object_marking_refs, followed by the
	// marking_ref of every granular marking: a TLP marking that covers
	// only part of an object counts for the whole of it, so that sharing
	// never widens what the producer marked (TLPOfObject takes the most
	// restrictive).
	MarkingRefs []string
	Revoked     bool
	// CreatedByRef is the object's created_by_ref: the id of the identity
	// that claims to have written it ("" when absent).
	CreatedByRef string
	// Name, Description and Labels of any object that has them.
	Name        string
	Description string
	Labels      []string
	// ObjectRefs of a report, grouping, note or opinion.
	ObjectRefs []string
	// Indicator holds the indicator properties of an indicator.
	Indicator *IndicatorProps
}

// IndicatorProps are the properties of a STIX indicator the hub uses.
type IndicatorProps struct {
	Pattern         string
	PatternType     string // "stix" when absent
	ValidFrom       time.Time
	ValidUntil      time.Time // zero when absent
	IndicatorTypes  []string
	Confidence      *int
	KillChainPhases []KillChainPhase
}

// KillChainPhase is STIX's kill-chain-phase.
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// Errors of ReadObject; the message adds what and where.
var ErrObject = errors.New("invalid STIX object")

type objectJSON struct {
	Type              *string  `json:"type"`
	ID                *string  `json:"id"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
	GranularMarkings  []struct {
		MarkingRef string `json:"marking_ref"`
	} `json:"granular_markings"`
	Revoked         bool             `json:"revoked"`
	CreatedByRef    string           `json:"created_by_ref"`
	Name            string           `json:"name"`
	Description     string           `json:"description"`
	Labels          []string         `json:"labels"`
	ObjectRefs      []string         `json:"object_refs"`
	Pattern         *string          `json:"pattern"`
	PatternType     string           `json:"pattern_type"`
	ValidFrom       string           `json:"valid_from"`
	ValidUntil      string           `json:"valid_until"`
	IndicatorTypes  []string         `json:"indicator_types"`
	Confidence      *int             `json:"confidence"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases"`
}

// ReadObject reads one STIX object. It checks what the hub relies on: a
// JSON object with a type, an id of the form "type--UUID" (the type
// matching), timestamps in RFC 3339, and, for an indicator, a pattern and a
// valid_from; the error (wrapping ErrObject) says which property is wrong.
// Other properties are not checked: the object is kept as it came.
func ReadObject(raw json.RawMessage) (Object, error) {
	o := Object{Raw: raw}
	var j objectJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return o, fmt.Errorf("%w: %v", ErrObject, err)
	}
	if j.Type == nil || *j.Type == "" {
		return o, fmt.Errorf("%w: no type", ErrObject)
	}
	o.Type = *j.Type
	if j.ID == nil {
		return o, fmt.Errorf("%w: a %s without an id", ErrObject, clip(o.Type))
	}
	o.ID = *j.ID
	prefix, u, ok := strings.Cut(o.ID, "--")
	if !ok || prefix != o.Type {
		return o, fmt.Errorf("%w: id %q is not of the form %s--UUID", ErrObject, clip(o.ID), clip(o.Type))
	}
	if _, err := uuid.Parse(u); err != nil || len(u) != 36 {
		return o, fmt.Errorf("%w: id %q does not end in a UUID", ErrObject, clip(o.ID))
	}
	var err error
	if o.Created, err = optTime("created", j.Created); err != nil {
		return o, err
	}
	if o.Modified, err = optTime("modified", j.Modified); err != nil {
		return o, err
	}
	o.Version = j.Modified
	if o.Version == "" {
		o.Version = j.Created
	}
	o.MarkingRefs, o.Revoked, o.CreatedByRef = j.ObjectMarkingRefs, j.Revoked, j.CreatedByRef
	for _, g := range j.GranularMarkings {
		if g.MarkingRef != "" {
			o.MarkingRefs = append(o.MarkingRefs, g.MarkingRef)
		}
	}
	o.Name, o.Description, o.Labels, o.ObjectRefs = j.Name, j.Description, j.Labels, j.ObjectRefs
	if o.Type != "indicator" {
		return o, nil
	}
	if j.Pattern == nil || *j.Pattern == "" {
		return o, fmt.Errorf("%w: indicator %s has no pattern", ErrObject, o.ID)
	}
	ind := &IndicatorProps{Pattern: *j.Pattern, PatternType: j.PatternType, IndicatorTypes: j.IndicatorTypes,
		Confidence: j.Confidence, KillChainPhases: j.KillChainPhases}
	if ind.PatternType == "" {
		ind.PatternType = "stix"
	}
	if j.ValidFrom == "" {
		// Required by STIX 2.1; STIX 2.0 indicators have it too. Read
		// leniently as the creation time when absent.
		ind.ValidFrom = o.Created
	} else if ind.ValidFrom, err = optTime("valid_from", j.ValidFrom); err != nil {
		return o, err
	}
	if ind.ValidUntil, err = optTime("valid_until", j.ValidUntil); err != nil {
		return o, err
	}
	if ind.Confidence != nil && (*ind.Confidence < 0 || *ind.Confidence > 100) {
		return o, fmt.Errorf("%w: indicator %s: confidence %d is not within 0–100", ErrObject, o.ID, *ind.Confidence)
	}
	o.Indicator = ind
	return o, nil
}

func optTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%w: %s %q is not an RFC 3339 timestamp", ErrObject, name, clip(s))
	}
	return t.UTC(), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// IsTLPObject says whether an object is one of the TLP marking definitions
// (either generation) or the TLP 2.0 extension definition: objects the hub
// maps onto its own TLP and serves from its own copy, not keeps.
func IsTLPObject(o *Object) bool {
	switch o.Type {
	case "marking-definition":
		if _, ok := TLPFromMarking(o.ID); ok {
			return true
		}
		_, ok := TLPFromMarkingObject(o.Raw)
		return ok
	case "extension-definition":
		return o.ID == TLP2ExtensionID
	}
	return false
}

// killChainTag is the tag prefix that keeps an hdn indicator's STIX
// kill-chain phases: "kill-chain:<kill_chain_name>:<phase_name>".
const killChainTag = "kill-chain:"

// KillChainTag is the hdn tag that keeps one kill-chain phase.
func KillChainTag(p KillChainPhase) string {
	return killChainTag + p.KillChainName + ":" + p.PhaseName
}

// KillChainPhases reads kill-chain phases back from hdn tags; other tags
// are ignored.
func KillChainPhases(tags []string) []KillChainPhase {
	var out []KillChainPhase
	for _, t := range tags {
		rest, ok := strings.CutPrefix(t, killChainTag)
		if !ok {
			continue
		}
		if name, phase, ok := strings.Cut(rest, ":"); ok && name != "" && phase != "" {
			out = append(out, KillChainPhase{KillChainName: name, PhaseName: phase})
		}
	}
	return out
}
