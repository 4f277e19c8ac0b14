package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/postgres"
)

// withParams returns dsn with the query parameters kv (name, value, …)
// added.
func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sessionSettings reads, with SHOW, the settings names on n connections of
// the store's pool held at once, so that more than the connection the pool
// hands out first (the one that migrated) is looked at.
func sessionSettings(t *testing.T, st *postgres.Store, n int, names ...string) []map[string]string {
	t.Helper()
	ctx := t.Context()
	var out []map[string]string
	for range n {
		c, err := postgres.Pool(st).Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m := map[string]string{}
		var tcp bool
		if err := c.QueryRowContext(ctx, `SELECT inet_server_addr() IS NOT NULL`).Scan(&tcp); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasPrefix(name, "tcp_") && !tcp {
				continue // PostgreSQL ignores them on a Unix socket
			}
			var v string
			if err := c.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
				t.Fatalf("SHOW %s: %v", name, err)
			}
			m[name] = v
		}
		out = append(out, m)
	}
	return out
}

// TestSessionDefaults: every connection of the store ends a session idle in
// a transaction after a minute, gives up on a silent client after about a
// minute, and waits at most 2 min for a lock (docs/POSTGRES.md, "Session
// settings"), when the DSN, role, database and server set none of them.
func TestSessionDefaults(t *testing.T) {
	st := open(t, freshSchema(t))
	want := map[string]string{
		"idle_in_transaction_session_timeout": "1min",
		"lock_timeout":                        "2min",
		"tcp_keepalives_idle":                 "30",
		"tcp_keepalives_interval":             "10",
		"tcp_keepalives_count":                "3",
		"tcp_user_timeout":                    "60000", // ms; SHOW gives no unit
		"statement_timeout":                   "0",     // never set: long migrations and imports are legitimate
	}
	admin, err := sql.Open("pgx", os.Getenv(dsnEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for name := range want {
		var source string
		if err := admin.QueryRow(`SELECT source FROM pg_settings WHERE name = $1`, name).Scan(&source); err != nil {
			t.Fatal(err)
		}
		if source != "default" {
			t.Skipf("the test server (or %s) sets %s itself (source %s): the store rightly leaves it alone", dsnEnv, name, source)
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	for i, got := range sessionSettings(t, st, 3, names...) {
		for name, v := range got {
			if v != want[name] {
				t.Errorf("connection %d: %s = %q, want %q", i, name, v, want[name])
			}
		}
	}
}

// TestSessionDefaultsYieldToTheDSN: a setting the DSN gives, as a parameter
// or in options, is the one in effect; the others keep the store's.
func TestSessionDefaultsYieldToTheDSN(t *testing.T) {
	dsn := withParams(t, freshSchema(t),
		"idle_in_transaction_session_timeout", "0", // an operator may turn one off
		"tcp_keepalives_idle", "45",
		"statement_timeout", "5min", // the store sets none; an operator may
		"options", "--lock_timeout=7s")
	st := open(t, dsn)
	want := map[string]string{
		"statement_timeout":                   "5min",
		"idle_in_transaction_session_timeout": "0",
		"tcp_keepalives_idle":                 "45",
		"lock_timeout":                        "7s",
		"tcp_user_timeout":                    "60000", // the store's
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	for i, got := range sessionSettings(t, st, 3, names...) {
		for name, v := range got {
			if v != want[name] {
				t.Errorf("connection %d: %s = %q, want %q", i, name, v, want[name])
			}
		}
	}
}

// holdChangeLog takes the change-log lock of the schema of dsn on a
// connection of its own, as a writer of another replica would, and returns
// what releases it.
func holdChangeLog(t *testing.T, dsn string) (release func()) {
	t.Helper()
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	db, err := sql.Open("pgx", os.Getenv(dsnEnv))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, postgres.LockClassChanges, schema); err != nil {
		tx.Rollback()
		db.Close()
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		tx.Rollback()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// TestWriterGivesUpOnAHeldChangeLogLock: a writer whose change-log lock is
// held elsewhere longer than lock_timeout fails with ErrLockTimeout instead
// of waiting for ever, and writes once the lock is free. The DSN sets a
// lock_timeout of 1 s to keep the test short (the store's default is 2 min,
// TestSessionDefaults).
func TestWriterGivesUpOnAHeldChangeLogLock(t *testing.T) {
	dsn := freshSchema(t)
	st := open(t, withParams(t, dsn, "lock_timeout", "1s"))
	release := holdChangeLog(t, dsn)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	t0 := time.Now()
	ing, err := st.BeginIngest(ctx)
	waited := time.Since(t0)
	if err == nil {
		ing.Rollback()
		t.Fatal("BeginIngest took the change-log lock another transaction holds")
	}
	if ctx.Err() != nil {
		t.Fatalf("BeginIngest waited for the change-log lock until the test's own deadline (%s): %v", waited, err)
	}
	if !errors.Is(err, postgres.ErrLockTimeout) || !strings.Contains(err.Error(), "change-log") {
		t.Fatalf("BeginIngest behind a held change-log lock: %v, want ErrLockTimeout naming the change-log lock", err)
	}
	if waited < 900*time.Millisecond {
		t.Errorf("BeginIngest gave up after %s, before lock_timeout (1s)", waited)
	}
	t.Logf("after %s: %v", waited.Round(time.Millisecond), err)
	// The other write paths that take the lock fail the same way.
	if _, err := st.ExpireDue(ctx, time.Now()); !errors.Is(err, postgres.ErrLockTimeout) {
		t.Errorf("ExpireDue behind a held change-log lock: %v, want ErrLockTimeout", err)
	}

	release()
	ing, err = st.BeginIngest(ctx)
	if err != nil {
		t.Fatalf("BeginIngest once the lock is free: %v", err)
	}
	if err := ing.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// TestFrozenLockHolderIsEnded: replica A takes the change-log lock and then
// stops talking to the database (a partition, a paused VM: its session sits
// idle in its transaction). PostgreSQL ends A's session after
// idle_in_transaction_session_timeout, so replica B's write goes through
// instead of waiting for ever; A's commit fails with nothing of it stored,
// and A's next write works on a fresh connection. A's DSN shortens the
// timeout to 2 s to keep the test short (the store's default is 60 s,
// TestSessionDefaults).
func TestFrozenLockHolderIsEnded(t *testing.T) {
	dsn := freshSchema(t)
	a := open(t, withParams(t, dsn, "idle_in_transaction_session_timeout", "2s"))
	b := open(t, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	org, err := a.CreateOrg(ctx, model.Org{Name: "frozen", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(value string) []model.Submission {
		return []model.Submission{{Type: indicator.Domain, TLP: policy.Green, Source: org.ID, Value: value}}
	}

	frozen, err := a.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := frozen.Put(ctx, sub("frozen.example.org")); err != nil {
		t.Fatal(err)
	}
	// A says nothing more; B writes.
	t0 := time.Now()
	ing, err := b.BeginIngest(ctx)
	if err != nil {
		t.Fatalf("B's write behind A's frozen transaction, after %s: %v", time.Since(t0).Round(time.Millisecond), err)
	}
	if _, err := ing.Put(ctx, sub("from-b.example.org")); err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("B wrote %s after A froze holding the change-log lock", time.Since(t0).Round(time.Millisecond))

	if err := frozen.Commit(); err == nil {
		t.Error("A's commit after its session was ended succeeded")
	}
	for _, v := range []string{"frozen.example.org", "from-b.example.org"} {
		inds, err := b.ListIndicators(ctx, policy.Viewer{OrgID: org.ID, Kind: policy.Member}, store.Query{Value: v})
		if err != nil {
			t.Fatal(err)
		}
		if stored, want := len(inds) > 0, v == "from-b.example.org"; stored != want {
			t.Errorf("%s stored: %v, want %v", v, stored, want)
		}
	}
	again, err := a.BeginIngest(ctx)
	if err != nil {
		t.Fatalf("A's next write: %v", err)
	}
	if _, err := again.Put(ctx, sub("again.example.org")); err != nil {
		t.Fatal(err)
	}
	if err := again.Commit(); err != nil {
		t.Fatalf("A's next write: %v", err)
	}
}

// freezeProxy forwards PostgreSQL connections (without TLS). Once armed with
// a text, it forwards the next Parse message of a client whose query holds
// the text and then nothing more from that client, keeping the connection
// open: to the server the client froze in the middle of a statement (as one
// stopped by SIGSTOP while it writes, or behind a proxy that stopped
// forwarding), and its kernel, here the proxy, still answers.
type freezeProxy struct {
	ln     net.Listener
	target string
	arm    atomic.Pointer[string]
	frozen chan struct{} // closed when a client froze
	once   sync.Once
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target, frozen: make(chan struct{}), stop: make(chan struct{})}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		close(p.stop)
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *freezeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Go(func() {
			<-p.stop
			c.Close()
			s.Close()
		})
		p.wg.Go(func() { // server -> client
			io.Copy(c, s)
			c.Close()
		})
		p.wg.Go(func() { p.frontend(c, s) })
	}
}

// frontend forwards the client's messages (a startup message, then typed
// messages) until it freezes.
func (p *freezeProxy) frontend(c, s net.Conn) {
	defer s.Close()
	r := bufio.NewReader(c)
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(n[:]))
	copy(startup, n[:])
	if _, err := io.ReadFull(r, startup[4:]); err != nil {
		return
	}
	if _, err := s.Write(startup); err != nil {
		return
	}
	for {
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		msg := make([]byte, 1+binary.BigEndian.Uint32(h[1:]))
		copy(msg, h[:])
		if _, err := io.ReadFull(r, msg[5:]); err != nil {
			return
		}
		if _, err := s.Write(msg); err != nil {
			return
		}
		if text := p.arm.Load(); text != nil && msg[0] == 'P' && bytes.Contains(msg, []byte(*text)) {
			p.once.Do(func() { close(p.frozen) })
			<-p.stop
			return
		}
	}
}

// TestWriterNamesAHolderFrozenMidStatement: replica A's ingest stops in
// the middle of a statement, after its first message reached the server,
// holding the change-log lock, while its connection stays up (a SIGSTOP
// between two writes of one statement, or a proxy that stopped forwarding).
// PostgreSQL ends such a session by none of its timeouts: it is neither idle
// in a transaction nor silent, and a cancel (statement_timeout) waits until
// the rest of the message arrives. Replica B's writer therefore fails after
// lock_timeout (1 s here, from B's DSN; the store's is 2 min) with an error
// that names the stuck backend; once that is ended (pg_terminate_backend,
// as the error says), B writes.
func TestWriterNamesAHolderFrozenMidStatement(t *testing.T) {
	dsn := freshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("sslmode") != "disable" {
		t.Skipf("%s asks for TLS (sslmode=%q): the test's proxy reads the protocol in the clear", dsnEnv, u.Query().Get("sslmode"))
	}
	px := newFreezeProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	a := open(t, u.String())
	b := open(t, withParams(t, dsn, "lock_timeout", "1s"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	org, err := b.CreateOrg(ctx, model.Org{Name: "frozen-mid-statement", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(value string) []model.Submission {
		return []model.Submission{{Type: indicator.Domain, TLP: policy.Green, Source: org.ID, Value: value}}
	}

	text := "INSERT INTO indicators"
	px.arm.Store(&text)
	actx, stopA := context.WithCancel(ctx)
	defer stopA()
	aDone := make(chan error, 1)
	go func() {
		ing, err := a.BeginIngest(actx)
		if err != nil {
			aDone <- err
			return
		}
		defer ing.Rollback()
		_, err = ing.Put(actx, sub("frozen.example.org"))
		aDone <- err
	}()
	select {
	case <-px.frozen:
	case err := <-aDone:
		t.Fatalf("A's ingest ended before it froze: %v", err)
	case <-ctx.Done():
		t.Fatal("A's ingest never sent its upsert")
	}

	var pid int
	if err := postgres.Pool(b).QueryRowContext(ctx, `SELECT l.pid FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = hashtext(current_schema())::oid`,
		postgres.LockClassChanges).Scan(&pid); err != nil {
		t.Fatalf("the holder of the change-log lock: %v", err)
	}
	_, err = b.BeginIngest(ctx)
	if !errors.Is(err, postgres.ErrLockTimeout) {
		t.Fatalf("B's write behind A's frozen statement: %v, want ErrLockTimeout", err)
	}
	for _, want := range []string{fmt.Sprintf("held by backend %d", pid), "active", "ClientRead", fmt.Sprintf("pg_terminate_backend(%d)", pid)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("B's error does not say %q: %v", want, err)
		}
	}
	t.Logf("B: %v", err)

	// The operator ends the stuck session, as the error says.
	var ended bool
	if err := postgres.Pool(b).QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ended); err != nil || !ended {
		t.Fatalf("pg_terminate_backend(%d): %v %v", pid, ended, err)
	}
	ing, err := b.BeginIngest(ctx)
	if err != nil {
		t.Fatalf("B's write once the stuck session is ended: %v", err)
	}
	if _, err := ing.Put(ctx, sub("from-b.example.org")); err != nil {
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-aDone; err == nil {
		t.Error("A's frozen Put succeeded")
	}
}
