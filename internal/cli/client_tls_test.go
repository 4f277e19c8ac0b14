package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/tlsconf"
	"github.com/hdnetwork/hdn/internal/tlsconf/tlstest"
)

// TestExportImportOverPrivateCAAndMutualTLS: hdn export and hdn import
// reach a hub whose certificate a private CA signs with --tls-ca, and one
// that asks for client certificates with --tls-cert and --tls-key; without
// them they fail, saying why.
func TestExportImportOverPrivateCAAndMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hdn-cli-test")
	srvCert, srvKey := ca.Server("hub")
	cliCert, cliKey := ca.Client("cert-laptop")
	srvTLS, err := tlsconf.Server{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: ca.CertFile, RequireClientCert: true}.Config()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{TLS: srvTLS})
	t.Setenv("HDN_KEY", h.Key(h.Org("sector-cert", policy.Coordinator, ""), policy.Analyst))
	report := filepath.Join(t.TempDir(), "report.txt")
	if err := os.WriteFile(report, []byte("C2 at update-check.tls-cli-example.net this week\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if code, _, stderr := run(t, "export", "list", "--hub", h.URL); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("export without --tls-ca: %d %s; want a certificate error", code, stderr)
	}
	if code, _, stderr := run(t, "export", "list", "--hub", h.URL, "--tls-ca", ca.CertFile); code == 0 {
		t.Errorf("export without a client certificate to a hub that asks for one: %d %s; want a failure", code, stderr)
	}
	tlsArgs := []string{"--tls-ca", ca.CertFile, "--tls-cert", cliCert, "--tls-key", cliKey}
	if code, out, stderr := run(t, append([]string{"import", "--hub", h.URL, "--tlp", "green"}, append(tlsArgs, report)...)...); code != 0 || !strings.Contains(out, "update-check.tls-cli-example.net") {
		t.Fatalf("import over mutual TLS: %d %s %s", code, out, stderr)
	}
	if code, out, stderr := run(t, append([]string{"export", "list", "--hub", h.URL}, tlsArgs...)...); code != 0 || !strings.Contains(out, "update-check.tls-cli-example.net") {
		t.Errorf("export over mutual TLS: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "export", "list", "--hub", h.URL, "--tls-ca", "/no/such/ca.pem"); code == 0 || !strings.Contains(stderr, "/no/such/ca.pem") {
		t.Errorf("export with a missing CA file: %d %s; want an error naming it", code, stderr)
	}
}
