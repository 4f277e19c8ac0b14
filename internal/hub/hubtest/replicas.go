package hubtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PostgresEnv and NATSEnv name the external servers that tests of several
// hub replicas use when they are set.
const (
	PostgresEnv = "HDN_TEST_POSTGRES_DSN"
	NATSEnv     = "HDN_TEST_NATS_URL"
)

// PostgresDSN returns a DSN for a fresh schema of its own on the PostgreSQL
// server of HDN_TEST_POSTGRES_DSN, dropped when the test ends; it skips the
// test, saying so, when the variable is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " not set: the test on PostgreSQL is skipped")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hdn_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("hubtest: open %s: %v", PostgresEnv, err)
	}
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("hubtest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("hubtest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("hubtest: %s is not a URL: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// NATS returns the URL of a NATS server with JetStream and a stream name
// unique to the test (use it as Config.NATSStream and NATSPrefix): the
// external server of HDN_TEST_NATS_URL when external is true (the test is
// skipped, saying so, when it is not set), an embedded one otherwise.
func NATS(t testing.TB, external bool) (url, stream string) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	stream = "HDNTEST" + hex.EncodeToString(b)
	if external {
		u := os.Getenv(NATSEnv)
		if u == "" {
			t.Skip(NATSEnv + " not set: the test on an external NATS is skipped")
		}
		t.Cleanup(func() { deleteStream(t, u, stream) })
		return u, stream
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("hubtest: embedded NATS: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("hubtest: embedded NATS not ready after 10 s")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL(), stream
}

// deleteStream removes a test's JetStream stream from an external server,
// which keeps its streams between runs.
func deleteStream(t testing.TB, url, name string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Logf("hubtest: cleanup: connect to NATS: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Logf("hubtest: cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, name); err != nil {
		t.Logf("hubtest: cleanup: delete stream %s: %v", name, err)
	}
}
