package hub_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestDatabaseFull: a hub whose database reaches its size bound refuses
// writes with 507 storage_full, in each API's error shape, and stores
// nothing of them; it goes on answering reads and stays healthy; it logs
// the condition once, not once per refused write; restarted with room, it
// takes the refused write.
func TestDatabaseFull(t *testing.T) {
	dir := t.TempDir()
	h := hubtest.Start(t, hub.Config{DataDir: dir})
	a := h.Org("Hospital A", policy.Member, "")
	ka, kro := h.Key(a, policy.Analyst), h.Key(a, policy.ReadOnly)
	first := submit(t, h, ka, map[string]any{"type": "domain", "value": "before-full.example", "tlp": "green"})
	h.Stop()
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}

	logs := &errorLog{}
	h = hubtest.Start(t, hub.Config{DataDir: dir, MaxDBBytes: fi.Size() + 1<<20, Logger: slog.New(logs)})
	batch := func(b int) map[string]any {
		its := make([]map[string]any, 500)
		for i := range its {
			its[i] = map[string]any{"type": "domain", "value": fmt.Sprintf("b%d-%d.full-test.example", b, i), "tlp": "green",
				"description": "padding to fill the database's pages sooner than plain values would"}
		}
		return items(its...)
	}
	var refused hubtest.Response
	b := 0
	for ; b < 100; b++ {
		r := h.Do("POST", "/api/v1/indicators", ka, batch(b))
		if r.Status != 200 {
			refused = r
			break
		}
	}
	if refused.Status != 507 || refused.ErrorCode() != api.CodeStorageFull || !strings.Contains(string(refused.Body), "nothing of this request was stored") {
		t.Fatalf("after %d batches: %d %s; want 507 storage_full", b, refused.Status, refused.Body)
	}
	if b == 0 {
		t.Fatal("not one batch fitted under the bound: the test proves nothing")
	}
	acked := 1 + 500*b
	if n := countIndicators(t, h); n != acked {
		t.Errorf("%d changes stored, %d indicators acknowledged: the refused batch left something", n, acked)
	}
	// Other writes are refused the same way, in their API's shape; the
	// refused batch again changes nothing.
	if r := h.Do("POST", "/api/v1/indicators", ka, batch(b)); r.Status != 507 || r.ErrorCode() != api.CodeStorageFull {
		t.Errorf("the batch again: %d %s", r.Status, r.Body)
	}
	big := make([]string, 1000)
	for i := range big {
		big[i] = stixIndicatorJSON(fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i), fmt.Sprintf("taxii%d.full-test.example", i))
	}
	wantTAXIIError(t, "TAXII add objects to a full database", taxiiCall(h, "POST", taxiiCollection+"objects/", ka, envelopeBody(big...)), 507)
	if n := countIndicators(t, h); n != acked {
		t.Errorf("%d changes after the refused writes, want %d", n, acked)
	}
	// Reads go on.
	if r := h.Do("GET", "/api/v1/indicators/"+first[0].ID, kro, nil); r.Status != 200 {
		t.Errorf("a lookup in a full database: %d %s", r.Status, r.Body)
	}
	if r := h.Do("GET", "/api/v1/indicators?value=before-full.example", kro, nil); r.Status != 200 || !strings.Contains(string(r.Body), first[0].ID) {
		t.Errorf("a search in a full database: %d %s", r.Status, r.Body)
	}
	if !h.Healthy() {
		t.Error("the hub is not healthy with a full database")
	}
	msgs := logs.take()
	full := 0
	for _, m := range msgs {
		if strings.Contains(m, "the database is full") {
			full++
		}
	}
	if full != 1 {
		t.Errorf("the full database was logged %d times for three refused writes, want once: %q", full, msgs)
	}
	h.Stop()

	h = hubtest.Start(t, hub.Config{DataDir: dir})
	if r := h.Do("POST", "/api/v1/indicators", ka, batch(b)); r.Status != 200 {
		t.Fatalf("the refused batch with room: %d %s", r.Status, r.Body)
	}
	if n := countIndicators(t, h); n != acked+500 {
		t.Errorf("%d changes, want %d: no gap, nothing twice", n, acked+500)
	}
}
