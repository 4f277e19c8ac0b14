package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/coverage"
	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// The coordinator's onboarding commands on a data directory (they work while
// the hub runs: open streams of an organisation that loses access end
// within a second, as the hub watches the store's authentication epoch).

func adminOrgStatusCommands() map[string]*command {
	return map[string]*command{
		"approve": {summary: "approve a pending organisation", run: func(e *env) error {
			return adminOrgStatus(e, "approve", model.OrgPending, model.OrgActive)
		}},
		"suspend": {summary: "suspend an organisation (its keys stop working)", run: func(e *env) error {
			return adminOrgStatus(e, "suspend", model.OrgActive, model.OrgSuspended)
		}},
		"resume": {summary: "resume a suspended organisation", run: func(e *env) error {
			return adminOrgStatus(e, "resume", model.OrgSuspended, model.OrgActive)
		}},
		"move":   {summary: "move a customer to another partner", run: adminOrgMove},
		"revoke": {summary: "offboard an organisation: keys revoked, streams ended; what it shared stays", run: adminOrgRevoke},
	}
}

// openDataOrg opens the data directory and finds an organisation by name
// or id; the caller closes the store.
func openDataOrg(ctx context.Context, fs *flag.FlagSet, name string) (store.Store, model.Org, error) {
	st, err := openData(ctx, fs)
	if err != nil {
		return nil, model.Org{}, err
	}
	o, err := st.Org(ctx, name)
	if err != nil {
		st.Close()
		return nil, o, fmt.Errorf("organisation %q: %w", name, err)
	}
	return st, o, nil
}

func adminOrgStatus(e *env, verb string, from, to model.OrgStatus) error {
	fs := e.flags("hdn admin org " + verb)
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the organisation's name or id")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	st, o, err := openDataOrg(e.ctx, fs, *name)
	if err != nil {
		return err
	}
	defer st.Close()
	cur := o.Status
	if cur == "" {
		cur = model.OrgActive
	}
	switch {
	case o.Revoked:
		return fmt.Errorf("%s was offboarded", o.Name)
	case cur != from:
		return fmt.Errorf("%s is %s, not %s", o.Name, cur, from)
	}
	if err := st.SetOrgStatus(e.ctx, o.ID, to); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "org."+verb, o.ID, o.Name); err != nil {
		return err
	}
	o.Status = to
	return printJSON(e.stdout, o)
}

func adminOrgMove(e *env) error {
	fs := e.flags("hdn admin org move")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the customer's name or id")
	partner := fs.String("partner", "", "the new partner's name or id")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name", "partner"); err != nil {
		return err
	}
	st, o, err := openDataOrg(e.ctx, fs, *name)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.Org(e.ctx, *partner)
	if err != nil {
		return fmt.Errorf("partner %q: %w", *partner, err)
	}
	if err := st.SetOrgPartner(e.ctx, o.ID, p.ID); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "org.move", o.ID, o.Name+" to "+p.Name); err != nil {
		return err
	}
	o.Partner = p.ID
	return printJSON(e.stdout, o)
}

func adminOrgRevoke(e *env) error {
	fs := e.flags("hdn admin org revoke")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the organisation's name or id")
	source := fs.String("source", "", `what becomes of the name on what it shared: "keep" or "anonymise"`)
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name", "source"); err != nil {
		return err
	}
	if *source != "keep" && *source != "anonymise" {
		return fmt.Errorf(`--source %q: "keep" (what it shared keeps its name) or "anonymise"`, *source)
	}
	st, o, err := openDataOrg(e.ctx, fs, *name)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.Kind == policy.Coordinator {
		return errors.New("the coordinator is not offboarded")
	}
	keys, _, err := st.RevokeOrg(e.ctx, o.ID, *source == "anonymise", time.Now().UTC())
	if err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "org.offboard", o.ID, o.Name+": source "+*source); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"id": o.ID, "name": o.Name, "revoked": true, "keys_revoked": keys, "source": *source})
}

// adminEnrolCreate makes a one-time enrolment token for a sensor.
func adminEnrolCreate(e *env) error {
	fs := e.flags("hdn admin enrol create")
	fs.String("data", "", "hub data directory")
	name := fs.String("org", "", "the organisation's name or id")
	ttl := durationFlag(fs, "expires", api.DefaultEnrolTokenLifetime, "how long the token may be used (from 1m to 24h)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	if *ttl < time.Minute || *ttl > api.MaxEnrolTokenLifetime {
		return fmt.Errorf("--expires %s: from 1m to 24h", duration.Format(*ttl))
	}
	st, o, err := openDataOrg(e.ctx, fs, *name)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.Revoked {
		return fmt.Errorf("%s was offboarded", o.Name)
	}
	plain, id, hash := auth.NewKey()
	now := time.Now().UTC()
	t := model.EnrolToken{ID: id, OrgID: o.ID, Hash: hash, CreatedBy: "cli", Created: now, Expires: now.Add(*ttl)}
	if err := st.CreateEnrolToken(e.ctx, t); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "enrolment.create", id, o.Name+", expires "+t.Expires.Format(time.RFC3339)); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"token": plain, "id": id, "org": o.Name, "expires_at": t.Expires,
		"use": "hdn sensor enrol --hub URL --state DIR --token-file FILE (once, before it expires)"})
}

// adminCoverage prints the coordinator's coverage report.
func adminCoverage(e *env) error {
	fs := e.flags("hdn admin coverage")
	fs.String("data", "", "hub data directory")
	live := durationFlag(fs, "live", coverage.DefaultLive, "how recent a heartbeat counts as live")
	window := durationFlag(fs, "window", coverage.DefaultSharingWindow, "how far back sharing counts")
	if err := e.parse(fs); err != nil {
		return err
	}
	if *live <= 0 || *window <= 0 {
		return errors.New("--live and --window must be positive")
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	in := coverage.Input{Now: time.Now().UTC(), Live: *live, Window: *window}
	if in.Orgs, err = st.ListOrgs(e.ctx); err != nil {
		return err
	}
	if in.Sensors, err = st.ListSensors(e.ctx, nil); err != nil {
		return err
	}
	if in.Shared, err = st.SharingSince(e.ctx, in.Now.Add(-in.Window)); err != nil {
		return err
	}
	return printJSON(e.stdout, coverage.Compute(in))
}
