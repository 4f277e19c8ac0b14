// Package misp is the pure part of the hub's MISP compatibility (DESIGN.md
// section 8): the MISP event JSON model with MISP's own field names, a
// tolerant parser, the attribute type table in both directions, Import (one
// MISP event into what the hub stores: a report, indicator submissions,
// context and sightings) and ExportEvent (a report and its indicators into
// a MISP event), and the MISP feed layout (manifest.json, hashes.csv,
// <uuid>.json), read from a directory or over HTTP and written atomically.
//
// It holds no store and serves no HTTP: the REST endpoints, the feed poller
// and the command line are built on it. Import and ExportEvent decide no
// visibility: the caller applies the sharing policy before exporting, and
// stores what Import returns through the same checks as every other
// submission. docs/MISP.md documents every mapping decision.
package misp

import (
	"encoding/json"
	"slices"
)

// Event is a MISP event as MISP's JSON writes it: ids, timestamps and enums
// are strings ("id": "12", "timestamp": "1617875568", "distribution": "1"),
// flags are booleans. Decoding is tolerant (see ParseEvent); what hdn does
// not use (galaxies, proposals, correlations, object references) is read
// over and not kept.
type Event struct {
	ID                 string `json:"id,omitempty"`
	OrgcID             string `json:"orgc_id,omitempty"`
	OrgID              string `json:"org_id,omitempty"`
	Date               string `json:"date"` // YYYY-MM-DD
	ThreatLevelID      string `json:"threat_level_id"`
	Info               string `json:"info"`
	Published          bool   `json:"published"`
	UUID               string `json:"uuid"`
	AttributeCount     string `json:"attribute_count,omitempty"`
	Analysis           string `json:"analysis"`
	Timestamp          string `json:"timestamp"` // unix seconds
	Distribution       string `json:"distribution"`
	ProposalEmailLock  bool   `json:"proposal_email_lock"`
	Locked             bool   `json:"locked"`
	PublishTimestamp   string `json:"publish_timestamp"`
	SharingGroupID     string `json:"sharing_group_id,omitempty"`
	DisableCorrelation bool   `json:"disable_correlation"`
	ExtendsUUID        string `json:"extends_uuid"`

	Org          *Org          `json:"Org,omitempty"`
	Orgc         *Org          `json:"Orgc,omitempty"`
	SharingGroup *SharingGroup `json:"SharingGroup,omitempty"`
	Attribute    []Attribute   `json:"Attribute"`
	Object       []Object      `json:"Object"`
	EventReport  []EventReport `json:"EventReport,omitempty"`
	Tag          []Tag         `json:"Tag,omitempty"`
}

// Attribute is a MISP attribute: a category-type-value triplet with its
// flags, tags and sightings.
type Attribute struct {
	ID             string `json:"id,omitempty"`
	EventID        string `json:"event_id,omitempty"`
	ObjectID       string `json:"object_id,omitempty"`
	ObjectRelation string `json:"object_relation,omitempty"`
	UUID           string `json:"uuid"`
	Type           string `json:"type"`
	Category       string `json:"category"`
	Value          string `json:"value"`
	// ToIDS says whether the attribute is meant for detection. When an
	// event leaves it out, it is MISP's default for the type (DescribeTypes).
	ToIDS              bool    `json:"to_ids"`
	Comment            string  `json:"comment"`
	Timestamp          string  `json:"timestamp"`
	Distribution       string  `json:"distribution"`
	SharingGroupID     string  `json:"sharing_group_id,omitempty"`
	Deleted            bool    `json:"deleted"`
	DisableCorrelation bool    `json:"disable_correlation"`
	FirstSeen          *string `json:"first_seen"` // ISO 8601, or null
	LastSeen           *string `json:"last_seen"`

	SharingGroup *SharingGroup `json:"SharingGroup,omitempty"`
	Tag          []Tag         `json:"Tag,omitempty"`
	Sighting     []Sighting    `json:"Sighting,omitempty"`
}

// Object is a MISP object: attributes grouped by a template (a "file" with
// its name and hashes, a "domain-ip" pair).
type Object struct {
	ID              string  `json:"id,omitempty"`
	Name            string  `json:"name"`
	MetaCategory    string  `json:"meta-category"`
	Description     string  `json:"description"`
	TemplateUUID    string  `json:"template_uuid"`
	TemplateVersion string  `json:"template_version"`
	EventID         string  `json:"event_id,omitempty"`
	UUID            string  `json:"uuid"`
	Timestamp       string  `json:"timestamp"`
	Distribution    string  `json:"distribution"`
	SharingGroupID  string  `json:"sharing_group_id,omitempty"`
	Comment         string  `json:"comment"`
	Deleted         bool    `json:"deleted"`
	FirstSeen       *string `json:"first_seen,omitempty"`
	LastSeen        *string `json:"last_seen,omitempty"`

	SharingGroup *SharingGroup `json:"SharingGroup,omitempty"`
	Attribute    []Attribute   `json:"Attribute"`
}

