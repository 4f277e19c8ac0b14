package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// BenchmarkReplicaPropagation measures the time from sending POST
// /api/v1/indicators to replica A to a stream subscriber of
// replica B receiving the indicator, with both replicas on one store and one
// NATS JetStream (B learns of A's writes by the bus; its store poll is an
// hour): SQLite shared by both with an embedded NATS, and PostgreSQL with
// the external NATS when HDN_TEST_POSTGRES_DSN and HDN_TEST_NATS_URL are set.
// It reports p50 and p99.
func BenchmarkReplicaPropagation(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) {
		url, stream := hubtest.NATS(b, false)
		benchReplicas(b, hub.Config{DataDir: b.TempDir(), NATS: url, NATSStream: stream, NATSPrefix: stream, StreamPoll: time.Hour})
	})
	b.Run("store=postgres", func(b *testing.B) {
		url, stream := hubtest.NATS(b, true)
		benchReplicas(b, hub.Config{DB: hubtest.PostgresDSN(b), NATS: url, NATSStream: stream, NATSPrefix: stream, StreamPoll: time.Hour})
	})
}

func benchReplicas(b *testing.B, cfg hub.Config) {
	a := hubtest.Start(b, cfg)
	r := hubtest.Start(b, cfg)
	org := a.Org("bench", policy.Member, "")
	key := a.Key(org, policy.Analyst)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type arrival struct {
		value string
		at    time.Time
	}
	arrivals := make(chan arrival, 1024)
	ready := make(chan struct{})
	go func() {
		signalled := false
		c := streamclient.New(streamclient.Config{URLs: []string{r.URL}, Key: key, HTTP: &http.Client{}})
		c.Run(ctx, func(ev streamclient.Event) error {
			if ev.Kind == "snapshot-end" && !signalled {
				signalled = true
				close(ready)
			}
			if ev.Kind == "created" && ev.Indicator != nil {
				arrivals <- arrival{ev.Indicator.Value, time.Now()}
			}
			return nil
		})
	}()
	<-ready
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		value := fmt.Sprintf("r%d-%d.replica-bench.example", i, time.Now().UnixNano())
		sent := time.Now() // the receipt may come before the POST's answer
		fedSubmit(b, a, key, value)
		timeout := time.After(30 * time.Second)
	wait:
		for {
			select {
			case got := <-arrivals:
				if got.value == value {
					lat = append(lat, got.at.Sub(sent))
					break wait
				}
			case <-timeout:
				b.Fatalf("%s did not reach replica B's stream within 30 s", value)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
