package cli

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

func runHub(e *env) error {
	fs := e.flags("hdn hub")
	data := fs.String("data", "", "data directory (created on first start)")
	db := dbFlag(fs)
	maxDB := fs.String("max-db-size", "", `bound the SQLite database file, e.g. "50GB" or "40GiB" (default: none, only the disk's): past it, writes are refused with 507 storage_full and reads and streams go on`)
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve on")
	natsURL := fs.String("nats", "", "NATS JetStream URL, to run several hub replicas (or HDN_NATS, which keeps a password off the command line; default: in-process bus)")
	natsReplicas := fs.Int("nats-replicas", 1, "servers of the NATS cluster that keep the hub's JetStream stream (3 in a three-node cluster)")
	name := fs.String("name", "hdn", "the hub's name in exports")
	wlDir := fs.String("warninglists", "", "a directory of more warninglists in MISP's format (list.json files); they refuse unless --warninglist-kind says flag")
	var kinds multiFlag
	fs.Var(&kinds, "warninglist-kind", "NAME=refuse|flag: change what a warninglist does (repeatable)")
	noWL := fs.Bool("no-warninglists", false, "screen nothing (not for production)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	taxiiTLP := fs.String("taxii-default-tlp", "amber", "TLP of objects posted to the TAXII server without a TLP marking")
	retention := durationFlag(fs, "change-retention", hub.DefaultChangeRetention, "how long change-log entries are kept; a sensor or peer away longer takes a fresh snapshot (0: for ever)")
	lim := hubLimitFlags(fs)
	tlsOpts := hubTLSFlags(fs)
	peerTLS := peerTLSFlags(fs)
	insecureCookies := fs.Bool("ui-insecure-cookies", false, "send the web UI's session cookie over plain HTTP on a non-loopback address (only for a lab: put TLS in front of the hub instead)")
	if err := e.parse(fs); err != nil {
		return err
	}
	defTLP, err := policy.ParseTLP(*taxiiTLP)
	if err != nil {
		return fmt.Errorf("--taxii-default-tlp: %w", err)
	}
	*db = dbURL(*db)
	if *natsURL == "" {
		*natsURL = os.Getenv("HDN_NATS")
	}
	if err := checkStoreFlags(fs.Name(), *data, *db); err != nil {
		return err
	}
	maxDBBytes, err := parseSize(*maxDB)
	if err != nil {
		return fmt.Errorf("--max-db-size: %w", err)
	}
	if maxDBBytes > 0 && *db != "" {
		return errors.New("--max-db-size bounds the embedded SQLite database; bound PostgreSQL with its own quotas")
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := hub.Config{DataDir: *data, DB: *db, MaxDBBytes: maxDBBytes, Listen: *listen, Logger: log, NATS: *natsURL, Name: *name, NoWarninglists: *noWL, TAXIIDefaultTLP: defTLP,
		UIInsecureCookies: *insecureCookies}
	cfg.NATSReplicas = *natsReplicas
	cfg.ChangeRetention = *retention // never negative (duration.Parse)
	if *retention == 0 {
		cfg.ChangeRetention = -1 // for ever
	}
	if err := lim.apply(&cfg); err != nil {
		return err
	}
	if tlsOpts.Enabled() {
		if cfg.TLS, err = tlsOpts.Config(); err != nil {
			return fmt.Errorf("hdn hub: %w", err)
		}
	}
	if cfg.PeerTLS, err = peerTLS.Config(); err != nil {
		return fmt.Errorf("hdn hub: peer TLS: %w", err)
	}
	if !*noWL {
		if cfg.Warninglists, err = warninglists(*wlDir, kinds); err != nil {
			return err
		}
	}
	h, err := hub.New(e.ctx, cfg)
	if err != nil {
		return err
	}
	return h.Run(e.ctx)
}

// warninglists builds the hub's set: the shipped lists, those of dir, and
// the operator's changes of kind.
func warninglists(dir string, kinds []string) (*warninglist.Set, error) {
	set, err := warninglist.Default()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		lists, err := warninglist.LoadDir(dir, warninglist.Refuse)
		if err != nil {
			return nil, fmt.Errorf("--warninglists: %w", err)
		}
		if set, err = set.With(lists...); err != nil {
			return nil, fmt.Errorf("--warninglists: %w", err)
		}
	}
	if len(kinds) > 0 {
		m := map[string]warninglist.Kind{}
		for _, kv := range kinds {
			name, kind, ok := strings.Cut(kv, "=")
			k := warninglist.Kind(strings.ToLower(strings.TrimSpace(kind)))
			if !ok || name == "" || (k != warninglist.Refuse && k != warninglist.Flag) {
				return nil, fmt.Errorf("--warninglist-kind %q: want NAME=refuse or NAME=flag", kv)
			}
			m[strings.TrimSpace(name)] = k
		}
		if set, err = set.WithKinds(m); err != nil {
			return nil, fmt.Errorf("--warninglist-kind: %w", err)
		}
	}
	return set, nil
}

// parseSize reads a size in bytes with an optional unit (kB, MB, GB, TB
// in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024); empty is 0.
// A bound under 1 MiB is refused: the schema alone takes about that.
func parseSize(v string) (int64, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 50GB or 40GiB", v)
	}
	if n < 1<<20 || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is out of range: at least 1MiB", v)
	}
	return int64(n), nil
}

// multiFlag is a flag that may be given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
