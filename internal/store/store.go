// Package store defines what the hub keeps and how it may be read: the Store
// interface that every storage implementation (SQLite, PostgreSQL) satisfies,
// and the errors they share. Every implementation must pass the conformance
// suite in package storetest.
//
// Rules every implementation keeps:
//   - Every create, update, revoke and expiry of an indicator writes one entry
//     to the change sequence in the same transaction; the sequence is strictly
//     increasing and a reader never sees a later entry before an earlier one
//     (no gaps become visible after the fact).
//   - Reads that take a policy.Viewer return only what policy.CanSee admits,
//     decided inside the query so that paging and counts are right.
//   - Nothing half-written is ever visible.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// Errors shared by implementations; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrCursorGone means the change log no longer holds entries after the
	// cursor (it was compacted): the reader must take a fresh snapshot.
	ErrCursorGone = errors.New("cursor too old: take a fresh snapshot")
	// ErrFull means a write was refused because the database is full: its
	// disk, or the size limit it was given. Nothing of the write is kept;
	// reads go on, and writes succeed again once there is room.
	ErrFull = errors.New("the database is full")
)

// Store is the whole of the hub's persistent state.
type Store interface {
	Orgs
	Keys
	Groups
	Indicators
	Reports
	Sightings
	Proposals
	Feeds
	Webhooks
	STIXObjects
	Onboarding
	Signals
	Users
	Audit
	Federation
	Leases
	TAXIIStatuses
	Close() error
}

// TAXIIStatuses keeps the status resources of TAXII add-objects requests
// (docs/TAXII.md), so that every replica, and a restarted hub, answers for
// them.
type TAXIIStatuses interface {
	// PutTAXIIStatus keeps a status and then lets the oldest go until lim
	// holds: older than MaxAge, beyond PerOrg or OrgBytes of the status's
	// organisation, beyond Bytes of all. The status just kept always stays,
	// even when it alone is over a bound.
	PutTAXIIStatus(ctx context.Context, s TAXIIStatus, lim TAXIIStatusLimit) error
	// TAXIIStatus returns the body of org's status id; another
	// organisation's status is ErrNotFound, as an unknown one.
	TAXIIStatus(ctx context.Context, org, id string) ([]byte, error)
}

// TAXIIStatus is a status resource as the API encoded it.
type TAXIIStatus struct {
	ID, Org string
	Created time.Time
	Body    []byte
}

// TAXIIStatusLimit bounds the status resources kept.
type TAXIIStatusLimit struct {
	PerOrg          int   // statuses of one organisation
	OrgBytes, Bytes int64 // bytes of body of one organisation's statuses, of all
	MaxAge          time.Duration
}

// Orgs keeps organisations.
type Orgs interface {
	CreateOrg(ctx context.Context, o model.Org) (model.Org, error) // assigns ID and Created; ErrConflict on a taken name
	Org(ctx context.Context, idOrName string) (model.Org, error)
	ListOrgs(ctx context.Context) ([]model.Org, error)
	// Viewer builds the policy facts of an organisation: kind, partner,
	// groups, customers.
	Viewer(ctx context.Context, orgID string) (policy.Viewer, error)
}

// Keys keeps API keys (hashed).
type Keys interface {
	CreateKey(ctx context.Context, k model.Key) error // ID and Hash set by the caller; ErrConflict on a taken ID
	KeyByID(ctx context.Context, id string) (model.Key, error)
	ListKeys(ctx context.Context, orgID string) ([]model.Key, error) // orgID "" lists all
	RevokeKey(ctx context.Context, id string) error
	// TouchKeys records when each key was last used, in one transaction;
	// last_used never moves back, and an unknown key is skipped.
	TouchKeys(ctx context.Context, uses map[string]time.Time) error
	// SetKeyExpiry makes a key expire at at (the zero time: never);
	// ErrNotFound when there is no such key. It moves the authentication
	// epoch, as RevokeKey does, so that open streams are checked again.
	SetKeyExpiry(ctx context.Context, id string, at time.Time) error
}

