package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// importOutcomes imports objects as key and returns each object's outcome
// message, prefixed "ok: " or "refused: ", by id.
func importOutcomes(t *testing.T, h *hubtest.Hub, key string, objs ...map[string]any) map[string]string {
	t.Helper()
	list := make([]any, len(objs))
	for i, o := range objs {
		list[i] = o
	}
	r := h.Do("POST", "/api/v1/import/stix?tlp=green", key, map[string]any{"type": "bundle", "objects": list})
	if r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	var res api.STIXImportResult
	r.JSON(t, &res)
	out := map[string]string{}
	for _, o := range res.Successes {
		out[o.ID] = "ok: " + o.Message
	}
	for _, o := range res.Failures {
		out[o.ID] = "refused: " + o.Message
	}
	return out
}

// stixObj is a STIX 2.1 object of type typ and UUID u, written by author
// ("" for no created_by_ref), with extra properties.
func stixObj(typ, u, author string, extra map[string]any) map[string]any {
	o := map[string]any{"type": typ, "spec_version": "2.1", "id": typ + "--" + u,
		"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}
	if author != "" {
		o["created_by_ref"] = author
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// A member cannot make the hub — or another organisation, or anyone it
// does not hold the identity of — the author of what the hub keeps byte for
// byte and serves to every reader: a Suricata rule under the CERT's hub
// identity would be deployed by a reader's TIP as the CERT's.
func TestSTIXContextAuthorIsTheImporter(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Name: "CERT Health"})
	h.Org("coord", policy.Coordinator, "")
	a := h.Org("Hospital A", policy.Member, "")
	m := h.Org("Mallory Clinic", policy.Member, "")
	v := h.Org("Victim Hospital", policy.Member, "")
	ka, km, kv := h.Key(a, policy.Analyst), h.Key(m, policy.Analyst), h.Key(v, policy.Sensor)
	hubID := export.HubIdentityID("CERT Health")

	rule := func(u, author string) map[string]any {
		return stixObj("indicator", u, author, map[string]any{"name": "rule", "pattern_type": "suricata",
			"pattern": `pass ip any any -> any any (msg:"x"; sid:1;)`, "valid_from": "2026-01-01T00:00:00Z"})
	}
	malware := func(u, author string) map[string]any {
		return stixObj("malware", u, author, map[string]any{"name": "m", "is_family": true})
	}
	identity := func(u, name string) map[string]any {
		return stixObj("identity", u, "", map[string]any{"name": name, "identity_class": "organization"})
	}
	const (
		aIdentity = "identity--a0000000-0000-4000-8000-000000000001"
		mIdentity = "identity--b0000000-0000-4000-8000-000000000002"
		stranger  = "identity--c0000000-0000-4000-8000-000000000003"
	)
	// Hospital A keeps its own identity and a malware it wrote.
	got := importOutcomes(t, h, ka, identity("a0000000-0000-4000-8000-000000000001", "Hospital A"),
		malware("a1000000-0000-4000-8000-000000000001", aIdentity))
	for id, msg := range got {
		if !strings.HasPrefix(msg, "ok: ") {
			t.Errorf("Hospital A's own %s: %s, want kept", id, msg)
		}
	}

	refused := map[string]string{ // object -> what its refusal must say
		"indicator--d0000000-0000-4000-8000-000000000001": "this hub's own identity",
		"malware--d0000000-0000-4000-8000-000000000002":   "this hub's own identity",
		"report--d0000000-0000-4000-8000-000000000003":    "this hub's own identity",
		"indicator--d0000000-0000-4000-8000-000000000004": "another organisation keeps",
		"identity--d0000000-0000-4000-8000-000000000005":  "another organisation keeps",
		"indicator--d0000000-0000-4000-8000-000000000006": "neither this import carries",
		"indicator--d0000000-0000-4000-8000-000000000007": "is not an identity's id",
	}
	got = importOutcomes(t, h, km,
		rule("d0000000-0000-4000-8000-000000000001", hubID),
		malware("d0000000-0000-4000-8000-000000000002", hubID),
		stixObj("report", "d0000000-0000-4000-8000-000000000003", hubID, map[string]any{"name": "CERT advisory",
			"published": "2026-01-01T00:00:00Z", "object_refs": []string{"malware--d0000000-0000-4000-8000-000000000002"}}),
		rule("d0000000-0000-4000-8000-000000000004", aIdentity),
		// Carrying a copy of Hospital A's identity does not make it Mallory's.
		identity("a0000000-0000-4000-8000-000000000001", "Hospital A"),
		stixObj("identity", "d0000000-0000-4000-8000-000000000005", aIdentity, map[string]any{"name": "x", "identity_class": "individual"}),
		rule("d0000000-0000-4000-8000-000000000006", stranger),
		rule("d0000000-0000-4000-8000-000000000007", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
		// What Mallory may write: no author, or its own identity.
		identity("b0000000-0000-4000-8000-000000000002", "Mallory Clinic"),
		rule("e0000000-0000-4000-8000-000000000001", mIdentity),
		rule("e0000000-0000-4000-8000-000000000002", ""),
	)
	for id, want := range refused {
		if msg := got[id]; !strings.HasPrefix(msg, "refused: ") || !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want refused saying %q", id, msg, want)
		}
	}
	for _, id := range []string{mIdentity, "indicator--e0000000-0000-4000-8000-000000000001", "indicator--e0000000-0000-4000-8000-000000000002"} {
		if msg := got[id]; !strings.HasPrefix(msg, "ok: ") {
			t.Errorf("%s: %q, want kept", id, msg)
		}
	}
	// An identity kept before names the importer in later imports too.
	got = importOutcomes(t, h, km, malware("e0000000-0000-4000-8000-000000000003", mIdentity))
	if msg := got["malware--e0000000-0000-4000-8000-000000000003"]; !strings.HasPrefix(msg, "ok: ") {
		t.Errorf("a malware by Mallory's identity kept earlier: %q, want kept", msg)
	}

	exp := string(h.Do("GET", "/api/v1/export/stix", kv, nil).Body)
	for id := range refused {
		if strings.Contains(exp, `"id":"`+id+`"`) {
			t.Errorf("the victim's STIX export carries %s, which was refused", id)
		}
	}
	if n := strings.Count(exp, `"created_by_ref":"`+hubID+`","name":"rule"`); n != 0 {
		t.Errorf("the victim's STIX export carries %d rules attributed to the hub", n)
	}
	for _, id := range []string{"indicator--e0000000-0000-4000-8000-000000000001", "malware--a1000000-0000-4000-8000-000000000001"} {
		if !strings.Contains(exp, `"id":"`+id+`"`) {
			t.Errorf("the victim's STIX export lacks %s, kept with its importer as author", id)
		}
	}
}

// The TAXII POST goes through the same import: a context object under the
// hub's identity is refused there too.
func TestSTIXContextAuthorOverTAXII(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Name: "CERT Health"})
	h.Org("coord", policy.Coordinator, "")
	m := h.Org("Mallory Clinic", policy.Member, "")
	env := map[string]any{"objects": []any{stixObj("indicator", "d1000000-0000-4000-8000-000000000001", export.HubIdentityID("CERT Health"),
		map[string]any{"name": "rule", "pattern_type": "snort", "pattern": "pass ip any any -> any any (sid:1;)", "valid_from": "2026-01-01T00:00:00Z"})}}
	r := h.DoWith("POST", "/taxii2/hdn/collections/7b8e8a6a-9c8c-51cc-b5c9-00e85aeb6bbe/objects/",
		map[string]string{"Authorization": "Bearer " + h.Key(m, policy.Analyst), "Content-Type": "application/taxii+json;version=2.1",
			"Accept": "application/taxii+json;version=2.1"}, env)
	if r.Status/100 != 2 {
		t.Fatalf("TAXII POST: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(string(r.Body), `"failure_count":1`) || !strings.Contains(string(r.Body), "this hub's own identity") {
		t.Errorf("TAXII status %s: want the rule refused as written by the hub", r.Body)
	}
}
