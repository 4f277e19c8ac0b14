package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/taxiiclient"
	"github.com/hdnetwork/hdn/internal/tlsconf"
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
	kind := fs.String("kind", "misp", "the feed's format: misp or taxii")
	src := fs.String("url", "", "misp: the feed's http(s) URL, or a directory holding manifest.json; taxii: the server's discovery URL, an API root URL or a collection URL")
	orgName := fs.String("org", "", "the organisation its indicators are stored under (it must exist)")
	tlp := fs.String("tlp", "", "TLP of what the feed leaves unmarked: misp, events without a tlp: tag (default clear); taxii, objects without a TLP marking (default amber)")
	interval := durationFlag(fs, "interval", time.Hour, "how often to look for new or changed events (at least 1m)")
	collection := fs.String("collection", "", "taxii: the collection's id, alias or title (default: the only readable one)")
	user := fs.String("user", "", "taxii: user name for HTTP Basic authentication, with --password(-file)")
	password := fs.String("password", "", "taxii: password for HTTP Basic authentication (--password-file keeps it out of the process list)")
	passwordFile := fs.String("password-file", "", "taxii: a file holding the Basic password")
	key := fs.String("key", "", "taxii: an API key or token, sent as Authorization: Bearer (--key-file keeps it out of the process list)")
	keyFile := fs.String("key-file", "", "taxii: a file holding the key or token")
	audience := fs.String("audience", "network", "taxii: who may see what the feed stores: network, group:NAME or orgs:NAME,NAME")
	noCheck := fs.Bool("no-check", false, "taxii: do not contact the server now; --url must then be a collection URL")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "url", "org"); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch *kind {
	case "misp":
		for _, n := range []string{"collection", "user", "password", "password-file", "key", "key-file", "audience", "no-check"} {
			if set[n] {
				return fmt.Errorf("--%s is for taxii feeds (--kind taxii)", n)
			}
		}
	case "taxii":
	default:
		return fmt.Errorf("--kind %q is not one of misp, taxii", *kind)
	}
	if *tlp == "" {
		*tlp = string(policy.Clear) // docs/MISP.md: a MISP feed's default
		if *kind == "taxii" {
			*tlp = string(policy.Amber) // as for objects posted to the hub's own TAXII server
		}
	}
	t, err := policy.ParseTLP(*tlp)
	if err != nil {
		return fmt.Errorf("--tlp: %w", err)
	}
	if *interval < time.Minute {
		return fmt.Errorf("--interval %s is under a minute; feeds are not polled that often", duration.Format(*interval))
	}
	f := model.Feed{Name: *name, Kind: *kind, URL: *src, TLP: t, Interval: *interval, Enabled: true}
	if *kind == "taxii" {
		if err := taxiiCredential(&f, *user, *password, *passwordFile, *key, *keyFile); err != nil {
			return err
		}
		u, err := url.Parse(*src)
		if err != nil || !isHTTPURL(*src) {
			return fmt.Errorf("--url %q: a taxii feed needs an http(s) URL", *src)
		}
		if u.User != nil {
			return errors.New("--url must not hold a user or password; give them with --user and --password-file (or --key-file)")
		}
	} else if !isHTTPURL(f.URL) {
		abs, err := filepath.Abs(f.URL)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Join(abs, "manifest.json")); err != nil || fi.IsDir() {
			return fmt.Errorf("--url %q is neither an http(s) URL nor a directory holding manifest.json", f.URL)
		}
		f.URL = abs
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
	f.OrgID = org.ID
	var alias string
	if *kind == "taxii" {
		if f.Audience, f.AudienceName, err = parseAudience(e.ctx, st, *audience); err != nil {
			return fmt.Errorf("--audience: %w", err)
		}
		if err := policy.CheckAudience(t, f.Audience); err != nil {
			return fmt.Errorf("--tlp %s with --audience %s: %w", t, *audience, err)
		}
		if *noCheck {
			root, id, ok := splitCollectionURL(f.URL)
			if !ok {
				return fmt.Errorf("--no-check: --url %q must be a collection URL (…/collections/ID/)", f.URL)
			}
			if *collection != "" && *collection != id {
				return fmt.Errorf("--no-check: --collection %q is not the collection of --url (%s)", *collection, id)
			}
			f.URL, f.Collection = taxiiclient.CollectionURL(root, id), id
		} else {
			c := &taxiiclient.Client{HTTP: &http.Client{Timeout: time.Minute, CheckRedirect: tlsconf.SameOriginRedirects}}
			switch f.Auth {
			case "basic":
				c.User, c.Password = f.User, f.Secret
			case "bearer":
				c.Token = f.Secret
			}
			collURL, coll, err := resolveCollection(e.ctx, c, f.URL, *collection)
			if err != nil {
				return err
			}
			f.URL, f.Collection, alias = collURL, coll.ID, coll.Alias
		}
	}
	if f.Name == "" {
		f.Name = filepath.Base(f.URL)
		if u, err := url.Parse(f.URL); err == nil && u.Host != "" {
			f.Name = u.Host + u.Path
			if f.Kind == "taxii" {
				f.Name = u.Host + "/" + cmp.Or(alias, f.Collection)
			}
		}
	}
	f, err = st.CreateFeed(e.ctx, f)
	if err != nil {
		return err
	}
	shown := showFeed(e.ctx, st, f)
	detail := f.Kind + " " + f.URL + " as " + org.Name
	if f.Kind == "taxii" {
		detail += ", audience " + shown.AudienceName
		if f.Auth != "" {
			detail += ", " + f.Auth + " auth" // never the secret
		}
	}
	if err := adminAction(e.ctx, st, "feed.create", f.ID, detail); err != nil {
		return err
	}
	return printJSON(e.stdout, shown)
}