// Groups keeps sharing groups.
type Groups interface {
	CreateGroup(ctx context.Context, g model.Group) (model.Group, error) // assigns ID and Created; ErrConflict on a taken name
	Group(ctx context.Context, idOrName string) (model.Group, error)
	ListGroups(ctx context.Context) ([]model.Group, error)
	// SetGroupMember adds or removes a member; the group's indicators get
	// an "updated" change entry each and a new Touched time (not Modified).
	SetGroupMember(ctx context.Context, groupID, orgID string, member bool) error
}

// UpsertStatus is what an upsert did with one submission.
type UpsertStatus string

// The upsert statuses.
const (
	StatusCreated UpsertStatus = "created"
	StatusUpdated UpsertStatus = "updated"
)

// UpsertResult reports one submission of a batch.
type UpsertResult struct {
	ID     string
	Status UpsertStatus
	Seq    int64
	// Quarantined: the indicator is quarantined after the put (it was, or
	// its type and value are held quarantined: Signals.QuarantineValue).
	Quarantined bool
}

// Revoked is an indicator an ingest revoked, and the sequence number of
// its "revoked" change.
type Revoked struct {
	ID  string
	Seq int64
}

// Ingest is one write transaction for submissions. Put may be called many
// times; nothing is visible to readers before Commit, and Rollback (or a
// failed Commit) leaves nothing behind. An Ingest must be ended by exactly
// one of Commit or Rollback. A failed Put spoils the whole ingest: every
// later Put fails and Commit rolls back and returns an error.
type Ingest interface {
	Put(ctx context.Context, subs []model.Submission) ([]UpsertResult, error)
	// PutSTIXObjects keeps STIX objects as context in the same transaction
	// (see STIXObjects for the rules).
	PutSTIXObjects(ctx context.Context, objs []model.STIXObject) ([]ObjectStatus, error)
	// PutOrigins records (replaces) the federation origins of indicators
	// in the same transaction (see Federation.PutOrigin), so that no reader
	// sees a federated indicator without its origin.
	PutOrigins(ctx context.Context, os []model.Origin) error
	// RevokeReportExcept revokes, in the same transaction, the indicators
	// of report reportID from source that are not revoked and whose ids
	// keep does not name (what a new version of an event no longer
	// carries), writing one "revoked" change each stamped at (or later,
	// as Revoke), and returns them in change order.
	RevokeReportExcept(ctx context.Context, reportID, source string, keep []string, at time.Time) ([]Revoked, error)
	Commit() error
	Rollback() error
}

// Query selects indicators for a viewer.
type Query struct {
	Type  indicator.Type
	Value string // canonical
	Label string
	TLP   policy.TLP // one level; "" any
	// Source keeps the indicators of one source organisation (an id) —
	// but never an anonymous one whose source the viewer may not know
	// (policy.SeesTrueSource).
	Source string
	// Tag keeps indicators with this tag; Quarantined only quarantined ones.
	Tag         string
	Quarantined bool
	ReportID    string
	// Since keeps indicators whose last change, of themselves or of who
	// may see them, is at or after it (model.Indicator.Touched).
	Since time.Time
	After int64 // keyset: only Seq > After (paging cursor)
	// Desc lists newest first; its keyset is Before: only Seq < Before (0:
	// from the newest). After still applies as a lower bound.
	Desc           bool
	Before         int64
	Limit          int // 0: implementation default (100); capped at 10,000
	IncludeRevoked bool
}

// Indicators keeps indicators and their change sequence.
type Indicators interface {
	BeginIngest(ctx context.Context) (Ingest, error)
	// Indicator returns one indicator if viewer may see it (ErrNotFound
	// otherwise, never a hint that it exists).
	Indicator(ctx context.Context, v policy.Viewer, id string) (model.Indicator, error)
	// Indicator without a viewer, for the rules that decide who may act on it.
	IndicatorByID(ctx context.Context, id string) (model.Indicator, error)
	// ListIndicators returns what v may see, ordered by Seq ascending.
	ListIndicators(ctx context.Context, v policy.Viewer, q Query) ([]model.Indicator, error)
	Revoke(ctx context.Context, id string, at time.Time) (model.Indicator, error)
	// ExpireDue marks indicators whose valid_until is at or before now as
	// expired, writing one "expired" change each; it returns how many.
	ExpireDue(ctx context.Context, now time.Time) (int, error)
	// Changes returns entries of the change sequence with Seq > after, in
	// order, at most limit. It returns every change (no policy filter): the
	// stream decides per subscriber, because a change that makes an indicator
	// invisible must reach the subscriber as a removal. ErrCursorGone when
	// entries after `after` were compacted away.
	Changes(ctx context.Context, after int64, limit int) ([]model.Change, error)
	// LastSeq is the newest change sequence number (0 when none).
	LastSeq(ctx context.Context) (int64, error)
	// CompactChanges deletes the change entries with seq <= keepAfter
	// (never past the newest) and says how many went; a reader whose cursor
	// is older then gets ErrCursorGone and takes a fresh snapshot.
	CompactChanges(ctx context.Context, keepAfter int64) (int64, error)
}

