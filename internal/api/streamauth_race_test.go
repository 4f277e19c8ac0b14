package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/stream"
)

// holdingViewer holds one request between the reading of its key and the
// registering of its stream (principalForKey reads the viewer in between).
type holdingViewer struct {
	store.Store
	hold             atomic.Bool
	entered, release chan struct{}
}

func (h *holdingViewer) Viewer(ctx context.Context, orgID string) (policy.Viewer, error) {
	if h.hold.CompareAndSwap(true, false) {
		close(h.entered)
		<-h.release
	}
	return h.Store.Viewer(ctx, orgID)
}

// TestStreamOpenedAcrossRevocation: a stream whose key is revoked after the
// key was checked, and whose registering comes after the watcher has looked
// at the open streams for that revocation, is refused instead of running on
// (the watcher would not look again before the next change).
func TestStreamOpenedAcrossRevocation(t *testing.T) {
	st, orgs, _ := seedStore(t, []string{"hospital"})
	ctx := t.Context()
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: orgs[0].ID, Role: policy.Analyst, Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	br := stream.NewBroker(st, b, stream.Options{Poll: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go br.Run(ctx)
	hv := &holdingViewer{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	s := New(Config{Store: hv, Broker: br, Notifier: br, Limits: Limits{RateLimit: -1, MaxStreamsPerOrg: -1}, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(s)
	defer srv.Close()

	hv.hold.Store(true)
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+plain)
		resp, err := http.DefaultClient.Do(req)
		got <- answer{resp, err}
	}()
	<-hv.entered // the key was read, and is still good
	if err := st.RevokeKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.checkStreams(ctx) // the watcher's look after the revocation: no stream yet
	close(hv.release)
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.resp.Body.Close()
	if a.resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream of a key revoked before it was registered: %d, want 503 (retry, then 401)", a.resp.StatusCode)
	}
}
