package hub_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchStore puts a benchmark's hub on PostgreSQL when HDN_BENCH_STORE is
// "postgres" (a fresh schema on the server of HDN_TEST_POSTGRES_DSN), and
// on SQLite in a temporary directory otherwise.
func benchStore(b *testing.B, cfg hub.Config) hub.Config {
	switch os.Getenv("HDN_BENCH_STORE") {
	case "", "sqlite":
	case "postgres":
		cfg.DB = hubtest.PostgresDSN(b)
	default:
		b.Fatalf("HDN_BENCH_STORE=%q: want sqlite or postgres", os.Getenv("HDN_BENCH_STORE"))
	}
	return cfg
}

// benchValue makes the i-th value of a realistic mix: domains, addresses,
// URLs and hashes.
func benchValue(run, i int) (string, string) {
	switch i % 4 {
	case 0:
		return "domain", fmt.Sprintf("h%d-%d.bench-phish.example", run, i)
	case 1:
		return "ipv4", fmt.Sprintf("%d.%d.%d.%d", 11+run%50, (i>>16)&255, (i>>8)&255, i&255)
	case 2:
		return "url", fmt.Sprintf("https://cdn%d.bench-mal.example/p/%d/payload.bin?id=%d", run, i, i)
	default:
		return "sha256", fmt.Sprintf("%064x", uint64(run)<<40|uint64(i))
	}
}

// BenchmarkAPIIngest submits HDN_BENCH_INGEST_N indicators (default 100,000;
// `make bench` uses 1,000,000) through POST /api/v1/indicators in batches of
// HDN_BENCH_INGEST_BATCH (10,000) from HDN_BENCH_INGEST_CLIENTS (4)
// concurrent clients, and reports indicators per second. The hub screens
// against the shipped warninglists, as a production hub does.
func BenchmarkAPIIngest(b *testing.B) {
	n := envInt("HDN_BENCH_INGEST_N", 100_000)
	batch, clients := envInt("HDN_BENCH_INGEST_BATCH", 10_000), envInt("HDN_BENCH_INGEST_CLIENTS", 4)
	wl, err := warninglist.Default()
	if err != nil {
		b.Fatal(err)
	}
	h := hubtest.Start(b, benchStore(b, hub.Config{Warninglists: wl}))
	org := h.Org("bench", policy.Member, "")
	key := h.Key(org, policy.Analyst)
	var total int
	var elapsed time.Duration
	b.ResetTimer()
	for run := range b.N {
		b.StopTimer()
		var bodies [][]byte
		for start := 0; start < n; start += batch {
			var buf bytes.Buffer
			buf.WriteString(`{"indicators":[`)
			for i := start; i < min(start+batch, n); i++ {
				if i > start {
					buf.WriteByte(',')
				}
				t, v := benchValue(run, i)
				fmt.Fprintf(&buf, `{"type":%q,"value":%q,"tlp":"amber","labels":["phishing"],"confidence":70}`, t, v)
			}
			buf.WriteString(`]}`)
			bodies = append(bodies, buf.Bytes())
		}
		work := make(chan []byte, len(bodies))
		for _, body := range bodies {
			work <- body
		}
		close(work)
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Go(func() {
				for body := range work {
					req, _ := http.NewRequest("POST", h.URL+"/api/v1/indicators", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					resp, err := h.Client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(t0)
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		total += n
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "indicators/s")
	if got, _ := h.Store.LastSeq(context.Background()); int(got) != total {
		b.Fatalf("store holds %d changes, want %d", got, total)
	}
}

// BenchmarkAPILookupByValue fills the store with HDN_BENCH_LOOKUP_N
// indicators (default 200,000; `make bench` uses 5,000,000) and measures
// GET /api/v1/indicators?value=… for random stored values, reporting p50 and
// p99 in microseconds (HTTP on loopback included).
func BenchmarkAPILookupByValue(b *testing.B) {
	n := envInt("HDN_BENCH_LOOKUP_N", 200_000)
	cfg := benchStore(b, hub.Config{})
	h := hubtest.Start(b, cfg)
	org := h.Org("bench", policy.Member, "")
	key := h.Key(org, policy.ReadOnly)
	ctx := context.Background()
	const chunk = 50_000
	for start := 0; start < n; start += chunk {
		ing, err := h.Store.BeginIngest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		subs := make([]model.Submission, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			t, v := benchValue(0, i)
			typ, _ := indicator.ParseType(t)
			cv, err := indicator.Canonicalize(typ, v)
			if err != nil {
				b.Fatal(err)
			}
			subs = append(subs, model.Submission{Type: typ, Value: cv, TLP: policy.Amber, Audience: policy.NetworkAudience(),
				Source: org.ID, SubmittedBy: org.ID, Confidence: 50, Labels: []string{"malware"}})
		}
		if _, err := ing.Put(ctx, subs); err != nil {
			b.Fatal(err)
		}
		if err := ing.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if cfg.DB != "" {
		// PostgreSQL plans by its statistics, which autovacuum gathers
		// within a minute of a bulk load in production; gather them now.
		db, err := sql.Open("pgx", cfg.DB)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		_, v := benchValue(0, rng.IntN(n))
		t0 := time.Now()
		r := h.Do("GET", "/api/v1/indicators?value="+url.QueryEscape(v), key, nil)
		lat = append(lat, time.Since(t0))
		if r.Status != 200 || !bytes.Contains(r.Body, []byte(`"id"`)) {
			b.Fatalf("lookup %s: %d %s", v, r.Status, r.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(n), "stored")
}
