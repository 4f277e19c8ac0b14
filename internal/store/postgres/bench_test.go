package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/postgres"
)

// The benchmarks have the shapes of the SQLite store's (bench_test.go
// there), so that the figures compare: a small network, ingests of 5,000,
// lookups of one value by a member.

type benchNet struct {
	st      *postgres.Store
	members []model.Org
	group   model.Group
}

func newBenchNet(b *testing.B) *benchNet {
	ctx := context.Background()
	st := open(b, freshSchema(b))
	n := &benchNet{st: st}
	if _, err := st.CreateOrg(ctx, model.Org{Name: "coordinator", Kind: policy.Coordinator}); err != nil {
		b.Fatal(err)
	}
	for i := range 8 {
		o, err := st.CreateOrg(ctx, model.Org{Name: "member " + strconv.Itoa(i), Kind: policy.Member})
		if err != nil {
			b.Fatal(err)
		}
		n.members = append(n.members, o)
	}
	var err error
	n.group, err = st.CreateGroup(ctx, model.Group{Name: "bench", Owner: n.members[0].ID,
		Members: []string{n.members[0].ID, n.members[1].ID, n.members[2].ID}})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// submissions makes count submissions with distinct values numbered from
// first: a mix of types, TLPs and audiences (group, explicit list, network).
func (n *benchNet) submissions(first, count int) []model.Submission {
	subs := make([]model.Submission, count)
	for k := range subs {
		i := first + k
		s := &subs[k]
		s.Source = n.members[i%len(n.members)].ID
		s.SubmittedBy = s.Source
		s.Confidence = 50 + i%50
		s.Labels = []string{"malware"}
		if i%3 == 0 {
			s.Labels = append(s.Labels, "c2")
		}
		s.Description = "benchmark indicator"
		switch i % 4 {
		case 0:
			s.Type, s.Value = indicator.IPv4, fmt.Sprintf("%d.%d.%d.%d", 1+i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff)
		case 1:
			s.Type, s.Value = indicator.Domain, "evil-"+strconv.Itoa(i)+".example.com"
		case 2:
			s.Type, s.Value = indicator.SHA256, fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15)
		case 3:
			s.Type, s.Value = indicator.URL, "http://bad-"+strconv.Itoa(i%1000)+".example.net/payload/"+strconv.Itoa(i)
		}
		switch i % 10 {
		case 0:
			s.TLP, s.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: n.group.ID}
		case 1:
			s.TLP, s.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{n.members[3].ID, n.members[4].ID}}
		case 2, 3:
			s.TLP, s.Audience = policy.Clear, policy.NetworkAudience()
		default:
			s.TLP, s.Audience = policy.Green, policy.NetworkAudience()
		}
	}
	return subs
}

func (n *benchNet) ingest(b *testing.B, subs []model.Submission) {
	ctx := context.Background()
	ing, err := n.st.BeginIngest(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ing.Put(ctx, subs); err != nil {
		ing.Rollback()
		b.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIngest measures new indicators per second through BeginIngest,
// Put and Commit, in transactions of 5,000.
func BenchmarkIngest(b *testing.B) {
	const batch = 5000
	n := newBenchNet(b)
	next := 0
	for b.Loop() {
		n.ingest(b, n.submissions(next, batch))
		next += batch
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "indicators/s")
}

// BenchmarkIngestUpdate measures re-submissions (updates) per second.
func BenchmarkIngestUpdate(b *testing.B) {
	const batch, distinct = 5000, 50000
	n := newBenchNet(b)
	for i := 0; i < distinct; i += batch {
		n.ingest(b, n.submissions(i, batch))
	}
	next := 0
	for b.Loop() {
		n.ingest(b, n.submissions(next%distinct, batch))
		next += batch
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "indicators/s")
}

// BenchmarkLookupByValue fills a schema with HDN_BENCH_LOOKUP_N indicators
// (default 200,000) and measures lookups of one value by a member; it
// reports the 50th and 99th percentile in microseconds.
func BenchmarkLookupByValue(b *testing.B) {
	total := 200000
	if v := os.Getenv("HDN_BENCH_LOOKUP_N"); v != "" {
		var err error
		if total, err = strconv.Atoi(v); err != nil || total <= 0 {
			b.Fatalf("HDN_BENCH_LOOKUP_N=%q: want a positive number", v)
		}
	}
	ctx := context.Background()
	n := newBenchNet(b)
	const batch = 20000
	start := time.Now()
	for i := 0; i < total; i += batch {
		n.ingest(b, n.submissions(i, min(batch, total-i)))
	}
	fill := time.Since(start)
	b.Logf("filled %d indicators in %v (%.0f indicators/s)", total, fill.Round(time.Millisecond), float64(total)/fill.Seconds())
	viewer, err := n.st.Viewer(ctx, n.members[5].ID)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	found := 0
	for b.Loop() {
		i := rng.IntN(total)
		s := n.submissions(i, 1)[0]
		q := store.Query{Value: s.Value}
		if i%2 == 0 {
			q.Type = s.Type
		}
		t0 := time.Now()
		inds, err := n.st.ListIndicators(ctx, viewer, q)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		found += len(inds)
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(found)/float64(len(lat)), "found/op")
}

// BenchmarkSmallWrite measures one small write transaction (an audit
// entry): a round trip and a commit.
func BenchmarkSmallWrite(b *testing.B) {
	n := newBenchNet(b)
	ctx := context.Background()
	for b.Loop() {
		if err := n.st.AppendAudit(ctx, model.AuditEntry{Org: n.members[0].ID, Actor: "bench", Action: "indicator.submit"}); err != nil {
			b.Fatal(err)
		}
	}
}
