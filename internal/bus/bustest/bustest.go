// Package bustest is the conformance suite every bus.Bus implementation
// passes: the in-process bus and NATS JetStream run the same tests.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/bus"
)

// BufferSize is the per-subscriber buffer the factories passed to Run and
// RunShared must configure. It holds the largest burst the ordering tests
// publish without reading, so those tests lose nothing, and it is small
// enough for the slow-subscriber test to overflow quickly.
const BufferSize = 1024

// wait bounds every wait for a message. Tests never assert on speed; a
// message that has not arrived after this long counts as lost.
const wait = 5 * time.Second

// Run runs the conformance suite. newBus returns a new, empty bus with
// BufferSize buffers and registers its Close with t.Cleanup; Close must be
// safe to call again.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b bus.Bus)
	}{
		{"FanOutToEverySubscriber", testFanOut},
		{"OrderPerPublisher", testOrder},
		{"TopicIsolation", testTopicIsolation},
		{"NoMessagesFromBeforeSubscribe", testNoEarlierMessages},
		{"SlowSubscriberDoesNotBlock", testSlowSubscriber},
		{"SubscriptionClose", testSubscriptionClose},
		{"BusClose", testBusClose},
		{"InvalidTopics", testInvalidTopics},
		{"DataLimitAndEmptyData", testData},
		{"ConcurrentPublishers", testConcurrentPublishers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBus(t)) })
	}
}

// RunShared runs the tests that need two instances on one backend, as two
// hub replicas have. newPair returns them (the same instance twice is fine
// for an in-process bus) with BufferSize buffers and registers their Close
// with t.Cleanup.
func RunShared(t *testing.T, newPair func(t *testing.T) (a, b bus.Bus)) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b bus.Bus)
	}{
		{"CrossInstanceDelivery", testCrossInstance},
		{"CrossInstanceOrder", testCrossInstanceOrder},
		{"ConcurrentPublishersOnBoth", testSharedConcurrentPublishers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newPair(t)
			tt.fn(t, a, b)
		})
	}
}

func subscribe(t *testing.T, b bus.Bus, topic string) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func publish(t *testing.T, b bus.Bus, topic, data string) {
	t.Helper()
	if err := b.Publish(t.Context(), topic, []byte(data)); err != nil {
		t.Fatalf("Publish(%q, %q): %v", topic, data, err)
	}
}

// receive returns the next message or fails the test after wait.
func receive(t *testing.T, s bus.Subscription) bus.Message {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatal("subscription channel closed while waiting for a message")
		}
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
	}
	panic("unreachable")
}

func expect(t *testing.T, s bus.Subscription, topic, data string) {
	t.Helper()
	m := receive(t, s)
	if m.Topic != topic || string(m.Data) != data {
		t.Fatalf("received %q on %q, want %q on %q", m.Data, m.Topic, data, topic)
	}
}

// expectClosed drains s until its channel is closed, failing after wait.
func expectClosed(t *testing.T, s bus.Subscription) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-s.C():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("channel not closed within %v", wait)
		}
	}
}

func testFanOut(t *testing.T, b bus.Bus) {
	subs := []bus.Subscription{
		subscribe(t, b, "changes"),
		subscribe(t, b, "changes"),
		subscribe(t, b, "changes"),
	}
	publish(t, b, "changes", "42")
	publish(t, b, "changes", "43")
	for i, s := range subs {
		t.Logf("subscriber %d", i)
		expect(t, s, "changes", "42")
		expect(t, s, "changes", "43")
		if d := s.Dropped(); d != 0 {
			t.Errorf("subscriber %d: Dropped() = %d, want 0", i, d)
		}
	}
}

// collectSeq reads n messages of the form "<publisher>:<i>" and checks that
// each publisher's i increases by exactly one from 1.
func collectSeq(t *testing.T, s bus.Subscription, n int) {
	t.Helper()
	next := map[string]int{}
	for range n {
		m := receive(t, s)
		pub, num, ok := strings.Cut(string(m.Data), ":")
		i, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Fatalf("unexpected message %q", m.Data)
		}
		if want := next[pub] + 1; i != want {
			t.Fatalf("publisher %s: received %d, want %d (dropped %d)", pub, i, want, s.Dropped())
		}
		next[pub] = i
	}
	if d := s.Dropped(); d != 0 {
		t.Fatalf("Dropped() = %d, want 0", d)
	}
}

func publishSeq(ctx context.Context, b bus.Bus, topic, publisher string, n int) error {
	for i := 1; i <= n; i++ {
		if err := b.Publish(ctx, topic, fmt.Appendf(nil, "%s:%d", publisher, i)); err != nil {
			return fmt.Errorf("publisher %s, message %d: %w", publisher, i, err)
		}
	}
	return nil
}

