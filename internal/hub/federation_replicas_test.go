package hub_test

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestFederatedApplyAcrossReplicas: two peers relay the same origin's
// indicators at the same moment, each pushing to another replica of this hub
// (PostgreSQL). Each origin indicator must be stored once, or one of the two
// copies is never updated again (the other peer's versions of it are
// ignored) and stays live after the origin revokes it. Failed before the
// federated apply took a lock that holds across replicas (two copies of every
// one).
func TestFederatedApplyAcrossReplicas(t *testing.T) {
	dsn := hubtest.PostgresDSN(t)
	cfg := hub.Config{DB: dsn, FederationCheck: -1}
	replicas := []*hubtest.Hub{hubtest.Start(t, cfg), hubtest.Start(t, cfg)}
	a := replicas[0]
	keys := []string{a.Key(a.Org("hub-p", policy.PeerHub, ""), policy.Analyst), a.Key(a.Org("hub-q", policy.PeerHub, ""), policy.Analyst)}
	// Enough that each replica is still deciding when the other stores.
	const n = 300
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	states := func(via string, revoked bool, mod time.Time) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = relayedState{id: fmt.Sprintf("01a2b3c4-0000-7000-8000-%012d", i), value: fmt.Sprintf("race-%d.example.org", i),
				mod: mod, local: mod, validFrom: t0, hops: []string{"hub-a", via}, network: true, revoked: revoked}.item()
		}
		return out
	}
	// Both peers' deliveries at once: hub-p's to one replica, hub-q's to
	// the other.
	pushBoth := func(revoked bool, mod time.Time) {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, via := range []string{"hub-p", "hub-q"} {
			items := states(via, revoked, mod)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if r := replicas[i].Do("POST", "/api/v1/federation/indicators", keys[i], map[string]any{"items": items}); r.Status != 200 {
					t.Errorf("push of %s to replica %d: %d %s", via, i, r.Status, r.Body)
				}
			}()
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(cond string) int {
		t.Helper()
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM indicators WHERE value LIKE 'race-%' AND ` + cond).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	pushBoth(false, t0)
	if copies, origins := count("true"), count("id IN (SELECT indicator_id FROM fed_origins)"); copies != n || origins != n {
		t.Errorf("%d copies, %d with an origin, stored for %d origin indicators delivered by two peers to two replicas; want one each",
			copies, origins, n)
	}
	// The origin revokes them; both peers relay the revocation, again to
	// both replicas at once.
	pushBoth(true, t0.Add(time.Minute))
	if live := count("revoked = 0"); live > 0 {
		t.Errorf("%d copies of %d origin indicators stay live after the origin revoked them (%d copies in all)", live, n, count("true"))
	}
}

// TestFederatedVersionKeepsTypeAndValue: a version of a copy with another
// value (the origin never changes one; a peer that does is broken or
// hostile) is refused and the copy keeps its value. Stored, it would be a
// second indicator here — a second copy of one origin indicator, which the
// store now refuses (fed_origins is unique by origin id); before, it was
// stored beside the first, and one of the two was never updated again.
func TestFederatedVersionKeepsTypeAndValue(t *testing.T) {
	ctx := t.Context()
	h := hubtest.Start(t, fedConfig("", ""))
	peerKey := h.Key(h.Org("hub-b", policy.PeerHub, ""), policy.Analyst)
	member := h.Org("hosp", policy.Member, "")
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	const id = "01a2b3c4-0000-7000-8000-0000000005a1"
	pushStates(t, h, peerKey, relayedState{id: id, value: "first.fed-value.example", mod: t0, local: t0, validFrom: t0}.item())
	r := h.Do("POST", "/api/v1/federation/indicators", peerKey, map[string]any{"items": []map[string]any{
		relayedState{id: id, value: "second.fed-value.example", mod: t0.Add(time.Minute), local: t0.Add(time.Minute), validFrom: t0}.item()}})
	var res struct {
		Applied, Refused int
		Errors           []string
	}
	r.JSON(t, &res)
	if r.Status != 200 || res.Applied != 0 || res.Refused != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "cannot change its type or value") {
		t.Errorf("a version with another value: %d %s; want it refused", r.Status, r.Body)
	}
	v, err := h.Store.Viewer(ctx, member.ID)
	if err != nil {
		t.Fatal(err)
	}
	for value, want := range map[string]int{"first.fed-value.example": 1, "second.fed-value.example": 0} {
		if got, err := h.Store.ListIndicators(ctx, v, storeQueryValue(value)); err != nil || len(got) != want {
			t.Errorf("indicators of %s: %d, %v; want %d", value, len(got), err, want)
		}
	}
	if o, err := h.Store.OriginOf(ctx, id); err != nil || o.IndicatorID != id {
		t.Errorf("OriginOf(%s) = %+v, %v; want the first copy", id, o, err)
	}
	// Two versions of one new origin in one delivery, the second with
	// another value: the second is refused, the first stored, and the
	// delivery is answered (it failed whole on the unique origin, for ever).
	const id2 = "01a2b3c4-0000-7000-8000-0000000005a2"
	r = h.Do("POST", "/api/v1/federation/indicators", peerKey, map[string]any{"items": []map[string]any{
		relayedState{id: id2, value: "third.fed-value.example", mod: t0, local: t0, validFrom: t0}.item(),
		relayedState{id: id2, value: "fourth.fed-value.example", mod: t0.Add(time.Minute), local: t0.Add(time.Minute), validFrom: t0}.item()}})
	res.Errors = nil
	r.JSON(t, &res)
	if r.Status != 200 || res.Applied != 1 || res.Refused != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "cannot change its type or value") {
		t.Errorf("two values of one origin in one delivery: %d %s; want the second refused", r.Status, r.Body)
	}
	if o, err := h.Store.OriginOf(ctx, id2); err != nil || o.IndicatorID != id2 {
		t.Errorf("OriginOf(%s) = %+v, %v; want the first version's copy", id2, o, err)
	}
}
