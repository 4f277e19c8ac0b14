// Package tlsconf builds the TLS configurations of the hub (HTTPS, with
// optional mutual TLS) and of its clients (a CA bundle to trust, a client
// certificate to present), with modern defaults in one place: TLS 1.2 at
// least, TLS 1.3 preferred (Go negotiates the highest version both sides
// have), for TLS 1.2 only ECDHE key exchange with AEAD ciphers, and no
// renegotiation.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// CipherSuites are the TLS 1.2 suites offered and accepted: forward secret
// (ECDHE) and authenticated encryption (GCM, ChaCha20-Poly1305) only. TLS
// 1.3's suites are not configurable and all meet this.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Server is what the hub serves HTTPS with.
type Server struct {
	CertFile, KeyFile string // PEM: the certificate (chain) and its private key
	// ClientCAFile is a PEM bundle of the CAs whose client certificates are
	// accepted; without RequireClientCert a client may also present none.
	ClientCAFile      string
	RequireClientCert bool
}

// Enabled says whether any server TLS option is set.
func (s Server) Enabled() bool {
	return s.CertFile != "" || s.KeyFile != "" || s.ClientCAFile != "" || s.RequireClientCert
}

// Config builds the server's TLS configuration.
func (s Server) Config() (*tls.Config, error) {
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, errors.New("tls: a server certificate and its key are both needed (--tls-cert FILE --tls-key FILE)")
	}
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: server certificate %s with key %s: %w", s.CertFile, s.KeyFile, err)
	}
	cfg := base()
	cfg.Certificates = []tls.Certificate{cert}
	switch {
	case s.ClientCAFile != "":
		pool, err := LoadPool(s.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if s.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	case s.RequireClientCert:
		return nil, errors.New("tls: requiring client certificates needs the CA that signs them (--tls-client-ca FILE)")
	}
	return cfg, nil
}

// Client is what a client of the hub trusts and presents.
type Client struct {
	CAFile string // PEM bundle of CAs to trust instead of the system's
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile, KeyFile string
}

// Enabled says whether any client TLS option is set.
func (c Client) Enabled() bool { return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" }

// Config builds a client's TLS configuration; nil (the defaults) when no
// option is set.
func (c Client) Config() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cfg := base()
	if c.CAFile != "" {
		pool, err := LoadPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tls: a client certificate needs its key, and a key its certificate (--tls-cert FILE --tls-key FILE)")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s with key %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	cfg.Renegotiation = tls.RenegotiateNever
	return cfg, nil
}

func base() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: CipherSuites}
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls: CA bundle %s holds no PEM certificate", file)
	}
	return pool, nil
}

// Transport is an HTTP transport that uses cfg (nil: the defaults), with
// timeouts on every step before the response body: dialling, the TLS
// handshake and waiting for the response headers are each bounded, so a
// peer that never answers cannot hold a client.
func Transport(cfg *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = time.Minute
	if cfg != nil {
		t.TLSClientConfig = cfg.Clone()
	}
	return t
}

// maxRedirects bounds the redirects SameOriginRedirects follows.
const maxRedirects = 5

// SameOriginRedirects is a CheckRedirect for the clients that call out to
// servers the hub is configured with (feeds, peer hubs) or that a sensor is
// (its hub): a redirect is followed only to the origin of the request it
// answers (SameOrigin: the same host and port, or the upgrade from http to
// https), at most five times. A feed or peer hub that
// is compromised must not send the hub — with the credential it presents,
// which goes along to the same host — to an address of the hub's own
// network, its loopback or a cloud metadata service, nor from https to
// http. The answer to a refused redirect is an error naming both origins.
func SameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	from := via[len(via)-1].URL
	if !SameOrigin(from, req.URL) {
		return fmt.Errorf("refused a redirect from %s://%s to another origin, %s://%s", from.Scheme, from.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// SameOrigin says whether next is on from's origin — the same host (in any
// case) and port (a scheme's default port written or not) — or is its
// upgrade from http to https on the same host's default ports. https to
// http is never.
func SameOrigin(from, next *url.URL) bool {
	if !strings.EqualFold(from.Hostname(), next.Hostname()) {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	fs, ns := strings.ToLower(from.Scheme), strings.ToLower(next.Scheme)
	switch {
	case fs == ns:
		return port(from) == port(next)
	case fs == "http" && ns == "https":
		return port(from) == "80" && port(next) == "443"
	}
	return false
}
