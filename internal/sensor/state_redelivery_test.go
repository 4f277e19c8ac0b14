package sensor_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestStateRedeliveredIndicatorArrivesOnce: the hub sends a change made
// while its snapshot was read after the snapshot, which may have listed the
// indicator already (stream: "a snapshot's changes follow from the store's
// newest change when it began"). The state takes such an indicator once —
// in the same batch or a later one, an unchanged indicator does not arrive
// again — so the index holds it once and one event raises one alert, and
// an indicator that comes and goes within a batch neither arrives nor is
// hunted for. Before, it arrived twice and, within one batch, was indexed
// twice: two alerts a match (TestFailoverBetweenReplicas* under -race).
func TestStateRedeliveredIndicatorArrivesOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sensor.OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := api.IndicatorJSON{ID: "0195f3c0-7a00-7000-8000-00000000b001", Type: "domain", Value: "before.example.org", TLP: "green"}
	y := api.IndicatorJSON{ID: "0195f3c0-7a00-7000-8000-00000000b002", Type: "domain", Value: "gone-again.example.org", TLP: "green"}
	ids := func(inds []match.Indicator) []string {
		var out []string
		for _, ind := range inds {
			out = append(out, ind.ID)
		}
		return out
	}

	// One batch: the snapshot lists x, then the change that created it.
	arrived, fresh, err := st.Apply(ctx, []streamclient.Event{
		{Kind: api.EventSnapshot, Cursor: 1, Indicator: &x},
		{Kind: api.EventSnapshotEnd, Cursor: 0},
		{Kind: "created", Cursor: 1, Indicator: &x},
		{Kind: "created", Cursor: 2, Indicator: &y},
		{Kind: api.EventRemoved, Cursor: 3, ID: y.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(arrived) != 1 || arrived[0].ID != x.ID || len(fresh) != 1 || fresh[0].ID != x.ID {
		t.Fatalf("arrived %v, fresh %v; want x once in each, and not y (removed in the batch)", ids(arrived), ids(fresh))
	}
	idx, err := match.Build(arrived)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := match.NewMatcher(idx).NewSession(match.FormatLines).Match(nil, []byte("before.example.org")); bytes.Count(out, []byte("\n")) != 1 {
		t.Errorf("one line raised %d alerts, want 1:\n%s", bytes.Count(out, []byte("\n")), out)
	}

	// A later batch sends x again, unchanged: nothing arrives. A changed x
	// does, and is not hunted for again (same value).
	arrived, fresh, err = st.Apply(ctx, []streamclient.Event{{Kind: "created", Cursor: 1, Indicator: &x}})
	if err != nil || len(arrived)+len(fresh) != 0 {
		t.Fatalf("x again, unchanged: arrived %v, fresh %v, %v; want nothing", ids(arrived), ids(fresh), err)
	}
	x2 := x
	x2.TLP = "amber"
	arrived, fresh, err = st.Apply(ctx, []streamclient.Event{{Kind: "updated", Cursor: 4, Indicator: &x2}})
	if err != nil || len(arrived) != 1 || arrived[0].TLP != "amber" || len(fresh) != 0 {
		t.Fatalf("x with another TLP: arrived %+v, fresh %v, %v; want it arrived, not fresh", arrived, ids(fresh), err)
	}
}
