package bus_test

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/bus"
	"github.com/hdnetwork/hdn/internal/bus/bustest"
)

func newLocal(t *testing.T) bus.Bus {
	b := bus.NewLocal(bus.LocalOptions{BufferSize: bustest.BufferSize})
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestLocal(t *testing.T) {
	bustest.Run(t, newLocal)
}

func TestLocalShared(t *testing.T) {
	bustest.RunShared(t, func(t *testing.T) (a, b bus.Bus) {
		l := newLocal(t)
		return l, l
	})
}

func TestLocalDefaultBufferSize(t *testing.T) {
	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	s, err := b.Subscribe(t.Context(), "changes")
	if err != nil {
		t.Fatal(err)
	}
	for range bus.DefaultBufferSize + 10 {
		if err := b.Publish(t.Context(), "changes", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(s.C()), bus.DefaultBufferSize; got != want {
		t.Errorf("buffered %d messages, want %d", got, want)
	}
	if got, want := s.Dropped(), uint64(10); got != want {
		t.Errorf("Dropped() = %d, want %d", got, want)
	}
}

// BenchmarkLocalPublish measures publish→receive through the in-process bus:
// one publisher, a subscriber draining its channel, fanned out to subs
// subscribers.
func BenchmarkLocalPublish(b *testing.B) {
	for _, subs := range []int{1, 16} {
		b.Run(benchName(subs), func(b *testing.B) {
			l := bus.NewLocal(bus.LocalOptions{BufferSize: bustest.BufferSize})
			defer l.Close()
			benchPublishReceive(b, l, l, subs)
		})
	}
}
