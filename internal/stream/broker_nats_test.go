package stream_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/stream"
)

// logRecorder is a slog.Handler that keeps what was logged.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

// count returns how many records at level or above contain substr.
func (r *logRecorder) count(level slog.Level, substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level >= level && strings.Contains(rec.Message, substr) {
			n++
		}
	}
	return n
}

// noChanges is a ChangeSource with an empty change log: Notify reads nothing.
type noChanges struct{}

func (noChanges) Changes(context.Context, int64, int) ([]model.Change, error) { return nil, nil }
func (noChanges) LastSeq(context.Context) (int64, error)                      { return 0, nil }

// TestNotifyWhileNATSDown: with NATS gone, a write's Notify neither waits for
// it (the old bus waited 5 s, the JetStream request timeout, on the path of
// every write request) nor logs a warning per change: the bus logged the
// disconnection once. The time bound is generous on purpose.
func TestNotifyWhileNATSDown(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	busLog, brokerLog := &logRecorder{}, &logRecorder{}
	b, err := bus.NewNATS(t.Context(), bus.NATSOptions{URL: srv.ClientURL(), Stream: "HDNTEST_NOTIFY",
		SubjectPrefix: "hdntest-notify", Logger: slog.New(busLog)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	br := stream.NewBroker(noChanges{}, b, stream.Options{Logger: slog.New(brokerLog)})

	srv.Shutdown()
	srv.WaitForShutdown()
	deadline := time.Now().Add(30 * time.Second)
	for busLog.count(slog.LevelWarn, "disconnected") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bus logged no disconnection within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	const notifies = 3
	for i := range notifies {
		start := time.Now()
		br.Notify(t.Context(), int64(i+1))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Notify %d with NATS down took %v: the write request waits for NATS", i+1, d)
		}
	}
	if n := brokerLog.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("the broker logged %d warnings for %d notifications while NATS was down, want none (the bus logs the outage once)", n, notifies)
	}
	if n := busLog.count(slog.LevelWarn, "disconnected"); n != 1 {
		t.Errorf("the bus logged the disconnection %d times, want once", n)
	}
}