func testOrder(t *testing.T, b bus.Bus) {
	const n = 1000
	subs := []bus.Subscription{subscribe(t, b, "changes"), subscribe(t, b, "changes")}
	// Published before anyone reads: BufferSize >= n, so nothing is dropped.
	if err := publishSeq(t.Context(), b, "changes", "p", n); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		collectSeq(t, s, n)
	}
}

func testTopicIsolation(t *testing.T, b bus.Bus) {
	changes := subscribe(t, b, "changes")
	alerts := subscribe(t, b, "alerts")
	nested := subscribe(t, b, "changes.org")
	// Each subscriber's first message must be its own: one from another topic
	// published earlier would arrive first.
	publish(t, b, "changes", "c1")
	publish(t, b, "alerts", "a1")
	publish(t, b, "changes.org", "n1")
	publish(t, b, "changes", "c2")
	publish(t, b, "alerts", "a2")
	expect(t, changes, "changes", "c1")
	expect(t, changes, "changes", "c2")
	expect(t, alerts, "alerts", "a1")
	expect(t, alerts, "alerts", "a2")
	expect(t, nested, "changes.org", "n1")
	// A marker on each topic proves nothing else was queued before it.
	publish(t, b, "changes.org", "n-end")
	publish(t, b, "changes", "c-end")
	publish(t, b, "alerts", "a-end")
	expect(t, changes, "changes", "c-end")
	expect(t, alerts, "alerts", "a-end")
	expect(t, nested, "changes.org", "n-end")
}

func testNoEarlierMessages(t *testing.T, b bus.Bus) {
	early := subscribe(t, b, "changes")
	publish(t, b, "changes", "before")
	// Once early has it, the message is certainly published everywhere.
	expect(t, early, "changes", "before")
	late := subscribe(t, b, "changes")
	publish(t, b, "changes", "after")
	expect(t, late, "changes", "after")
	expect(t, early, "changes", "after")
}

