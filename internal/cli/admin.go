package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/open"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

func adminCommands() map[string]*command {
	return map[string]*command{
		"org": {summary: "organisations", sub: func() map[string]*command {
			m := adminOrgStatusCommands()
			m["create"] = &command{summary: "create an organisation", run: adminOrgCreate}
			m["list"] = &command{summary: "list organisations", run: adminOrgList}
			return m
		}()},
		"enrol": {summary: "one-time enrolment tokens for sensors", sub: map[string]*command{
			"create": {summary: "create a token (shown once; 15 minutes by default)", run: adminEnrolCreate},
		}},
		"coverage": {summary: "how far the network reaches: live sensors, sharing, the protected share", run: adminCoverage},
		"rescreen": {summary: "screen live indicators again with today's canonical forms and warninglists (--revoke revokes what they refuse)", run: adminRescreen},
		"key": {summary: "API keys", sub: map[string]*command{
			"create": {summary: "create a key (shown once)", run: adminKeyCreate},
			"list":   {summary: "list keys (never their secrets)", run: adminKeyList},
			"revoke": {summary: "revoke a key", run: adminKeyRevoke},
			"rotate": {summary: "replace a key by a new one (shown once); the old one expires after --grace", run: adminKeyRotate},
		}},
		"feed":    {summary: "outside feeds the hub reads on an interval (MISP feeds, TAXII 2.1 collections)", sub: adminFeedCommands()},
		"webhook": {summary: "webhooks the hub POSTs events to (campaigns, quarantines, indicators)", sub: adminWebhookCommands()},
		"peer":    {summary: "other hubs this hub peers with (federation)", sub: adminPeerCommands()},
		"user":    {summary: "web UI users (passwords hashed; never shown)", sub: adminUserCommands()},
		"audit": {summary: "the audit log", sub: map[string]*command{
			"list": {summary: "list audit entries", run: adminAuditList},
		}},
	}
}

// openData opens a hub's store: the PostgreSQL database of --db (or
// HDN_DB) when given, otherwise the data directory; it works while the hub
// runs. The data directory must hold a hub database already, so that a
// mistyped --data is an error rather than a new, empty hub; only a command
// with --init given (org create) makes one.
func openData(ctx context.Context, fs *flag.FlagSet) (store.Store, error) {
	dir := fs.Lookup("data").Value.String()
	db := ""
	if f := fs.Lookup("db"); f != nil {
		db = dbURL(f.Value.String())
	}
	if err := checkStoreFlags(fs.Name(), dir, db); err != nil {
		return nil, err
	}
	if db == "" {
		if err := hubDataExists(fs, dir); err != nil {
			return nil, err
		}
	}
	return open.Open(ctx, dir, db)
}

// hubDataExists refuses a data directory that holds no hub database (no
// hdn.db), unless the command has --init and it was given.
func hubDataExists(fs *flag.FlagSet, dir string) error {
	if f := fs.Lookup("init"); f != nil && f.Value.String() == "true" {
		return nil
	}
	path := filepath.Join(dir, sqlite.FileName)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		return nil
	case err == nil:
		return fmt.Errorf("%s: %s is not a hub database", fs.Name(), path)
	case !errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	msg := fmt.Sprintf("%s: no hub database in %s yet (%s does not exist): is --data mistyped? "+
		"`hdn hub --data %s` creates one on its first start", fs.Name(), dir, path, dir)
	if fs.Lookup("init") != nil {
		msg += ", as does this command with --init"
	}
	return errors.New(msg)
}

// adminAction records what the operator did on the command line.
func adminAction(ctx context.Context, st store.Store, action, target, detail string) error {
	return st.AppendAudit(ctx, model.AuditEntry{At: time.Now().UTC(), Actor: "cli", Action: action, Target: target, Detail: detail})
}

func adminOrgCreate(e *env) error {
	fs := e.flags("hdn admin org create")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "organisation name (unique without regard to case; spaces around it are dropped)")
	kind := fs.String("kind", "", "coordinator, member, partner, customer, national-cert or peer-hub")
	partner := fs.String("partner", "", "for a customer: the partner's name")
	fs.Bool("init", false, "create the hub database in --data if it holds none yet (the first organisation of a new hub, before the hub's first start); without it a --data that holds no hub database is refused")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name", "kind"); err != nil {
		return err
	}
	// Spaces around a name are a slip of the shell, not part of it (the
	// API trims them too).
	*name, *partner = strings.TrimSpace(*name), strings.TrimSpace(*partner)
	if *name == "" {
		return errors.New("hdn admin org create: --name is empty")
	}
	k, err := policy.ParseOrgKind(*kind)
	if err != nil {
		return err
	}
	if k == policy.Customer && *partner == "" {
		return errors.New("a customer needs --partner NAME")
	}
	if k != policy.Customer && *partner != "" {
		return errors.New("--partner is only for customers")
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	o := model.Org{Name: *name, Kind: k}
	if *partner != "" {
		p, err := st.Org(e.ctx, *partner)
		if err != nil {
			return fmt.Errorf("partner %q: %w", *partner, err)
		}
		o.Partner = p.ID
	}
	o, err = st.CreateOrg(e.ctx, o)
	if errors.Is(err, store.ErrConflict) {
		taken := *name
		if other, err := st.Org(e.ctx, *name); err == nil {
			taken = other.Name
		}
		return fmt.Errorf("an organisation named %s already exists (names are compared without regard to case)", taken)
	}
	if err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "org.create", o.ID, string(o.Kind)+" "+o.Name); err != nil {
		return err
	}
	out := map[string]any{"id": o.ID, "name": o.Name, "kind": o.Kind}
	if *partner != "" {
		out["partner"] = *partner
	}
	return printJSON(e.stdout, out)
}

