package hub_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// Two replicas on one store and one embedded NATS whose faults the tests
// make: down when the replicas start, restarted without its storage. The
// replicas' store poll is off (an hour), so a change written through A
// reaches B's stream only through NATS.

// natsOnPort runs an embedded NATS with JetStream on a fixed loopback port
// (so that it can come back on the same address) with storage in dir.
func natsOnPort(t *testing.T, port int, dir string) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsReplicas starts two replicas on one data directory and NATS at port,
// with the store poll off, and follows B's stream with a key of A.
func natsReplicas(t *testing.T, port int) (a, b *hubtest.Hub, key string, onB *collector) {
	t.Helper()
	stream := fmt.Sprintf("HDNTEST%d", time.Now().UnixNano())
	cfg := hub.Config{DataDir: t.TempDir(), NATS: fmt.Sprintf("nats://127.0.0.1:%d", port),
		NATSStream: stream, NATSPrefix: strings.ToLower(stream), StreamPoll: time.Hour}
	a = hubtest.Start(t, cfg)
	b = hubtest.Start(t, cfg)
	o := a.Org("hospital-a", policy.Member, "")
	key = a.Key(o, policy.Analyst)
	onB = follow(t, []string{b.URL}, key, false, 0)
	onB.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
	return a, b, key, onB
}

// submitUntilSeen submits a new indicator through a every 500 ms until one
// of them is on c's stream, and fails after a minute.
func submitUntilSeen(t *testing.T, a *hubtest.Hub, key string, c *collector, tag string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		submit(t, a, key, map[string]any{"value": fmt.Sprintf("%s-%d.example.org", tag, i), "tlp": "green"})
		until := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(until) {
			for _, ev := range c.snapshot() {
				if ev.Indicator != nil && strings.HasPrefix(ev.Indicator.Value, tag+"-") {
					t.Logf("%s: seen after %d submissions", tag, i+1)
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatalf("%s: no submission through replica A reached replica B's stream within a minute", tag)
}

// TestReplicasStartWhileNATSDown: the replicas start while NATS is down (a
// write is accepted meanwhile), and once it is up a write through one
// reaches the other's stream, the earlier one with it.
func TestReplicasStartWhileNATSDown(t *testing.T) {
	port := loopbackPort(t)
	a, b, key, onB := natsReplicas(t, port)
	submit(t, a, key, map[string]any{"value": "while-down.example.org", "tlp": "green"})

	natsOnPort(t, port, t.TempDir())
	submitUntilSeen(t, a, key, onB, "up")
	onB.waitFor(t, "the change written while NATS was down", valueIs("created", "while-down.example.org"))
	// Stop while NATS runs, so that the replicas delete their consumers.
	a.Stop()
	b.Stop()
}

// TestReplicasAfterNATSLostItsStorage: NATS restarts without its storage, so
// the stream the replicas use is gone. They create it again by themselves
// and a write through one reaches the other's stream again.
func TestReplicasAfterNATSLostItsStorage(t *testing.T) {
	port := loopbackPort(t)
	ns := natsOnPort(t, port, t.TempDir())
	a, b, key, onB := natsReplicas(t, port)
	submitUntilSeen(t, a, key, onB, "before")

	ns.Shutdown()
	ns.WaitForShutdown()
	natsOnPort(t, port, t.TempDir()) // empty storage
	submitUntilSeen(t, a, key, onB, "after")
	a.Stop()
	b.Stop()
}