// taxiiCredential sets a taxii feed's credential from the flags: a Basic
// user and password, or a Bearer key, each given inline or read from a
// file. Errors never quote a secret.
func taxiiCredential(f *model.Feed, user, password, passwordFile, key, keyFile string) error {
	given := 0
	for _, s := range []string{password, passwordFile, key, keyFile} {
		if s != "" {
			given++
		}
	}
	if given > 1 {
		return errors.New("give one of --password, --password-file, --key, --key-file")
	}
	read := func(flagName, path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flagName, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" || strings.ContainsAny(s, "\r\n") {
			return "", fmt.Errorf("--%s %s: the file must hold the secret on one line", flagName, path)
		}
		return s, nil
	}
	var err error
	switch {
	case password != "" || passwordFile != "":
		f.Auth, f.User, f.Secret = "basic", user, password
		if passwordFile != "" {
			f.Secret, err = read("password-file", passwordFile)
		}
	case key != "" || keyFile != "":
		if user != "" {
			return errors.New("--user goes with --password or --password-file; a --key is sent as a Bearer token, without a user")
		}
		f.Auth, f.Secret = "bearer", key
		if keyFile != "" {
			f.Secret, err = read("key-file", keyFile)
		}
	case user != "":
		return errors.New("--user needs --password-file (or --password)")
	}
	return err
}

// parseAudience resolves an --audience to ids: network, group:NAME or
// orgs:NAME,NAME. It also returns the readable form, with names.
func parseAudience(ctx context.Context, st store.Store, s string) (policy.Audience, string, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch strings.TrimSpace(kind) {
	case "", "network":
		if rest != "" {
			return policy.Audience{}, "", fmt.Errorf("%q: network takes no names", s)
		}
		return policy.NetworkAudience(), "network", nil
	case "group":
		g, err := st.Group(ctx, strings.TrimSpace(rest))
		if err != nil {
			return policy.Audience{}, "", fmt.Errorf("group %q: %w", rest, err)
		}
		return policy.Audience{Kind: policy.Group, Group: g.ID}, "group:" + g.Name, nil
	case "orgs":
		var ids, names []string
		for n := range strings.SplitSeq(rest, ",") {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			o, err := st.Org(ctx, n)
			if err != nil {
				return policy.Audience{}, "", fmt.Errorf("organisation %q: %w", n, err)
			}
			if !slices.Contains(ids, o.ID) {
				ids, names = append(ids, o.ID), append(names, o.Name)
			}
		}
		if len(ids) == 0 {
			return policy.Audience{}, "", fmt.Errorf("%q names no organisation", s)
		}
		return policy.Audience{Kind: policy.Orgs, Orgs: ids}, "orgs:" + strings.Join(names, ","), nil
	}
	return policy.Audience{}, "", fmt.Errorf("%q is not network, group:NAME or orgs:NAME,NAME", s)
}

