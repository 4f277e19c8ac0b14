package streamclient

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOnInterrupt: each connection that ends — refused with a status, an
// event that does not parse, a stream the server closes — is reported with
// its reason before the client reconnects, and the events that did arrive
// are handled once.
func TestOnInterrupt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 1\nevent: heartbeat\ndata: {\"kind\":\"heartbeat\",\"cursor\":\"1\"}\n\nid: 2\nevent: created\ndata: {not json}\n\n")
		case 3:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 3\nevent: heartbeat\ndata: {\"kind\":\"heartbeat\",\"cursor\":\"3\"}\n\n")
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	var mu sync.Mutex
	var reasons []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cursors []int64
	c := New(Config{URLs: []string{srv.URL}, Key: "k", MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnInterrupt: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reasons = append(reasons, err.Error())
			if len(reasons) == 3 {
				cancel()
			}
		}})
	if err := c.Run(ctx, func(ev Event) error { cursors = append(cursors, ev.Cursor); return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 3 {
		t.Fatalf("interruptions reported: %q, want 3", reasons)
	}
	for i, want := range []string{"503", "bad data", "unexpected EOF"} {
		if !strings.Contains(reasons[i], want) {
			t.Errorf("interruption %d: %q, want it to say %q", i+1, reasons[i], want)
		}
	}
	if len(cursors) != 2 || cursors[0] != 1 || cursors[1] != 3 || c.Cursor() != 3 {
		t.Errorf("events handled at cursors %v (client at %d), want [1 3]", cursors, c.Cursor())
	}
}
