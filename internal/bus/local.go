package bus

import (
	"context"
	"slices"
	"sync"
)

// LocalOptions configures a [Local] bus.
type LocalOptions struct {
	// BufferSize is each subscriber's buffer; zero or less means
	// DefaultBufferSize.
	BufferSize int
}

// Local is the in-process bus, for a hub that runs as a single replica.
type Local struct {
	bufferSize int

	mu     sync.RWMutex
	closed bool
	topics map[string]map[*localSub]struct{}
}

var (
	_ Bus          = (*Local)(nil)
	_ Subscription = (*localSub)(nil)
)

// NewLocal returns an in-process bus.
func NewLocal(opts LocalOptions) *Local {
	return &Local{
		bufferSize: bufferSize(opts.BufferSize),
		topics:     make(map[string]map[*localSub]struct{}),
	}
}

// Publish hands data to every current subscriber of topic; a subscriber
// whose buffer is full misses it. The payload is copied once, so the caller
// may reuse data; subscribers share the copy.
func (b *Local) Publish(ctx context.Context, topic string, data []byte) error {
	if err := validatePublish(topic, data); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	msg := Message{Topic: topic, Data: slices.Clone(data)}
	// The read lock is held across the deliveries so that a message cannot
	// reach a subscriber after its Close has returned; deliver never blocks.
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	for s := range b.topics[topic] {
		s.box.deliver(msg)
	}
	return nil
}

// Subscribe registers a subscriber of topic.
func (b *Local) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &localSub{bus: b, topic: topic, box: newMailbox(b.bufferSize)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	subs := b.topics[topic]
	if subs == nil {
		subs = make(map[*localSub]struct{})
		b.topics[topic] = subs
	}
	subs[s] = struct{}{}
	return s, nil
}

// Close closes every subscription. Later calls to Publish and Subscribe return
// ErrClosed.
func (b *Local) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	topics := b.topics
	b.topics = nil
	b.mu.Unlock()
	for _, subs := range topics {
		for s := range subs {
			s.box.close()
		}
	}
	return nil
}

func (b *Local) unsubscribe(s *localSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.topics[s.topic]
	delete(subs, s)
	if len(subs) == 0 {
		delete(b.topics, s.topic)
	}
}

type localSub struct {
	bus   *Local
	topic string
	box   *mailbox
}

func (s *localSub) C() <-chan Message { return s.box.ch }
func (s *localSub) Dropped() uint64   { return s.box.dropped.Load() }

func (s *localSub) Close() error {
	s.bus.unsubscribe(s)
	s.box.close()
	return nil
}
