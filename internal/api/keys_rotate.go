package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// Key rotation (docs/HARDENING.md): a new key of the same organisation,
// role and name, shown once; the old key keeps working for a grace period,
// so that whoever holds it can switch, and then expires like any expired
// key (401). The same rule serves the API and `hdn admin key rotate`.

// Grace periods of a rotation.
const (
	DefaultRotateGrace = 24 * time.Hour
	MaxRotateGrace     = 30 * 24 * time.Hour
)

// Rotation is the outcome of RotateKey.
type Rotation struct {
	Plain        string    // the new key as a client sends it; shown once
	New          model.Key // the new key (its hash, never its secret)
	Old          model.Key
	OldExpiresAt time.Time // when the old key stops working
}

// ErrKeyNotRotatable is returned for a revoked or expired key.
var ErrKeyNotRotatable = errors.New("the key is revoked or expired")

// RotateKey makes old's successor and sets old to expire grace after now
// (at once for 0; never later than it would have anyway). A key with a
// lifetime passes it on: the new key lives as long from now. Open streams
// of the old key are checked again by the store's authentication epoch.
func RotateKey(ctx context.Context, st store.Keys, old model.Key, grace time.Duration, now time.Time) (Rotation, error) {
	if grace < 0 || grace > MaxRotateGrace {
		return Rotation{}, fmt.Errorf("grace %s is not between 0 and %s", grace, MaxRotateGrace)
	}
	if !old.Usable(now) {
		return Rotation{}, fmt.Errorf("rotate key %q: %w", old.ID, ErrKeyNotRotatable)
	}
	now = now.UTC()
	plain, id, hash := auth.NewKey()
	k := model.Key{ID: id, OrgID: old.OrgID, Role: old.Role, Name: old.Name, Hash: hash, Created: now}
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.After(old.Created) {
		k.ExpiresAt = now.Add(old.ExpiresAt.Sub(old.Created))
	}
	if err := st.CreateKey(ctx, k); err != nil {
		return Rotation{}, fmt.Errorf("rotate key %q: create its successor: %w", old.ID, err)
	}
	until := now.Add(grace)
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(until) {
		until = old.ExpiresAt
	}
	if err := st.SetKeyExpiry(ctx, old.ID, until); err != nil {
		// The old key still works; the new one must not linger unseen.
		if rerr := st.RevokeKey(context.WithoutCancel(ctx), id); rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke the successor %q: %w", id, rerr))
		}
		return Rotation{}, fmt.Errorf("rotate key %q: set its expiry: %w", old.ID, err)
	}
	return Rotation{Plain: plain, New: k, Old: old, OldExpiresAt: until}, nil
}

// rotateOrgKey serves POST /api/v1/orgs/{org}/keys/{key}/rotate
// {"grace": "24h"} (the body may be left out): the organisation's managers
// rotate one of its keys.
func (s *Server) rotateOrgKey(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, true)
	if err != nil {
		return err
	}
	var in struct {
		Grace string `json:"grace"`
	}
	if r.ContentLength != 0 {
		if err := s.decodeStrict(w, r, &in); err != nil {
			return err
		}
	}
	grace := DefaultRotateGrace
	if in.Grace != "" {
		d, err := duration.Parse(in.Grace)
		if err != nil || d > MaxRotateGrace {
			return errf(http.StatusBadRequest, CodeInvalidValue, "grace %q is not a duration between 0s and 30d, e.g. \"24h\" or \"7d\" (\"0s\" ends the old key at once)", clip(in.Grace))
		}
		grace = d
	}
	old, err := s.st.KeyByID(r.Context(), r.PathValue("key"))
	if errors.Is(err, store.ErrNotFound) || err == nil && old.OrgID != o.ID {
		return notFound("key " + strconv.Quote(clip(r.PathValue("key"))) + " of " + o.Name)
	}
	if err != nil {
		return err
	}
	rot, err := RotateKey(r.Context(), s.st, old, grace, s.now())
	if errors.Is(err, ErrKeyNotRotatable) {
		return errf(http.StatusConflict, CodeConflict, "key %s is revoked or expired: create a new key instead", old.ID)
	}
	if err != nil {
		return err
	}
	s.audit(r.Context(), p, "key.rotate", old.ID, o.Name+": replaced by "+rot.New.ID+", expires "+rot.OldExpiresAt.Format(time.RFC3339))
	s.recheckStreams()
	writeJSON(w, http.StatusCreated, RotationJSON(rot, o.Name))
	return nil
}

// RotationJSON is the answer to a rotation, of the API and of
// `hdn admin key rotate` alike.
func RotationJSON(rot Rotation, org string) map[string]any {
	return map[string]any{"key": rot.Plain, "id": rot.New.ID, "org": org, "role": rot.New.Role, "name": rot.New.Name,
		"expires_at": rot.New.ExpiresAt, "replaces": rot.Old.ID, "old_expires_at": rot.OldExpiresAt}
}
