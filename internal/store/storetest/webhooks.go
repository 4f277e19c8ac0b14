package storetest

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// testWebhooks: webhooks are created (names unique regardless of case,
// events normalised to the order of model.WebhookEvents), found by id or
// name, listed by name, switched, record their deliveries (consecutive
// failures counted, reset by a success) and deleted; the secret is read
// back for the hub; bad webhooks are refused without quoting the secret.
func testWebhooks(e *env) {
	const secret = "0123456789abcdef0123456789abcdef-never-shown"
	w, err := e.st.CreateWebhook(e.ctx, model.Webhook{Name: "SOC-Pager", URL: "https://soc.example.org/hook",
		Secret: secret, Events: []string{"indicator", "campaign", "indicator"}, MinScore: 80, Enabled: true})
	if err != nil {
		e.Fatalf("CreateWebhook: %v", err)
	}
	if w.ID == "" || !recent(w.Created) || !slices.Equal(w.Events, []string{"campaign", "indicator"}) {
		e.Errorf("CreateWebhook returned %+v: want ID, Created and events [campaign indicator]", w)
	}
	if _, err := e.st.CreateWebhook(e.ctx, model.Webhook{Name: "soc-pager", URL: "https://other.example.org/", Secret: secret,
		Events: []string{"campaign"}}); !errors.Is(err, store.ErrConflict) {
		e.Errorf("CreateWebhook with a taken name (other case): %v, want ErrConflict", err)
	}
	for _, bad := range []model.Webhook{
		{URL: "https://x.example.org/", Secret: secret, Events: []string{"campaign"}},
		{Name: "n1", Secret: secret, Events: []string{"campaign"}},
		{Name: "n2", URL: "https://x.example.org/", Events: []string{"campaign"}},
		{Name: "n3", URL: "https://x.example.org/", Secret: secret},
		{Name: "n4", URL: "https://x.example.org/", Secret: secret, Events: []string{"sighting"}},
		{Name: "n5", URL: "https://x.example.org/", Secret: secret, Events: []string{"indicator"}, MinScore: 101},
		{Name: "n6", URL: "ftp://x.example.org/", Secret: secret, Events: []string{"campaign"}},
	} {
		if _, err := e.st.CreateWebhook(e.ctx, bad); err == nil {
			e.Errorf("CreateWebhook accepted %+v", bad)
		} else if strings.Contains(err.Error(), secret) {
			e.Errorf("CreateWebhook's error quotes the secret: %v", err)
		}
	}
	for _, key := range []string{w.ID, "soc-PAGER"} {
		got, err := e.st.Webhook(e.ctx, key)
		if err != nil || got.ID != w.ID || got.Name != "SOC-Pager" || got.URL != w.URL || got.Secret != secret ||
			!slices.Equal(got.Events, w.Events) || got.MinScore != 80 || !got.Enabled || !got.Created.Equal(w.Created) ||
			!got.LastDelivery.IsZero() || got.Failures != 0 {
			e.Errorf("Webhook(%q): %+v, %v", key, got, err)
		}
	}
	if _, err := e.st.Webhook(e.ctx, "no-such-hook"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("Webhook of an unknown name: %v, want ErrNotFound", err)
	}
	a, err := e.st.CreateWebhook(e.ctx, model.Webhook{Name: "a-first", URL: "http://127.0.0.1:9/", Secret: secret,
		Events: []string{"quarantine"}})
	if err != nil {
		e.Fatalf("CreateWebhook: %v", err)
	}
	ws, err := e.st.ListWebhooks(e.ctx)
	if err != nil || len(ws) != 2 || ws[0].ID != a.ID || ws[1].ID != w.ID || ws[0].Enabled {
		e.Fatalf("ListWebhooks: %+v, %v", ws, err)
	}

	if err := e.st.SetWebhookEnabled(e.ctx, w.ID, false); err != nil {
		e.Fatalf("SetWebhookEnabled: %v", err)
	}
	if err := e.st.SetWebhookEnabled(e.ctx, "no-such-hook", true); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("SetWebhookEnabled of an unknown webhook: %v, want ErrNotFound", err)
	}
	t1 := time.Unix(1_800_000_000, 0).UTC()
	for i, d := range []struct {
		status int
		err    string
		ok     bool
	}{{500, "HTTP 500 Internal Server Error", false}, {0, "connection refused", false}} {
		if err := e.st.RecordDelivery(e.ctx, w.ID, t1.Add(time.Duration(i)*time.Minute), d.status, d.err, d.ok); err != nil {
			e.Fatalf("RecordDelivery: %v", err)
		}
	}
	got, err := e.st.Webhook(e.ctx, w.ID)
	if err != nil || got.Enabled || !got.LastDelivery.Equal(t1.Add(time.Minute)) || got.LastStatus != 0 ||
		got.LastError != "connection refused" || got.Failures != 2 {
		e.Errorf("after two failed deliveries: %+v, %v", got, err)
	}
	if err := e.st.RecordDelivery(e.ctx, w.ID, t1.Add(time.Hour), 204, "", true); err != nil {
		e.Fatalf("RecordDelivery: %v", err)
	}
	got, err = e.st.Webhook(e.ctx, w.ID)
	if err != nil || !got.LastDelivery.Equal(t1.Add(time.Hour)) || got.LastStatus != 204 || got.LastError != "" || got.Failures != 0 {
		e.Errorf("after a delivery: %+v, %v", got, err)
	}
	if err := e.st.RecordDelivery(e.ctx, "no-such-hook", t1, 200, "", true); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("RecordDelivery of an unknown webhook: %v, want ErrNotFound", err)
	}

	if err := e.st.DeleteWebhook(e.ctx, a.ID); err != nil {
		e.Fatalf("DeleteWebhook: %v", err)
	}
	if err := e.st.DeleteWebhook(e.ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("DeleteWebhook twice: %v, want ErrNotFound", err)
	}
	if ws, err := e.st.ListWebhooks(e.ctx); err != nil || len(ws) != 1 || ws[0].ID != w.ID {
		e.Errorf("ListWebhooks after delete: %+v, %v", ws, err)
	}
	// The name of a deleted webhook can be taken again.
	if _, err := e.st.CreateWebhook(e.ctx, model.Webhook{Name: "A-First", URL: "https://x.example.org/", Secret: secret,
		Events: []string{"campaign"}}); err != nil {
		e.Errorf("CreateWebhook with a freed name: %v", err)
	}
}
