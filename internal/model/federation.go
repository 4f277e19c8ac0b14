package model

import "time"

// Peer is another hdn hub this hub is peered with (docs/FEDERATION.md). On
// this hub it is an organisation of kind peer-hub (OrgID): what the peer
// may receive is what the sharing policy lets that organisation see, and
// what it sends is stored with that organisation as source.
type Peer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	OrgID string `json:"org"`
	URL   string `json:"url"` // the peer hub's base URL
	// Key is the API key this hub presents to the peer (a key of the
	// organisation that stands for this hub there). It is a credential this
	// hub must be able to send, so it is kept as given; it is never shown.
	Key  string `json:"-"`
	Pull bool   `json:"pull"` // follow the peer's stream
	Push bool   `json:"push"` // send the peer what it may see
	// Paused stops pulling, pushing and returning sightings; cursors stay.
	Paused bool `json:"paused"`
	// Audience holds the local organisation ids that stand for this hub
	// when the peer shares with a group or list that names this hub's
	// organisation there (red, or amber+strict to a list). Empty: this
	// hub's coordinators.
	Audience []string  `json:"audience"`
	Created  time.Time `json:"created"`
	PeerState
}

// UnpeeredID is the peer id under which this hub files the copies that a
// peer-hub organisation delivers while it is not (or no longer) one of this
// hub's peers: it pushed before the operator added it, or its peer was
// removed. Adding a peer for the organisation files them under the new
// peer; removing one files its copies so again.
func UnpeeredID(orgID string) string { return "org:" + orgID }

// PeerState is what the federation loops remember of a peer.
type PeerState struct {
	RemoteHub  string    `json:"remote_hub,omitempty"` // the peer's hub id, once learnt
	PullCursor int64     `json:"pull_cursor"`          // cursor of the peer's stream
	PushCursor int64     `json:"push_cursor"`          // this hub's change sequence already offered
	LastOK     time.Time `json:"last_ok,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
}

// Origin is where a federated indicator comes from: the hub it was first
// shared on, its id and modification time there, the hubs it passed
// through, and the peer that delivered it to this hub.
type Origin struct {
	IndicatorID    string    // the local indicator
	OriginHub      string    // hub id of the hub it was first shared on
	OriginID       string    // its id there
	OriginModified time.Time // its modification time there: newer wins
	Hops           []string  // hub ids it passed through, the origin first
	ViaPeer        string    // the local peer id that delivered it
	RemoteID       string    // its id on that peer
	// Digest is a hash of the delivered state (see ViaModified for which
	// of two states of one OriginModified wins). Empty when the copy was
	// revoked because its peer removed it (no longer lets this hub see
	// it): whatever state of it the peer delivers next is taken.
	Digest string
	// ViaModified is the delivering peer's own modification time of the
	// version held (its write order): of two states with the same
	// OriginModified, the one the peer wrote later wins. Zero: not known
	// (stored before it was recorded).
	ViaModified time.Time
}

// FedSighting is the sum of an hour's sightings of one kind of a federated
// indicator by this hub's organisations, and how much of it was already
// returned to the peer it came from.
type FedSighting struct {
	IndicatorID string // local
	RemoteID    string // on the peer
	Kind        SightingKind
	Hour        time.Time
	Total       int64
	Returned    int64
}
