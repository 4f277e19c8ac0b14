package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/webhook"
)

// hookDelivery is one request a webhook receiver took, verified as a
// receiver would.
type hookDelivery struct {
	event string
	body  struct {
		ID, Kind, At, Hub string
		Data              map[string]any
	}
	err error
}

// hookReceiver is a webhook endpoint on a loopback address.
func hookReceiver(t *testing.T, secret string) (*httptest.Server, <-chan hookDelivery) {
	got := make(chan hookDelivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var d hookDelivery
		d.event = r.Header.Get("X-HDN-Event")
		d.err = webhook.Verify([]byte(secret), r.Header.Get("X-HDN-Timestamp"), r.Header.Get("X-HDN-Signature"), raw, time.Minute, time.Now())
		if err := json.Unmarshal(raw, &d.body); err != nil && d.err == nil {
			d.err = err
		}
		w.WriteHeader(http.StatusNoContent)
		got <- d
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func nextDelivery(t *testing.T, got <-chan hookDelivery) hookDelivery {
	t.Helper()
	select {
	case d := <-got:
		if d.err != nil {
			t.Fatalf("delivery does not verify: %v", d.err)
		}
		return d
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook delivery within 15 s")
	}
	return hookDelivery{}
}

// TestWebhooks: a webhook created in the hub's store receives, signed, the
// events of the hub's dispatcher — the API server's event sink — under the
// hub's name, and its delivery is recorded; the release of a quarantine
// through the API reaches it as a quarantine event.
func TestWebhooks(t *testing.T) {
	const secret = "7c2e4a9b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e1a3c5b7d9f1e3a5c7b9d1f3e5a"
	h := hubtest.Start(t, hub.Config{Name: "sector-hub"})
	srv, got := hookReceiver(t, secret)
	ctx := context.Background()
	w, err := h.Store.CreateWebhook(ctx, model.Webhook{Name: "soc", URL: srv.URL + "/hdn", Secret: secret,
		Events: []string{"campaign", "quarantine"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	d := h.Hub.Webhooks()
	if d == nil {
		t.Fatal("the hub has no webhook dispatcher")
	}

	d.Emit(ctx, api.Event{Kind: api.EventCampaign, Payload: map[string]any{"alert": map[string]any{"id": "alert-1"}}})
	dl := nextDelivery(t, got)
	if dl.event != "campaign" || dl.body.Kind != "campaign" || dl.body.Hub != "sector-hub" || dl.body.Data["alert"].(map[string]any)["id"] != "alert-1" {
		t.Errorf("delivery: %+v", dl)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err = h.Store.Webhook(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w.LastStatus == http.StatusNoContent || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w.LastStatus != http.StatusNoContent || w.Failures != 0 || w.LastDelivery.IsZero() {
		t.Errorf("the delivery was not recorded: %+v", w)
	}

	// A real trigger: the coordinator releases a quarantined indicator
	// through the API; the API server emits to the same dispatcher.
	a := h.Org("hospital-a", policy.Member, "")
	coord := h.Org("sector-cert", policy.Coordinator, "")
	res := submit(t, h, h.Key(a, policy.Analyst), map[string]any{"value": "evil.example.org", "tlp": "green"})
	if len(res) != 1 || res[0].ID == "" {
		t.Fatalf("submit: %+v", res)
	}
	if _, err := h.Store.SetQuarantine(ctx, res[0].ID, true, "reported a false positive", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := h.Do("POST", "/api/v1/indicators/"+res[0].ID+"/release", h.Key(coord, policy.Analyst), nil); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	dl = nextDelivery(t, got)
	ind, _ := dl.body.Data["indicator"].(map[string]any)
	if dl.event != "quarantine" || dl.body.Data["action"] != "released" || ind["id"] != res[0].ID {
		t.Errorf("release delivery: %+v", dl)
	}
}

// TestWebhookNewIndicatorsUnderPolicy: the "indicator" event carries new
// indicators at or above the webhook's minimum score, and only those the
// coordinator may see — a red indicator addressed to two hospitals does
// not leave through the coordinator's webhook.
func TestWebhookNewIndicatorsUnderPolicy(t *testing.T) {
	const secret = "1f3e5a7c9b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e1a3c5b7d9f1e3a5c7b9d1f3e"
	h := hubtest.Start(t, hub.Config{SignalEvery: -1})
	srv, got := hookReceiver(t, secret)
	ctx := context.Background()
	if _, err := h.Store.CreateWebhook(ctx, model.Webhook{Name: "new", URL: srv.URL + "/hdn", Secret: secret,
		Events: []string{"indicator"}, MinScore: 60, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	h.Org("sector-cert", policy.Coordinator, "")
	a := h.Org("hospital-a", policy.Member, "")
	h.Org("hospital-b", policy.Member, "")
	ka := h.Key(a, policy.Analyst)
	submit(t, h, ka,
		map[string]any{"type": "domain", "value": "red.hook-test.example", "tlp": "red", "confidence": 90, "audience": map[string]any{"orgs": []string{"hospital-a", "hospital-b"}}},
		map[string]any{"type": "domain", "value": "low.hook-test.example", "tlp": "green", "confidence": 40},
		map[string]any{"type": "domain", "value": "high.hook-test.example", "tlp": "green", "confidence": 85})
	dl := nextDelivery(t, got)
	ind, _ := dl.body.Data["indicator"].(map[string]any)
	if dl.event != "indicator" || ind["value"] != "high.hook-test.example" {
		t.Fatalf("delivery: %+v", dl)
	}
	select {
	case extra := <-got:
		t.Errorf("another delivery: %+v", extra)
	case <-time.After(500 * time.Millisecond):
	}
}
