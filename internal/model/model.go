// Package model holds the plain data of the hub — organisations, keys,
// indicators, reports, changes — shared by the store, the API and the stream.
// It does no I/O and holds no rules beyond simple helpers; canonical forms
// live in package indicator and visibility in package policy.
package model

import (
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/policy"
)

// Org is a participating organisation.
type Org struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Kind    policy.OrgKind `json:"kind"`
	Partner string         `json:"partner,omitempty"` // id of the partner of a customer
	// Status is active, pending (created by a partner, waiting for the
	// coordinator's approval) or suspended; an offboarded organisation is
	// Revoked whatever its status.
	Status  OrgStatus `json:"status"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked"`
}

// OrgStatus is where an organisation stands.
type OrgStatus string

// The organisation statuses.
const (
	OrgActive    OrgStatus = "active"
	OrgPending   OrgStatus = "pending"
	OrgSuspended OrgStatus = "suspended"
)

// Usable says whether the organisation's keys may authenticate.
func (o Org) Usable() bool { return !o.Revoked && (o.Status == OrgActive || o.Status == "") }

// EnrolToken is a one-time token that a sensor exchanges for its own key.
// The secret is never stored, only its hash.
type EnrolToken struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org"`
	Hash      []byte    `json:"-"`
	CreatedBy string    `json:"created_by"` // key id, or "cli"
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Used      time.Time `json:"used,omitzero"`
	KeyID     string    `json:"key_id,omitempty"` // the key it became
}

// SensorInput is one log a sensor reads, as its heartbeat reports it.
type SensorInput struct {
	Path       string  `json:"path"`
	Format     string  `json:"format"`
	Events     int64   `json:"events"`
	LagSeconds float64 `json:"lag_seconds"`
}

// SensorStatus is the last heartbeat of a sensor (one per sensor key).
type SensorStatus struct {
	KeyID           string        `json:"key_id"`
	OrgID           string        `json:"org"`
	Name            string        `json:"name"`
	Version         string        `json:"version"`
	Started         time.Time     `json:"started,omitzero"`
	Inputs          []SensorInput `json:"inputs"`
	EventsPerSecond float64       `json:"events_per_second"`
	LagSeconds      float64       `json:"lag_seconds"`
	Indicators      int           `json:"indicators"`
	Patterns        int           `json:"patterns"`
	LastError       string        `json:"last_error"`
	LastErrorAt     time.Time     `json:"last_error_at,omitzero"`
	LastSeen        time.Time     `json:"last_seen"`
}

// Key is an API key's stored record; the secret itself is never stored, only
// its hash.
type Key struct {
	ID        string      `json:"id"` // public part, shown in listings
	OrgID     string      `json:"org"`
	Role      policy.Role `json:"role"`
	Name      string      `json:"name,omitempty"`
	Hash      []byte      `json:"-"`
	Created   time.Time   `json:"created"`
	ExpiresAt time.Time   `json:"expires_at,omitzero"`
	Revoked   bool        `json:"revoked"`
	LastUsed  time.Time   `json:"last_used,omitzero"`
}

// Usable says whether the key may authenticate at time now.
func (k Key) Usable(now time.Time) bool {
	return !k.Revoked && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// Group is a named sharing group.
type Group struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner"` // organisation id
	Members []string  `json:"members"`
	Created time.Time `json:"created"`
}

