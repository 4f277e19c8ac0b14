package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

	// publishAckWait bounds how long Publish waits for JetStream's
	// acknowledgement; the message stays on its way after that.
	publishAckWait = time.Second
	// publishAckTimeout is how long an acknowledgement is awaited in the
	// background before the publish counts as failed.
	publishAckTimeout = 5 * time.Second
	// publishStallWait bounds how long Publish waits when
	// maxPendingPublishes acknowledgements are outstanding (NATS is not
	// keeping up); the hint is then dropped.
	publishStallWait    = 50 * time.Millisecond
	maxPendingPublishes = 4096

	// checkInterval is how often the stream is checked without a reason
	// (a reconnect, a failed publish, a consumer error asks at once).
	checkInterval = 30 * time.Second
	// checkTimeout bounds one check: the stream look-up or creation and the
	// consumers it (re)creates.
	checkTimeout = 10 * time.Second
	// checkRetryMin and checkRetryMax bound the wait before a failed check
	// is tried again.
	checkRetryMin = 500 * time.Millisecond
	checkRetryMax = 30 * time.Second
	// recreateDelay is how long a check waits to look again at a stream it
	// did not find before it creates it. A stream being deleted is gone from
	// look-ups before its storage is, and one created in between can be left
	// answering no publish (seen with nats-server 2.15); the consumer error
	// that starts the check arrives during the deletion.
	recreateDelay = time.Second
)

// NATS is the bus on NATS JetStream, for several hub replicas sharing one
// stream. Each subscription is an ordered JetStream consumer that delivers
// only messages published after it was created (DeliverNewPolicy), so every
// subscriber on every replica receives every message: fan-out, not a queue.
//
// The stream uses file storage so that it, and its sequence numbers, survive a
// restart of the NATS server: an ordered consumer resumes after a reconnect
// from the stream sequence it saw last.
//
// NATS never holds up a write for long:
//
//   - Publish waits for JetStream's acknowledgement 1 s at most, so that while
//     NATS is healthy a message published after another replica's Publish
//     returned is delivered after that one. When an acknowledgement is late,
//     Publish stops waiting for any until one arrives again: the message is
//     on its way and its acknowledgement is awaited in the background. While
//     the connection is down, or the stream is known to be missing, Publish
//     drops the message at once and returns [ErrUnavailable].
//   - NewNATS succeeds while the server is unreachable: the connection is
//     retried forever, and the stream and the subscriptions' consumers are
//     made once it is up.
//   - A background check looks the stream up after every (re)connect, after
//     a publish found no stream, after a consumer error and every 30 s. When
//     the stream is missing (the server lost its storage, or it was deleted)
//     it is created again; when it is not the stream the consumers were
//     reading (its creation time changed, whoever recreated it), every
//     subscription gets a new consumer on it. An ordered consumer left alone
//     would wait there for the stream sequence it had reached before, which a
//     recreated stream reaches only after as many messages again.
//
// Hints lost meanwhile only delay delivery until the subscribers' own poll
// of the store. State changes (disconnected, reconnected, stream missing,
// stream recreated, publishes failing) are logged once each, not per
// message.
//
// Close deletes the bus's consumers; those of a process that dies without
// Close, or that closes while NATS is unreachable, are removed by the server
// after five minutes of inactivity.
type NATS struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	cfg        jetstream.StreamConfig
	stream     string
	prefix     string
	bufferSize int
	log        *slog.Logger

	// ctx ends at Close: it stops the background check and what it waits for.
	ctx        context.Context
	cancel     context.CancelFunc
	checkReq   chan struct{} // capacity 1: a check is wanted
	maintained chan struct{} // closed when the check loop has returned

	// checkMu guards checkCancel, which ends the check in flight: a
	// disconnect calls it, since requests would wait for their timeout.
	checkMu     sync.Mutex
	checkCancel context.CancelFunc

	// streamOK says the stream is believed to exist; Publish drops messages
	// while it is false.
	streamOK atomic.Bool
	// publishFailing is set by a failed publish and cleared by the next
	// acknowledged one, so that failures are logged once per run.
	publishFailing atomic.Bool

	closed  atomic.Bool
	mu      sync.Mutex // guards subs and created, and orders Subscribe against Close
	subs    map[*natsSub]struct{}
	created time.Time // creation time of the stream last found; zero before the first check
}

var (
	_ Bus          = (*NATS)(nil)
	_ Subscription = (*natsSub)(nil)
)

