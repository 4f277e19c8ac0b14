package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hdnetwork/hdn/internal/bus"
)

// The tests of this file stop and restart an embedded NATS server under live
// buses: the faults a NATS deployment has (down, down at start, restarted
// without its storage, stream deleted). None asserts on speed except
// TestNATSPublishWhileServerDown, whose bound is generous: a publish that
// waits for NATS takes the client's 5 s request timeout.

// faultWait bounds every wait for a bus to recover: a reconnect takes about
// a second or two, a check a few requests.
const faultWait = 90 * time.Second

// freePort returns a loopback port that was free a moment ago, for a server
// that must come back on the same address.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func stopNATS(srv *server.Server) {
	srv.Shutdown()
	srv.WaitForShutdown()
}

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// waitFor waits until a message containing substr was logged.
func (r *logRecorder) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, m := range r.msgs {
			if strings.Contains(m, substr) {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing logged with %q within %v", substr, faultWait)
}

// closeBuses closes buses while the server still runs (the cleanups of a
// server started later run first), so that their consumers are deleted.
func closeBuses(t *testing.T, buses ...bus.Bus) {
	t.Helper()
	for _, b := range buses {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// publishUntilReceived publishes on pub every 100 ms until sub receives a
// message published after the call began (its payload starts with tag). It
// fails the test after faultWait, or when more than maxPublished publishes
// have succeeded (0: no limit) without one arriving.
func publishUntilReceived(t *testing.T, pub bus.Bus, sub bus.Subscription, tag string, maxPublished int) {
	t.Helper()
	deadline := time.After(faultWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	published, attempts := 0, 0
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatal("subscription closed")
			}
			if len(m.Data) >= len(tag) && string(m.Data[:len(tag)]) == tag {
				t.Logf("%s: received after %d publishes (%d attempts)", tag, published, attempts)
				return
			}
		case <-tick.C:
			attempts++
			if err := pub.Publish(t.Context(), "changes", []byte(tag+strconv.Itoa(attempts))); err == nil {
				published++
			}
			if maxPublished > 0 && published > maxPublished {
				t.Fatalf("%s: nothing received after %d successful publishes", tag, published)
			}
		case <-deadline:
			t.Fatalf("%s: nothing received within %v (%d publishes succeeded of %d)", tag, faultWait, published, attempts)
		}
	}
}

// TestNATSStartsWhileServerDown: a bus made while no server answers is
// usable at once (Subscribe, Publish), and delivers once the server is up.
func TestNATSStartsWhileServerDown(t *testing.T) {
	port := freePort(t)
	nt := natsTarget{url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	opts := nt.options(t)
	b, err := bus.NewNATS(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewNATS while the server is down: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	s, err := b.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatalf("Subscribe while the server is down: %v", err)
	}
	if err := b.Publish(t.Context(), "changes", []byte("while-down")); err == nil {
		t.Error("Publish while the server is down succeeded, want an error (the hint is dropped)")
	}

	startNATS(t, t.TempDir(), port)
	publishUntilReceived(t, b, s, "up-", 0)
	defer closeBuses(t, b)

	// The stream was made with the bus's configuration.
	info := streamInfo(t, nt.url, opts.Stream)
	if info.Config.Storage != jetstream.FileStorage || len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != opts.SubjectPrefix+".>" {
		t.Errorf("stream made after the start: storage %v, subjects %v", info.Config.Storage, info.Config.Subjects)
	}
}

// TestNATSPublishWhileServerDown: Publish does not wait for a server that is
// gone; the old bus waited 5 s for each (the JetStream request timeout), on
// the path of every write request. The bound is generous on purpose.
func TestNATSPublishWhileServerDown(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	opts := natsTarget{url: srv.ClientURL()}.options(t)
	logs := &logRecorder{}
	opts.Logger = slog.New(logs)
	b := newNATS(t, opts)
	if _, err := b.Subscribe(t.Context(), "changes"); err != nil {
		t.Fatal(err)
	}
	stopNATS(srv)
	logs.waitFor(t, "disconnected") // the client knows the server is gone
	for i := range 3 {
		start := time.Now()
		err := b.Publish(t.Context(), "changes", []byte("x"))
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Publish %d with the server down took %v (err %v): it waits for NATS", i+1, d, err)
		}
	}
}

// TestNATSStreamLostWithStorage: the server restarts without its storage, so
// the stream is gone. The buses create it again by themselves and the
// subscriber on the other replica receives again.
func TestNATSStreamLostWithStorage(t *testing.T) {
	port := freePort(t)
	srv := startNATS(t, t.TempDir(), port)
	opts := natsTarget{url: srv.ClientURL()}.options(t)
	onA := newNATS(t, opts)
	onB := newNATS(t, opts)
	s, err := onA.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatal(err)
	}
	publishUntilReceived(t, onB, s, "before-", 0)

	stopNATS(srv)
	startNATS(t, t.TempDir(), port) // empty storage
	publishUntilReceived(t, onB, s, "after-", 0)
	closeBuses(t, onA, onB)
}

// TestNATSSubscriberFollowsRecreatedStream: after the server lost its
// storage another replica (starting now) recreated the stream, whose
// sequence starts again at 1. A subscriber whose consumer resumed at the
// sequence it had reached would see nothing until the new stream got as far;
// the subscription must instead start again on the new stream.
func TestNATSSubscriberFollowsRecreatedStream(t *testing.T) {
	const before = 1000 // <= bustest.BufferSize: the subscriber drops none
	port := freePort(t)
	srv := startNATS(t, t.TempDir(), port)
	opts := natsTarget{url: srv.ClientURL()}.options(t)
	onA := newNATS(t, opts)
	onB := newNATS(t, opts)
	s, err := onA.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if err := onB.Publish(t.Context(), "changes", []byte("old-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range before {
		select {
		case <-s.C():
		case <-time.After(faultWait):
			t.Fatalf("received %d of %d messages before the restart", i, before)
		}
	}

	stopNATS(srv)
	startNATS(t, t.TempDir(), port) // empty storage
	onC := newNATS(t, opts)         // a replica starting now recreates the stream
	// Fewer publishes than the old position: a consumer left there would
	// receive none of them.
	publishUntilReceived(t, onB, s, "new-", before/2)
	closeBuses(t, onA, onB, onC)
}

// TestNATSStreamDeletedWhileConnected: the stream is deleted (by an
// operator, or a cluster that lost it) while the buses stay connected: no
// reconnect tells them. A failed publish or a consumer error does: the
// stream is recreated and the subscriber receives again.
func TestNATSStreamDeletedWhileConnected(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	opts := natsTarget{url: srv.ClientURL()}.options(t)
	onA := newNATS(t, opts)
	onB := newNATS(t, opts)
	s, err := onA.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatal(err)
	}
	publishUntilReceived(t, onB, s, "before-", 0)

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, opts.Stream); err != nil {
		t.Fatal(err)
	}
	publishUntilReceived(t, onB, s, "after-", 0)
}
