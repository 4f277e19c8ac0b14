package bus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/bus/bustest"
)

// startNATS runs an embedded NATS server with JetStream on 127.0.0.1. Port -1
// picks a free port.
func startNATS(tb testing.TB, storeDir string, port int) *server.Server {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
	})
	if err != nil {
		tb.Fatalf("NATS server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		tb.Fatal("NATS server not ready")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// natsTarget makes buses on one server, each factory call with its own stream
// and subject prefix so that tests never see each other's messages. An
// external server keeps state between runs, so there the streams are deleted
// when the test ends.
type natsTarget struct {
	url      string
	external bool
}

func (nt natsTarget) options(tb testing.TB) bus.NATSOptions {
	tb.Helper()
	suffix := rand.Text()[:12]
	stream := "HDNTEST_" + suffix
	if nt.external {
		nt.deleteStreamAtCleanup(tb, stream)
	}
	return bus.NATSOptions{
		URL:           nt.url,
		Stream:        stream,
		SubjectPrefix: "hdntest-" + strings.ToLower(suffix),
		BufferSize:    bustest.BufferSize,
	}
}

// deleteStreamAtCleanup is called before the buses are made, so that it runs
// after their Close.
func (nt natsTarget) deleteStreamAtCleanup(tb testing.TB, stream string) {
	tb.Cleanup(func() {
		nc, err := nats.Connect(nt.url)
		if err != nil {
			tb.Errorf("cleanup: connect: %v", err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			tb.Errorf("cleanup: delete stream %s: %v", stream, err)
		}
	})
}

func newNATS(tb testing.TB, opts bus.NATSOptions) *bus.NATS {
	tb.Helper()
	b, err := bus.NewNATS(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return b
}

func (nt natsTarget) run(t *testing.T) {
	t.Run("Suite", func(t *testing.T) {
		bustest.Run(t, func(t *testing.T) bus.Bus {
			return newNATS(t, nt.options(t))
		})
	})
	t.Run("Shared", func(t *testing.T) {
		bustest.RunShared(t, func(t *testing.T) (a, b bus.Bus) {
			opts := nt.options(t)
			return newNATS(t, opts), newNATS(t, opts)
		})
	})
}

func TestNATSEmbedded(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	natsTarget{url: srv.ClientURL()}.run(t)
}

func TestNATSExternal(t *testing.T) {
	url := os.Getenv("HDN_TEST_NATS_URL")
	if url == "" {
		t.Skip("HDN_TEST_NATS_URL not set: skipping external NATS tests")
	}
	natsTarget{url: url, external: true}.run(t)
}

func streamInfo(t *testing.T, url, stream string) *jetstream.StreamInfo {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestNATSStreamAndConsumerCleanup(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	nt := natsTarget{url: srv.ClientURL()}
	opts := nt.options(t)
	b := newNATS(t, opts)

	info := streamInfo(t, nt.url, opts.Stream)
	if got, want := info.Config.Subjects, []string{opts.SubjectPrefix + ".>"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("stream subjects %v, want %v", got, want)
	}
	if info.Config.Storage != jetstream.FileStorage || info.Config.MaxAge != time.Hour {
		t.Errorf("stream storage %v, max age %v; want file, 1h", info.Config.Storage, info.Config.MaxAge)
	}

	var subs []bus.Subscription
	for range 3 {
		s, err := b.Subscribe(t.Context(), "changes")
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if n := streamInfo(t, nt.url, opts.Stream).State.Consumers; n != 3 {
		t.Fatalf("%d consumers after 3 subscriptions, want 3", n)
	}
	if err := subs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if n := streamInfo(t, nt.url, opts.Stream).State.Consumers; n != 2 {
		t.Fatalf("%d consumers after closing a subscription, want 2", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := streamInfo(t, nt.url, opts.Stream).State.Consumers; n != 0 {
		t.Fatalf("%d consumers after closing the bus, want 0", n)
	}

	// A second bus on the same stream finds it and keeps it.
	b2 := newNATS(t, opts)
	if err := b2.Publish(t.Context(), "changes", []byte("1")); err != nil {
		t.Fatal(err)
	}
}

// TestNATSReconnect restarts the server under a live subscription: the
// connection comes back by itself and the subscriber receives again.
func TestNATSReconnect(t *testing.T) {
	storeDir := t.TempDir()
	srv := startNATS(t, storeDir, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	nt := natsTarget{url: srv.ClientURL()}
	b := newNATS(t, nt.options(t))
	s, err := b.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), "changes", []byte("before")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-s.C():
		if string(m.Data) != "before" {
			t.Fatalf("received %q, want %q", m.Data, "before")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message before restart")
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	startNATS(t, storeDir, port)

	// Publish until the subscriber sees a message from after the restart;
	// publishes fail while the client is still reconnecting.
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				t.Fatal("subscription closed by the restart")
			}
			if string(m.Data) != "after" {
				t.Fatalf("received %q, want %q", m.Data, "after")
			}
			// Close while the restarted server still runs: its cleanup
			// comes first.
			if err := b.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return
		case <-tick.C:
			_ = b.Publish(t.Context(), "changes", []byte("after"))
		case <-deadline:
			t.Fatal("no message after the server restarted")
		}
	}
}

func TestNewNATSInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts bus.NATSOptions
	}{
		{"no URL", bus.NATSOptions{}},
		{"stream with dot", bus.NATSOptions{URL: "nats://127.0.0.1:1", Stream: "HDN.X"}},
		{"stream with space", bus.NATSOptions{URL: "nats://127.0.0.1:1", Stream: "HDN X"}},
		{"wildcard prefix", bus.NATSOptions{URL: "nats://127.0.0.1:1", SubjectPrefix: "hdn.*"}},
		{"prefix with empty token", bus.NATSOptions{URL: "nats://127.0.0.1:1", SubjectPrefix: "hdn."}},
		// An unreachable server is not an error: TestNATSStartsWhileServerDown.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bus.NewNATS(t.Context(), tt.opts)
			if err == nil {
				b.Close()
				t.Fatal("NewNATS succeeded, want an error")
			}
		})
	}
}

// BenchmarkNATSPublishReceive measures publish→receive through an embedded
// NATS server: JetStream ack to the publisher, delivery to each subscriber.
func BenchmarkNATSPublishReceive(b *testing.B) {
	srv := startNATS(b, b.TempDir(), -1)
	nt := natsTarget{url: srv.ClientURL()}
	for _, subs := range []int{1, 16} {
		b.Run(benchName(subs), func(b *testing.B) {
			opts := nt.options(b)
			benchPublishReceive(b, newNATS(b, opts), newNATS(b, opts), subs)
		})
	}
}