// Reports keeps reports.
type Reports interface {
	CreateReport(ctx context.Context, r model.Report) (model.Report, error) // assigns ID (unless given), Created, Modified
	// UpdateReport replaces title, narrative, threat actor, campaign, tags,
	// context, TLP and audience; id, source and Created stay.
	UpdateReport(ctx context.Context, r model.Report) (model.Report, error)
	Report(ctx context.Context, v policy.Viewer, id string) (model.Report, error)
	ReportByID(ctx context.Context, id string) (model.Report, error)
	ListReports(ctx context.Context, v policy.Viewer, after string, limit int) ([]model.Report, error) // by ID order
}

// Sightings keeps what organisations saw, aggregated per indicator,
// organisation, kind and hour.
type Sightings interface {
	// AddSightings adds counts; a sighting of an unknown indicator is
	// ErrNotFound and nothing of the batch is stored. Sightings with a
	// Report whose organisation and key were stored before (within
	// model.SightingReportsKept) are left out: a report is added once.
	AddSightings(ctx context.Context, ss []model.Sighting) error
	// SightingCounts sums an indicator's sightings per organisation and kind.
	SightingCounts(ctx context.Context, indicatorID string) ([]model.SightingCount, error)
	// SightingReport says whether a report of the organisation with this
	// key was stored within model.SightingReportsKept, and the digest it
	// was stored with.
	SightingReport(ctx context.Context, orgID, report string) (digest string, stored bool, err error)
}

// Proposals keeps the auto-share approval queue.
type Proposals interface {
	// CreateProposal stores a pending proposal (ID and Created assigned).
	// A pending proposal of the same organisation, type and value is
	// returned instead of a duplicate.
	CreateProposal(ctx context.Context, p model.Proposal) (model.Proposal, error)
	Proposal(ctx context.Context, id string) (model.Proposal, error)
	ListProposals(ctx context.Context, orgID string, status model.ProposalStatus, limit int) ([]model.Proposal, error)
	// CountProposals counts an organisation's proposals of a status (""
	// all).
	CountProposals(ctx context.Context, orgID string, status model.ProposalStatus) (int, error)
	// DecideProposal moves a pending proposal to approved or rejected;
	// ErrConflict when it was decided already.
	DecideProposal(ctx context.Context, id string, status model.ProposalStatus, indicatorID string, at time.Time) (model.Proposal, error)
}

// Feeds keeps the outside feeds the hub reads and what it has taken from
// each.
type Feeds interface {
	CreateFeed(ctx context.Context, f model.Feed) (model.Feed, error) // assigns ID and Created; ErrConflict on a taken name
	Feed(ctx context.Context, idOrName string) (model.Feed, error)
	ListFeeds(ctx context.Context) ([]model.Feed, error)
	// SetFeedEnabled turns a feed on or off.
	SetFeedEnabled(ctx context.Context, id string, enabled bool) error
	// RecordFeedRun stores the outcome of a run (LastRun, LastError,
	// LastCount of f).
	RecordFeedRun(ctx context.Context, f model.Feed) error
	// FeedEvents returns the timestamp (unix seconds) of each event taken
	// from the feed.
	FeedEvents(ctx context.Context, feedID string) (map[string]int64, error)
	// SetFeedEvent remembers that an event was taken at its timestamp.
	SetFeedEvent(ctx context.Context, feedID, eventUUID string, timestamp int64) error
}

