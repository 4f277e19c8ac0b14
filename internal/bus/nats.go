package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSOptions configures a [NATS] bus.
type NATSOptions struct {
	// URL of the NATS server(s), comma-separated, e.g. "nats://127.0.0.1:4222".
	URL string
	// Stream is the JetStream stream's name; default "HDN". Every replica of
	// one hub must use the same stream and prefix.
	Stream string
	// SubjectPrefix is prepended to topics: topic "changes" is published on
	// subject "<prefix>.changes". Default "hdn".
	SubjectPrefix string
	// BufferSize is each subscriber's buffer; zero or less means
	// DefaultBufferSize.
	BufferSize int
	// Replicas of the stream in a NATS cluster; zero means 1. The stream is
	// created or updated to this value, so set it to what the cluster runs.
	Replicas int
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

const (
	defaultStream        = "HDN"
	defaultSubjectPrefix = "hdn"

	// streamMaxAge bounds how long hints stay in the stream. Subscribers only
	// ever read new messages; what is kept serves the ordered consumers, which
	// after a reconnect resume from the last stream sequence they saw and so
	// receive what was published while they were away. An hour covers any
	// outage worth bridging; after longer, consumers catch up from the store.
	streamMaxAge = time.Hour
	// streamMaxBytes bounds the stream's disk use whatever the publish rate.
	streamMaxBytes = 64 << 20

	// cleanupTimeout bounds the deletion of a consumer at Close.
	cleanupTimeout = 5 * time.Second
)

// NATS is the bus on NATS JetStream, for several hub replicas sharing one
// stream. Each subscription is an ordered JetStream consumer that delivers
// only messages published after it was created (DeliverNewPolicy), so every
// subscriber on every replica receives every message: fan-out, not a queue.
//
// The stream uses file storage so that it, and its sequence numbers, survive a
// restart of the NATS server: an ordered consumer resumes after a reconnect
// from the stream sequence it saw last, which in a stream recreated empty
// would skip the first messages or wait for ones that never come.
//
// Close deletes the bus's consumers; those of a process that dies without
// Close are removed by the server after five minutes of inactivity.
type NATS struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	stream     string
	prefix     string
	bufferSize int
	log        *slog.Logger

	closed atomic.Bool
	mu     sync.Mutex // guards subs and orders Subscribe against Close
	subs   map[*natsSub]struct{}
}

var (
	_ Bus          = (*NATS)(nil)
	_ Subscription = (*natsSub)(nil)
)