func adminOrgList(e *env) error {
	return adminList(e, "hdn admin org list", func(ctx context.Context, st store.Store) ([]model.Org, error) { return st.ListOrgs(ctx) })
}

// adminList runs a listing command that takes only --data and prints a JSON
// array ([] when empty).
func adminList[T any](e *env, name string, list func(context.Context, store.Store) ([]T, error)) error {
	fs := e.flags(name)
	fs.String("data", "", "hub data directory")
	if err := e.parse(fs); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	xs, err := list(e.ctx, st)
	if err != nil {
		return err
	}
	if xs == nil {
		xs = []T{}
	}
	return printJSON(e.stdout, xs)
}

func adminKeyCreate(e *env) error {
	fs := e.flags("hdn admin key create")
	fs.String("data", "", "hub data directory")
	orgName := fs.String("org", "", "organisation name or id")
	role := fs.String("role", "", "admin, analyst, sensor or readonly")
	name := fs.String("name", "", "a label for the key")
	var expires expiryFlag
	fs.Var(&expires, "expires", "lifetime (90d, 2160h) or RFC 3339 date (2027-03-01); default: no expiry")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "org", "role"); err != nil {
		return err
	}
	r, err := policy.ParseRole(*role)
	if err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	org, err := st.Org(e.ctx, *orgName)
	if err != nil {
		return fmt.Errorf("organisation %q: %w", *orgName, err)
	}
	plain, id, hash := auth.NewKey()
	k := model.Key{ID: id, OrgID: org.ID, Role: r, Name: *name, Hash: hash, Created: time.Now().UTC()}
	if k.ExpiresAt, err = expires.expiresAt(k.Created); err != nil {
		return err
	}
	if err := st.CreateKey(e.ctx, k); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "key.create", id, string(r)+" key for "+org.Name); err != nil {
		return err
	}
	out := map[string]any{"key": plain, "id": id, "org": org.Name, "role": r}
	if !k.ExpiresAt.IsZero() {
		out["expires_at"] = k.ExpiresAt
	}
	return printJSON(e.stdout, out)
}

func adminKeyList(e *env) error {
	fs := e.flags("hdn admin key list")
	fs.String("data", "", "hub data directory")
	orgName := fs.String("org", "", "only this organisation's keys")
	if err := e.parse(fs); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	orgID := ""
	if *orgName != "" {
		org, err := st.Org(e.ctx, *orgName)
		if err != nil {
			return fmt.Errorf("organisation %q: %w", *orgName, err)
		}
		orgID = org.ID
	}
	keys, err := st.ListKeys(e.ctx, orgID)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []model.Key{}
	}
	return printJSON(e.stdout, keys)
}

func adminKeyRevoke(e *env) error {
	fs := e.flags("hdn admin key revoke")
	fs.String("data", "", "hub data directory")
	id := fs.String("id", "", "the key's id (from key list)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeKey(e.ctx, *id); err != nil {
		return fmt.Errorf("key %q: %w", *id, err)
	}
	if err := adminAction(e.ctx, st, "key.revoke", *id, ""); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"id": *id, "revoked": true})
}

func adminAuditList(e *env) error {
	fs := e.flags("hdn admin audit list")
	fs.String("data", "", "hub data directory")
	orgName := fs.String("org", "", "only this organisation's entries")
	after := fs.Int64("after", 0, "only entries after this sequence number")
	limit := fs.Int("limit", 1000, "at most this many entries")
	if err := e.parse(fs); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	q := store.AuditQuery{After: *after, Limit: *limit}
	if *orgName != "" {
		org, err := st.Org(e.ctx, *orgName)
		if err != nil {
			return fmt.Errorf("organisation %q: %w", *orgName, err)
		}
		q.Org = org.ID
	}
	entries, err := st.ListAudit(e.ctx, q)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []model.AuditEntry{}
	}
	return printJSON(e.stdout, entries)
}
