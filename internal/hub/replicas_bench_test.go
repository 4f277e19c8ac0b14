package hub_test

import (
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
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
	benchPropagation(b, a, key, r, key, false)
}