func testSlowSubscriber(t *testing.T, b bus.Bus) {
	slow := subscribe(t, b, "changes")
	fast := subscribe(t, b, "changes")
	// The publisher waits for the fast subscriber to receive each message,
	// so the fast one never falls behind, while the slow one never reads. A
	// Publish that waited for the slow subscriber would stall here and the
	// test would fail at the deadline.
	const limit = 50 * BufferSize
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= limit; i++ {
			if err := b.Publish(t.Context(), "changes", []byte(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
			select {
			case m, ok := <-fast.C():
				if !ok {
					done <- errors.New("fast subscriber's channel closed")
					return
				}
				if got := string(m.Data); got != strconv.Itoa(i) {
					done <- fmt.Errorf("fast subscriber received %q, want %d", got, i)
					return
				}
			case <-time.After(wait):
				done <- fmt.Errorf("fast subscriber did not receive message %d within %v", i, wait)
				return
			}
			if i > BufferSize && slow.Dropped() > 0 {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("slow subscriber dropped nothing after %d messages", limit)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		// Unblock the publisher, so that the cleanup does not hang too.
		go func() {
			for range slow.C() {
			}
		}()
		t.Fatal("Publish blocked behind a slow subscriber")
	}
	if d := fast.Dropped(); d != 0 {
		t.Errorf("fast subscriber: Dropped() = %d, want 0", d)
	}
	if d := slow.Dropped(); d == 0 {
		t.Errorf("slow subscriber: Dropped() = 0, want > 0")
	}
	// The slow subscriber kept the oldest messages, in order.
	for i := 1; i <= 3; i++ {
		expect(t, slow, "changes", strconv.Itoa(i))
	}
}

func testSubscriptionClose(t *testing.T, b bus.Bus) {
	closing := subscribe(t, b, "changes")
	other := subscribe(t, b, "changes")
	publish(t, b, "changes", "1")
	expect(t, closing, "changes", "1")
	if err := closing.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectClosed(t, closing)
	if err := closing.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Publishing after a subscriber left neither fails nor reaches it, and
	// the others still receive.
	publish(t, b, "changes", "2")
	expect(t, other, "changes", "1")
	expect(t, other, "changes", "2")
	if _, ok := <-closing.C(); ok {
		t.Fatal("closed subscription received a message")
	}
}

func testBusClose(t *testing.T, b bus.Bus) {
	subs := []bus.Subscription{subscribe(t, b, "changes"), subscribe(t, b, "alerts")}
	publish(t, b, "changes", "1")
	expect(t, subs[0], "changes", "1")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, s := range subs {
		expectClosed(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("subscription Close after bus Close: %v", err)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Publish(t.Context(), "changes", []byte("2")); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(t.Context(), "changes"); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

func testInvalidTopics(t *testing.T, b bus.Bus) {
	invalid := []string{
		"", " ", "changes ", "a b", "a\tb", "*", ">", "changes.*", "changes.>",
		".changes", "changes.", "a..b", "ch\u00e4nges", "a/b", "a\x00b",
		strings.Repeat("x", 129),
	}
	for _, topic := range invalid {
		if err := b.Publish(t.Context(), topic, []byte("x")); !errors.Is(err, bus.ErrInvalidTopic) {
			t.Errorf("Publish(%q): %v, want ErrInvalidTopic", topic, err)
		}
		s, err := b.Subscribe(t.Context(), topic)
		if !errors.Is(err, bus.ErrInvalidTopic) {
			t.Errorf("Subscribe(%q): %v, want ErrInvalidTopic", topic, err)
		}
		if s != nil {
			_ = s.Close()
		}
	}
	valid := []string{"changes", "alerts", "campaign-alerts", "org_42.changes", "A.b-c.D_9", strings.Repeat("x", 128)}
	for _, topic := range valid {
		s := subscribe(t, b, topic)
		publish(t, b, topic, topic)
		expect(t, s, topic, topic)
	}
}

func testData(t *testing.T, b bus.Bus) {
	s := subscribe(t, b, "alerts")
	if err := b.Publish(t.Context(), "alerts", make([]byte, bus.MaxDataSize+1)); !errors.Is(err, bus.ErrDataTooLarge) {
		t.Fatalf("Publish of %d bytes: %v, want ErrDataTooLarge", bus.MaxDataSize+1, err)
	}
	if err := b.Publish(t.Context(), "alerts", nil); err != nil {
		t.Fatalf("Publish of no data: %v", err)
	}
	big := make([]byte, bus.MaxDataSize)
	for i := range big {
		big[i] = byte(i)
	}
	if err := b.Publish(t.Context(), "alerts", big); err != nil {
		t.Fatalf("Publish of %d bytes: %v", len(big), err)
	}
	// The caller may reuse its buffer once Publish returns.
	buf := []byte(`{"campaign":1}`)
	if err := b.Publish(t.Context(), "alerts", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXXXXXXXX")

	if m := receive(t, s); len(m.Data) != 0 {
		t.Errorf("empty message arrived with %d bytes", len(m.Data))
	}
	if m := receive(t, s); string(m.Data) != string(big) {
		t.Errorf("large message arrived altered (%d bytes)", len(m.Data))
	}
	expect(t, s, "alerts", `{"campaign":1}`)
}

func runPublishers(t *testing.T, buses []bus.Bus, perBus, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(buses)*perBus)
	for bi, b := range buses {
		for p := range perBus {
			wg.Go(func() { errs <- publishSeq(t.Context(), b, "changes", fmt.Sprintf("b%dp%d", bi, p), n) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testConcurrentPublishers(t *testing.T, b bus.Bus) {
	const publishers, n = 8, 100 // 800 <= BufferSize: nothing is dropped
	subs := []bus.Subscription{subscribe(t, b, "changes"), subscribe(t, b, "changes")}
	runPublishers(t, []bus.Bus{b}, publishers, n)
	for _, s := range subs {
		collectSeq(t, s, publishers*n)
	}
}

func testCrossInstance(t *testing.T, a, b bus.Bus) {
	onA := subscribe(t, a, "changes")
	onB1 := subscribe(t, b, "changes")
	onB2 := subscribe(t, b, "changes")
	publish(t, a, "changes", "from-a")
	publish(t, b, "changes", "from-b")
	for _, s := range []bus.Subscription{onA, onB1, onB2} {
		expect(t, s, "changes", "from-a")
		expect(t, s, "changes", "from-b")
	}
}

func testCrossInstanceOrder(t *testing.T, a, b bus.Bus) {
	const n = 1000
	onB := subscribe(t, b, "changes")
	if err := publishSeq(t.Context(), a, "changes", "a", n); err != nil {
		t.Fatal(err)
	}
	collectSeq(t, onB, n)
}

func testSharedConcurrentPublishers(t *testing.T, a, b bus.Bus) {
	const publishers, n = 4, 100 // 2*4*100 <= BufferSize
	subs := []bus.Subscription{subscribe(t, a, "changes"), subscribe(t, b, "changes")}
	runPublishers(t, []bus.Bus{a, b}, publishers, n)
	for _, s := range subs {
		collectSeq(t, s, 2*publishers*n)
	}
}
