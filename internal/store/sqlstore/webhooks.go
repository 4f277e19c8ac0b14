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
	"github.com/hdnetwork/hdn/internal/store"
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
	ws, err := s.webhooks(ctx, byIDOrName, idOrName, FoldName(idOrName), idOrName)
	return first(s, "webhook", idOrName, ws, err)
}

// ListWebhooks returns every webhook, by name.
func (s *Store) ListWebhooks(ctx context.Context) ([]model.Webhook, error) {
	ws, err := s.webhooks(ctx, `ORDER BY name_key, id`)
	if err != nil {
		return nil, fmt.Errorf("%s: list webhooks: %w", s.d.Name, err)
	}
	return ws, nil
}

func (s *Store) webhooks(ctx context.Context, where string, args ...any) ([]model.Webhook, error) {
	var ws []model.Webhook
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, url, secret, events, min_score, enabled, created,
			last_delivery, last_status, last_error, failures FROM webhooks `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w model.Webhook
			var events sql.NullString
			var created int64
			var last sql.NullInt64
			if err := rows.Scan(&w.ID, &w.Name, &w.URL, &w.Secret, &events, &w.MinScore, &w.Enabled, &created,
				&last, &w.LastStatus, &w.LastError, &w.Failures); err != nil {
				return err
			}
			w.Created, w.LastDelivery = FromNano(created), FromOptNano(last)
			if w.Events, err = DecodeList(events); err != nil {
				return fmt.Errorf("webhook %s: events: %w", w.ID, err)
			}
			ws = append(ws, w)
		}
		return rows.Err()
	})
	return ws, err
}

// DeleteWebhook removes a webhook.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.updateWebhook(ctx, id, "delete", `DELETE FROM webhooks WHERE id = ?`, id)
}

// SetWebhookEnabled turns a webhook on or off.
func (s *Store) SetWebhookEnabled(ctx context.Context, id string, enabled bool) error {
	return s.updateWebhook(ctx, id, "set enabled", `UPDATE webhooks SET enabled = ? WHERE id = ?`, BoolInt(enabled), id)
}

// RecordDelivery stores the outcome of a delivery.
func (s *Store) RecordDelivery(ctx context.Context, id string, at time.Time, status int, errText string, ok bool) error {
	if ok {
		return s.updateWebhook(ctx, id, "record delivery", `UPDATE webhooks SET last_delivery = ?, last_status = ?, last_error = '', failures = 0
			WHERE id = ?`, ToNano(at), int64(status), id)
	}
	return s.updateWebhook(ctx, id, "record delivery", `UPDATE webhooks SET last_delivery = ?, last_status = ?, last_error = ?, failures = failures + 1
		WHERE id = ?`, ToNano(at), int64(status), errText, id)
}

func (s *Store) updateWebhook(ctx context.Context, id, what, text string, args ...any) error {
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, text, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: webhook %q: %s: %w", s.d.Name, id, what, err)
	}
	return nil
}
