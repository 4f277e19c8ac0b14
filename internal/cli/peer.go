package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// The peer commands set up federation (docs/FEDERATION.md): a peer is an
// organisation of kind peer-hub on each side, with a key for the other.

func adminPeerCommands() map[string]*command {
	return map[string]*command{
		"add":    {summary: "peer with another hub: pull its stream, push to it, or both", run: adminPeerAdd},
		"list":   {summary: "list peers, their cursors and health (never their keys)", run: adminPeerList},
		"pause":  {summary: "stop exchanging with a peer (cursors kept)", run: func(e *env) error { return adminPeerPause(e, true) }},
		"resume": {summary: "exchange with a paused peer again, from where it stopped", run: func(e *env) error { return adminPeerPause(e, false) }},
		"remove": {summary: "stop peering; what it delivered stays, its organisation and keys too unless revoked", run: adminPeerRemove},
	}
}

// peerView is a peer as the commands print it: never its key.
type peerView struct {
	model.Peer
	Org      string   `json:"org"`
	Audience []string `json:"audience"`
}

func viewPeer(ctx context.Context, st store.Store, p model.Peer) peerView {
	v := peerView{Peer: p, Org: p.OrgID, Audience: []string{}}
	if o, err := st.Org(ctx, p.OrgID); err == nil {
		v.Org = o.Name
	}
	for _, id := range p.Audience {
		name := id
		if o, err := st.Org(ctx, id); err == nil {
			name = o.Name
		}
		v.Audience = append(v.Audience, name)
	}
	return v
}

func adminPeerAdd(e *env) error {
	fs := e.flags("hdn admin peer add")
	fs.String("data", "", "hub data directory")
	name := fs.String("name", "", "the peer's name here (also the name of its peer-hub organisation)")
	rawURL := fs.String("url", "", "the peer hub's base URL (https; http only to a loopback address, for testing)")
	key := fs.String("key", "", "the API key the peer gave this hub (prefer --key-file or HDN_PEER_KEY: a flag shows in the process list)")
	keyFile := fs.String("key-file", "", "a file holding that key")
	pull := fs.Bool("pull", false, "follow the peer's stream")
	push := fs.Bool("push", false, "send the peer what it may see")
	both := fs.Bool("both", false, "pull and push")
	audience := fs.String("audience", "", "comma-separated local organisations that stand for this hub when the peer shares with a list or group naming it (default: this hub's coordinators)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "name", "url"); err != nil {
		return err
	}
	if *both {
		*pull, *push = true, true
	}
	if !*pull && !*push {
		return errors.New("hdn admin peer add: say how to exchange: --pull, --push or --both")
	}
	if err := checkPeerURL(*rawURL); err != nil {
		return err
	}
	secret, err := peerKey(*key, *keyFile)
	if err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	var aud []string
	for ref := range strings.SplitSeq(*audience, ",") {
		if ref = strings.TrimSpace(ref); ref == "" {
			continue
		}
		o, err := st.Org(e.ctx, ref)
		if err != nil {
			return fmt.Errorf("--audience: organisation %q: %w", ref, err)
		}
		if o.Kind == policy.PeerHub || o.Kind == policy.Customer {
			return fmt.Errorf("--audience: %s is a %s; name this hub's own organisations (its coordinator, its staff)", o.Name, o.Kind)
		}
		aud = append(aud, o.ID)
	}
	out := map[string]any{}
	org, err := st.Org(e.ctx, *name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if org, err = st.CreateOrg(e.ctx, model.Org{Name: *name, Kind: policy.PeerHub}); err != nil {
			return err
		}
		// The peer needs a key for this hub too: to push here, and to pull
		// from here. Shown once.
		plain, id, hash := auth.NewKey()
		if err := st.CreateKey(e.ctx, model.Key{ID: id, OrgID: org.ID, Role: policy.Analyst, Name: "peer " + *name, Hash: hash, Created: time.Now().UTC()}); err != nil {
			return err
		}
		if err := adminAction(e.ctx, st, "key.create", id, "analyst key for peer hub "+org.Name); err != nil {
			return err
		}
		out["key_for_peer"] = plain
		out["note"] = "give key_for_peer to the peer's operator (shown once): their hub uses it to pull from or push to this one"
	case err != nil:
		return err
	case org.Kind != policy.PeerHub:
		return fmt.Errorf("organisation %q exists and is a %s, not a peer-hub; choose another --name", org.Name, org.Kind)
	}
	p, err := st.CreatePeer(e.ctx, model.Peer{Name: *name, OrgID: org.ID, URL: strings.TrimRight(*rawURL, "/"), Key: secret,
		Pull: *pull, Push: *push, Audience: aud})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a peer named %q exists already (hdn admin peer list)", *name)
	}
	if err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "peer.create", p.ID, fmt.Sprintf("%s at %s (pull %t, push %t)", p.Name, p.URL, p.Pull, p.Push)); err != nil {
		return err
	}
	out["peer"] = viewPeer(e.ctx, st, p)
	return printJSON(e.stdout, out)
}

// checkPeerURL admits https URLs, and http to a loopback address.
func checkPeerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("--url %q: a peer needs an https URL", s)
	}
	if u.User != nil {
		return errors.New("--url must not hold a user or password; give the key with --key-file")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("--url %q: a peer needs https (indicators and keys must not cross the network in clear); http is only for a loopback address, for testing", s)
	}
	return nil
}

// peerKey takes the key from --key, --key-file or HDN_PEER_KEY; errors
// never quote it.
func peerKey(flagKey, file string) (string, error) {
	k := flagKey
	if file != "" {
		if k != "" {
			return "", errors.New("give the key with --key or --key-file, not both")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--key-file: %w", err)
		}
		k = strings.TrimSpace(string(b))
	}
	if k == "" {
		k = strings.TrimSpace(os.Getenv("HDN_PEER_KEY"))
	}
	if k == "" {
		return "", errors.New("hdn admin peer add: the peer's key is missing: --key-file FILE, HDN_PEER_KEY or --key")
	}
	if _, _, err := auth.Parse(k); err != nil {
		return "", errors.New("the peer's key is not an hdn API key (it starts with hdn_); ask the peer's operator for one of a peer-hub organisation")
	}
	return k, nil
}

func adminPeerList(e *env) error {
	return adminList(e, "hdn admin peer list", func(ctx context.Context, st store.Store) ([]peerView, error) {
		ps, err := st.ListPeers(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]peerView, len(ps))
		for i, p := range ps {
			out[i] = viewPeer(ctx, st, p)
		}
		return out, nil
	})
}

// adminPeerTarget opens the data directory and finds the peer --name names.
func adminPeerTarget(e *env, verb string) (store.Store, model.Peer, error) {
	return adminNamed(e, "hdn admin peer "+verb, "peer", store.Store.Peer)
}

func adminPeerPause(e *env, pause bool) error {
	verb := map[bool]string{true: "pause", false: "resume"}[pause]
	st, p, err := adminPeerTarget(e, verb)
	if err != nil {
		return err
	}
	defer st.Close()
	p.Paused = pause
	if err := st.UpdatePeer(e.ctx, p); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "peer."+verb, p.ID, p.Name); err != nil {
		return err
	}
	return printJSON(e.stdout, viewPeer(e.ctx, st, p))
}

func adminPeerRemove(e *env) error {
	st, p, err := adminPeerTarget(e, "remove")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeletePeer(e.ctx, p.ID); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "peer.remove", p.ID, p.Name); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"removed": viewPeer(e.ctx, st, p),
		"note": "the peer's organisation and keys stay; offboard it (hdn admin org revoke) to cut it off"})
}