// Webhooks keeps the outside endpoints the hub POSTs events to.
type Webhooks interface {
	// CreateWebhook stores a webhook; it assigns ID and Created.
	// ErrConflict on a taken name (case-insensitive); an error on an empty
	// name, URL or secret, or an event kind not in model.WebhookEvents.
	CreateWebhook(ctx context.Context, w model.Webhook) (model.Webhook, error)
	Webhook(ctx context.Context, idOrName string) (model.Webhook, error)
	ListWebhooks(ctx context.Context) ([]model.Webhook, error) // by name
	DeleteWebhook(ctx context.Context, id string) error        // ErrNotFound when there is none
	SetWebhookEnabled(ctx context.Context, id string, enabled bool) error
	// RecordDelivery stores the outcome of a delivery at at: the HTTP status
	// of its last attempt (0 when none came back) and what went wrong. ok
	// resets the count of consecutive failures (and clears the error); a
	// failure adds one.
	RecordDelivery(ctx context.Context, id string, at time.Time, status int, errText string, ok bool) error
}

// ObjectStatus is what PutSTIXObjects did with one object.
type ObjectStatus string

// The object statuses.
const (
	ObjectCreated   ObjectStatus = "created"   // a new id
	ObjectReplaced  ObjectStatus = "replaced"  // a newer version of an object of the same source
	ObjectUnchanged ObjectStatus = "unchanged" // the stored version is as new or newer: kept
	ObjectForeign   ObjectStatus = "foreign"   // the id belongs to another source's object: kept as it was
)

// STIXQuery selects kept STIX objects for a viewer.
type STIXQuery struct {
	After int64     // keyset: only Seq > After
	Since time.Time // only objects Added strictly after it; zero: all
	Types []string  // any of these types; empty: all
	IDs   []string  // any of these ids; empty: all
	Limit int       // 0: 100; capped at 10,000
}

// STIXObjects keeps STIX objects the hub does not model (model.STIXObject).
// An object is identified by its STIX id. A newer version (a later
// Modified) from the same source replaces it and moves it to the end of the
// order (a new Seq); an older or equal one is ignored; another source
// cannot replace it.
type STIXObjects interface {
	// ListSTIXObjects returns what v may see, by Seq ascending.
	ListSTIXObjects(ctx context.Context, v policy.Viewer, q STIXQuery) ([]model.STIXObject, error)
	// STIXObjectByID returns an object whoever may see it (ErrNotFound).
	STIXObjectByID(ctx context.Context, id string) (model.STIXObject, error)
	// DeleteSTIXObject removes an object (ErrNotFound when there is none).
	DeleteSTIXObject(ctx context.Context, id string) error
}

// Onboarding keeps what organisations join and leave by: their status,
// enrolment tokens, sensors' heartbeats, and the authentication epoch that
// tells every hub replica to re-check open streams.
type Onboarding interface {
	// SetOrgStatus moves an organisation to active, pending or suspended.
	SetOrgStatus(ctx context.Context, id string, status model.OrgStatus) error
	// SetOrgPartner moves a customer to another partner. The indicators
	// whose visibility may change (what the customer shares; what is
	// shared at clear, green or amber with a group or list naming either
	// partner) get an "updated" change entry each and a new Touched time,
	// as a group's do when its members change, so that incremental pulls
	// find them; entries carry no before-facts for the three organisations
	// concerned, so their view floors (ViewFloor) then move to the newest
	// change, and their streams start again from a snapshot. The
	// customer's unused enrolment tokens are voided in the same
	// transaction (they expire when they were made): the old partner made
	// them, or could read them.
	SetOrgPartner(ctx context.Context, customerID, partnerID string) error
	// ViewFloor is the newest change at the last change of what the
	// organisation may see that change entries do not carry (0: none): a
	// stream of it resuming from a cursor at or below it must take a
	// fresh snapshot.
	ViewFloor(ctx context.Context, orgID string) (int64, error)
	// RevokeOrg offboards an organisation in one transaction: it is marked
	// revoked, its keys revoked and its unused enrolment tokens voided;
	// with anonymise, what it shared is marked anonymous (one "updated"
	// change per indicator). It returns the number of keys revoked and the
	// last change sequence written (0 when none).
	RevokeOrg(ctx context.Context, id string, anonymise bool, at time.Time) (keys int, lastSeq int64, err error)
	// AuthEpoch grows whenever anything a principal is made of changes: a
	// key's revocation or expiry, an organisation's status, partner or
	// revocation, a new organisation (a partner's customers), a group's
	// creation or membership. A principal read at one epoch holds while
	// the epoch is the same.
	AuthEpoch(ctx context.Context) (int64, error)

	CreateEnrolToken(ctx context.Context, t model.EnrolToken) error
	EnrolToken(ctx context.Context, id string) (model.EnrolToken, error)
	// RedeemEnrolToken uses a token once, at now, and creates k (the key it
	// becomes) in the same transaction: ErrConflict when the token was
	// used or has expired, ErrNotFound when there is none.
	RedeemEnrolToken(ctx context.Context, id string, k model.Key, now time.Time) error

	// PutSensorStatus stores a sensor's heartbeat (replacing the last).
	PutSensorStatus(ctx context.Context, st model.SensorStatus) error
	// ListSensors returns the sensors of the given organisations (nil:
	// all), by organisation and name.
	ListSensors(ctx context.Context, orgIDs []string) ([]model.SensorStatus, error)
	// SharingSince counts, per source organisation, the indicators
	// created at or after since.
	SharingSince(ctx context.Context, since time.Time) (map[string]int, error)
}

