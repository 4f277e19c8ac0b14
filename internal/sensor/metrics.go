package sensor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/match"
)

// serveMetrics exports the counters in the Prometheus text format on
// /metrics.
func (s *Sensor) serveMetrics(ctx context.Context, bg *sync.WaitGroup) error {
	ln, err := net.Listen("tcp", s.cfg.Metrics)
	if err != nil {
		return fmt.Errorf("--metrics %s: %w", s.cfg.Metrics, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.writeMetrics(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	bg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the /metrics server stopped", "addr", s.cfg.Metrics, "err", err)
		}
	})
	bg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	return nil
}

// Metrics are the sensor's counters.
type Metrics struct {
	Lines, Events, ParseErrors, Dropped, Matched, Alerts, RetroAlerts int64
	// AlertsHeldBack counts the matches --alert-window held back (each
	// is counted in a later summary alert's "repeats").
	AlertsHeldBack                                    int64
	Indicators                                        int64
	SightingsSent, SightingsPending, SightingsDropped int64
	StreamConnected                                   bool
	StreamInterruptions                               int64
	StateFailures                                     int64
	InputErrors                                       int64
	AutoShareDropped                                  int64
	Cursor                                            int64
	LastContact                                       time.Time

	// IndicatorsRefused counts the indicators from the hub the sensor
	// would not keep (an unknown type, a TLP that is not a TLP 2.0 level,
	// a value longer than a hub stores).
	IndicatorsRefused int64
}

// Metrics returns the counters now.
func (s *Sensor) Metrics() Metrics {
	ms := match.LoadStats(&s.counters.match)
	m := Metrics{
		Lines: ms.Lines, Events: ms.Events, ParseErrors: ms.Errors,
		Dropped: s.counters.dropped.Load(), Matched: ms.Matched, Alerts: s.counters.alerts.Load(),
		RetroAlerts: s.counters.retroAlerts.Load(), AlertsHeldBack: s.counters.heldBack.Load(), Indicators: s.counters.indicators.Load(),
		StreamInterruptions: s.counters.streamInterruptions.Load(),
		StateFailures:       s.counters.stateFailures.Load(),
		IndicatorsRefused:   s.counters.indicatorsRefused.Load(),
		InputErrors:         s.counters.inputErrors.Load(),
		AutoShareDropped:    s.counters.autoShareDropped.Load(),
	}
	m.SightingsSent, m.SightingsPending, m.SightingsDropped = s.sight.counts()
	if st := s.stream.Load(); st != nil {
		m.StreamConnected, m.Cursor = st.Connected(), st.Cursor()
	}
	if n := s.counters.lastContact.Load(); n != 0 {
		m.LastContact = time.Unix(0, n)
	}
	return m
}

func (s *Sensor) writeMetrics(w http.ResponseWriter) {
	m := s.Metrics()
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	lag := 0.0
	if !m.LastContact.IsZero() {
		lag = s.cfg.Now().Sub(m.LastContact).Seconds()
	}
	for _, c := range []struct {
		name, help, kind string
		v                any
	}{
		{"hdn_sensor_lines_total", "Input lines read.", "counter", m.Lines},
		{"hdn_sensor_events_total", "Input lines parsed as events.", "counter", m.Events},
		{"hdn_sensor_parse_errors_total", "Input lines that could not be parsed.", "counter", m.ParseErrors},
		{"hdn_sensor_dropped_total", "Input lines dropped under overload (sockets only).", "counter", m.Dropped},
		{"hdn_sensor_matched_events_total", "Events that raised at least one alert.", "counter", m.Matched},
		{"hdn_sensor_alerts_total", "Alerts written.", "counter", m.Alerts},
		{"hdn_sensor_retro_alerts_total", "Retro-hunt alerts written.", "counter", m.RetroAlerts},
		{"hdn_sensor_alerts_held_back_total", "Matches not written as alerts because the same host matched the same indicator within --alert-window; each is counted in a later alert's repeats.", "counter", m.AlertsHeldBack},
		{"hdn_sensor_indicators", "Indicators in the local copy.", "gauge", m.Indicators},
		{"hdn_sensor_sightings_sent_total", "Sighting aggregates sent to the hub.", "counter", m.SightingsSent},
		{"hdn_sensor_sightings_pending", "Sighting aggregates waiting to be sent.", "gauge", m.SightingsPending},
		{"hdn_sensor_sightings_dropped_total", "Sighting aggregates dropped (hub unreachable too long).", "counter", m.SightingsDropped},
		{"hdn_sensor_stream_connected", "1 when the stream from the hub is open.", "gauge", b2i(m.StreamConnected)},
		{"hdn_sensor_stream_interruptions_total", "Stream connections that failed or ended (each followed by a reconnect, to the next hub when several are given).", "counter", m.StreamInterruptions},
		{"hdn_sensor_state_failures_total", "Attempts to apply stream events that the state directory refused (a full disk, a lock held by another process); each batch is tried again until it is applied.", "counter", m.StateFailures},
		{"hdn_sensor_indicators_refused_total", "Indicators from the hub the sensor did not keep and does not match: a type it does not know (a newer hub's), or what no hub sends (a TLP that is not a TLP 2.0 level, a value longer than a hub stores); a version held before is dropped.", "counter", m.IndicatorsRefused},
		{"hdn_sensor_input_errors_total", "Errors that kept an input from its file or socket for a while (no permission after a rotation, an I/O error); the input goes on trying at every poll.", "counter", m.InputErrors},
		{"hdn_sensor_autoshare_dropped_total", "Suricata alert lines auto-share had no room for (its queue was full: the hub slow or away, or a burst of alerts); matching is not held up.", "counter", m.AutoShareDropped},
		{"hdn_sensor_stream_cursor", "Change-sequence cursor the local copy is current to.", "gauge", m.Cursor},
		{"hdn_sensor_hub_lag_seconds", "Seconds since the last event or heartbeat from the hub (heartbeats come at least every 15 s).", "gauge", lag},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", c.name, c.help, c.name, c.kind, c.name, c.v)
	}
}
