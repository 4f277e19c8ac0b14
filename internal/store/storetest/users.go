package storetest

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testUsers: users are created (ID and Created assigned, the e-mail address
// kept in lower case and unique regardless of case, sensor roles, empty
// hashes and unknown organisations refused without quoting the hash), found
// by id and by e-mail in any case, listed by e-mail per organisation or
// all, updated (name, role, hash, disabled) and touched at sign-in, never
// backwards; then the sessions (testSessions).
func testUsers(e *env) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$never-shown-hash"
	a := e.org(e.unique("hospital"), policy.Member, "")
	b := e.org(e.unique("hospital"), policy.Member, "")
	u, err := e.st.CreateUser(e.ctx, model.User{OrgID: a.ID, Email: " Alice@Example.ORG ", Name: "Alice", Role: policy.Analyst, PasswordHash: hash})
	if err != nil {
		e.Fatalf("CreateUser: %v", err)
	}
	if u.ID == "" || !recent(u.Created) || u.Email != "alice@example.org" || u.Disabled || !u.LastSignIn.IsZero() {
		e.Errorf("CreateUser returned %+v: want ID, Created and the e-mail in lower case", u)
	}
	if _, err := e.st.CreateUser(e.ctx, model.User{OrgID: b.ID, Email: "ALICE@example.org", Role: policy.ReadOnly, PasswordHash: hash}); !errors.Is(err, store.ErrConflict) {
		e.Errorf("CreateUser with a taken e-mail (other case): %v, want ErrConflict", err)
	}
	if _, err := e.st.CreateUser(e.ctx, model.User{OrgID: "no-such-org", Email: "x@example.org", Role: policy.ReadOnly, PasswordHash: hash}); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("CreateUser in an unknown organisation: %v, want ErrNotFound", err)
	}
	for _, bad := range []model.User{
		{OrgID: a.ID, Email: "s@example.org", Role: policy.Sensor, PasswordHash: hash},
		{OrgID: a.ID, Email: "r@example.org", Role: "root", PasswordHash: hash},
		{OrgID: a.ID, Email: "n@example.org", Role: policy.Admin},
		{OrgID: a.ID, Email: "", Role: policy.Admin, PasswordHash: hash},
		{OrgID: a.ID, Email: "not-an-address", Role: policy.Admin, PasswordHash: hash},
	} {
		if _, err := e.st.CreateUser(e.ctx, bad); err == nil {
			e.Errorf("CreateUser accepted %+v", bad)
		} else if strings.Contains(err.Error(), hash) {
			e.Errorf("CreateUser's error quotes the hash: %v", err)
		}
	}
	same := func(what string, got model.User, err error, want model.User) {
		e.Helper()
		if err != nil || got.ID != want.ID || got.OrgID != want.OrgID || got.Email != want.Email || got.Name != want.Name ||
			got.Role != want.Role || got.PasswordHash != want.PasswordHash || got.Disabled != want.Disabled ||
			!got.Created.Equal(want.Created) || !got.LastSignIn.Equal(want.LastSignIn) {
			e.Errorf("%s: %+v, %v; want %+v", what, got, err, want)
		}
	}
	got, err := e.st.UserByID(e.ctx, u.ID)
	same("UserByID", got, err, u)
	got, err = e.st.UserByEmail(e.ctx, "ALICE@example.org")
	same("UserByEmail (other case)", got, err, u)
	if _, err := e.st.UserByEmail(e.ctx, "nobody@example.org"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("UserByEmail of an unknown address: %v, want ErrNotFound", err)
	}
	if _, err := e.st.UserByID(e.ctx, "no-such-user"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("UserByID of an unknown id: %v, want ErrNotFound", err)
	}
	z, err := e.st.CreateUser(e.ctx, model.User{OrgID: b.ID, Email: "zed@example.org", Role: policy.Admin, PasswordHash: hash})
	if err != nil {
		e.Fatalf("CreateUser: %v", err)
	}
	c, err := e.st.CreateUser(e.ctx, model.User{OrgID: a.ID, Email: "carol@example.org", Role: policy.ReadOnly, PasswordHash: hash})
	if err != nil {
		e.Fatalf("CreateUser: %v", err)
	}
	emails := func(us []model.User) string {
		var xs []string
		for _, u := range us {
			xs = append(xs, u.Email)
		}
		return strings.Join(xs, " ")
	}
	if us, err := e.st.ListUsers(e.ctx, ""); err != nil || emails(us) != "alice@example.org carol@example.org zed@example.org" {
		e.Errorf("ListUsers(all): %q, %v", emails(us), err)
	}
	if us, err := e.st.ListUsers(e.ctx, a.ID); err != nil || emails(us) != "alice@example.org carol@example.org" {
		e.Errorf("ListUsers(a): %q, %v", emails(us), err)
	}
	if us, err := e.st.ListUsers(e.ctx, "no-such-org"); err != nil || len(us) != 0 {
		e.Errorf("ListUsers(unknown org): %v, %v", us, err)
	}

	// Update and touch.
	u.Name, u.Role, u.PasswordHash = "Alice A.", policy.Admin, hash+"2"
	if err := e.st.UpdateUser(e.ctx, u); err != nil {
		e.Fatalf("UpdateUser: %v", err)
	}
	got, err = e.st.UserByID(e.ctx, u.ID)
	same("UserByID after UpdateUser", got, err, u)
	for _, bad := range []model.User{
		{ID: u.ID, Role: policy.Sensor, PasswordHash: hash},
		{ID: u.ID, Role: policy.Admin},
	} {
		if err := e.st.UpdateUser(e.ctx, bad); err == nil {
			e.Errorf("UpdateUser accepted %+v", bad)
		}
	}
	e.wantErr(e.st.UpdateUser(e.ctx, model.User{ID: "no-such-user", Role: policy.Admin, PasswordHash: hash}), store.ErrNotFound, "UpdateUser of an unknown user")
	t1 := time.Unix(1_800_000_000, 0).UTC()
	if err := e.st.TouchUserSignIn(e.ctx, u.ID, t1); err != nil {
		e.Fatalf("TouchUserSignIn: %v", err)
	}
	if err := e.st.TouchUserSignIn(e.ctx, u.ID, t1.Add(-time.Hour)); err != nil {
		e.Fatalf("TouchUserSignIn: %v", err)
	}
	if got, _ := e.st.UserByID(e.ctx, u.ID); !got.LastSignIn.Equal(t1) {
		e.Errorf("LastSignIn %v, want %v (never backwards)", got.LastSignIn, t1)
	}
	e.wantErr(e.st.TouchUserSignIn(e.ctx, "no-such-user", t1), store.ErrNotFound, "TouchUserSignIn of an unknown user")
	// A rehash keeps the sessions, and only replaces the hash it was made
	// from.
	sess := model.Session{ID: "rehash-session", Hash: []byte("h"), UserID: u.ID, CSRF: "c", Expires: t1.Add(time.Hour)}
	if err := e.st.CreateSession(e.ctx, sess); err != nil {
		e.Fatalf("CreateSession: %v", err)
	}
	current, _ := e.st.UserByID(e.ctx, u.ID)
	e.wantErr(e.st.RehashPassword(e.ctx, u.ID, "not-the-stored-hash", "$rehashed"), store.ErrConflict, "RehashPassword from another hash")
	if err := e.st.RehashPassword(e.ctx, u.ID, current.PasswordHash, "$rehashed"); err != nil {
		e.Fatalf("RehashPassword: %v", err)
	}
	if got, _ := e.st.UserByID(e.ctx, u.ID); got.PasswordHash != "$rehashed" || got.Name != current.Name || got.Disabled != current.Disabled {
		e.Errorf("after RehashPassword: %+v", got)
	}
	if _, err := e.st.Session(e.ctx, sess.ID); err != nil {
		e.Errorf("the session after RehashPassword: %v (want it kept)", err)
	}
	if err := e.st.DeleteSession(e.ctx, sess.ID); err != nil {
		e.Fatalf("DeleteSession: %v", err)
	}
	e.wantErr(e.st.RehashPassword(e.ctx, "no-such-user", "a", "b"), store.ErrNotFound, "RehashPassword of an unknown user")
	if got, err := e.st.UserByID(e.ctx, z.ID); err != nil || got.OrgID != b.ID || got.Role != policy.Admin || got.Name != "" {
		e.Errorf("another user after the update: %+v, %v", got, err)
	}
	if got, err := e.st.UserByEmail(e.ctx, c.Email); err != nil || got.ID != c.ID {
		e.Errorf("UserByEmail(%s): %+v, %v", c.Email, got, err)
	}
	testSessions(e)
}

