package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// TestFirstSnapshotCutShort: a state that holds the first part of a first
// snapshot (the stream was cut, then the sensor stopped) keeps it and its
// cursor: restarted with the hub out of reach, the sensor matches with
// that part instead of wiping it; restarted with the hub, it resumes from
// the cursor and receives the rest, once, not the whole snapshot again.
func TestFirstSnapshotCutShort(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(org, policy.Analyst), h.Key(org, policy.Sensor)
	const total, cut = 50, 20
	var values []string
	for i := range total {
		values = append(values, fmt.Sprintf("snap-%02d.example.org", i))
	}
	postGreen(t, h, analyst, values...)
	// The first events of the snapshot, as a cut stream delivered them.
	var first []streamclient.Event
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errCut := errors.New("cut")
	c := streamclient.New(streamclient.Config{URLs: []string{h.URL}, Key: sensorKey})
	err := c.Run(ctx, func(ev streamclient.Event) error {
		if ev.Kind != api.EventSnapshot {
			return fmt.Errorf("event %s before %d snapshot events", ev.Kind, cut)
		}
		first = append(first, ev)
		if len(first) == cut {
			return errCut
		}
		return nil
	})
	if !errors.Is(err, errCut) {
		t.Fatalf("reading the snapshot: %v", err)
	}
	dir := t.TempDir()
	st, err := sensor.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	cursor, has, err := st.Cursor(ctx)
	st.Close()
	if err != nil || !has || cursor != first[cut-1].Cursor {
		t.Fatalf("after %d snapshot events: cursor %d, %v, %v; want %d", cut, cursor, has, err, first[cut-1].Cursor)
	}

	run := func(hubs []string) (*sensor.Sensor, *arrivals, func()) {
		return startSensor(t, sensor.Config{Hubs: hubs, Key: sensorKey, StateDir: dir, Name: "edge-1"})
	}
	// The hub out of reach: the part it has stays.
	s, _, stop := run([]string{"http://127.0.0.1:1"})
	time.Sleep(300 * time.Millisecond)
	if n := s.Metrics().Indicators; n != cut {
		t.Errorf("restarted without the hub, the sensor holds %d indicators, want the %d of the cut snapshot", n, cut)
	}
	stop()

	s, got, stop := run([]string{h.URL})
	defer stop()
	eventually(t, 30*time.Second, "the rest of the snapshot", func() bool { return s.Metrics().Indicators == total })
	<-s.Current()
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.arrived) != total-cut {
		t.Errorf("%d indicators arrived after the restart, want the %d the cut snapshot lacked (not the whole snapshot again)", len(got.arrived), total-cut)
	}
	for _, ev := range first {
		if got.arrived[ev.Indicator.Value] != 0 {
			t.Errorf("%s, held before the restart, arrived again", ev.Indicator.Value)
		}
	}
}
