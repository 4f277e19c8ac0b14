// Package bus carries short notices from the hub's writers to its stream
// subscribers, across every hub replica.
//
// The bus carries hints; the store is the truth. A replica that commits
// changes publishes a small message (the newest change sequence number, a
// campaign alert as JSON, ...); stream handlers on every replica wake up on it
// and read the changes themselves from the shared store, resuming from their
// own cursor. A subscriber therefore never relies on the bus for
// completeness: a message may be dropped when a subscriber's buffer is full
// (counted by [Subscription.Dropped]) or lost while a connection to NATS is
// being re-established, and a failed [Bus.Publish] does not mean the change is
// lost. Publish never waits long on the network: while NATS is away it drops
// the message and returns [ErrUnavailable] at once. Consumers should re-read
// the store after they subscribe and may poll it now and then as a safety net.
//
// What the bus does promise is prompt fan-out: every subscriber of a topic, on
// every replica, receives each message published after its Subscribe
// returned, in the order each publisher published them.
//
// Two implementations pass the same conformance suite (package bustest):
// [Local], in-process, for a single hub (the default), and [NATS], on NATS
// JetStream, for several hub replicas.
package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Message is one notice received from the bus.
type Message struct {
	Topic string
	// Data is the payload as published. Receivers must treat it as
	// read-only: the in-process bus hands the same bytes to every subscriber.
	Data []byte
}

// Bus publishes messages to topics and fans them out to every subscriber.
// Implementations are safe for concurrent use.
type Bus interface {
	// Publish sends data to every current subscriber of topic. It never
	// waits for a slow subscriber. ctx bounds the call only.
	Publish(ctx context.Context, topic string, data []byte) error
	// Subscribe returns a subscription that receives every message published
	// to topic after Subscribe returns. ctx bounds the call only; the
	// subscription lives until it or the bus is closed.
	Subscribe(ctx context.Context, topic string) (Subscription, error)
	// Close closes every subscription and releases the bus. It is safe to
	// call more than once.
	Close() error
}

// Subscription receives the messages of one topic.
type Subscription interface {
	// C delivers the messages. It is closed when the subscription or the bus
	// is closed.
	C() <-chan Message
	// Dropped counts messages lost because this subscriber's buffer was full.
	Dropped() uint64
	// Close ends the subscription and closes C. It is safe to call more than
	// once.
	Close() error
}

const (
	// DefaultBufferSize is the number of messages a subscriber may fall
	// behind before further messages are dropped for it.
	DefaultBufferSize = 256

	// MaxDataSize bounds a message's payload. The bus carries hints; bulk data
	// belongs in the store. The same bound for both implementations keeps them
	// interchangeable (NATS itself refuses payloads above about 1 MiB).
	MaxDataSize = 64 << 10

	maxTopicLen = 128
)

var (
	// ErrClosed is returned by Publish and Subscribe on a closed bus.
	ErrClosed = errors.New("bus: closed")
	// ErrInvalidTopic is returned for a topic that is empty, too long or not
	// made of dot-separated tokens of ASCII letters, digits, '-' and '_'.
	ErrInvalidTopic = errors.New("bus: invalid topic")
	// ErrDataTooLarge is returned by Publish for a payload above MaxDataSize.
	ErrDataTooLarge = errors.New("bus: data too large")
	// ErrUnavailable is returned by Publish when the bus cannot carry the
	// message now (NATS disconnected, its stream missing, publishing stalled):
	// the message is dropped, as a hint may be, without waiting. The
	// implementation logs the condition when it begins, so callers need not
	// log each such error.
	ErrUnavailable = errors.New("bus: unavailable")
)

// validateTopic accepts dot-separated tokens of ASCII letters, digits, '-'
// and '_' ("changes", "alerts.campaign"). The rule is NATS's subject syntax
// without wildcards, whitespace or empty tokens, so a topic maps one to one to
// a NATS subject and can never match more than itself.
func validateTopic(topic string) error {
	if err := validateName(topic); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidTopic, topic, err)
	}
	return nil
}

func validateName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if len(name) > maxTopicLen {
		return fmt.Errorf("longer than %d bytes", maxTopicLen)
	}
	tokenLen := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if tokenLen == 0 {
				return errors.New("empty token")
			}
			tokenLen = 0
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("character %q not allowed", c)
		}
		tokenLen++
	}
	if tokenLen == 0 {
		return errors.New("empty token")
	}
	return nil
}

func validatePublish(topic string, data []byte) error {
	if err := validateTopic(topic); err != nil {
		return err
	}
	if len(data) > MaxDataSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrDataTooLarge, len(data), MaxDataSize)
	}
	return nil
}

// mailbox is a subscriber's bounded buffer, shared by both implementations so
// that they drop and count alike. deliver never blocks: a full buffer drops
// the message for this subscriber only.
type mailbox struct {
	mu      sync.Mutex // orders deliver against close; never held across a blocking send
	closed  bool
	ch      chan Message
	dropped atomic.Uint64
}

func newMailbox(size int) *mailbox {
	return &mailbox{ch: make(chan Message, size)}
}

func (m *mailbox) deliver(msg Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	select {
	case m.ch <- msg:
	default:
		m.dropped.Add(1)
	}
}

// close closes the channel once; deliver after close is a no-op.
func (m *mailbox) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.ch)
	}
}

func bufferSize(n int) int {
	if n <= 0 {
		return DefaultBufferSize
	}
	return n
}