// testSessions: sessions are stored with their hash and CSRF token, read
// back whether expired or not, touched (never backwards), deleted one by
// one, all of a user's deleted when the user is disabled (and only its),
// and the expired ones deleted at once.
func testSessions(e *env) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA"
	o := e.org(e.unique("hospital"), policy.Member, "")
	user := func(email string) model.User {
		u, err := e.st.CreateUser(e.ctx, model.User{OrgID: o.ID, Email: email, Role: policy.Analyst, PasswordHash: hash})
		if err != nil {
			e.Fatalf("CreateUser: %v", err)
		}
		return u
	}
	u1, u2 := user("one@example.org"), user("two@example.org")
	t0 := time.Unix(1_800_000_000, 0).UTC()
	sess := func(id, userID string, expires time.Time) model.Session {
		e.Helper()
		s := model.Session{ID: id, Hash: []byte("hash-of-" + id), UserID: userID, CSRF: "csrf-" + id,
			Created: t0, Expires: expires, LastSeen: t0}
		if err := e.st.CreateSession(e.ctx, s); err != nil {
			e.Fatalf("CreateSession(%s): %v", id, err)
		}
		return s
	}
	s1 := sess("s1", u1.ID, t0.Add(12*time.Hour))
	sess("s2", u1.ID, t0.Add(12*time.Hour))
	s3 := sess("s3", u2.ID, t0.Add(12*time.Hour))
	sess("old", u2.ID, t0.Add(time.Hour))
	if err := e.st.CreateSession(e.ctx, s1); !errors.Is(err, store.ErrConflict) {
		e.Errorf("CreateSession with a taken id: %v, want ErrConflict", err)
	}
	if err := e.st.CreateSession(e.ctx, model.Session{ID: "x", Hash: []byte("h"), UserID: "no-such-user", CSRF: "c",
		Created: t0, Expires: t0.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("CreateSession of an unknown user: %v, want ErrNotFound", err)
	}
	for _, bad := range []model.Session{
		{Hash: []byte("h"), UserID: u1.ID, CSRF: "c", Created: t0, Expires: t0.Add(time.Hour)},
		{ID: "b1", UserID: u1.ID, CSRF: "c", Created: t0, Expires: t0.Add(time.Hour)},
		{ID: "b2", Hash: []byte("h"), UserID: u1.ID, Created: t0, Expires: t0.Add(time.Hour)},
		{ID: "b3", Hash: []byte("h"), UserID: u1.ID, CSRF: "c", Created: t0, Expires: t0},
	} {
		if err := e.st.CreateSession(e.ctx, bad); err == nil {
			e.Errorf("CreateSession accepted %+v", bad)
		}
	}
	got, err := e.st.Session(e.ctx, "s1")
	if err != nil || got.ID != "s1" || !bytes.Equal(got.Hash, s1.Hash) || got.UserID != u1.ID || got.CSRF != s1.CSRF ||
		!got.Created.Equal(t0) || !got.Expires.Equal(s1.Expires) || !got.LastSeen.Equal(t0) {
		e.Errorf("Session(s1): %+v, %v", got, err)
	}
	if _, err := e.st.Session(e.ctx, "no-such-session"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("Session of an unknown id: %v, want ErrNotFound", err)
	}
	if err := e.st.TouchSession(e.ctx, "s1", t0.Add(5*time.Minute)); err != nil {
		e.Fatalf("TouchSession: %v", err)
	}
	if err := e.st.TouchSession(e.ctx, "s1", t0.Add(time.Minute)); err != nil {
		e.Fatalf("TouchSession: %v", err)
	}
	if got, _ := e.st.Session(e.ctx, "s1"); !got.LastSeen.Equal(t0.Add(5 * time.Minute)) {
		e.Errorf("LastSeen %v, want %v (never backwards)", got.LastSeen, t0.Add(5*time.Minute))
	}
	e.wantErr(e.st.TouchSession(e.ctx, "no-such-session", t0), store.ErrNotFound, "TouchSession of an unknown session")

	// Expired sessions go at once; the others stay.
	n, err := e.st.DeleteExpiredSessions(e.ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		e.Errorf("DeleteExpiredSessions: %d, %v; want 1", n, err)
	}
	if _, err := e.st.Session(e.ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("an expired session is still there: %v", err)
	}
	if _, err := e.st.Session(e.ctx, "s3"); err != nil {
		e.Errorf("a live session went with the expired ones: %v", err)
	}

	// Disabling a user ends its sessions, and only its.
	u1.Disabled = true
	if err := e.st.UpdateUser(e.ctx, u1); err != nil {
		e.Fatalf("UpdateUser(disabled): %v", err)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, err := e.st.Session(e.ctx, id); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("session %s of a disabled user: %v, want ErrNotFound", id, err)
		}
	}
	if got, err := e.st.UserByID(e.ctx, u1.ID); err != nil || !got.Disabled {
		e.Errorf("the disabled user: %+v, %v", got, err)
	}
	if got, err := e.st.Session(e.ctx, "s3"); err != nil || got.UserID != s3.UserID {
		e.Errorf("another user's session: %+v, %v", got, err)
	}

	// A new password ends the user's sessions too; another update does not.
	s3owner, err := e.st.UserByID(e.ctx, s3.UserID)
	if err != nil {
		e.Fatal(err)
	}
	s3owner.Name += " (renamed)"
	if err := e.st.UpdateUser(e.ctx, s3owner); err != nil {
		e.Fatal(err)
	}
	if _, err := e.st.Session(e.ctx, "s3"); err != nil {
		e.Errorf("a rename ended a session: %v", err)
	}
	s4 := s3
	s4.ID = "s4"
	if err := e.st.CreateSession(e.ctx, s4); err != nil {
		e.Fatal(err)
	}
	s3owner.PasswordHash += "x"
	if err := e.st.UpdateUser(e.ctx, s3owner); err != nil {
		e.Fatal(err)
	}
	if _, err := e.st.Session(e.ctx, "s4"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("a session after a password change: %v, want ErrNotFound", err)
	}
	if err := e.st.CreateSession(e.ctx, s3); err != nil {
		e.Fatal(err)
	}

	if err := e.st.DeleteSession(e.ctx, "s3"); err != nil {
		e.Fatalf("DeleteSession: %v", err)
	}
	if _, err := e.st.Session(e.ctx, "s3"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("a deleted session: %v, want ErrNotFound", err)
	}
	e.wantErr(e.st.DeleteSession(e.ctx, "s3"), store.ErrNotFound, "DeleteSession of a deleted session")
}
