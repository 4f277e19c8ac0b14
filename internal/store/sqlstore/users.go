package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

var _ store.Users = (*Store)(nil)

const userColumns = `id, org_id, email, name, role, password_hash, disabled, created, last_sign_in`

func scanUser(sc scanner) (model.User, error) {
	var u model.User
	var role string
	var created int64
	var last sql.NullInt64
	if err := sc.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &role, &u.PasswordHash, &u.Disabled, &created, &last); err != nil {
		return u, err
	}
	u.Role = policy.Role(role)
	u.Created, u.LastSignIn = FromNano(created), FromOptNano(last)
	return u, nil
}

// normEmail is the stored form of an e-mail address: trimmed, lower case.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkUser checks what CreateUser and UpdateUser store. Errors never quote
// the password hash.
func checkUser(u model.User) error {
	switch u.Role {
	case policy.Admin, policy.Analyst, policy.ReadOnly:
	default:
		return fmt.Errorf("role %q is not one of admin, analyst, readonly", u.Role)
	}
	if u.PasswordHash == "" {
		return errors.New("the password hash is empty")
	}
	return nil
}

// CreateUser stores a user. It assigns the ID unless one is given, and
// Created unless set; the e-mail address is stored trimmed and in lower
// case, and is unique case-insensitively (store.ErrConflict). An unknown
// organisation is store.ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u model.User) (model.User, error) {
	u.Email = normEmail(u.Email)
	if u.Email == "" || !strings.Contains(u.Email, "@") {
		return u, fmt.Errorf("%s: create user %q: not an e-mail address", s.d.Name, u.Email)
	}
	if u.OrgID == "" {
		return u, fmt.Errorf("%s: create user %q: no organisation", s.d.Name, u.Email)
	}
	if err := checkUser(u); err != nil {
		return u, fmt.Errorf("%s: create user %q: %w", s.d.Name, u.Email, err)
	}
	if u.ID == "" {
		u.ID = NewID()
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	u.Created = FromNano(ToNano(u.Created))
	if !u.LastSignIn.IsZero() {
		u.LastSignIn = FromNano(ToNano(u.LastSignIn))
	}
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, org_id, email, email_key, name, role, password_hash, disabled, created, last_sign_in)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.OrgID, u.Email, FoldName(u.Email), u.Name, string(u.Role), u.PasswordHash, BoolInt(u.Disabled),
			ToNano(u.Created), OptNano(u.LastSignIn))
		return s.mapErr(err)
	})
	if err != nil {
		return u, fmt.Errorf("%s: create user %q: %w", s.d.Name, u.Email, err)
	}
	return u, nil
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id string) (model.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return u, fmt.Errorf("%s: user %q: %w", s.d.Name, id, s.mapErr(err))
	}
	return u, nil
}

// UserByEmail returns a user by e-mail address (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (model.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`, FoldName(normEmail(email))))
	if err != nil {
		return u, fmt.Errorf("%s: user %q: %w", s.d.Name, normEmail(email), s.mapErr(err))
	}
	return u, nil
}

// ListUsers returns the users of an organisation ("" for all), by e-mail.
func (s *Store) ListUsers(ctx context.Context, orgID string) ([]model.User, error) {
	return queryAll(ctx, s, "list users", scanUser, `SELECT `+userColumns+` FROM users WHERE ?1 = '' OR org_id = ?1 ORDER BY email_key, id`, orgID)
}

// UpdateUser replaces a user's name, role, password hash and disabled flag
// (store.ErrNotFound when there is no such user). Disabling a user deletes
// its sessions in the same transaction.
func (s *Store) UpdateUser(ctx context.Context, u model.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("%s: update user %q: %w", s.d.Name, u.ID, err)
	}
	err := s.write(ctx, func(tx Tx) error {
		var oldHash string
		if err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`+s.d.ForUpdate, u.ID).Scan(&oldHash); err != nil {
			return s.mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, role = ?, password_hash = ?, disabled = ? WHERE id = ?`,
			u.Name, string(u.Role), u.PasswordHash, BoolInt(u.Disabled), u.ID); err != nil {
			return err
		}
		// A disabled user, or one whose password changed, is signed out
		// everywhere.
		if u.Disabled || u.PasswordHash != oldHash {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID); err != nil {
				return err
			}
			return bumpAuthEpoch(ctx, tx) // the user's open streams are checked again
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: update user %q: %w", s.d.Name, u.ID, err)
	}
	return nil
}

