package bus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/bus"
)

// benchPublishReceive publishes b.N messages on pub and waits after each until
// every one of subs subscribers on sub has received it, so ns/op is the time
// from Publish to the last receiver.
func benchPublishReceive(b *testing.B, pub, sub bus.Bus, subs int) {
	ctx := b.Context()
	ss := make([]bus.Subscription, subs)
	for i := range ss {
		s, err := sub.Subscribe(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ss[i] = s
	}
	data := []byte(`{"seq":1234567890}`)
	timeout := time.NewTimer(time.Hour)
	defer timeout.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		if err := pub.Publish(ctx, "bench", data); err != nil {
			b.Fatal(err)
		}
		for _, s := range ss {
			timeout.Reset(10 * time.Second)
			select {
			case <-s.C():
			case <-timeout.C:
				b.Fatalf("message %d not received (dropped %d)", n+1, s.Dropped())
			}
		}
	}
}

func benchName(subs int) string { return fmt.Sprintf("subscribers=%d", subs) }
