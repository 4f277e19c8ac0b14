package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestAdminOnboarding runs the coordinator's onboarding commands on a
// running hub's data directory: approve, suspend, resume, move, an
// enrolment token that a sensor redeems through the hub, coverage, and
// offboarding with anonymisation.
func TestAdminOnboarding(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	dir := h.DataDir
	h.Org("Sector CERT", policy.Coordinator, "")
	h.Org("P1", policy.Partner, "")
	h.Org("P2", policy.Partner, "")
	m := h.Org("Hospital A", policy.Member, "")
	h.Org("Clinic", policy.Customer, "P1")
	km := h.Key(m, policy.Analyst)
	submit := h.Do("POST", "/api/v1/indicators", km, map[string]any{"indicators": []any{map[string]any{"type": "domain", "value": "c2.cli-onboarding.example", "tlp": "green"}}})
	if submit.Status != 200 {
		t.Fatal(submit.Status)
	}
	ok := func(args ...string) map[string]any {
		t.Helper()
		code, out, stderr := run(t, append([]string{"admin"}, append(args, "--data", dir)...)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v printed %q: %v", args, out, err)
		}
		return v
	}
	fails := func(want string, args ...string) {
		t.Helper()
		code, _, stderr := run(t, append([]string{"admin"}, append(args, "--data", dir)...)...)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("%v: %d %q, want an error saying %q", args, code, stderr, want)
		}
	}
	if v := ok("org", "suspend", "--name", "Hospital A"); v["status"] != "suspended" {
		t.Errorf("suspend: %v", v)
	}
	if r := h.Do("GET", "/api/v1/me", km, nil); r.Status != 403 {
		t.Errorf("a suspended member's key: %d", r.Status)
	}
	fails("is suspended, not active", "org", "suspend", "--name", "Hospital A")
	fails("is suspended, not pending", "org", "approve", "--name", "Hospital A")
	ok("org", "resume", "--name", "Hospital A")
	if r := h.Do("GET", "/api/v1/me", km, nil); r.Status != 200 {
		t.Errorf("a resumed member's key: %d", r.Status)
	}
	if v := ok("org", "move", "--name", "Clinic", "--partner", "P2"); v["partner"] == "" {
		t.Errorf("move: %v", v)
	}
	fails("not a partner", "org", "move", "--name", "Clinic", "--partner", "Hospital A")

	// An enrolment token from the command line, redeemed at the hub.
	v := ok("enrol", "create", "--org", "Hospital A", "--expires", "10m")
	tok, _ := v["token"].(string)
	exp, _ := time.Parse(time.RFC3339Nano, v["expires_at"].(string))
	if tok == "" || time.Until(exp) > 10*time.Minute || time.Until(exp) < 9*time.Minute {
		t.Fatalf("enrol create: %v", v)
	}
	fails("from 1m to 24h", "enrol", "create", "--org", "Hospital A", "--expires", "72h")
	r := h.Do("POST", "/api/v1/enrol", "", map[string]any{"token": tok, "name": "edge"})
	var enrolled struct{ Key string }
	r.JSON(t, &enrolled)
	if r.Status != 200 || enrolled.Key == "" {
		t.Fatalf("enrol with the CLI's token: %d %s", r.Status, r.Body)
	}
	if r := h.Do("POST", "/api/v1/sensors/heartbeat", enrolled.Key, map[string]any{"name": "edge", "version": "test"}); r.Status != 204 {
		t.Fatalf("heartbeat: %d %s", r.Status, r.Body)
	}

	// Coverage: Hospital A has a live sensor and shares; the clinic
	// neither. Of the two care organisations, one is protected.
	cov := ok("coverage")
	prot := cov["protected"].(map[string]any)
	if prot["count"].(float64) != 1 || prot["of"].(float64) != 2 || prot["percent"].(float64) != 50 {
		t.Errorf("coverage protected %v", prot)
	}

	// Offboarding: keys revoked, what it shared stays without its name.
	if v := ok("org", "revoke", "--name", "Hospital A", "--source", "anonymise"); v["keys_revoked"].(float64) != 2 {
		t.Errorf("revoke: %v", v)
	}
	fails(`"keep" (what it shared keeps its name) or "anonymise"`, "org", "revoke", "--name", "P1", "--source", "forget")
	fails("not offboarded", "org", "revoke", "--name", "Sector CERT", "--source", "keep")
	if r := h.Do("GET", "/api/v1/me", km, nil); r.Status != 401 {
		t.Errorf("an offboarded member's key: %d", r.Status)
	}
	other := h.Key(h.Org("Hospital B", policy.Member, ""), policy.ReadOnly)
	var lr struct {
		Indicators []struct {
			Value     string
			Anonymous bool
			Source    string
		}
	}
	h.Do("GET", "/api/v1/indicators?value=c2.cli-onboarding.example", other, nil).JSON(t, &lr)
	if len(lr.Indicators) != 1 || !lr.Indicators[0].Anonymous || strings.Contains(lr.Indicators[0].Source, "Hospital A") {
		t.Errorf("what the offboarded organisation shared: %+v", lr.Indicators)
	}
}
