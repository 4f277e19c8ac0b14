package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func adminFeedCommands() map[string]*command {
	return map[string]*command{
		"add":     {summary: "add a feed the hub reads on an interval", run: adminFeedAdd},
		"list":    {summary: "list feeds and their last runs", run: adminFeedList},
		"enable":  {summary: "turn a feed on", run: func(e *env) error { return adminFeedSwitch(e, true) }},
		"disable": {summary: "turn a feed off", run: func(e *env) error { return adminFeedSwitch(e, false) }},
	}
}

func adminFeedAdd(e *env) error {
	fs := e.flags("hdn admin feed add")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "a name for the feed (default: from the URL)")
	kind := fs.String("kind", "misp", "the feed's format: misp")
	src := fs.String("url", "", "the feed's http(s) URL, or a directory holding manifest.json")
	orgName := fs.String("org", "", "the organisation its indicators are stored under (it must exist)")
	tlp := fs.String("tlp", "clear", "TLP of events that carry no tlp: tag")
	interval := fs.Duration("interval", time.Hour, "how often to look for new or changed events")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "url", "org"); err != nil {
		return err
	}
	if *kind != "misp" {
		return fmt.Errorf("--kind %q: only misp feeds are known", *kind)
	}
	t, err := policy.ParseTLP(*tlp)
	if err != nil {
		return fmt.Errorf("--tlp: %w", err)
	}
	if *interval < time.Minute {
		return fmt.Errorf("--interval %s is under a minute; feeds are not polled that often", *interval)
	}
	loc := *src
	if !isHTTPURL(loc) {
		abs, err := filepath.Abs(loc)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Join(abs, "manifest.json")); err != nil || fi.IsDir() {
			return fmt.Errorf("--url %q is neither an http(s) URL nor a directory holding manifest.json", loc)
		}
		loc = abs
	}
	if *name == "" {
		*name = filepath.Base(loc)
		if u, err := url.Parse(loc); err == nil && u.Host != "" {
			*name = u.Host + u.Path
		}
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
	f, err := st.CreateFeed(e.ctx, model.Feed{Name: *name, Kind: *kind, URL: loc, OrgID: org.ID, TLP: t, Interval: *interval, Enabled: true})
	if err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "feed.create", f.ID, f.Kind+" "+f.URL+" as "+org.Name); err != nil {
		return err
	}
	return printJSON(e.stdout, f)
}

func adminFeedList(e *env) error {
	return adminList(e, "hdn admin feed list", func(ctx context.Context, st store.Store) ([]model.Feed, error) { return st.ListFeeds(ctx) })
}

func adminFeedSwitch(e *env, on bool) error {
	verb := map[bool]string{true: "enable", false: "disable"}[on]
	fs := e.flags("hdn admin feed " + verb)
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the feed's name or id")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := st.Feed(e.ctx, *name)
	if err != nil {
		return fmt.Errorf("feed %q: %w", *name, err)
	}
	if err := st.SetFeedEnabled(e.ctx, f.ID, on); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "feed."+verb, f.ID, f.Name); err != nil {
		return err
	}
	f.Enabled = on
	return printJSON(e.stdout, f)
}

// isHTTPURL says whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
