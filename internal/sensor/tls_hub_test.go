package sensor_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/tlsconf"
	"github.com/hdnetwork/hdn/internal/tlsconf/tlstest"
)

// TestSensorOverMutualTLS: a hub that requires client certificates refuses
// a client without one and serves a sensor that presents one signed by its
// client CA: the sensor follows the stream, matches and reports its
// heartbeat over HTTPS.
func TestSensorOverMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hdn-test")
	srvCert, srvKey := ca.Server("hub")
	cliCert, cliKey := ca.Client("sensor-a")
	srvTLS, err := tlsconf.Server{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: ca.CertFile, RequireClientCert: true}.Config()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{TLS: srvTLS})
	if h.URL[:8] != "https://" {
		t.Fatalf("hub URL %s, want https", h.URL)
	}

	noCert, err := tlsconf.Client{CAFile: ca.CertFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Transport: tlsconf.Transport(noCert), Timeout: 30 * time.Second}).Get(h.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate was served: %s", resp.Status)
	}
	withCert, err := tlsconf.Client{CAFile: ca.CertFile, CertFile: cliCert, KeyFile: cliKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	h.Client = &http.Client{Transport: tlsconf.Transport(withCert), Timeout: time.Minute}
	if !h.Healthy() {
		t.Fatal("a client with a certificate was not served")
	}

	a := h.Org("hospital-a", policy.Member, "")
	analyst, admin, sensorKey := h.Key(a, policy.Analyst), h.Key(a, policy.Admin), h.Key(a, policy.Sensor)
	if r := h.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": "tls-c2.example.net", "tlp": "green"}}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	got := runOnce(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), FromStart: true, Name: "edge-tls", TLS: withCert,
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t, eveDNS(time.Now(), "www.tls-c2.example.net"))}}})
	if len(got) != 1 {
		t.Fatalf("alerts over mutual TLS: %+v, want one", got)
	}
	var list struct {
		Sensors []struct {
			Name string `json:"name"`
		} `json:"sensors"`
	}
	h.Do("GET", "/api/v1/sensors", admin, nil).JSON(t, &list)
	if len(list.Sensors) != 1 || list.Sensors[0].Name != "edge-tls" {
		t.Errorf("sensors after a run over mutual TLS: %+v, want edge-tls's heartbeat", list.Sensors)
	}
}
