package sensor_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestStateHoldsHubBounds: what a hostile or broken hub sends is held to
// the hub's own rules before the sensor keeps it: a /0 block (it matched
// every packet, and cost the index seconds a build) is not kept, and a
// report title of a megabyte and a hundred labels are cut to the hub's
// bounds (512 bytes, 32 labels of 64 bytes).
func TestStateHoldsHubBounds(t *testing.T) {
	st, err := sensor.OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	labels := make([]string, 100)
	for i := range labels {
		labels[i] = strings.Repeat("l", 1000)
	}
	evs := []streamclient.Event{
		{Kind: api.EventSnapshot, Cursor: 1, Indicator: &api.IndicatorJSON{ID: "wide", Type: "cidr", Value: "0.0.0.0/0", TLP: "green"}},
		{Kind: api.EventSnapshot, Cursor: 2, Indicator: &api.IndicatorJSON{ID: "big", Type: "domain", Value: "big.example.org", TLP: "green",
			Report: strings.Repeat("r", 1<<20), Labels: labels}},
		{Kind: api.EventSnapshot, Cursor: 3, Indicator: &api.IndicatorJSON{ID: "net", Type: "cidr", Value: "198.51.100.0/24", TLP: "green"}},
	}
	if _, _, err := st.Apply(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	inds, err := st.Indicators(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, mi := range inds {
		byID[mi.ID] = i
	}
	if _, ok := byID["wide"]; ok {
		t.Error("the sensor kept 0.0.0.0/0")
	}
	if _, ok := byID["net"]; !ok {
		t.Error("the sensor did not keep 198.51.100.0/24")
	}
	i, ok := byID["big"]
	if !ok {
		t.Fatal("the sensor did not keep big.example.org")
	}
	if got := inds[i]; len(got.Report) > 512 || len(got.Labels) > 32 || len(got.Labels[0]) > 64 {
		t.Errorf("kept a report of %d bytes and %d labels, the first of %d bytes", len(got.Report), len(got.Labels), len(got.Labels[0]))
	}
}
