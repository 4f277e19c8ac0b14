package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/web"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// openUIStream opens the dashboard's stream with b's cookie; the returned
// channel closes when the hub ends the stream.
func openUIStream(t *testing.T, b *browser) <-chan struct{} {
	t.Helper()
	cursor := attr(b.get("/ui/").mustID(t, "live-indicators"), "data-cursor")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/ui/stream?cursor="+cursor, nil)
	resp, err := b.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	ended := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		close(ended)
	}()
	return ended
}

func waitEnded(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatalf("the dashboard's stream is still open 15 s after %s", what)
	}
}

// TestStreamEndsWithSession: the dashboard's live stream ends with the
// session it was opened in — signed out, ended by a password change (as
// `hdn admin user passwd` does, on the store), or expired without the user
// coming back — and not before: it was left open, delivering what the
// organisation sees to whoever held the cookie.
func TestStreamEndsWithSession(t *testing.T) {
	t.Run("sign-out", func(t *testing.T) {
		e := newEnv(t, hub.Config{StreamHeartbeat: time.Hour})
		a := e.h.Org("Hospital A", policy.Member, "")
		email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
		submit(t, e.h, e.h.Key(a, policy.Analyst), map[string]any{"value": "first.badhost-example.net", "tlp": "green"})
		b := e.browser()
		b.signIn(email, pw)
		other := e.browser() // the same user in another browser
		other.signIn(email, pw)
		ended := openUIStream(t, b)
		otherEnded := openUIStream(t, other)
		p := b.get("/ui/")
		if so := b.post("/ui/signout", url.Values{"csrf": {csrfOf(t, p)}}); so.status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", so.status)
		}
		waitEnded(t, ended, "signing out")
		select {
		case <-otherEnded:
			t.Error("signing out in one browser ended the stream of the other session")
		case <-time.After(2 * time.Second):
		}
	})
	t.Run("password change", func(t *testing.T) {
		e := newEnv(t, hub.Config{StreamHeartbeat: time.Hour})
		a := e.h.Org("Hospital A", policy.Member, "")
		email, pw := e.user(a, "victim@hospital-a.example", policy.Analyst)
		submit(t, e.h, e.h.Key(a, policy.Analyst), map[string]any{"value": "first.badhost-example.net", "tlp": "green"})
		thief := e.browser() // holds a stolen cookie
		thief.signIn(email, pw)
		ended := openUIStream(t, thief)
		u, err := e.h.Store.UserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash, _ = session.HashPassword("a brand new long pass phrase")
		if err := e.h.Store.UpdateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		waitEnded(t, ended, "the password changed")
	})
	t.Run("expiry", func(t *testing.T) {
		e := newEnv(t, hub.Config{StreamHeartbeat: time.Hour})
		sm := session.New(e.h.Store, session.Options{Lifetime: 3 * time.Second})
		srv := httptest.NewServer(web.New(web.Config{API: e.h.Hub.API(), Sessions: sm, HubName: "short"}))
		defer srv.Close()
		a := e.h.Org("Hospital A", policy.Member, "")
		email, pw := e.user(a, "ana@hospital-a.example", policy.Analyst)
		submit(t, e.h, e.h.Key(a, policy.Analyst), map[string]any{"value": "first.badhost-example.net", "tlp": "green"})
		b := e.browser()
		b.base = srv.URL
		b.signIn(email, pw)
		ended := openUIStream(t, b)
		waitEnded(t, ended, "the session expired") // no page is loaded meanwhile
	})
}