// Indicator is an indicator of compromise as stored.
type Indicator struct {
	ID          string          `json:"id"`
	Type        indicator.Type  `json:"type"`
	Value       string          `json:"value"`
	TLP         policy.TLP      `json:"tlp"`
	Audience    policy.Audience `json:"-"`
	Labels      []string        `json:"labels"`
	Description string          `json:"description"`
	Confidence  int             `json:"confidence"`
	ValidFrom   time.Time       `json:"valid_from"`
	ValidUntil  time.Time       `json:"valid_until,omitzero"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastSeen    time.Time       `json:"last_seen"`
	Source      string          `json:"-"` // true source organisation id
	SubmittedBy string          `json:"-"` // organisation that submitted (a partner on behalf of a customer)
	Anonymous   bool            `json:"anonymous"`
	ReportID    string          `json:"report,omitempty"`
	Tags        []string        `json:"tags"`
	Revoked     bool            `json:"revoked"`
	// Quarantined: organisations agreed it is a false positive; it stops
	// matching until the coordinator releases or revokes it.
	Quarantined      bool      `json:"quarantined"`
	QuarantineReason string    `json:"quarantine_reason,omitempty"`
	Created          time.Time `json:"created"`
	Modified         time.Time `json:"modified"`
	// Touched is the time of the indicator's last change entry: a change of
	// the indicator itself (then it equals Modified) or of who may see it
	// (a sharing group's members, its source customer's partner), which
	// leaves Modified alone. Readers of "what changed since" (TAXII
	// added_after, MISP timestamp, since=) go by it, so that an organisation
	// that may newly see an indicator gets it from an incremental pull.
	Touched      time.Time `json:"-"`
	Seq          int64     `json:"seq"` // change sequence of the last change
	GroupMembers []string  `json:"-"`   // members of Audience.Group, filled by the store
	// GroupSet holds the same ids as a set when the indicator is read by
	// many viewers (the stream broker's window); nil otherwise.
	GroupSet *policy.MemberSet `json:"-"`
}

// PolicyItem gives the facts the sharing policy decides on.
func (i *Indicator) PolicyItem() policy.Item {
	return policy.Item{Source: i.Source, TLP: i.TLP, Audience: i.Audience, GroupMembers: i.GroupMembers, GroupSet: i.GroupSet}
}

// Changed is when the indicator last changed for some reader: Touched, or
// Modified when that is later (an indicator not read from a store has no
// Touched).
func (i *Indicator) Changed() time.Time {
	if i.Touched.After(i.Modified) {
		return i.Touched
	}
	return i.Modified
}

// Live says whether the indicator should match at time now.
func (i *Indicator) Live(now time.Time) bool {
	return !i.Revoked && !i.Quarantined && (i.ValidUntil.IsZero() || now.Before(i.ValidUntil))
}

// Signal is what the network has said of an indicator since it was shared:
// the organisations other than its source that sighted it or reported it a
// false positive, and the last sighting.
type Signal struct {
	Sighters       int
	FalsePositives int
	LastSighting   time.Time // the end of the hour of the last sighting; zero: none
}

// SourceRecord is an organisation's track record as a source: how many of
// its named (not anonymous) indicators another organisation sighted, and how many another
// organisation reported false positive or were quarantined.
type SourceRecord struct {
	Confirmed     int
	FalsePositive int
}

// SightingGroup is what organisations sighted, grouped by the report, label
// or threat actor of the indicators, within a window.
type SightingGroup struct {
	By         string // "report", "label" or "actor"
	Key        string
	Orgs       []string // distinct organisations, sorted
	Indicators []string // distinct indicator ids, sorted
	First      time.Time
	Last       time.Time
}

// Alert is a campaign alert for the coordinator: enough organisations
// sighted indicators of one report, label or actor within a window.
type Alert struct {
	ID         string        `json:"id"`
	Kind       string        `json:"kind"` // "campaign"
	By         string        `json:"by"`   // "report", "label" or "actor"
	Key        string        `json:"key"`
	Orgs       []string      `json:"-"` // ids; rendered as a count or names by the policy
	Indicators []string      `json:"-"`
	First      time.Time     `json:"first"`
	Last       time.Time     `json:"last"`
	Raised     time.Time     `json:"raised"`
	Window     time.Duration `json:"-"`
}

// Submission is one canonicalised indicator as submitted; the store creates
// it or, when the same source already has the same type and value, updates it.
type Submission struct {
	Type        indicator.Type
	Value       string // canonical
	TLP         policy.TLP
	Audience    policy.Audience
	Labels      []string
	Description string
	Confidence  int
	ValidFrom   time.Time // zero: now
	ValidUntil  time.Time // zero: none
	Source      string    // organisation id
	SubmittedBy string    // organisation id
	Anonymous   bool
	ReportID    string
	Tags        []string
	// ID, when set, is the id a new indicator takes (a MISP attribute's
	// UUID, so that an event exported again keeps its attribute ids). It is
	// only a wish: an existing indicator keeps its id, and an id already
	// taken by another indicator is replaced by a fresh one.
	ID string
}

// ChangeKind is what happened to an indicator.
type ChangeKind string

// The change kinds.
const (
	Created ChangeKind = "created"
	Updated ChangeKind = "updated"
	Revoked ChangeKind = "revoked"
	Expired ChangeKind = "expired"
)

// Change is one entry of the change sequence, with the indicator as it is
// now (its latest state: a later change to the same indicator follows later
// in the sequence, so a reader that applies changes in order ends right).
type Change struct {
	Seq       int64      `json:"seq"`
	Kind      ChangeKind `json:"kind"`
	At        time.Time  `json:"at"`
	Indicator Indicator  `json:"indicator"`
	// Before holds who could see the indicator before this change, when the
	// change altered it (TLP, audience, group membership), so that a reader
	// who could see it before and cannot now is told to remove it. Nil when
	// the change left visibility alone.
	Before *policy.Item `json:"-"`
	// SameAhead counts the changes directly after this one, in the slice
	// it was read in, whose indicator and Before carry the same policy
	// facts (policy.SameDecision): a reader that may see none of this one
	// may see none of them. Set by the stream broker; 0 elsewhere.
	SameAhead int `json:"-"`
}

// Report groups indicators under a shared title and narrative.
type Report struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Narrative   string   `json:"narrative"`
	ThreatActor string   `json:"threat_actor,omitempty"`
	Campaign    string   `json:"campaign,omitempty"`
	Tags        []string `json:"tags"`
	// Context holds what informs an analyst but is not matched: a MISP
	// attribute with to_ids false, a link, a comment, a file name.
	Context      []ContextAttribute `json:"context,omitempty"`
	TLP          policy.TLP         `json:"tlp"`
	Audience     policy.Audience    `json:"-"`
	Source       string             `json:"-"`
	SubmittedBy  string             `json:"-"`
	Anonymous    bool               `json:"anonymous"`
	Created      time.Time          `json:"created"`
	Modified     time.Time          `json:"modified"`
	GroupMembers []string           `json:"-"`
}

// PolicyItem gives the facts the sharing policy decides on.
func (r *Report) PolicyItem() policy.Item {
	return policy.Item{Source: r.Source, TLP: r.TLP, Audience: r.Audience, GroupMembers: r.GroupMembers}
}

// ContextAttribute is one piece of a report's context: seen by whoever may
// see the report, never handed to a sensor as something to match.
type ContextAttribute struct {
	ID       string `json:"id"`   // UUID (a MISP attribute's uuid when imported)
	Type     string `json:"type"` // MISP attribute type, e.g. "link", "text", "filename", "ip-dst"
	Category string `json:"category,omitempty"`
	Value    string `json:"value"`
	Comment  string `json:"comment,omitempty"`
	Object   string `json:"object,omitempty"` // name of the MISP object it came from
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Org    string    `json:"org"`    // acting organisation id ("" for the operator's CLI)
	Actor  string    `json:"actor"`  // key id or "cli"
	Action string    `json:"action"` // e.g. "indicator.create", "key.revoke"
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}

// SightingKind says what a sighting reports.
type SightingKind string

// The sighting kinds.
const (
	Sighted       SightingKind = "sighting"       // the indicator was seen in telemetry
	FalsePositive SightingKind = "false-positive" // the indicator matched benign activity
)

// Sighting is a count of observations of an indicator by one organisation
// in one hour. Host and ObservedAt are set only when the organisation chose
// to report in full.
type Sighting struct {
	IndicatorID string       `json:"indicator"`
	Org         string       `json:"org"`
	Kind        SightingKind `json:"kind"`
	Hour        time.Time    `json:"hour"` // start of the hour, UTC
	Count       int64        `json:"count"`
	Host        string       `json:"host,omitempty"`
	ObservedAt  time.Time    `json:"observed_at,omitzero"`
	// Report is the key of the request that carried the sighting (its
	// Idempotency-Key), the same for every sighting of the request; ""
	// for none. The store adds the sightings of a report once: a report
	// of the same organisation and key stored in the last two days
	// (SightingReportsKept) is not added again. ReportDigest identifies
	// the report's content, kept with the key so that the API can tell a
	// copy of the report from another report sent under the same key.
	Report       string `json:"-"`
	ReportDigest string `json:"-"`
}

// SightingReportsKept is how long the store remembers a report's key, and
// MaxReportKey the longest key. MaxSightingCount bounds one sighting's
// count and what the store keeps of an hour's count (sums stop there), so
// that no sum of counts overflows: a sender repeating the largest count
// could otherwise wedge every read of the indicator's sightings.
const (
	SightingReportsKept = 48 * time.Hour
	MaxReportKey        = 255
	MaxSightingCount    = 1 << 40
)

// SightingCount sums one organisation's sightings of one kind of an
// indicator.
type SightingCount struct {
	Org   string       `json:"org"`
	Kind  SightingKind `json:"kind"`
	Count int64        `json:"count"`
	First time.Time    `json:"first"` // hour of the first sighting
	Last  time.Time    `json:"last"`  // hour of the last sighting
}

// ProposalStatus is where a proposal stands.
type ProposalStatus string

// The proposal statuses.
const (
	Pending  ProposalStatus = "pending"
	Approved ProposalStatus = "approved"
	Rejected ProposalStatus = "rejected"
)

// Proposal is an indicator a sensor proposes from a local alert (auto-share),
// waiting for an analyst of its organisation to share or reject it.
type Proposal struct {
	ID          string         `json:"id"`
	Org         string         `json:"-"`
	Type        indicator.Type `json:"type"`
	Value       string         `json:"value"`
	Labels      []string       `json:"labels"`
	Description string         `json:"description"`
	Evidence    string         `json:"evidence"` // the alert that led to it, as the sensor saw it
	Status      ProposalStatus `json:"status"`
	Created     time.Time      `json:"created"`
	Decided     time.Time      `json:"decided,omitzero"`
	IndicatorID string         `json:"indicator,omitempty"` // the indicator it became
}

// Feed is an outside source of indicators that the hub reads on an
// interval, such as a MISP feed.
type Feed struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Kind     string        `json:"kind"` // "misp" or "taxii"
	URL      string        `json:"url"`  // http(s) URL or a directory; for taxii, the collection's URL
	OrgID    string        `json:"org"`  // the organisation its indicators are stored under
	TLP      policy.TLP    `json:"tlp"`  // for events (objects) that carry no TLP tag (marking)
	Interval time.Duration `json:"interval"`
	Enabled  bool          `json:"enabled"`
	Created  time.Time     `json:"created"`
	// For taxii feeds: the collection's id, and the credential it is read
	// with. Auth is "basic" (User and Secret as password) or "bearer"
	// (Secret as token), "" for none. Secret is never shown: HasSecret,
	// set by the store on read, says whether there is one.
	Collection string `json:"collection,omitempty"`
	Auth       string `json:"auth,omitempty"`
	User       string `json:"user,omitempty"`
	Secret     string `json:"-"`
	HasSecret  bool   `json:"credential"`
	// Audience of what a taxii feed stores (zero: the whole network). It
	// holds ids; AudienceName is a readable form for listings ("network",
	// "group:NAME", "orgs:NAME,NAME"), filled in by whoever shows the feed,
	// not stored.
	Audience     policy.Audience `json:"-"`
	AudienceName string          `json:"audience,omitempty"`
	// The last run: when, what it said went wrong ("" when nothing), and how
	// many events it imported.
	LastRun   time.Time `json:"last_run,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	LastCount int       `json:"last_count"`
}