// describeAudience is the readable form of a stored audience (names where
// they can be found, ids otherwise).
func describeAudience(ctx context.Context, st store.Store, a policy.Audience) string {
	switch a.Kind {
	case policy.Group:
		if g, err := st.Group(ctx, a.Group); err == nil {
			return "group:" + g.Name
		}
		return "group:" + a.Group
	case policy.Orgs:
		names := make([]string, 0, len(a.Orgs))
		for _, id := range a.Orgs {
			if o, err := st.Org(ctx, id); err == nil {
				id = o.Name
			}
			names = append(names, id)
		}
		return "orgs:" + strings.Join(names, ",")
	}
	return "network"
}

// feedJSON is a feed as hdn admin feed prints it: its interval as a
// duration ("2h") and its organisation by name, as the API shows them, and
// a taxii feed's audience in readable form.
type feedJSON struct {
	model.Feed
	Interval string `json:"interval"`
	Org      string `json:"org"`
}

// showFeed makes a feed printable.
func showFeed(ctx context.Context, st store.Store, f model.Feed) feedJSON {
	if f.Kind == "taxii" {
		f.AudienceName = describeAudience(ctx, st, f.Audience)
	}
	org := f.OrgID
	if o, err := st.Org(ctx, f.OrgID); err == nil {
		org = o.Name
	}
	return feedJSON{Feed: f, Interval: duration.Format(f.Interval), Org: org}
}

// splitCollectionURL splits a TAXII collection URL (…/collections/ID/) into
// its API root URL and the collection id.
func splitCollectionURL(s string) (root, id string, ok bool) {
	u, err := url.Parse(s)
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	i := strings.LastIndex(p, "/collections/")
	if i < 0 {
		return "", "", false
	}
	escID := p[i+len("/collections/"):]
	if escID == "" || strings.Contains(escID, "/") {
		return "", "", false
	}
	id, err = url.PathUnescape(escID)
	if err != nil {
		return "", "", false
	}
	r := *u
	r.RawPath, r.Path = "", ""
	rootPath, err := url.PathUnescape(p[:i+1])
	if err != nil {
		return "", "", false
	}
	r.Path = rootPath
	return r.String(), id, true
}

