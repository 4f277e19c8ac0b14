package tlsconf_test

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/tlsconf"
	"github.com/hdnetwork/hdn/internal/tlsconf/tlstest"
)

func TestServerConfigDefaults(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	cert, key := ca.Server("hub")
	cfg, err := tlsconf.Server{CertFile: cert, KeyFile: key}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth %v without a client CA, want none", cfg.ClientAuth)
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("cipher suite %s is not ECDHE with an AEAD", name)
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		for _, id := range cfg.CipherSuites {
			if s.ID == id {
				t.Errorf("insecure suite %s offered", s.Name)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	cert, key := ca.Server("hub")
	bogus := filepath.Join(t.TempDir(), "bogus.pem")
	os.WriteFile(bogus, []byte("not PEM"), 0o600)
	for _, tc := range []struct {
		name string
		fn   func() error
		want string
	}{
		{"server without key", func() error { _, err := (tlsconf.Server{CertFile: cert}).Config(); return err }, "both needed"},
		{"server key mismatch", func() error { _, err := (tlsconf.Server{CertFile: cert, KeyFile: ca.CertFile}).Config(); return err }, "server certificate"},
		{"require without CA", func() error {
			_, err := (tlsconf.Server{CertFile: cert, KeyFile: key, RequireClientCert: true}).Config()
			return err
		}, "--tls-client-ca"},
		{"client CA not PEM", func() error {
			_, err := (tlsconf.Server{CertFile: cert, KeyFile: key, ClientCAFile: bogus}).Config()
			return err
		}, "no PEM certificate"},
		{"client CA missing", func() error { _, err := (tlsconf.Client{CAFile: bogus + ".none"}).Config(); return err }, "CA bundle"},
		{"client cert without key", func() error { _, err := (tlsconf.Client{CertFile: cert}).Config(); return err }, "needs its key"},
	} {
		err := tc.fn()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if cfg, err := (tlsconf.Client{}).Config(); cfg != nil || err != nil {
		t.Errorf("empty client options: %v, %v; want nil, nil", cfg, err)
	}
}

// TestMutualTLS serves HTTPS with the package's configurations and checks
// who gets through: with client certificates optional, a client without one
// and a client with one; with them required, only a client with one signed
// by the CA.
func TestMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hdn")
	other := tlstest.NewCA(t, "other")
	srvCert, srvKey := ca.Server("hub")
	cliCert, cliKey := ca.Client("sensor")
	strangerCert, strangerKey := other.Client("stranger")

	serve := func(t *testing.T, require bool) string {
		cfg, err := tlsconf.Server{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: ca.CertFile, RequireClientCert: require}.Config()
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := 0
			if r.TLS != nil {
				n = len(r.TLS.PeerCertificates)
			}
			io.WriteString(w, map[bool]string{true: "with certificate", false: "without"}[n > 0])
		}))
		srv.TLS = cfg
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	get := func(t *testing.T, url string, c tlsconf.Client) (string, error) {
		cfg, err := c.Config()
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: tlsconf.Transport(cfg)}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	t.Run("optional", func(t *testing.T) {
		url := serve(t, false)
		if got, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile}); err != nil || got != "without" {
			t.Errorf("without a certificate: %q, %v", got, err)
		}
		if got, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile, CertFile: cliCert, KeyFile: cliKey}); err != nil || got != "with certificate" {
			t.Errorf("with a certificate: %q, %v", got, err)
		}
		// The client holds back a certificate the server's CAs did not
		// sign; either way it does not count as one.
		if got, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile, CertFile: strangerCert, KeyFile: strangerKey}); err == nil && got != "without" {
			t.Errorf("a certificate of another CA: %q, want it refused or not counted", got)
		}
		if _, err := get(t, url, tlsconf.Client{}); err == nil {
			t.Error("a client trusting only the system's CAs accepted the test CA's server")
		}
	})
	t.Run("required", func(t *testing.T) {
		url := serve(t, true)
		if _, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile}); err == nil {
			t.Error("a client without a certificate was accepted")
		}
		if _, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile, CertFile: strangerCert, KeyFile: strangerKey}); err == nil {
			t.Error("a client with a certificate of another CA was accepted")
		}
		if got, err := get(t, url, tlsconf.Client{CAFile: ca.CertFile, CertFile: cliCert, KeyFile: cliKey}); err != nil || got != "with certificate" {
			t.Errorf("with a certificate: %q, %v", got, err)
		}
	})
	t.Run("tls1.1 refused", func(t *testing.T) {
		url := serve(t, false)
		cfg, _ := tlsconf.Client{CAFile: ca.CertFile}.Config()
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		hc := &http.Client{Transport: tlsconf.Transport(cfg)}
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			t.Error("a TLS 1.1 client was accepted")
		}
	})
	t.Run("tls1.3 preferred", func(t *testing.T) {
		url := serve(t, false)
		cfg, _ := tlsconf.Client{CAFile: ca.CertFile}.Config()
		hc := &http.Client{Transport: tlsconf.Transport(cfg)}
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("negotiated %v, want TLS 1.3", resp.TLS)
		}
	})
}

// TestSameOriginRedirects: a redirect within the origin is followed (at
// most five times), one to another port or scheme is not.
func TestSameOriginRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other origin was asked for %s", r.URL.Path)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
		case "/here":
			io.WriteString(w, "ok")
		case "/away":
			http.Redirect(w, r, other.URL+"/internal", http.StatusFound)
		default: // /loop/n redirects to /loop/n+1
			http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := &http.Client{CheckRedirect: tlsconf.SameOriginRedirects}
	resp, err := c.Get(srv.URL + "/moved")
	if err != nil {
		t.Fatalf("a redirect within the origin: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("after the redirect: %q", body)
	}
	if _, err := c.Get(srv.URL + "/away"); err == nil || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("a redirect to another origin: %v", err)
	}
	if _, err := c.Get(srv.URL + "/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 5 redirects") {
		t.Errorf("endless redirects: %v", err)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		from, next string
		want       bool
	}{
		{"https://feed.example.org/a", "https://feed.example.org/b", true},
		{"https://feed.example.org/a", "https://FEED.example.org:443/b", true},
		{"http://feed.example.org/a", "https://feed.example.org/a", true}, // an upgrade
		{"http://feed.example.org:8080/a", "https://feed.example.org/a", false},
		{"https://feed.example.org/a", "http://feed.example.org/a", false}, // a downgrade
		{"https://feed.example.org/a", "https://feed.example.org:8443/a", false},
		{"https://feed.example.org/a", "https://127.0.0.1/latest/meta-data/", false},
		{"https://feed.example.org/a", "https://other.example.org/a", false},
	} {
		from, _ := url.Parse(c.from)
		next, _ := url.Parse(c.next)
		if got := tlsconf.SameOrigin(from, next); got != c.want {
			t.Errorf("SameOrigin(%s, %s) = %v, want %v", c.from, c.next, got, c.want)
		}
	}
}
