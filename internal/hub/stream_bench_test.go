package hub_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// BenchmarkStreamPropagation measures the time from POST /api/v1/indicators
// returning to each subscriber receiving the indicator, with 100 and 1,000
// concurrent subscribers on one hub, and reports p50 and p99.
func BenchmarkStreamPropagation(b *testing.B) {
	for _, subs := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := hubtest.Start(b, hub.Config{MaxStreams: 5000})
			org := h.Org("bench", policy.Member, "")
			key := h.Key(org, policy.Analyst)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type arrival struct {
				value string
				at    time.Time
			}
			arrivals := make(chan arrival, subs*4)
			var ready sync.WaitGroup
			ready.Add(subs)
			transport := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: subs}
			for range subs {
				go func() {
					signalled := false
					c := streamclient.New(streamclient.Config{URLs: []string{h.URL}, Key: key, HTTP: &http.Client{Transport: transport}})
					c.Run(ctx, func(ev streamclient.Event) error {
						if ev.Kind == "snapshot-end" && !signalled {
							signalled = true
							ready.Done()
						}
						if ev.Kind == "created" && ev.Indicator != nil {
							arrivals <- arrival{ev.Indicator.Value, time.Now()}
						}
						return nil
					})
				}()
			}
			ready.Wait()
			var lat []time.Duration
			b.ResetTimer()
			for i := range b.N {
				value := fmt.Sprintf("prop%d.bench.example.org", i)
				r := h.Do("POST", "/api/v1/indicators", key, items(map[string]any{"value": value}))
				sent := time.Now()
				if r.Status != 200 {
					b.Fatalf("submit: %d", r.Status)
				}
				for range subs {
					select {
					case a := <-arrivals:
						if a.value != value {
							b.Fatalf("got %s, want %s", a.value, value)
						}
						lat = append(lat, max(a.at.Sub(sent), 0))
					case <-time.After(30 * time.Second):
						b.Fatalf("not every subscriber received %s within 30 s", value)
					}
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkStreamIdleSubscriberMemory opens 1,000 idle streams (raw
// connections that read only what arrives) and reports the hub's memory per
// subscriber: heap and goroutine stacks in use, after minus before.
func BenchmarkStreamIdleSubscriberMemory(b *testing.B) {
	const subs = 1000
	for range b.N {
		h := hubtest.Start(b, hub.Config{MaxStreams: 5000})
		org := h.Org("bench", policy.Member, "")
		key := h.Key(org, policy.ReadOnly)
		inUse := func() int64 {
			// Twice: a span freed by one collection is released from
			// HeapInuse only once its objects are swept.
			runtime.GC()
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return int64(m.HeapInuse + m.StackInuse)
		}
		var conns []net.Conn
		open := func() {
			c, err := net.Dial("tcp", h.Hub.Addr())
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(c, "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", key)
			br := bufio.NewReaderSize(c, 512)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(line, "event: snapshot-end") {
					break
				}
			}
			conns = append(conns, c)
		}
		// One stream first, so that what the first one sets up once (the
		// broker's window, the caches, the write buffers' pool) is in the
		// baseline, not spread over the thousand.
		open()
		// And only once the hub has settled: at start it computes a
		// password hash in the background (the web sessions' dummy hash,
		// argon2id with 64 MiB) whose memory is freed when it is done; a
		// baseline taken before that made the figure negative. Wait for
		// the drop, or 5 s where it came before the first reading.
		first := inUse()
		before := first
		for deadline := time.Now().Add(5 * time.Second); before > first-32<<20 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			before = min(before, inUse())
		}
		for range subs {
			open()
		}
		if h.Hub.ActiveStreams() != subs+1 {
			b.Fatalf("%d streams active, want %d", h.Hub.ActiveStreams(), subs+1)
		}
		after := inUse()
		// Client connections live in this process too; a raw net.Conn costs a
		// few hundred bytes, which this figure includes (an over-estimate).
		b.ReportMetric(float64(after-before)/subs/1024, "KiB/subscriber")
		for _, c := range conns {
			c.Close()
		}
	}
}
