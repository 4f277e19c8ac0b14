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
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// BenchmarkFederationPropagation measures the time from POST
// /api/v1/indicators returning on the central hub to a sensor's stream on a
// partner hub (which pulls the central hub's stream) receiving the
// indicator, and reports p50 and p99. The hubs run with their production
// defaults but for the peer list check (which only matters at start).
func BenchmarkFederationPropagation(b *testing.B) {
	central := hubtest.Start(b, hub.Config{FederationCheck: 100 * time.Millisecond})
	partner := hubtest.Start(b, hub.Config{FederationCheck: 100 * time.Millisecond})
	member := central.Org("hosp", policy.Member, "")
	key := central.Key(member, policy.Analyst)
	partnerOnC := central.Org("partnerhub", policy.PeerHub, "")
	soc := partner.Org("mssp-soc", policy.Coordinator, "")
	partner.Org("central", policy.PeerHub, "")
	peerKey := central.Key(partnerOnC, policy.Analyst)
	pc, _ := partner.Store.Org(context.Background(), "central")
	if _, err := partner.Store.CreatePeer(context.Background(), model.Peer{Name: "central", OrgID: pc.ID, URL: central.URL, Key: peerKey, Pull: true}); err != nil {
		b.Fatal(err)
	}
	sensorKey := partner.Key(soc, policy.Sensor)
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
		c := streamclient.New(streamclient.Config{URLs: []string{partner.URL}, Key: sensorKey, HTTP: &http.Client{}})
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
	// Wait until the partner hub follows the central hub's stream.
	warm := fmt.Sprintf("warm-%d.fed-bench.example", time.Now().UnixNano())
	fedSubmit(b, central, key, warm)
	for a := range arrivals {
		if a.value == warm {
			break
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		value := fmt.Sprintf("p%d-%d.fed-bench.example", i, time.Now().UnixNano())
		fedSubmit(b, central, key, value)
		sent := time.Now()
		timeout := time.After(30 * time.Second)
	wait:
		for {
			select {
			case a := <-arrivals:
				if a.value == value {
					lat = append(lat, a.at.Sub(sent))
					break wait
				}
			case <-timeout:
				b.Fatalf("%s did not reach the partner hub's sensor within 30 s", value)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}

func fedSubmit(b *testing.B, h *hubtest.Hub, key, value string) {
	b.Helper()
	r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": []map[string]any{{"type": "domain", "value": value, "tlp": "amber"}}})
	if r.Status != 200 {
		b.Fatalf("submit: %d %s", r.Status, r.Body)
	}
}

// BenchmarkFederationCatchUp measures how fast a partner hub that starts
// peering takes the central hub's existing indicators (HDN_BENCH_FED_N,
// default 5,000): the snapshot of the central hub's stream applied
// indicator by indicator, with loop checks, canonical forms and
// warninglists. It reports indicators per second.
func BenchmarkFederationCatchUp(b *testing.B) {
	n := envInt("HDN_BENCH_FED_N", 5_000)
	for range b.N {
		b.StopTimer()
		central := hubtest.Start(b, hub.Config{FederationCheck: 100 * time.Millisecond})
		partner := hubtest.Start(b, hub.Config{FederationCheck: 50 * time.Millisecond})
		member := central.Org("hosp", policy.Member, "")
		key := central.Key(member, policy.Analyst)
		for start := 0; start < n; start += 5000 {
			var items []map[string]any
			for i := start; i < min(start+5000, n); i++ {
				items = append(items, map[string]any{"type": "domain", "value": fmt.Sprintf("c%d.fed-bench.example", i), "tlp": "amber"})
			}
			if r := central.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": items}); r.Status != 200 {
				b.Fatalf("submit: %d %s", r.Status, r.Body)
			}
		}
		partnerOnC := central.Org("partnerhub", policy.PeerHub, "")
		pc := partner.Org("central", policy.PeerHub, "")
		b.StartTimer()
		start := time.Now()
		if _, err := partner.Store.CreatePeer(context.Background(), model.Peer{Name: "central", OrgID: pc.ID, URL: central.URL,
			Key: central.Key(partnerOnC, policy.Analyst), Pull: true}); err != nil {
			b.Fatal(err)
		}
		for {
			got, err := partner.Store.LastSeq(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if got >= int64(n) {
				break
			}
			if time.Since(start) > 30*time.Minute {
				b.Fatalf("the partner hub holds %d of %d after 30 min", got, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "indicators/s")
		b.StopTimer()
		partner.Stop()
		central.Stop()
	}
}
