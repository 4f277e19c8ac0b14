package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// rescreenLists writes a --warninglists directory: hospital-benign refuses
// benign-updates-hdn.org and popular-hosting (made a flag list by
// --warninglist-kind) names popular-hosting-hdn.org.
func rescreenLists(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, entry := range map[string]string{"hospital-benign": "benign-updates-hdn.org", "popular-hosting": "popular-hosting-hdn.org"} {
		list := `{"name": "` + name + `", "description": "test", "version": 1, "type": "hostname", "list": ["` + entry + `"], ` +
			`"matching_attributes": ["domain", "hostname", "url"]}`
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// putOld stores submissions through the store's ingest, as values stored
// under older rules are (the store neither canonicalises nor screens), and
// returns their ids.
func putOld(t *testing.T, st store.Store, subs ...model.Submission) []string {
	t.Helper()
	ing, err := st.BeginIngest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := ing.Put(t.Context(), subs)
	if err != nil {
		ing.Rollback()
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

// revokedOnStream follows a stream in the background and collects the ids
// of the indicators it reports revoked.
type revokedOnStream struct {
	mu      sync.Mutex
	ready   bool
	revoked map[string]bool
}

func followRevocations(t *testing.T, url, key string) *revokedOnStream {
	t.Helper()
	r := &revokedOnStream{revoked: map[string]bool{}}
	c := streamclient.New(streamclient.Config{URLs: []string{url}, Key: key, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, func(ev streamclient.Event) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			switch ev.Kind {
			case "snapshot-end":
				r.ready = true
			case "revoked":
				r.revoked[ev.Indicator.ID] = true
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// waitFor waits up to 10 s until ok holds of the stream's state.
func (r *revokedOnStream) waitFor(t *testing.T, what string, ok func(ready bool, revoked map[string]bool) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		done := ok(r.ready, r.revoked)
		r.mu.Unlock()
		if done {
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("stream: no %s within 10 s (revoked: %v)", what, slices.Sorted(maps.Keys(r.revoked)))
}

// rescreenJSON runs `hdn admin rescreen --json` with args and decodes its
// report.
func rescreenJSON(t *testing.T, args ...string) rescreenReport {
	t.Helper()
	code, out, stderr := run(t, append([]string{"admin", "rescreen", "--json"}, args...)...)
	var rep rescreenReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("rescreen %v: exit %d (%v)\n%s\n%s", args, code, err, out, stderr)
	}
	return rep
}

func byID(fs []rescreenFinding) map[string]rescreenFinding {
	m := map[string]rescreenFinding{}
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}

// TestAdminRescreen: on a running hub whose store holds values stored under
// older rules, `hdn admin rescreen` reports exactly the live indicators
// that today's canonical forms or a refusing warninglist refuse (the
// coordinator's override reported, kept), and separately the flagged ones,
// with source, TLP and the rule; it changes nothing. With --revoke it
// revokes exactly the refused ones but the override, one audit entry each
// naming the rule, and the hub's stream reports them revoked; a second run
// finds nothing more to revoke, and --include-overridden revokes the
// override.
func TestAdminRescreen(t *testing.T) {
	wl := rescreenLists(t)
	kinds := []string{"popular-hosting=flag"}
	set, err := warninglists(wl, kinds)
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{Warninglists: set})
	coord := h.Org("sector-cert", policy.Coordinator, "")
	member := h.Org("st-olav", policy.Member, "")
	memberKey := h.Key(member, policy.Analyst)
	flags := []string{"--data", h.DataDir, "--warninglists", wl, "--warninglist-kind", kinds[0]}

	old := func(typ indicator.Type, value string) model.Submission {
		return model.Submission{Type: typ, Value: value, TLP: policy.Green, Source: member.ID, SubmittedBy: member.ID, Confidence: 50}
	}
	inPattern, err := indicator.Canonicalize(indicator.STIXPattern, "[domain-name:value = 'benign-updates-hdn.org']")
	if err != nil {
		t.Fatal(err)
	}
	red := old(indicator.Domain, "printer.local") // not visible to the coordinator: screened all the same
	red.TLP, red.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{member.ID}}
	forged := old(indicator.Domain, "tagged.benign-updates-hdn.org") // an override tag set by a member proves nothing
	forged.Tags = []string{"hdn:warninglist-override"}
	ids := putOld(t, h.Store,
		old(indicator.Domain, "10.in-addr.arpa"),
		old(indicator.STIXPattern, "[domain-name:value LIKE '%']"),
		old(indicator.Email, "a\u200bb@evil-mail-hdn.org"),
		old(indicator.Domain, "cdn.benign-updates-hdn.org"),
		old(indicator.STIXPattern, inPattern),
		red,
		forged,
		old(indicator.Domain, "x.popular-hosting-hdn.org"),
		old(indicator.Domain, "evil-payload-hdn.org"),
	)
	want := map[string]string{ // refused: id → rule
		ids[0]: ruleCanonical, ids[1]: ruleCanonical, ids[2]: ruleCanonical,
		ids[3]: "warninglist:hospital-benign", ids[4]: "warninglist:hospital-benign",
		ids[5]: ruleCanonical, ids[6]: "warninglist:hospital-benign",
	}
	flagged, fine := ids[7], ids[8]
	// Not live, so not screened: an expired value and a revoked one.
	expired := old(indicator.Domain, "old.local")
	expired.ValidFrom, expired.ValidUntil = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	gone := putOld(t, h.Store, expired, old(indicator.Domain, "gone.local"))
	if _, err := h.Store.Revoke(t.Context(), gone[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	// The coordinator's override, through the API: stored, tagged, audited.
	r := h.Do("POST", "/api/v1/indicators", h.Key(coord, policy.Analyst),
		map[string]any{"indicators": []map[string]any{{"type": "domain", "value": "benign-updates-hdn.org", "override_warninglists": true}}})
	var sr struct{ Results []struct{ ID, Status string } }
	if r.JSON(t, &sr); r.Status != 200 || len(sr.Results) != 1 || sr.Results[0].Status != "created" {
		t.Fatalf("override: %d %s", r.Status, r.Body)
	}
	overridden := sr.Results[0].ID
	want[overridden] = "warninglist:hospital-benign"

	// The report, without --revoke: exactly the refused and the flagged, nothing changed.
	rep := rescreenJSON(t, flags...)
	got := byID(rep.Refused)
	if len(rep.Refused) != len(want) || rep.Scanned != len(ids)+1 || rep.Revoked != 0 {
		t.Errorf("report: scanned %d, %d refused, %d revoked; want %d, %d, 0:\n%+v", rep.Scanned, len(rep.Refused), rep.Revoked, len(ids)+1, len(want), rep.Refused)
	}
	for id, rule := range want {
		f, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s (%v) not reported refused", id, f)
		case f.Rule != rule || f.Reason == "" || f.TLP == "" || f.Revoked || f.Overridden != (id == overridden):
			t.Errorf("%s: %+v; want rule %s, a reason, overridden %t, not revoked", id, f, rule, id == overridden)
		case id == overridden && f.Source != "sector-cert", id != overridden && f.Source != "st-olav":
			t.Errorf("%s: source %q", id, f.Source)
		}
	}
	if f := got[ids[1]]; !strings.Contains(f.Reason, "too broadly") || f.Type != indicator.STIXPattern || f.Value != "[domain-name:value LIKE '%']" {
		t.Errorf("the LIKE '%%' pattern: %+v", f)
	}
	if f := got[ids[4]]; !strings.Contains(f.Reason, `pattern's domain "benign-updates-hdn.org"`) {
		t.Errorf("the pattern of a refused domain: reason %q does not name the domain in it", f.Reason)
	}
	if f := got[ids[5]]; f.TLP != policy.Red {
		t.Errorf("the red one: %+v", f)
	}
	if len(rep.Flagged) != 1 || rep.Flagged[0].ID != flagged || rep.Flagged[0].Rule != "warninglist:popular-hosting" || !strings.Contains(rep.Flagged[0].Reason, "flagging") {
		t.Errorf("flagged: %+v; want only %s on popular-hosting", rep.Flagged, flagged)
	}
	for _, id := range append(slices.Collect(maps.Keys(want)), flagged, fine) {
		if ind, err := h.Store.IndicatorByID(t.Context(), id); err != nil || ind.Revoked {
			t.Errorf("%s after a report without --revoke: revoked %t (%v)", id, ind.Revoked, err)
		}
	}

	// The table: a row per finding, the invisible character shown escaped.
	code, out, stderr := run(t, append([]string{"admin", "rescreen"}, flags...)...)
	for _, s := range []string{"refused by today's rules: 8", "flagged by a warninglist (kept): 1", "ID", "REASON", `a\u200bb@evil-mail-hdn.org`,
		"kept (coordinator override)", "to revoke", "10 live indicators screened: 8 refused, 1 flagged; 0 revoked", "--revoke"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("table lacks %q: exit %d\n%s%s", s, code, out, stderr)
		}
	}
	if strings.Contains(out, "\u200b") {
		t.Errorf("the table shows the invisible character as is:\n%s", out)
	}

	// --revoke, while the hub runs: the stream hears of each revocation.
	stream := followRevocations(t, h.URL, memberKey)
	stream.waitFor(t, "snapshot", func(ready bool, _ map[string]bool) bool { return ready })
	code, out, stderr = run(t, append([]string{"admin", "rescreen", "--revoke"}, flags...)...)
	if code != 0 || !strings.Contains(out, "8 refused, 1 flagged; 7 revoked") || strings.Count(out, "revoked  ") != 7 {
		t.Fatalf("rescreen --revoke: exit %d\n%s%s", code, out, stderr)
	}
	revokedIDs := []string{}
	for id := range want {
		if id != overridden {
			revokedIDs = append(revokedIDs, id)
		}
	}
	stream.waitFor(t, "revocation of the 7", func(_ bool, revoked map[string]bool) bool {
		for _, id := range revokedIDs {
			if !revoked[id] {
				return false
			}
		}
		return true
	})
	for id := range want {
		ind, err := h.Store.IndicatorByID(t.Context(), id)
		if err != nil || ind.Revoked != (id != overridden) {
			t.Errorf("%s after --revoke: revoked %t (%v); want %t", id, ind.Revoked, err, id != overridden)
		}
	}
	for _, id := range []string{flagged, fine} {
		if ind, err := h.Store.IndicatorByID(t.Context(), id); err != nil || ind.Revoked {
			t.Errorf("%s (not refused) after --revoke: revoked %t (%v)", id, ind.Revoked, err)
		}
	}
	entries, err := h.Store.ListAudit(t.Context(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]string{}
	for _, e := range entries {
		if e.Action == "indicator.revoke" {
			if _, twice := audited[e.Target]; twice {
				t.Errorf("%s audited twice", e.Target)
			}
			audited[e.Target] = e.Detail
		}
	}
	if len(audited) != len(revokedIDs) {
		t.Errorf("%d revocations audited, want %d: %v", len(audited), len(revokedIDs), audited)
	}
	for _, id := range revokedIDs {
		if d := audited[id]; !strings.Contains(d, want[id]) || !strings.Contains(d, "rescreen") {
			t.Errorf("audit of %s: %q does not name the rule %s", id, d, want[id])
		}
	}

	// Again: nothing left to revoke but the override, which is kept.
	rep = rescreenJSON(t, append([]string{"--revoke"}, flags...)...)
	if rep.Revoked != 0 || len(rep.Refused) != 1 || rep.Refused[0].ID != overridden || !rep.Refused[0].Overridden || rep.Refused[0].Revoked || len(rep.Flagged) != 1 {
		t.Errorf("second --revoke: %+v", rep)
	}
	rep = rescreenJSON(t, append([]string{"--revoke", "--include-overridden"}, flags...)...)
	if rep.Revoked != 1 || len(rep.Refused) != 1 || !rep.Refused[0].Revoked {
		t.Errorf("--revoke --include-overridden: %+v", rep)
	}
	if rep = rescreenJSON(t, flags...); len(rep.Refused) != 0 || len(rep.Flagged) != 1 || rep.Scanned != 2 {
		t.Errorf("after --include-overridden: %+v", rep)
	}
}

// TestAdminRescreenFlags: --include-overridden needs --revoke; the
// warninglist flags are checked as the hub checks them.
func TestAdminRescreenFlags(t *testing.T) {
	dir := newHubData(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--include-overridden"}, "--include-overridden goes with --revoke"},
		{[]string{"--warninglist-kind", "nonsense"}, "NAME=refuse or NAME=flag"},
		{[]string{"--warninglists", filepath.Join(dir, "none")}, "--warninglists"},
		{[]string{"--no-warninglists", "--warninglist-kind", "x=flag"}, "choose one"},
	} {
		code, _, stderr := run(t, append([]string{"admin", "rescreen", "--data", dir}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
	code, out, stderr := run(t, "admin", "rescreen", "--data", dir, "--no-warninglists")
	if code != 0 || !strings.Contains(out, "0 live indicators screened") {
		t.Errorf("an empty hub: %d %s %s", code, out, stderr)
	}
}
