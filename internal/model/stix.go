package model

import (
	"encoding/json"
	"time"

	"github.com/hdnetwork/hdn/internal/policy"
)

// STIXObject is a STIX 2.1 object the hub keeps as context without modelling
// it — a malware, threat-actor, campaign, intrusion-set, relationship,
// identity, sighting, report or grouping object, or any other type — so
// that it can be served back exactly as it came. It is shared under the TLP
// and audience of the submission that brought it, like an indicator.
type STIXObject struct {
	ID       string          `json:"id"`   // its STIX id, "malware--…"
	Type     string          `json:"type"` // its STIX type, "malware"
	Modified time.Time       `json:"modified"`
	Raw      json.RawMessage `json:"-"` // the object, byte for byte as received
	TLP      policy.TLP      `json:"tlp"`
	Audience policy.Audience `json:"-"`
	Source   string          `json:"-"` // organisation id
	// SubmittedBy is the organisation that submitted it (a partner on
	// behalf of a customer).
	SubmittedBy string    `json:"-"`
	Added       time.Time `json:"added"` // when this version was stored
	// Seq orders objects by when their current version was stored; it
	// only grows, so it is a paging cursor.
	Seq          int64    `json:"seq"`
	GroupMembers []string `json:"-"` // members of Audience.Group, filled by the store
}

// PolicyItem gives the facts the sharing policy decides on.
func (o *STIXObject) PolicyItem() policy.Item {
	return policy.Item{Source: o.Source, TLP: o.TLP, Audience: o.Audience, GroupMembers: o.GroupMembers}
}
