package match

import (
	"time"

	"github.com/hdnetwork/hdn/internal/logparse"
)

// Observer is told of every observation of every event a Session parses,
// with the event's time to the hour (the sensor files them into its
// retro-hunt record). It must not keep o or its Value after returning.
// It is called before the event is matched, and the event is matched with
// the index current once it returns (Session.match says why).
type Observer func(at time.Time, o *logparse.Observation)

// SetObserver sets the Session's observer (nil for none).
func (s *Session) SetObserver(fn Observer) { s.observe = fn }

// observeEvent hands the event's observations to the observer.
func (s *Session) observeEvent() {
	at := s.eventHour()
	for i := range s.ev.Obs {
		s.observe(at, &s.ev.Obs[i])
	}
}

// eventHour returns the event's own time, truncated to the hour, or the
// clock's when the event has none. Consecutive events of one hour share a
// parse: only the text up to the hour and the zone is compared.
func (s *Session) eventHour() time.Time {
	t := s.ev.Time
	switch s.ev.TimeFormat {
	case logparse.TimeText:
		if len(t) >= 19 {
			var key [24]byte
			n := copy(key[:13], t[:13]) // "2026-11-27T08"
			zone := t[19:]
			for len(zone) > 0 && (zone[0] == '.' || zone[0] >= '0' && zone[0] <= '9') {
				zone = zone[1:]
			}
			copy(key[n:], zone)
			if key == s.hourKey && !s.hourTime.IsZero() {
				return s.hourTime
			}
			for _, layout := range []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
				if pt, err := time.Parse(layout, string(t)); err == nil {
					s.hourKey, s.hourTime = key, pt.UTC().Truncate(time.Hour)
					return s.hourTime
				}
			}
		}
	case logparse.TimeEpoch:
		if et, ok := epochTime(t); ok {
			return et.UTC().Truncate(time.Hour)
		}
	}
	return s.clock().UTC().Truncate(time.Hour)
}