// TouchUserSignIn records a sign-in; it never moves last_sign_in back.
func (s *Store) TouchUserSignIn(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "touch user "+id, `UPDATE users SET last_sign_in = `+s.d.Greatest+`(COALESCE(last_sign_in, ?2), ?2) WHERE id = ?1`, id, ToNano(at))
}

// RehashPassword replaces a password hash that is still oldHash, keeping
// the sessions (the password is the same).
func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	if newHash == "" {
		return fmt.Errorf("%s: rehash password of user %q: the new hash is empty", s.d.Name, id)
	}
	err := s.write(ctx, func(tx Tx) error {
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`+s.d.ForUpdate, id).Scan(&stored); err != nil {
			return s.mapErr(err)
		}
		if stored != oldHash {
			return store.ErrConflict
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, newHash, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: rehash password of user %q: %w", s.d.Name, id, err)
	}
	return nil
}

// execOneMovingEpoch is execOne, moving the authentication epoch in the same
// transaction when the statement touched a row.
func (s *Store) execOneMovingEpoch(ctx context.Context, what, query string, args ...any) error {
	return s.execOneThen(ctx, what, query, bumpAuthEpoch, args...)
}

// execOne runs one statement in a write transaction; store.ErrNotFound when
// it touched no row.
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	return s.execOneThen(ctx, what, query, nil, args...)
}

// execOneThen is execOne, running then (when not nil) in the same
// transaction after the statement touched a row.
func (s *Store) execOneThen(ctx context.Context, what, query string, then func(context.Context, Tx) error, args ...any) error {
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		if then != nil {
			return then(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	return nil
}

// CreateSession stores a session; the caller sets ID, Hash, UserID, CSRF and
// Expires. Created is set when zero, LastSeen to Created when zero. A taken
// ID is store.ErrConflict, an unknown user store.ErrNotFound. Errors never
// quote the hash or the CSRF token.
func (s *Store) CreateSession(ctx context.Context, ss model.Session) error {
	if ss.Created.IsZero() {
		ss.Created = time.Now()
	}
	if ss.LastSeen.IsZero() {
		ss.LastSeen = ss.Created
	}
	switch {
	case ss.ID == "" || len(ss.Hash) == 0 || ss.UserID == "" || ss.CSRF == "":
		return fmt.Errorf("%s: create session: the id, hash, user or CSRF token is empty", s.d.Name)
	case !ss.Expires.After(ss.Created):
		return fmt.Errorf("%s: create session %q: it expires before it is created", s.d.Name, ss.ID)
	}
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, hash, user_id, csrf, created, expires, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			ss.ID, ss.Hash, ss.UserID, ss.CSRF, ToNano(ss.Created), ToNano(ss.Expires), ToNano(ss.LastSeen))
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: create session %q: %w", s.d.Name, ss.ID, err)
	}
	return nil
}

// Session returns a session, expired or not (the caller decides).
func (s *Store) Session(ctx context.Context, id string) (model.Session, error) {
	var ss model.Session
	var created, expires, lastSeen int64
	err := s.db.QueryRowContext(ctx, `SELECT id, hash, user_id, csrf, created, expires, last_seen FROM sessions WHERE id = ?`, id).
		Scan(&ss.ID, &ss.Hash, &ss.UserID, &ss.CSRF, &created, &expires, &lastSeen)
	if err != nil {
		return model.Session{}, fmt.Errorf("%s: session %q: %w", s.d.Name, id, s.mapErr(err))
	}
	ss.Created, ss.Expires, ss.LastSeen = FromNano(created), FromNano(expires), FromNano(lastSeen)
	return ss, nil
}

// TouchSession records that a session was used; it never moves last_seen
// back.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "touch session "+id, `UPDATE sessions SET last_seen = `+s.d.Greatest+`(last_seen, ?2) WHERE id = ?1`, id, ToNano(at))
}

// DeleteSession removes a session (store.ErrNotFound when there is none)
// and moves the authentication epoch, so that every replica ends the
// streams opened in it at once.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.execOneMovingEpoch(ctx, "delete session "+id, `DELETE FROM sessions WHERE id = ?`, id)
}

// DeleteExpiredSessions removes the sessions whose expiry is at or before
// now and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, ToNano(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete expired sessions: %w", s.d.Name, err)
	}
	return int(n), nil
}

// lockSignIns makes key's row in signin_limits (or touches it) and returns
// its lock. The update takes the row's lock, so concurrent transactions on
// one key (on any replica) run one after the other; with SQLite the single
// writer does that anyway.
func lockSignIns(ctx context.Context, tx Tx, key string, now int64) (lockedUntil int64, err error) {
	err = tx.QueryRowContext(ctx, `INSERT INTO signin_limits (key, locked_until, touched) VALUES (?, 0, ?)
		ON CONFLICT (key) DO UPDATE SET touched = excluded.touched RETURNING locked_until`, key, now).Scan(&lockedUntil)
	return lockedUntil, err
}

// signInFailures drops key's failures older than the window and counts the
// rest.
func signInFailures(ctx context.Context, tx Tx, key string, now int64, lim store.SignInLimit) (int, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = ? AND at <= ?`, key, now-lim.Window.Nanoseconds()); err != nil {
		return 0, err
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_failures WHERE key = ?`, key).Scan(&n)
	return n, err
}

func checkSignInArgs(key string, lim store.SignInLimit) error {
	if key == "" {
		return errors.New("no key")
	}
	if lim.Max < 1 || lim.Window <= 0 || lim.LockFor <= 0 {
		return fmt.Errorf("the limit %+v is not positive", lim)
	}
	return nil
}

// BeginSignIn refuses a locked key or one at the limit, and otherwise
// records a tentative failure. It touches only key's rows, its own first,
// so that transactions on different keys never wait for each other.
func (s *Store) BeginSignIn(ctx context.Context, key string, now time.Time, lim store.SignInLimit) (string, bool, error) {
	if err := checkSignInArgs(key, lim); err != nil {
		return "", false, fmt.Errorf("%s: begin sign-in: %w", s.d.Name, err)
	}
	id, ok := NewID(), false
	n := ToNano(now)
	err := s.write(ctx, func(tx Tx) error {
		ok = false
		until, err := lockSignIns(ctx, tx, key, n)
		if err != nil || n < until {
			return err
		}
		fails, err := signInFailures(ctx, tx, key, n, lim)
		if err != nil || fails >= lim.Max {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signin_failures (id, key, at) VALUES (?, ?, ?)`, id, key, n); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("%s: begin sign-in: %w", s.d.Name, err)
	}
	if !ok {
		return "", false, nil
	}
	return id, true, nil
}

