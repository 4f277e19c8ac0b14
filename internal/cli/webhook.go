package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// minWebhookSecret is the shortest secret a webhook is signed with.
const minWebhookSecret = 32

func adminWebhookCommands() map[string]*command {
	return map[string]*command{
		"add":     {summary: "add a webhook the hub POSTs events to (signed; docs/WEBHOOKS.md)", run: adminWebhookAdd},
		"list":    {summary: "list webhooks and their last deliveries (never their secrets)", run: adminWebhookList},
		"remove":  {summary: "remove a webhook", run: adminWebhookRemove},
		"enable":  {summary: "turn a webhook on", run: func(e *env) error { return adminWebhookSwitch(e, true) }},
		"disable": {summary: "turn a webhook off", run: func(e *env) error { return adminWebhookSwitch(e, false) }},
	}
}

func adminWebhookAdd(e *env) error {
	fs := e.flags("hdn admin webhook add")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "a name for the webhook")
	rawURL := fs.String("url", "", "where to POST: an https URL (http only to a loopback address, for testing)")
	secretFile := fs.String("secret-file", "", "a file holding the signing secret (at least 32 bytes; make one with: openssl rand -hex 32)")
	events := fs.String("events", "", "the events to send, comma-separated: campaign, quarantine, indicator")
	minScore := fs.Int("min-score", 0, "indicator events: only indicators scoring at least this (0–100)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name", "url", "secret-file", "events"); err != nil {
		return err
	}
	if err := checkWebhookURL(*rawURL); err != nil {
		return err
	}
	var kinds []string
	for k := range strings.SplitSeq(*events, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if !slices.Contains(model.WebhookEvents, k) {
			return fmt.Errorf("--events: %q is not one of %s", k, strings.Join(model.WebhookEvents, ", "))
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return fmt.Errorf("--events names no event; give some of %s", strings.Join(model.WebhookEvents, ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["min-score"] && !slices.Contains(kinds, "indicator") {
		return errors.New("--min-score is for indicator events; add indicator to --events")
	}
	if *minScore < 0 || *minScore > 100 {
		return fmt.Errorf("--min-score %d is outside 0–100", *minScore)
	}
	secret, err := readWebhookSecret(*secretFile)
	if err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := st.CreateWebhook(e.ctx, model.Webhook{Name: *name, URL: *rawURL, Secret: secret, Events: kinds, MinScore: *minScore, Enabled: true})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a webhook named %q exists already", *name)
	}
	if err != nil {
		return err
	}
	detail := w.URL + " for " + strings.Join(w.Events, ",") // never the secret
	if slices.Contains(w.Events, "indicator") {
		detail += fmt.Sprintf(", min score %d", w.MinScore)
	}
	if err := adminAction(e.ctx, st, "webhook.create", w.ID, w.Name+": "+detail); err != nil {
		return err
	}
	return printJSON(e.stdout, w)
}

// checkWebhookURL admits https URLs, and http URLs to a loopback address
// (a receiver on the hub's own machine, for testing).
func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("--url %q: a webhook needs an https URL", s)
	}
	if u.User != nil {
		return errors.New("--url must not hold a user or password; the hub signs every delivery instead (docs/WEBHOOKS.md)")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("--url %q: a webhook needs https (events must not cross the network in clear); http is only for a loopback address such as 127.0.0.1, for testing", s)
	}
	return nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// readWebhookSecret reads a signing secret from a file: one line, at least
// minWebhookSecret bytes. Errors never quote it.
func readWebhookSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("--secret-file %s: the file must hold the secret on one line", path)
	}
	if len(s) < minWebhookSecret {
		return "", fmt.Errorf("--secret-file %s: the secret is %d bytes, fewer than %d; make one with: openssl rand -hex 32 > %s",
			path, len(s), minWebhookSecret, path)
	}
	return s, nil
}

func adminWebhookList(e *env) error {
	return adminList(e, "hdn admin webhook list", func(ctx context.Context, st store.Store) ([]model.Webhook, error) {
		return st.ListWebhooks(ctx)
	})
}

// adminWebhookTarget opens the data directory and finds the webhook --name
// names.
func adminWebhookTarget(e *env, verb string) (store.Store, model.Webhook, error) {
	return adminNamed(e, "hdn admin webhook "+verb, "webhook", store.Store.Webhook)
}

// adminNamed parses a command that takes --data and --name, opens the data
// directory and finds the thing --name names with find; what says what it
// is in errors.
func adminNamed[T any](e *env, cmd, what string, find func(store.Store, context.Context, string) (T, error)) (store.Store, T, error) {
	var zero T
	fs := e.flags(cmd)
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the "+what+"'s name or id")
	if err := e.parse(fs); err != nil {
		return nil, zero, err
	}
	if err := required(fs, "name"); err != nil {
		return nil, zero, err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return nil, zero, err
	}
	x, err := find(st, e.ctx, *name)
	if err != nil {
		st.Close()
		return nil, zero, fmt.Errorf("%s %q: %w", what, *name, err)
	}
	return st, x, nil
}

func adminWebhookRemove(e *env) error {
	st, w, err := adminWebhookTarget(e, "remove")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteWebhook(e.ctx, w.ID); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "webhook.remove", w.ID, w.Name); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"removed": w})
}

func adminWebhookSwitch(e *env, on bool) error {
	verb := map[bool]string{true: "enable", false: "disable"}[on]
	st, w, err := adminWebhookTarget(e, verb)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetWebhookEnabled(e.ctx, w.ID, on); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "webhook."+verb, w.ID, w.Name); err != nil {
		return err
	}
	w.Enabled = on
	return printJSON(e.stdout, w)
}
