package cli

import (
	"errors"
	"flag"
	"math"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// The flags of `hdn hub` for limits and TLS (docs/HARDENING.md).

type hubLimits struct {
	rate          *float64
	burst         *int
	anonRate      *float64
	anonBurst     *int
	maxStreams    *int
	orgStreams    *int
	writeTimeout  *time.Duration
	maxBody       *int64
	maxItems      *int
	maxProposals  *int
	streamTimeout *time.Duration
}

func hubLimitFlags(fs *flag.FlagSet) *hubLimits {
	return &hubLimits{
		rate:          fs.Float64("rate-limit", api.DefaultRateLimit, "requests per second per API key (a token bucket; 0: no rate limits at all)"),
		burst:         fs.Int("rate-burst", api.DefaultRateBurst, "burst of a key's token bucket"),
		anonRate:      fs.Float64("anon-rate-limit", api.DefaultAnonRateLimit, "requests per second per remote address without a key (enrolment, web UI sign-in)"),
		anonBurst:     fs.Int("anon-rate-burst", api.DefaultAnonRateBurst, "burst of a remote address's token bucket"),
		maxStreams:    fs.Int("max-streams", 10_000, "most concurrent stream subscribers of the hub"),
		orgStreams:    fs.Int("max-streams-per-org", api.DefaultMaxStreamsPerOrg, "most concurrent stream subscribers of one organisation (0: only --max-streams)"),
		writeTimeout:  durationFlag(fs, "write-timeout", 10*time.Minute, "longest time to write one response, exports included (streams have their own deadline)"),
		maxBody:       fs.Int64("max-body", api.DefaultLimits.MaxBodyBytes, "largest request body in bytes"),
		maxItems:      fs.Int("max-items", api.DefaultLimits.MaxItems, "most indicators in one submission"),
		maxProposals:  fs.Int("max-pending-proposals", api.DefaultMaxPendingProposals, "most proposals of one organisation awaiting a decision (0: no bound)"),
		streamTimeout: durationFlag(fs, "stream-write-timeout", 30*time.Second, "cut off a stream subscriber that does not take what is sent within this time"),
	}
}

func (l *hubLimits) apply(cfg *hub.Config) error {
	switch {
	case *l.rate < 0 || math.IsNaN(*l.rate) || math.IsInf(*l.rate, 0):
		return errors.New("--rate-limit must be a number of requests per second, 0 or more")
	case *l.anonRate < 0 || math.IsNaN(*l.anonRate) || math.IsInf(*l.anonRate, 0):
		return errors.New("--anon-rate-limit must be a number of requests per second, 0 or more")
	case *l.burst < 1 || *l.anonBurst < 1:
		return errors.New("--rate-burst and --anon-rate-burst must be 1 or more")
	case *l.maxStreams < 1 || *l.orgStreams < 0:
		return errors.New("--max-streams must be 1 or more, --max-streams-per-org 0 or more")
	case *l.writeTimeout <= 0 || *l.streamTimeout <= 0:
		return errors.New("--write-timeout and --stream-write-timeout must be positive")
	case *l.maxBody < 1<<10 || *l.maxItems < 1:
		return errors.New("--max-body must be 1024 or more, --max-items 1 or more")
	case *l.maxProposals < 0:
		return errors.New("--max-pending-proposals must be 0 (no bound) or more")
	}
	cfg.Limits.MaxBodyBytes, cfg.Limits.MaxItems = *l.maxBody, *l.maxItems
	cfg.Limits.RateLimit, cfg.Limits.RateBurst = *l.rate, *l.burst
	cfg.Limits.AnonRateLimit, cfg.Limits.AnonRateBurst = *l.anonRate, *l.anonBurst
	if *l.rate == 0 || *l.anonRate == 0 {
		// 0 disables: --rate-limit 0 every rate limit, --anon-rate-limit 0
		// that of requests without a key.
		if *l.rate == 0 {
			cfg.Limits.RateLimit = -1
		} else {
			cfg.Limits.AnonRateLimit = -1
		}
	}
	cfg.MaxStreams = *l.maxStreams
	cfg.Limits.MaxStreamsPerOrg = *l.orgStreams
	if *l.orgStreams == 0 {
		cfg.Limits.MaxStreamsPerOrg = -1
	}
	cfg.Limits.MaxPendingProposals = *l.maxProposals
	if *l.maxProposals == 0 {
		cfg.Limits.MaxPendingProposals = -1
	}
	cfg.WriteTimeout, cfg.StreamWriteTimeout = *l.writeTimeout, *l.streamTimeout
	return nil
}

func hubTLSFlags(fs *flag.FlagSet) *tlsconf.Server {
	var s tlsconf.Server
	fs.StringVar(&s.CertFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain)")
	fs.StringVar(&s.KeyFile, "tls-key", "", "the PEM private key of --tls-cert")
	fs.StringVar(&s.ClientCAFile, "tls-client-ca", "", "mutual TLS: accept client certificates signed by these PEM CAs")
	fs.BoolVar(&s.RequireClientCert, "tls-require-client-cert", false, "mutual TLS: refuse connections without a client certificate signed by --tls-client-ca")
	return &s
}

// clientTLSFlags adds --tls-ca, --tls-cert and --tls-key to a command that
// talks to a hub.
func clientTLSFlags(fs *flag.FlagSet) *tlsconf.Client {
	var c tlsconf.Client
	fs.StringVar(&c.CAFile, "tls-ca", "", "trust the hub's certificate when these PEM CAs sign it (default: the system's CAs)")
	fs.StringVar(&c.CertFile, "tls-cert", "", "mutual TLS: present this PEM client certificate")
	fs.StringVar(&c.KeyFile, "tls-key", "", "the PEM private key of --tls-cert")
	return &c
}

// peerTLSFlags adds --peer-tls-ca, --peer-tls-cert and --peer-tls-key: what
// the hub trusts and presents towards its peer hubs (docs/FEDERATION.md).
func peerTLSFlags(fs *flag.FlagSet) *tlsconf.Client {
	var c tlsconf.Client
	fs.StringVar(&c.CAFile, "peer-tls-ca", "", "federation: trust peer hubs' certificates signed by these PEM CAs (default: the system's CAs)")
	fs.StringVar(&c.CertFile, "peer-tls-cert", "", "federation: present this PEM client certificate to peer hubs (mutual TLS)")
	fs.StringVar(&c.KeyFile, "peer-tls-key", "", "the PEM private key of --peer-tls-cert")
	return &c
}