// FailSignIn confirms a failure and locks the key at the limit.
func (s *Store) FailSignIn(ctx context.Context, key string, now time.Time, lim store.SignInLimit) error {
	if err := checkSignInArgs(key, lim); err != nil {
		return fmt.Errorf("%s: failed sign-in: %w", s.d.Name, err)
	}
	n := ToNano(now)
	err := s.write(ctx, func(tx Tx) error {
		if _, err := lockSignIns(ctx, tx, key, n); err != nil {
			return err
		}
		fails, err := signInFailures(ctx, tx, key, n, lim)
		if err != nil || fails < lim.Max {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signin_limits SET locked_until = ? WHERE key = ?`, n+lim.LockFor.Nanoseconds(), key); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: failed sign-in: %w", s.d.Name, err)
	}
	return nil
}

// ForgetSignIns forgets key's failures; its row goes with SweepSignIns.
func (s *Store) ForgetSignIns(ctx context.Context, key string) error {
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: forget sign-ins: %w", s.d.Name, err)
	}
	return nil
}

// SweepSignIns deletes the failures older than the window and the keys
// neither locked nor tried within it. The two deletes are transactions of
// their own: holding the failures' rows while waiting for a key's row, as
// one transaction would, could deadlock with a BeginSignIn on PostgreSQL.
func (s *Store) SweepSignIns(ctx context.Context, now time.Time, lim store.SignInLimit) (int, error) {
	if err := checkSignInArgs("sweep", lim); err != nil {
		return 0, fmt.Errorf("%s: sweep sign-ins: %w", s.d.Name, err)
	}
	n := ToNano(now)
	old := n - lim.Window.Nanoseconds()
	var deleted int64
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`DELETE FROM signin_failures WHERE at <= ?`, []any{old}},
		{`DELETE FROM signin_limits WHERE touched <= ? AND locked_until <= ?`, []any{old, n}},
	} {
		err := s.write(ctx, func(tx Tx) error {
			res, err := tx.ExecContext(ctx, q.query, q.args...)
			if err != nil {
				return err
			}
			c, err := res.RowsAffected()
			deleted += c
			return err
		})
		if err != nil {
			return int(deleted), fmt.Errorf("%s: sweep sign-ins: %w", s.d.Name, err)
		}
	}
	return int(deleted), nil
}

// AbortSignIn takes back one tentative failure.
func (s *Store) AbortSignIn(ctx context.Context, key, attempt string) error {
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE id = ? AND key = ?`, attempt, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: abort sign-in: %w", s.d.Name, err)
	}
	return nil
}