// NewNATS connects to NATS and creates the stream, or updates it to this
// configuration. When no server answers, it returns a bus all the same: the
// connection is retried forever in the background, Publish returns
// [ErrUnavailable] until it is up, and subscriptions receive from then on.
// It fails on invalid options, and when a server answers and refuses the
// stream (its configuration, or JetStream not enabled).
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

	// The connection's handlers run on the client's goroutines; they only
	// log and ask for a check, and the check loop starts once b is complete.
	b := &NATS{
		cfg: jetstream.StreamConfig{
			Name:        opts.Stream,
			Description: "hdn bus: hints to stream subscribers; safe to purge, the store is the truth",
			Subjects:    []string{opts.SubjectPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      streamMaxAge,
			MaxBytes:    streamMaxBytes,
			Discard:     jetstream.DiscardOld,
			Replicas:    opts.Replicas,
		},
		stream:     opts.Stream,
		prefix:     opts.SubjectPrefix,
		bufferSize: bufferSize(opts.BufferSize),
		log:        log,
		checkReq:   make(chan struct{}, 1),
		maintained: make(chan struct{}),
		subs:       make(map[*natsSub]struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())

	nc, err := nats.Connect(opts.URL,
		nats.Name("hdn-bus"),
		// A server that is down at start is retried like a lost connection:
		// the replica starts, and the store's poll carries delivery until
		// NATS is up.
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		// Find a dead connection within about a minute rather than the
		// default six.
		nats.PingInterval(20*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("NATS connected", "url", c.ConnectedUrlRedacted())
			b.requestCheck()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.cancelCheck()
			if b.closed.Load() {
				return
			}
			log.Warn("NATS disconnected: hints are dropped until it is back; streams catch up by polling the store", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted())
			b.requestCheck()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		b.cancel()
		return nil, fmt.Errorf("bus: connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(publishAckTimeout),
		jetstream.WithPublishAsyncMaxPending(maxPendingPublishes),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { b.publishFailed(err) }),
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { b.publishSucceeded() }),
	)
	// abort releases what NewNATS made, without logging a disconnection.
	abort := func() {
		b.closed.Store(true)
		b.cancel()
		nc.Close()
	}
	if err != nil {
		abort()
		return nil, fmt.Errorf("bus: JetStream: %w", err)
	}
	b.nc, b.js = nc, js

	if nc.IsConnected() {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := b.sync(cctx)
		cancel()
		if refused(err) {
			abort()
			return nil, fmt.Errorf("bus: create or update stream %q: %w", opts.Stream, err)
		}
		if err != nil {
			log.Warn("NATS stream not ready; retrying in the background, streams poll the store meanwhile", "err", err)
			b.requestCheck()
		}
	} else {
		log.Warn("NATS unreachable: starting without it and retrying in the background; streams poll the store meanwhile")
	}
	go b.maintain()
	return b, nil
}

// refused says whether err is the server's refusal of the stream (a
// configuration it does not accept, JetStream not enabled), which waiting
// will not cure, rather than a server that is away or not ready yet.
func refused(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) {
		return true // no JetStream answers on a server that does
	}
	var jsErr jetstream.JetStreamError
	if !errors.As(err, &jsErr) || jsErr.APIError() == nil {
		return false
	}
	api := jsErr.APIError()
	switch api.ErrorCode {
	case jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
		return true
	}
	return api.Code >= 400 && api.Code < 500
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

// Publish hands data to the connection and waits for JetStream's
// acknowledgement until it arrives, 1 s passes or ctx ends, whichever is
// first; while acknowledgements are late it does not wait at all. The
// messages of one publisher keep their order. While NATS is disconnected or
// the stream is missing it drops the message and returns [ErrUnavailable] at
// once; the condition is logged once, when it begins.
func (b *NATS) Publish(ctx context.Context, topic string, data []byte) error {
	if err := validatePublish(topic, data); err != nil {
		return err
	}
	if b.closed.Load() {
		return ErrClosed
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("%w: NATS is disconnected", ErrUnavailable)
	}
	if !b.streamOK.Load() {
		return fmt.Errorf("%w: NATS stream %q is not available", ErrUnavailable, b.stream)
	}
	// The message is kept until it is acknowledged, so it must not share the
	// caller's bytes. No retry when no stream answers: the check loop sees
	// to the stream, and the hint is not worth the wait.
	msg := &nats.Msg{Subject: b.subject(topic), Data: slices.Clone(data)}
	paf, err := b.js.PublishMsgAsync(msg, jetstream.WithStallWait(publishStallWait), jetstream.WithRetryAttempts(0))
	if err != nil {
		if b.closed.Load() {
			return ErrClosed
		}
		b.publishFailed(err)
		return fmt.Errorf("%w: publish to %q: %v", ErrUnavailable, topic, err)
	}
	if b.publishFailing.Load() {
		return nil
	}
	wait := time.NewTimer(publishAckWait)
	defer wait.Stop()
	select {
	case <-paf.Ok():
		return nil
	case err := <-paf.Err():
		// The error handler, which runs too, has dealt with it.
		if b.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("%w: publish to %q: %v", ErrUnavailable, topic, err)
	case <-wait.C:
		if b.publishFailing.CompareAndSwap(false, true) {
			b.log.Warn("NATS did not acknowledge a publish within 1 s: publishing without waiting until it does; streams catch up by polling the store meanwhile")
		}
		return nil
	case <-ctx.Done():
		return nil // sent; its acknowledgement is awaited in the background
	}
}

// publishFailed handles a publish that failed, at once or when its
// acknowledgement did not come.
func (b *NATS) publishFailed(err error) {
	if b.closed.Load() || errors.Is(err, nats.ErrDisconnected) {
		return // the disconnection is logged by itself
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrStreamNotFound) {
		b.streamMissing()
		return
	}
	if b.publishFailing.CompareAndSwap(false, true) {
		b.log.Warn("NATS publishes failing: hints are lost until they succeed again; streams catch up by polling the store", "err", err)
	}
}

func (b *NATS) publishSucceeded() {
	if b.publishFailing.Load() && b.publishFailing.CompareAndSwap(true, false) {
		b.log.Info("NATS publishes acknowledged again")
	}
}

// streamMissing stops publishing into a stream that no longer answers and
// asks the check loop to recreate it.
func (b *NATS) streamMissing() {
	if b.streamOK.CompareAndSwap(true, false) {
		b.log.Warn("NATS stream not found: hints are dropped until it is recreated; streams catch up by polling the store")
	}
	b.requestCheck()
}

// cancelCheck ends the check in flight, if any.
func (b *NATS) cancelCheck() {
	b.checkMu.Lock()
	defer b.checkMu.Unlock()
	if b.checkCancel != nil {
		b.checkCancel()
	}
}

// requestCheck asks the check loop for a check soon; it never blocks.
func (b *NATS) requestCheck() {
	select {
	case b.checkReq <- struct{}{}:
	default:
	}
}

// maintain runs checks until Close: when asked, every checkInterval, and
// again after a failure with a growing delay.
func (b *NATS) maintain() {
	defer close(b.maintained)
	tick := time.NewTicker(checkInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	wait := checkRetryMin
	failing := false
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.checkReq:
		case <-tick.C:
		case <-retry.C:
		}
		if !b.nc.IsConnected() {
			continue // the reconnect asks again
		}
		ctx, cancel := context.WithTimeout(b.ctx, checkTimeout)
		b.checkMu.Lock()
		b.checkCancel = cancel
		b.checkMu.Unlock()
		if !b.nc.IsConnected() {
			cancel() // disconnected before the handler could see checkCancel
		}
		err := b.sync(ctx)
		b.checkMu.Lock()
		b.checkCancel = nil
		b.checkMu.Unlock()
		cancel()
		if b.ctx.Err() != nil {
			return
		}
		if err != nil && !b.nc.IsConnected() {
			continue // cut short by a disconnect: the reconnect asks again
		}
		if err != nil {
			if !failing {
				failing = true
				b.log.Warn("NATS stream check failed; retrying", "err", err)
			}
			retry.Reset(wait)
			wait = min(2*wait, checkRetryMax)
			continue
		}
		if failing {
			failing = false
			b.log.Info("NATS stream check succeeded again")
		}
		wait = checkRetryMin
	}
}

