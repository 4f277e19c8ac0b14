package sensor_test

import (
	"fmt"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// BenchmarkStateApply applies a snapshot to the state directory as the
// sensor's stream loop does, in batches of 500 events of new indicators
// (domains), and reports indicators per second.
func BenchmarkStateApply(b *testing.B) {
	st, err := sensor.OpenState(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const batch = 500
	next := 0
	evs := make([]streamclient.Event, batch)
	for b.Loop() {
		for i := range evs {
			next++
			evs[i] = streamclient.Event{Kind: api.EventSnapshot, Cursor: int64(next), Indicator: &api.IndicatorJSON{
				ID: fmt.Sprintf("01a22000-0000-7000-8000-%012d", next), Type: "domain", Value: fmt.Sprintf("h%d.bad-actor-zone.net", next),
				TLP: "green", Labels: []string{"phishing"}, Confidence: 70}}
		}
		if _, _, err := st.Apply(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "indicators/s")
}
