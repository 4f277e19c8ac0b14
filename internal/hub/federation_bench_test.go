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
	benchPropagation(b, central, key, partner, sensorKey, true)
}

// benchPropagation submits b.N indicators, one after another, to hub `to`
// with key and waits for each to reach a stream subscriber of hub `at`
// (with atKey), reporting p50 and p99 in milliseconds: from the POST's
// answer when fromAnswer, else from sending it (a receipt may come first).
// A first indicator, not measured, makes sure the path is up.
func benchPropagation(b *testing.B, to *hubtest.Hub, key string, at *hubtest.Hub, atKey string, fromAnswer bool) {
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
		c := streamclient.New(streamclient.Config{URLs: []string{at.URL}, Key: atKey, HTTP: &http.Client{}})
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
	await := func(value string, since time.Time) time.Duration {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case a := <-arrivals:
				if a.value == value {
					return a.at.Sub(since)
				}
			case <-timeout:
				b.Fatalf("%s did not reach the subscriber within 30 s", value)
			}
		}
	}
	warm := fmt.Sprintf("warm-%d.bench.example", time.Now().UnixNano())
	fedSubmit(b, to, key, warm)
	await(warm, time.Now())
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		value := fmt.Sprintf("p%d-%d.bench.example", i, time.Now().UnixNano())
		sent := time.Now()
		fedSubmit(b, to, key, value)
		if fromAnswer {
			sent = time.Now()
		}
		lat = append(lat, await(value, sent))
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
