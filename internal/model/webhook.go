package model

import "time"

// The event kinds a webhook may subscribe to (api.EventCampaign,
// api.EventQuarantine, api.EventNew).
var WebhookEvents = []string{"campaign", "quarantine", "indicator"}

// Webhook is an outside endpoint the hub POSTs events to, signed with an
// HMAC of the body under Secret (docs/WEBHOOKS.md).
type Webhook struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Secret string `json:"-"` // never shown, logged or sent
	// Events are the kinds it receives: a subset of WebhookEvents.
	Events []string `json:"events"`
	// MinScore is the lowest score of an "indicator" event it receives.
	MinScore int       `json:"min_score"`
	Enabled  bool      `json:"enabled"`
	Created  time.Time `json:"created"`
	// The last delivery: when it ended, the HTTP status of its last attempt
	// (0 when none came back), what went wrong ("" on success), and how
	// many deliveries in a row have failed.
	LastDelivery time.Time `json:"last_delivery,omitzero"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	Failures     int       `json:"failures"`
}

// Subscribed says whether the webhook receives events of kind.
func (w Webhook) Subscribed(kind string) bool {
	for _, k := range w.Events {
		if k == kind {
			return true
		}
	}
	return false
}
