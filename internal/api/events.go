package api

import "context"

// Event kinds the hub tells the outside world of (webhooks).
const (
	EventCampaign   = "campaign"   // a campaign alert was raised
	EventQuarantine = "quarantine" // an indicator was quarantined, released or revoked after quarantine
	EventNew        = "indicator"  // a new indicator was stored (with its score)
)

// Event is one notice for the outside world. Payload is JSON-encodable and
// carries nothing its receivers may not see: webhooks are configured by the
// coordinator and receive what the coordinator sees.
type Event struct {
	Kind    string
	Score   int // for EventNew: the indicator's score, so that receivers can ask for a minimum
	Payload any
}

// EventSink receives events; Emit must not block the request that emits
// (a sink queues and delivers on its own).
type EventSink interface {
	Emit(ctx context.Context, ev Event)
	// Wants says whether any receiver subscribes to events of kind now,
	// and, for EventNew, the lowest score one of them asks for; emitters
	// skip the work of an event nobody wants. It must be cheap.
	Wants(ctx context.Context, kind string) (bool, int)
}

// emit hands an event to the configured sink, if any.
func (s *Server) emit(ctx context.Context, ev Event) {
	if s.events != nil {
		s.events.Emit(ctx, ev)
	}
}