// Tag is a tag on an event or attribute: free text ("phishing") or a
// machine tag from a taxonomy or galaxy ("tlp:amber",
// `misp-galaxy:threat-actor="Sofacy"`).
type Tag struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name"`
	Colour string `json:"colour,omitempty"`
	// Exportable is true when the event leaves it out: a tag that reached
	// us was exported.
	Exportable bool `json:"exportable"`
	// Local marks a tag its instance keeps to itself.
	Local bool `json:"local,omitempty"`
}

// Org is an organisation as MISP names it in Org, Orgc and sightings.
type Org struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	UUID  string `json:"uuid,omitempty"`
	Local bool   `json:"local,omitempty"`
}

// Sighting is one sighting of an attribute. Type "0" is a sighting, "1" a
// false positive, "2" an expiration at DateSighting.
type Sighting struct {
	ID           string `json:"id,omitempty"`
	AttributeID  string `json:"attribute_id,omitempty"`
	EventID      string `json:"event_id,omitempty"`
	OrgID        string `json:"org_id,omitempty"`
	DateSighting string `json:"date_sighting"` // unix seconds
	UUID         string `json:"uuid,omitempty"`
	Source       string `json:"source,omitempty"`
	Type         string `json:"type"`
	// Org is written as "Organisation", as MISP does; "Org" is read too.
	Org *Org `json:"Organisation,omitempty"`
}

// SharingGroup is the sharing group of distribution "4".
type SharingGroup struct {
	ID            string            `json:"id,omitempty"`
	Name          string            `json:"name"`
	UUID          string            `json:"uuid,omitempty"`
	Description   string            `json:"description,omitempty"`
	Releasability string            `json:"releasability,omitempty"`
	Active        bool              `json:"active,omitempty"`
	Organisation  *Org              `json:"Organisation,omitempty"`
	Orgs          []SharingGroupOrg `json:"SharingGroupOrg,omitempty"`
}

// SharingGroupOrg is one member of a sharing group.
type SharingGroupOrg struct {
	ID           string `json:"id,omitempty"`
	OrgID        string `json:"org_id,omitempty"`
	Extend       bool   `json:"extend"`
	Organisation *Org   `json:"Organisation,omitempty"`
}

// EventReport is a Markdown report attached to an event; hdn keeps a
// report's narrative in one.
type EventReport struct {
	ID             string `json:"id,omitempty"`
	UUID           string `json:"uuid"`
	EventID        string `json:"event_id,omitempty"`
	Name           string `json:"name"`
	Content        string `json:"content"`
	Distribution   string `json:"distribution"`
	SharingGroupID string `json:"sharing_group_id,omitempty"`
	Timestamp      string `json:"timestamp"`
	Deleted        bool   `json:"deleted"`
}

// Wrap returns e in MISP's envelope, {"Event": e}, ready for json.Marshal.
func Wrap(e *Event) any { return struct{ Event *Event }{e} }

// The MarshalJSON methods write empty lists as [], as MISP does, where
// MISP always writes the member; encoding/json would write null.

// MarshalJSON writes e with "Attribute" and "Object" always present.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	p.Attribute = nonNil(p.Attribute)
	p.Object = nonNil(p.Object)
	return json.Marshal(p)
}

// MarshalJSON writes o with "Attribute" always present.
func (o Object) MarshalJSON() ([]byte, error) {
	type plain Object
	p := plain(o)
	p.Attribute = nonNil(p.Attribute)
	return json.Marshal(p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clip(s)
}

// Attributes calls fn for every attribute of the event, those of its
// objects included, in document order; obj is nil for an attribute of the
// event itself. It stops when fn returns false.
func (e *Event) Attributes(fn func(obj *Object, a *Attribute) bool) {
	for i := range e.Attribute {
		if !fn(nil, &e.Attribute[i]) {
			return
		}
	}
	for i := range e.Object {
		o := &e.Object[i]
		for j := range o.Attribute {
			if !fn(o, &o.Attribute[j]) {
				return
			}
		}
	}
}