// Signals keeps what signal quality needs: quarantine, the facts a score is
// made of, and campaign alerts.
type Signals interface {
	// SetQuarantine quarantines (on) or releases one indicator, with one
	// "updated" change; doing what is already so changes nothing. While its
	// type and value are held (QuarantineValue) it stays quarantined, with
	// the value's reason: a peer hub's verdict on its copy (federation)
	// does not undo this hub's own.
	SetQuarantine(ctx context.Context, id string, on bool, reason string, at time.Time) (model.Indicator, error)
	// QuarantineValue holds the type and value of indicator id quarantined
	// (this hub's organisations agreed it is a false positive) with reason,
	// and quarantines every live indicator of it, every source's, that is
	// not yet, with one "updated" change each, in one transaction. From
	// then on every indicator an ingest writes of that type and value is
	// quarantined (UpsertResult.Quarantined), until ReleaseValue. A value
	// held already keeps its first reason. It returns the indicators it
	// quarantined (none when there were none left), ErrNotFound for an
	// unknown id.
	QuarantineValue(ctx context.Context, id, reason string, at time.Time) ([]model.Indicator, error)
	// ReleaseValue lifts the hold on the type and value of indicator id and
	// releases every quarantined indicator of it (revoked and expired ones
	// included, and a peer's copy quarantined on its origin hub), with one
	// "updated" change each, in one transaction; it returns them.
	ReleaseValue(ctx context.Context, id string, at time.Time) ([]model.Indicator, error)
	// HoldQuarantinedValues quarantines the live indicators of held values
	// that are not quarantined (the hub's signal job: those of values held
	// by the migration that introduced the hold), one change each; it
	// returns them.
	HoldQuarantinedValues(ctx context.Context, at time.Time) ([]model.Indicator, error)
	// ExpireNow expires live indicators at once (valid_until set to at),
	// with one "expired" change each; it returns how many.
	ExpireNow(ctx context.Context, ids []string, at time.Time) (int, error)
	// ScanIndicators pages through every indicator by Seq, whoever may see
	// it (for the hub's own jobs), live ones only unless all.
	ScanIndicators(ctx context.Context, after int64, limit int, all bool) ([]model.Indicator, error)
	// Signals returns, per indicator id, what other organisations said of
	// it (ids without any are left out).
	Signals(ctx context.Context, ids []string) (map[string]model.Signal, error)
	// SourceRecords returns the track record of every source organisation.
	SourceRecords(ctx context.Context) (map[string]model.SourceRecord, error)
	// FalsePositiveParties lists the parties that reported an indicator of
	// the type and value of indicator id a false positive, whichever
	// source's indicator of it they reported, a report counting unless it
	// came from the side of the source of the indicator it reported: an
	// organisation, or a partner for itself and its customers (a partner,
	// which holds its customers' keys, counts once with them; so does a
	// source with its partner and the partner's other customers).
	FalsePositiveParties(ctx context.Context, id string) ([]string, error)
	// SightingGroups groups the sightings at or after since by the report,
	// each label and the threat actor of the indicators sighted.
	SightingGroups(ctx context.Context, since time.Time) ([]model.SightingGroup, error)
	// ValueSighters counts the organisations that sighted any of the given
	// indicators at or after since.
	ValueSighters(ctx context.Context, ids []string, since time.Time) (int, error)
	CreateAlert(ctx context.Context, a model.Alert) (model.Alert, error)
	// ListAlerts returns alerts raised at or after since, newest first.
	ListAlerts(ctx context.Context, since time.Time, limit int) ([]model.Alert, error)
	// LastAlert returns the newest alert of a grouping and key (ErrNotFound).
	LastAlert(ctx context.Context, by, key string) (model.Alert, error)
}