// sync makes sure the stream exists (creating it when it is missing, and
// updating it to this configuration the first time) and that every
// subscription has a consumer on it: a new one when the stream is not the
// one its consumer was made on.
func (b *NATS) sync(ctx context.Context) error {
	b.mu.Lock()
	first := b.created.IsZero()
	b.mu.Unlock()
	info, made, err := b.ensureStream(ctx, first)
	if err != nil {
		return err
	}
	b.mu.Lock()
	old := b.created
	b.created = info.Created
	subs := make([]*natsSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	replaced := !old.IsZero() && !old.Equal(info.Created)
	switch {
	case made && old.IsZero():
		b.log.Info("NATS stream created")
	case made:
		b.log.Warn("NATS stream was missing (the server lost its storage, or it was deleted): created it again; subscriptions start again on it")
	case replaced:
		b.log.Warn("NATS stream was recreated (the server lost its storage, or it was deleted): subscriptions start again on it")
	}
	if b.streamOK.CompareAndSwap(false, true) && !first && !made && !replaced {
		b.log.Info("NATS stream found again: hints resume")
	}
	var errs []error
	for _, s := range subs {
		if err := s.attach(ctx, info.Created); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensureStream looks the stream up, or updates it to b.cfg when update is
// set, and creates it when it is missing; made says it did.
func (b *NATS) ensureStream(ctx context.Context, update bool) (info *jetstream.StreamInfo, made bool, err error) {
	var s jetstream.Stream
	if update {
		s, err = b.js.UpdateStream(ctx, b.cfg)
	} else {
		s, err = b.js.Stream(ctx, b.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			select {
			case <-time.After(recreateDelay):
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			s, err = b.js.Stream(ctx, b.stream)
		}
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = b.js.CreateStream(ctx, b.cfg)
		made = err == nil
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica created it in between.
			s, err = b.js.Stream(ctx, b.stream)
		}
	}
	if err != nil {
		return nil, false, err
	}
	return s.CachedInfo(), made, nil
}

// Subscribe creates an ordered consumer of topic that starts after the
// stream's last message. While NATS is unreachable or the stream missing, it
// returns a subscription all the same: its consumer is made once they are
// back, and it receives what is published from then on.
func (b *NATS) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	s := &natsSub{bus: b, topic: topic, box: newMailbox(b.bufferSize)}
	// Registered first, so that the check loop makes its consumer if this
	// call cannot.
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	created := b.created
	b.mu.Unlock()
	if created.IsZero() || !b.streamOK.Load() || !b.nc.IsConnected() {
		b.requestCheck()
		return s, nil
	}
	if err := s.attach(ctx, created); err != nil {
		if b.closed.Load() {
			return nil, ErrClosed
		}
		if ctx.Err() != nil {
			_ = s.Close()
			return nil, err
		}
		b.log.Warn("NATS consumer not created; retrying in the background", "topic", topic, "err", err)
		b.requestCheck()
	}
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
	b.cancel()
	<-b.maintained

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
	bus   *NATS
	topic string
	box   *mailbox

	mu      sync.Mutex // guards the fields below; held while the consumer is made
	closed  bool
	cons    jetstream.Consumer
	cc      jetstream.ConsumeContext
	created time.Time // creation time of the stream cons reads

	once sync.Once
	err  error
}

func (s *natsSub) C() <-chan Message { return s.box.ch }
func (s *natsSub) Dropped() uint64   { return s.box.dropped.Load() }

// attach gives the subscription a consumer on the stream created at
// created, unless it has one there already. A consumer on an earlier stream
// of that name is stopped: it would wait for the sequence it had reached.
func (s *natsSub) attach(ctx context.Context, created time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (s.cc != nil && s.created.Equal(created)) {
		return nil
	}
	b := s.bus
	if old := s.cc; old != nil {
		s.cons, s.cc = nil, nil
		// Its stream, and so its server-side consumer, is gone. Stop may
		// wait for the client's own reset attempts to give up: the new
		// consumer does not wait for it.
		go old.Stop()
	}
	// OrderedConsumer creates the server-side consumer before it returns; with
	// DeliverNewPolicy its start is fixed then, so anything published after
	// attach returns is delivered.
	cons, err := b.js.OrderedConsumer(ctx, b.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.subject(s.topic)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("bus: subscribe to %q: %w", s.topic, err)
	}
	topic := s.topic
	// The handler runs on one goroutine per subscription, in stream order,
	// and never blocks.
	cc, err := cons.Consume(func(m jetstream.Msg) {
		s.box.deliver(Message{Topic: topic, Data: m.Data()})
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// Missed heartbeats and consumer resets during a reconnect land
		// here; the ordered consumer recovers from those by itself, but
		// not from a stream that was recreated: the check finds out.
		b.log.Debug("NATS consumer", "topic", topic, "err", err)
		b.requestCheck()
	}))
	if err != nil {
		_ = b.deleteConsumer(cons)
		return fmt.Errorf("bus: consume %q: %w", s.topic, err)
	}
	s.cons, s.cc, s.created = cons, cc, created
	return nil
}

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
		s.mu.Lock()
		s.closed = true
		cons, cc := s.cons, s.cc
		s.cons, s.cc = nil, nil
		s.mu.Unlock()
		if cc == nil {
			return
		}
		if !s.bus.nc.IsConnected() {
			// Stop waits for the client's reset attempt in flight, up to
			// its request timeout while NATS is away: not worth holding
			// Close for. The server drops the consumer after its
			// inactivity threshold.
			go cc.Stop()
			return
		}
		cc.Stop()
		s.err = s.bus.deleteConsumer(cons)
	})
	return s.err
}

// deleteConsumer removes the server-side consumer now rather than leaving it
// to the server's inactivity threshold, which it is left to when NATS is
// unreachable.
func (b *NATS) deleteConsumer(cons jetstream.Consumer) error {
	info := cons.CachedInfo()
	if info == nil || !b.nc.IsConnected() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := b.js.DeleteConsumer(ctx, b.stream, info.Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bus: delete consumer %q: %w", info.Name, err)
	}
	return nil
}