// NewNATS connects to NATS and creates the stream, or updates it to this
// configuration. The connection reconnects forever; while it is down, Publish
// fails after its context's deadline (5 s when there is none) and subscribers
// receive nothing until it is back.
func NewNATS(ctx context.Context, opts NATSOptions) (*NATS, error) {
	if opts.URL == "" {
		return nil, errors.New("bus: NATS URL is empty")
	}
	if opts.Stream == "" {
		opts.Stream = defaultStream
	}
	if opts.SubjectPrefix == "" {
		opts.SubjectPrefix = defaultSubjectPrefix
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if err := validateStreamName(opts.Stream); err != nil {
		return nil, fmt.Errorf("bus: invalid stream name %q: %w", opts.Stream, err)
	}
	if err := validateName(opts.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("bus: invalid subject prefix %q: %s", opts.SubjectPrefix, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "bus", "stream", opts.Stream)

	nc, err := nats.Connect(opts.URL,
		nats.Name("hdn-bus"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		// Find a dead connection within about a minute rather than the
		// default six.
		nats.PingInterval(20*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: JetStream: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        opts.Stream,
		Description: "hdn bus: hints to stream subscribers; safe to purge, the store is the truth",
		Subjects:    []string{opts.SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      streamMaxAge,
		MaxBytes:    streamMaxBytes,
		Discard:     jetstream.DiscardOld,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: create or update stream %q: %w", opts.Stream, err)
	}
	return &NATS{
		nc:         nc,
		js:         js,
		stream:     opts.Stream,
		prefix:     opts.SubjectPrefix,
		bufferSize: bufferSize(opts.BufferSize),
		log:        log,
		subs:       make(map[*natsSub]struct{}),
	}, nil
}

// validateStreamName follows JetStream's rule: printable ASCII without
// whitespace, '.', '*', '>', '/' or '\'.
func validateStreamName(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("empty or longer than 255 bytes")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c > '~' {
			return fmt.Errorf("character %q not allowed", c)
		}
		switch c {
		case '.', '*', '>', '/', '\\':
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

func (b *NATS) subject(topic string) string { return b.prefix + "." + topic }

// Publish stores data in the stream and returns once JetStream has
// acknowledged it, so the messages of one publisher keep their order.
func (b *NATS) Publish(ctx context.Context, topic string, data []byte) error {
	if err := validatePublish(topic, data); err != nil {
		return err
	}
	if b.closed.Load() {
		return ErrClosed
	}
	if _, err := b.js.Publish(ctx, b.subject(topic), data); err != nil {
		if b.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("bus: publish to %q: %w", topic, err)
	}
	return nil
}

// Subscribe creates an ordered consumer of topic that starts after the
// stream's last message.
func (b *NATS) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	if b.closed.Load() {
		return nil, ErrClosed
	}
	// OrderedConsumer creates the server-side consumer before it returns; with
	// DeliverNewPolicy its start is fixed then, so anything published after
	// Subscribe returns is delivered.
	cons, err := b.js.OrderedConsumer(ctx, b.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.subject(topic)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		if b.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("bus: subscribe to %q: %w", topic, err)
	}
	s := &natsSub{bus: b, cons: cons, box: newMailbox(b.bufferSize)}
	// The handler runs on one goroutine per subscription, in stream order,
	// and never blocks.
	cc, err := cons.Consume(func(m jetstream.Msg) {
		s.box.deliver(Message{Topic: topic, Data: m.Data()})
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// Missed heartbeats and consumer resets during a reconnect land
		// here; the ordered consumer recovers by itself.
		b.log.Debug("NATS consumer", "topic", topic, "err", err)
	}))
	if err != nil {
		s.deleteConsumer()
		return nil, fmt.Errorf("bus: consume %q: %w", topic, err)
	}
	s.cc = cc

	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		_ = s.shutdown()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// Close closes every subscription, deleting their consumers, then the
// connection.
func (b *NATS) Close() error {
	b.mu.Lock()
	if !b.closed.CompareAndSwap(false, true) {
		b.mu.Unlock()
		return nil
	}
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()

	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for s := range subs {
		wg.Go(func() {
			if err := s.shutdown(); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	b.nc.Close()
	return errors.Join(errs...)
}

type natsSub struct {
	bus  *NATS
	cons jetstream.Consumer
	cc   jetstream.ConsumeContext
	box  *mailbox
	once sync.Once
	err  error
}

func (s *natsSub) C() <-chan Message { return s.box.ch }
func (s *natsSub) Dropped() uint64   { return s.box.dropped.Load() }

// Close stops the consumer, deletes it on the server and closes C.
func (s *natsSub) Close() error {
	b := s.bus
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
	return s.shutdown()
}

func (s *natsSub) shutdown() error {
	s.once.Do(func() {
		s.box.close()
		if s.cc != nil {
			s.cc.Stop()
		}
		s.err = s.deleteConsumer()
	})
	return s.err
}

// deleteConsumer removes the server-side consumer now rather than leaving it
// to the server's inactivity threshold.
func (s *natsSub) deleteConsumer() error {
	info := s.cons.CachedInfo()
	if info == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := s.bus.js.DeleteConsumer(ctx, s.bus.stream, info.Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: delete consumer %q: %w", info.Name, err)
	}
	return nil
}
