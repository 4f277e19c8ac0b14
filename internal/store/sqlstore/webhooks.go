package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
)

// CreateWebhook stores a webhook; it assigns the ID and Created. Its events
// are kept in the order of model.WebhookEvents, without repeats. Errors
// never quote the secret.
func (s *Store) CreateWebhook(ctx context.Context, w model.Webhook) (model.Webhook, error) {
	if err := checkWebhook(&w); err != nil {
		return w, fmt.Errorf("%s: create webhook %q: %w", s.d.Name, w.Name, err)
	}
	w.ID = NewID()
	if w.Created.IsZero() {
		w.Created = time.Now()
	}
	w.Created = FromNano(ToNano(w.Created))
	w.LastDelivery, w.LastStatus, w.LastError, w.Failures = time.Time{}, 0, "", 0
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, name, name_key, url, secret, events, min_score, enabled, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.Name, FoldName(w.Name), w.URL, w.Secret, JSONStrings(w.Events), int64(w.MinScore), BoolInt(w.Enabled), ToNano(w.Created))
		return s.mapErr(err)
	})
	if err != nil {
		return w, fmt.Errorf("%s: create webhook %q: %w", s.d.Name, w.Name, err)
	}
	return w, nil
}

// checkWebhook checks a new webhook and normalises its events.
func checkWebhook(w *model.Webhook) error {
	switch {
	case w.Name == "":
		return errors.New("the name is empty")
	case w.URL == "":
		return errors.New("the url is empty")
	case w.Secret == "":
		return errors.New("the secret is empty")
	case len(w.Events) == 0:
		return errors.New("no events")
	case w.MinScore < 0 || w.MinScore > 100:
		return fmt.Errorf("the minimum score %d is outside 0–100", w.MinScore)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", w.URL)
	}
	if u.User != nil {
		return errors.New("the URL must not hold credentials")
	}
	var events []string
	for _, k := range model.WebhookEvents {
		if slices.Contains(w.Events, k) {
			events = append(events, k)
		}
	}
	for _, k := range w.Events {
		if !slices.Contains(model.WebhookEvents, k) {
			return fmt.Errorf("the event %q is not one of campaign, quarantine, indicator", k)
		}
	}
	w.Events = events
	return nil
}

// Webhook returns a webhook by id or name (case-insensitive).
func (s *Store) Webhook(ctx context.Context, idOrName string) (model.Webhook, error) {
	ws, err := queryRows(ctx, s, scanWebhook, webhookSelect+byIDOrName, idOrName, FoldName(idOrName), idOrName)
	return first(s, "webhook", idOrName, ws, err)
}

// ListWebhooks returns every webhook, by name.
func (s *Store) ListWebhooks(ctx context.Context) ([]model.Webhook, error) {
	return queryAll(ctx, s, "list webhooks", scanWebhook, webhookSelect+`ORDER BY name_key, id`)
}

// webhookSelect reads the columns scanWebhook takes.
const webhookSelect = `SELECT id, name, url, secret, events, min_score, enabled, created,
	last_delivery, last_status, last_error, failures FROM webhooks `

func scanWebhook(r scanner) (model.Webhook, error) {
	var w model.Webhook
	var events sql.NullString
	var created int64
	var last sql.NullInt64
	if err := r.Scan(&w.ID, &w.Name, &w.URL, &w.Secret, &events, &w.MinScore, &w.Enabled, &created,
		&last, &w.LastStatus, &w.LastError, &w.Failures); err != nil {
		return w, err
	}
	w.Created, w.LastDelivery = FromNano(created), FromOptNano(last)
	var err error
	if w.Events, err = DecodeList(events); err != nil {
		return w, fmt.Errorf("webhook %s: events: %w", w.ID, err)
	}
	return w, nil
}

// DeleteWebhook removes a webhook.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.updateRow(ctx, "webhook", id, "delete", `DELETE FROM webhooks WHERE id = ?`, id)
}

// SetWebhookEnabled turns a webhook on or off.
func (s *Store) SetWebhookEnabled(ctx context.Context, id string, enabled bool) error {
	return s.updateRow(ctx, "webhook", id, "set enabled", `UPDATE webhooks SET enabled = ? WHERE id = ?`, BoolInt(enabled), id)
}

// RecordDelivery stores the outcome of a delivery.
func (s *Store) RecordDelivery(ctx context.Context, id string, at time.Time, status int, errText string, ok bool) error {
	if ok {
		return s.updateRow(ctx, "webhook", id, "record delivery", `UPDATE webhooks SET last_delivery = ?, last_status = ?, last_error = '', failures = 0
			WHERE id = ?`, ToNano(at), int64(status), id)
	}
	return s.updateRow(ctx, "webhook", id, "record delivery", `UPDATE webhooks SET last_delivery = ?, last_status = ?, last_error = ?, failures = failures + 1
		WHERE id = ?`, ToNano(at), int64(status), errText, id)
}