// Users keeps the web UI's users and their sessions.
type Users interface {
	// CreateUser stores a user (ID and Created assigned; ErrConflict on a
	// taken e-mail address, compared case-insensitively).
	CreateUser(ctx context.Context, u model.User) (model.User, error)
	UserByID(ctx context.Context, id string) (model.User, error)
	UserByEmail(ctx context.Context, email string) (model.User, error)
	ListUsers(ctx context.Context, orgID string) ([]model.User, error) // "" all; by e-mail
	// UpdateUser replaces name, role, password hash and disabled; disabling
	// a user or changing its password ends its sessions in the same
	// transaction.
	UpdateUser(ctx context.Context, u model.User) error
	TouchUserSignIn(ctx context.Context, id string, at time.Time) error
	// RehashPassword replaces a user's password hash by newHash, a hash of
	// the same password with the current parameters, only while it is still
	// oldHash (a password changed meanwhile is kept); sessions go on.
	// store.ErrConflict when the hash is no longer oldHash, ErrNotFound
	// when there is no such user.
	RehashPassword(ctx context.Context, id, oldHash, newHash string) error

	CreateSession(ctx context.Context, s model.Session) error
	Session(ctx context.Context, id string) (model.Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession removes a session and moves the authentication epoch
	// (the streams opened in it end).
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions removes sessions expired at now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// The brute-force limit on sign-ins, kept in the store so that every
	// replica and a restarted hub count the same failures. An address is
	// given as a key (a hash: the store keeps no address). Each call is one
	// transaction, serialised per key across replicas.
	//
	// BeginSignIn refuses (ok false) a key that is locked or has lim.Max
	// failures within lim.Window, and otherwise records a tentative failure
	// at now and returns its id, which FailSignIn, ForgetSignIns or
	// AbortSignIn settle.
	BeginSignIn(ctx context.Context, key string, now time.Time, lim SignInLimit) (attempt string, ok bool, err error)
	// FailSignIn confirms a failure: when the key then has lim.Max
	// failures within the window (tentative ones included) it is locked
	// until now + lim.LockFor and its failures are forgotten.
	FailSignIn(ctx context.Context, key string, now time.Time, lim SignInLimit) error
	// ForgetSignIns forgets a key's failures (a successful sign-in).
	ForgetSignIns(ctx context.Context, key string) error
	// AbortSignIn takes back a tentative failure (the check could not be
	// made).
	AbortSignIn(ctx context.Context, key, attempt string) error
	// SweepSignIns deletes the failures older than the window and the keys
	// neither locked nor tried within it, and says how many rows went.
	SweepSignIns(ctx context.Context, now time.Time, lim SignInLimit) (int, error)
}

// SignInLimit is the brute-force limit: after Max failed sign-ins for an
// address within Window, sign-ins for it are refused for LockFor.
type SignInLimit struct {
	Max     int
	Window  time.Duration
	LockFor time.Duration
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	Org   string // "" all organisations
	After int64
	Limit int
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e model.AuditEntry) error
	ListAudit(ctx context.Context, q AuditQuery) ([]model.AuditEntry, error)
}

