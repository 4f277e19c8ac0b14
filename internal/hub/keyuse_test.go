package hub_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestKeyLastUsed: a key's last_used (which the key rotation procedure of
// docs/HARDENING.md reads) moves when the key authenticates a request, on
// any API, and not when a request fails to authenticate with its id; the
// hub writes the uses in the background and once more when it stops.
func TestKeyLastUsed(t *testing.T) {
	dir := t.TempDir()
	h := hubtest.Start(t, hub.Config{DataDir: dir})
	a := h.Org("Hospital A", policy.Member, "")
	admin, sensor, taxii, idle := h.Key(a, policy.Admin), h.Key(a, policy.Sensor), h.Key(a, policy.ReadOnly), h.Key(a, policy.ReadOnly)
	lastUsed := func(h *hubtest.Hub) map[string]time.Time {
		t.Helper()
		keys, err := h.Store.ListKeys(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, k := range keys {
			out[k.ID] = k.LastUsed
		}
		return out
	}
	idOf := func(key string) string {
		t.Helper()
		id, _, err := auth.Parse(key)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	before := time.Now().Add(-time.Second)
	if r := h.Do("GET", "/api/v1/indicators", sensor, nil); r.Status != 200 {
		t.Fatalf("sensor key: %d %s", r.Status, r.Body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("client:"+taxii))
	if r := h.DoWith("GET", "/taxii2/", map[string]string{"Accept": taxiiMedia, "Authorization": basic}, nil); r.Status != 200 {
		t.Fatalf("TAXII with the key: %d %s", r.Status, r.Body)
	}
	wrong := idle[:len(idle)-4] + "AAAA"
	if r := h.Do("GET", "/api/v1/indicators", wrong, nil); r.Status != 401 {
		t.Fatalf("a wrong secret: %d", r.Status)
	}
	if err := h.Hub.API().FlushKeyUses(context.Background()); err != nil {
		t.Fatal(err)
	}
	used := lastUsed(h)
	for name, key := range map[string]string{"sensor": sensor, "TAXII": taxii} {
		if at := used[idOf(key)]; at.Before(before) || at.After(time.Now()) {
			t.Errorf("the %s key's last_used is %v after it was used", name, at)
		}
	}
	for name, key := range map[string]string{"unused admin": admin, "idle (a wrong secret)": idle} {
		if at := used[idOf(key)]; !at.IsZero() {
			t.Errorf("the %s key's last_used is %v", name, at)
		}
	}
	// A use just before the hub stops is written as it stops.
	if r := h.Do("GET", "/api/v1/indicators", admin, nil); r.Status != 200 {
		t.Fatalf("admin key: %d", r.Status)
	}
	adminID := idOf(admin)
	h.Stop()
	h = hubtest.Start(t, hub.Config{DataDir: dir})
	if at := lastUsed(h)[adminID]; at.IsZero() {
		t.Error("a use just before the hub stopped was not written")
	}
}