// resolveCollection finds the collection a taxii feed reads: --url may be a
// collection URL, a discovery URL (its default API root, or its only one)
// or an API root URL; the collection is the one whose id, alias or title is
// want, or the only readable one when want is "".
func resolveCollection(ctx context.Context, c *taxiiclient.Client, u, want string) (string, taxiiclient.Collection, error) {
	if root, id, ok := splitCollectionURL(u); ok {
		cs, err := c.Collections(ctx, root)
		if err == nil {
			for _, coll := range cs {
				if coll.ID != id {
					continue
				}
				if want != "" && !collectionIs(coll, want) {
					return "", coll, fmt.Errorf("--collection %q is not the collection of --url (%s)", want, describeCollection(coll))
				}
				if !coll.CanRead {
					return "", coll, fmt.Errorf("collection %s is not readable with the given credential", describeCollection(coll))
				}
				return taxiiclient.CollectionURL(root, id), coll, nil
			}
			return "", taxiiclient.Collection{}, fmt.Errorf("%s has no collection %q; its collections:\n%s", root, id, listCollections(cs))
		}
		// Not a collection of that API root after all: try the URL as a
		// discovery or API root URL below.
	}
	var root string
	d, derr := c.Discover(ctx, u)
	switch {
	case derr == nil && d.Default != "":
		root = d.Default
	case derr == nil && len(d.APIRoots) == 1:
		root = d.APIRoots[0]
	case derr == nil && len(d.APIRoots) > 1:
		return "", taxiiclient.Collection{}, fmt.Errorf("%s lists %d API roots and no default; give one as --url:\n  %s", u, len(d.APIRoots), strings.Join(d.APIRoots, "\n  "))
	default:
		root = u // an API root URL, or nothing TAXII at all
	}
	if root != u {
		if err := sameOrigin(u, root); err != nil {
			return "", taxiiclient.Collection{}, fmt.Errorf("the discovery answer of %s names API root %s: %w; the credential is not sent there: give that API root as --url if you trust it", u, root, err)
		}
	}
	cs, err := c.Collections(ctx, root)
	if err != nil {
		for _, e := range []error{derr, err} {
			var te *taxiiclient.Error
			if errors.As(e, &te) && (te.Status == http.StatusUnauthorized || te.Status == http.StatusForbidden) {
				return "", taxiiclient.Collection{}, fmt.Errorf("the TAXII server at %s refused the credential (%d %s): check --key-file, or --user and --password-file", te.URL, te.Status, te.Title)
			}
		}
		if derr != nil {
			return "", taxiiclient.Collection{}, fmt.Errorf("--url %s is neither a TAXII discovery URL (%v) nor an API root (%v)", u, derr, err)
		}
		return "", taxiiclient.Collection{}, fmt.Errorf("collections of API root %s: %w", root, err)
	}
	var found []taxiiclient.Collection
	for _, coll := range cs {
		if (want != "" && collectionIs(coll, want)) || (want == "" && coll.CanRead) {
			found = append(found, coll)
		}
	}
	switch {
	case len(found) == 1 && !found[0].CanRead:
		return "", found[0], fmt.Errorf("collection %s is not readable with the given credential", describeCollection(found[0]))
	case len(found) == 1:
		return taxiiclient.CollectionURL(root, found[0].ID), found[0], nil
	case len(cs) == 0:
		return "", taxiiclient.Collection{}, fmt.Errorf("API root %s shows no collections (with the given credential)", root)
	case want == "" && len(found) == 0:
		return "", taxiiclient.Collection{}, fmt.Errorf("API root %s has no collection readable with the given credential; its collections:\n%s", root, listCollections(cs))
	case want == "":
		return "", taxiiclient.Collection{}, fmt.Errorf("API root %s has %d readable collections; choose one with --collection ID, alias or title:\n%s", root, len(found), listCollections(cs))
	case len(found) == 0:
		return "", taxiiclient.Collection{}, fmt.Errorf("API root %s has no collection with id, alias or title %q; its collections:\n%s", root, want, listCollections(cs))
	}
	return "", taxiiclient.Collection{}, fmt.Errorf("--collection %q is ambiguous at API root %s: %d collections match; give the id:\n%s", want, root, len(found), listCollections(found))
}

func collectionIs(c taxiiclient.Collection, want string) bool {
	return c.ID == want || (c.Alias != "" && strings.EqualFold(c.Alias, want)) || (c.Title != "" && strings.EqualFold(c.Title, want))
}

func describeCollection(c taxiiclient.Collection) string {
	s := c.ID
	if c.Alias != "" {
		s += " alias " + c.Alias
	}
	if c.Title != "" {
		s += fmt.Sprintf(" %q", c.Title)
	}
	return s
}

func listCollections(cs []taxiiclient.Collection) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  " + describeCollection(c))
		if !c.CanRead {
			b.WriteString(" (not readable)")
		}
	}
	return b.String()
}

func adminFeedList(e *env) error {
	return adminList(e, "hdn admin feed list", func(ctx context.Context, st store.Store) ([]feedJSON, error) {
		fs, err := st.ListFeeds(ctx)
		out := make([]feedJSON, len(fs))
		for i := range fs {
			out[i] = showFeed(ctx, st, fs[i])
		}
		return out, err
	})
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
	return printJSON(e.stdout, showFeed(e.ctx, st, f))
}

// isHTTPURL says whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// sameOrigin says whether next has the scheme, host and port of base (an
// error saying how it differs otherwise): a server's answer must not choose
// where the hub sends the feed's credential from then on.
func sameOrigin(base, next string) error {
	b, err := url.Parse(base)
	if err != nil {
		return err
	}
	n, err := url.Parse(next)
	if err != nil {
		return err
	}
	n = b.ResolveReference(n) // a relative API root is on base's origin
	if !tlsconf.SameOrigin(b, n) {
		return fmt.Errorf("it is on another origin (%s://%s, not %s://%s)", n.Scheme, n.Host, b.Scheme, b.Host)
	}
	return nil
}