// Federation keeps what peering with other hubs needs (docs/FEDERATION.md):
// this hub's identity, its peers and their cursors, where federated
// indicators come from, and the sightings returned to their origin.
type Federation interface {
	// HubID is this hub's identity in the federation: made at the first
	// call, the same ever after.
	HubID(ctx context.Context) (string, error)
	// CreatePeer stores a peer (ID and Created assigned); ErrConflict on a
	// taken name (case-insensitive) or an organisation that has a peer;
	// ErrNotFound when the organisation does not exist.
	CreatePeer(ctx context.Context, p model.Peer) (model.Peer, error)
	Peer(ctx context.Context, idOrName string) (model.Peer, error)
	// PeerByOrg returns the peer an organisation stands for (ErrNotFound).
	PeerByOrg(ctx context.Context, orgID string) (model.Peer, error)
	ListPeers(ctx context.Context) ([]model.Peer, error) // by name
	// UpdatePeer replaces URL, key (when not empty), pull, push, paused and
	// audience.
	UpdatePeer(ctx context.Context, p model.Peer) error
	DeletePeer(ctx context.Context, id string) error
	SetPeerState(ctx context.Context, id string, st model.PeerState) error
	// Origins returns the origin of each of the given local indicators that
	// has one.
	Origins(ctx context.Context, ids []string) (map[string]model.Origin, error)
	// OriginOf finds the local copy of an indicator by its origin id
	// (ErrNotFound).
	OriginOf(ctx context.Context, originID string) (model.Origin, error)
	// OriginVia finds the copy that peerID delivered under its own id
	// remoteID (ErrNotFound).
	OriginVia(ctx context.Context, peerID, remoteID string) (model.Origin, error)
	// OriginsOf finds the local copies of many, keyed by origin id (those
	// without a copy left out).
	OriginsOf(ctx context.Context, originIDs []string) (map[string]model.Origin, error)
	// PutOrigin records (replaces) the origin of a local indicator. A
	// local indicator has at most one origin, and an origin id at most one
	// local copy: ErrConflict when another indicator is the copy of
	// o.OriginID already.
	PutOrigin(ctx context.Context, o model.Origin) error
	// WithFederationLock runs fn holding the federation lock: while it
	// runs, no other WithFederationLock of this store runs fn, in this
	// process or in another hub replica sharing the database. The
	// federated apply (internal/api) finds the copies held, decides and
	// stores under it, so that two deliveries of one indicator (pulled and
	// pushed, or relayed by two peers to two replicas) never both find no
	// copy and each store one. fn must not call WithFederationLock. The
	// error is fn's, or why the lock could not be taken or given back.
	WithFederationLock(ctx context.Context, fn func() error) error
	// HeldVia lists the origins of the live (not revoked) copies that
	// peerID delivered, by local indicator id after the given one, at
	// most limit.
	HeldVia(ctx context.Context, peerID, after string, limit int) ([]model.Origin, error)
	// SightingsToReturn sums, per indicator that peerID delivered, kind and
	// hour at or after since, the sightings of every organisation but
	// exceptOrg (the peer's own), with what was returned already; only
	// sums larger than what was returned.
	SightingsToReturn(ctx context.Context, peerID, exceptOrg string, since time.Time, limit int) ([]model.FedSighting, error)
	// MarkReturned records that the totals of ss were returned to peerID,
	// and clears its pending return.
	MarkReturned(ctx context.Context, peerID string, ss []model.FedSighting) error
	// SavePendingReturn records the return of ss to peerID under key
	// before it is sent, in place of any.
	SavePendingReturn(ctx context.Context, peerID, key string, ss []model.FedSighting) error
	// PendingReturn is the return saved for peerID and not marked
	// returned since (ok false: none).
	PendingReturn(ctx context.Context, peerID string) (key string, ss []model.FedSighting, ok bool, err error)
}

// Leases elect one hub replica (of several on one store) to run the jobs that
// must run once: expiry, signal, feeds, federation, webhooks, sessions. A
// lease is held by one holder until its expiry; the holder renews it before
// then, and another replica takes it once it has expired.
type Leases interface {
	// AcquireLease takes or renews the lease name for holder until now+ttl
	// when it is free, expired at now, or already held by holder; it returns
	// false (and changes nothing) when another holder has it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLease gives the lease up at once if holder has it; releasing a
	// lease held by another or by no one does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error
}
