package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// TestAdminPeer adds a peer (its peer-hub organisation and a key for the
// other side made on the way), lists, pauses, resumes and removes it; the
// key the peer gave is stored for the hub but never printed or audited;
// bad input is refused with a clear message.
func TestAdminPeer(t *testing.T) {
	dir := t.TempDir()
	theirKey, _, _ := auth.NewKey() // made on the peer hub
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(theirKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--init", "--name", "mssp-soc", "--kind", "coordinator"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "admin", "org", "create", "--data", dir, "--name", "care-1", "--kind", "member"); code != 0 {
		t.Fatal(stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "central", "--url", "https://central.example.org", "--key-file", keyFile}, "--pull, --push or --both"},
		{[]string{"--name", "central", "--url", "http://central.example.org", "--key-file", keyFile, "--pull"}, "needs https"},
		{[]string{"--name", "central", "--url", "https://u:p@central.example.org", "--key-file", keyFile, "--pull"}, "must not hold a user"},
		{[]string{"--name", "central", "--url", "https://central.example.org", "--key", "not-a-key", "--pull"}, "not an hdn API key"},
		{[]string{"--name", "central", "--url", "https://central.example.org", "--pull"}, "key is missing"},
		{[]string{"--name", "mssp-soc", "--url", "https://central.example.org", "--key-file", keyFile, "--pull"}, "is a coordinator, not a peer-hub"},
		{[]string{"--name", "central", "--url", "https://central.example.org", "--key-file", keyFile, "--pull", "--audience", "nobody"}, `organisation "nobody"`},
	} {
		code, out, stderr := run(t, append([]string{"admin", "peer", "add", "--data", dir}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("peer add %v: %d %q %q; want an error saying %q", tc.args, code, out, stderr, tc.want)
		}
		if strings.Contains(stderr, theirKey) {
			t.Errorf("peer add %v: the error quotes the key", tc.args)
		}
	}
	code, out, stderr := run(t, "admin", "peer", "add", "--data", dir, "--name", "central", "--url", "https://central.example.org/",
		"--key-file", keyFile, "--both", "--audience", "mssp-soc")
	if code != 0 {
		t.Fatalf("peer add: %d %s", code, stderr)
	}
	var added struct {
		KeyForPeer string `json:"key_for_peer"`
		Peer       struct {
			Name, URL, Org string
			Pull, Push     bool
			Audience       []string
		} `json:"peer"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || !strings.HasPrefix(added.KeyForPeer, "hdn_") ||
		added.Peer.Name != "central" || added.Peer.URL != "https://central.example.org" || added.Peer.Org != "central" ||
		!added.Peer.Pull || !added.Peer.Push || strings.Join(added.Peer.Audience, ",") != "mssp-soc" {
		t.Fatalf("peer add printed %s (%v)", out, err)
	}
	if code, _, stderr := run(t, "admin", "peer", "add", "--data", dir, "--name", "CENTRAL", "--url", "https://c2.example.org", "--key-file", keyFile, "--pull"); code == 0 ||
		!strings.Contains(stderr, "exists already") {
		t.Errorf("a second peer of the same name: %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "admin", "peer", "pause", "--data", dir, "--name", "central"); code != 0 {
		t.Fatalf("peer pause: %s", stderr)
	}
	code, list, _ := run(t, "admin", "peer", "list", "--data", dir)
	if code != 0 || !strings.Contains(list, `"paused": true`) {
		t.Errorf("peer list after pause: %s", list)
	}
	if code, _, stderr := run(t, "admin", "peer", "resume", "--data", dir, "--name", "central"); code != 0 {
		t.Fatalf("peer resume: %s", stderr)
	}

	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Peer(context.Background(), "central")
	if err != nil || p.Key != theirKey || p.Paused {
		t.Errorf("stored peer: %+v, %v", p, err)
	}
	org, err := st.Org(context.Background(), "central")
	if err != nil || org.Kind != policy.PeerHub {
		t.Errorf("the peer's organisation: %+v, %v", org, err)
	}
	audit, err := st.ListAudit(context.Background(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(audit)
	if strings.Contains(string(js), theirKey) || strings.Contains(string(js), added.KeyForPeer) || strings.Contains(out+list, theirKey) {
		t.Errorf("a key shows in the output or the audit log")
	}
	st.Close()
	if code, _, stderr := run(t, "admin", "peer", "remove", "--data", dir, "--name", "central"); code != 0 {
		t.Fatalf("peer remove: %s", stderr)
	}
	if code, list, _ := run(t, "admin", "peer", "list", "--data", dir); code != 0 || strings.Contains(list, "central.example.org") {
		t.Errorf("peer list after remove: %s", list)
	}
}
