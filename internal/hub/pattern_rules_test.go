package hub_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// matchAllPatterns are patterns that every event, or every event of a
// kind, satisfies; a sensor alerts on each. None may be stored.
var matchAllPatterns = []string{
	"[ipv4-addr:value ISSUBSET '0.0.0.0/0']",
	"[domain-name:value LIKE '%']",
	"[domain-name:value LIKE '%.co.uk']",
	"[domain-name:value MATCHES '.*']",
	"[domain-name:value != 'x']",
	"[ipv4-addr:value NOT = '1.2.3.4']",
	"[url:value LIKE 'http://%']",
	"[network-traffic:dst_port = 443]",
	"[domain-name:value = 'co.uk' AND domain-name:value = 'co.uk']",
}

// patternsStored lists the stix-pattern indicators the store holds.
func patternsStored(t *testing.T, h *hubtest.Hub, key string) []string {
	t.Helper()
	var lr listResp
	h.Do("GET", "/api/v1/indicators?type=stix-pattern", key, nil).JSON(t, &lr)
	var out []string
	for _, i := range lr.Indicators {
		out = append(out, i.Value)
	}
	return out
}

// TestPatternRulesRefuseMatchAll: POST /api/v1/indicators refuses every
// match-all pattern with a rejected item that says which comparison and
// why, stores nothing, and still stores legitimate patterns.
func TestPatternRulesRefuseMatchAll(t *testing.T) {
	wl, err := warninglist.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{Warninglists: wl})
	a := h.Org("hospital-a", policy.Member, "")
	k := h.Key(a, policy.Analyst)

	var its []map[string]any
	for _, p := range matchAllPatterns {
		its = append(its, map[string]any{"type": "stix-pattern", "value": p})
	}
	if r := h.Do("POST", "/api/v1/indicators?atomic=true", k, items(its...)); r.Status != 422 || r.ErrorCode() != "rejected_items" {
		t.Fatalf("atomic submission of match-all patterns: %d %s", r.Status, r.Body)
	}
	res := submit(t, h, k, its...)
	for i, r := range res {
		p := matchAllPatterns[i]
		if r.Status != "rejected" || r.Error == nil || r.Error.Code != "invalid_value" ||
			!strings.Contains(r.Error.Message, "stix-pattern") ||
			!strings.Contains(r.Error.Message, "matches too broadly") && !strings.Contains(r.Error.Message, "its type refuses") {
			t.Errorf("%s: %+v %+v, want rejected as too broad or with a refused value", p, r, r.Error)
		}
	}
	if n := countIndicators(t, h); n != 0 {
		t.Fatalf("%d changes stored for refused patterns", n)
	}

	// A value a refusing warninglist holds is refused inside a pattern too;
	// one on a flagging list is stored flagged, with a shorter lifetime.
	res = submit(t, h, k,
		map[string]any{"type": "stix-pattern", "value": "[domain-name:value = 'microsoft.com' AND domain-name:value = 'microsoft.com']"},
		map[string]any{"type": "stix-pattern", "value": "[network-traffic:dst_ref.value = '8.8.8.8' AND network-traffic:dst_port = 53]"},
		map[string]any{"type": "stix-pattern", "value": "[ipv4-addr:value = '1.178.1.7' AND ipv4-addr:value != '1.178.1.8']"},
	)
	for i, want := range []string{"microsoft.com", "8.8.8.8"} {
		if e := res[i].Error; res[i].Status != "rejected" || e == nil || e.Code != "warninglisted" ||
			!strings.Contains(e.Message, "the pattern's") || !strings.Contains(e.Message, want) || len(res[i].Warninglists) == 0 {
			t.Errorf("item %d: %+v %+v, want refused by a warninglist for %s", i, res[i], e, want)
		}
	}
	if res[2].Status != "created" || len(res[2].Warninglists) == 0 {
		t.Errorf("pattern with an address of a flagging list: %+v, want created with the list named", res[2])
	} else {
		var ind api.IndicatorJSON
		h.Do("GET", "/api/v1/indicators/"+res[2].ID, k, nil).JSON(t, &ind)
		if ind.ValidUntil == nil {
			t.Errorf("flagged pattern stored without a valid_until: %+v", ind)
		}
	}

	// Legitimate patterns are stored. (Documentation addresses and
	// example.com are on the shipped refusing lists: not used here.)
	sha := strings.Repeat("ab", 32)
	good := []string{
		"[file:hashes.'SHA-256' = '" + sha + "']",
		"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '91.92.33.132']",
		"[url:value LIKE 'http://login.evil-example.net/%']",
		"[domain-name:value LIKE '%.evil-example.net'] FOLLOWEDBY [ipv4-addr:value ISSUBSET '91.92.33.0/24'] WITHIN 60 SECONDS",
		"[domain-name:value != 'www.evil-example.net' AND domain-name:value MATCHES '^[a-z]{12}\\\\.evil-example\\\\.net$']",
	}
	its = nil
	for _, p := range good {
		its = append(its, map[string]any{"type": "stix-pattern", "value": p})
	}
	for i, r := range submit(t, h, k, its...) {
		if r.Status != "created" {
			t.Errorf("%s: %+v %+v", good[i], r, r.Error)
		}
	}
}

// TestPatternRulesOtherEntryPaths: the STIX importer and the MISP API read
// patterns through the same rules.
func TestPatternRulesOtherEntryPaths(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	k := h.Key(a, policy.Analyst)

	var objs []map[string]any
	for i, p := range matchAllPatterns {
		objs = append(objs, map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-00000000000" + string(rune('0'+i)),
			"created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z",
			"pattern": p, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
		})
	}
	body, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objs})
	r := h.DoWith("POST", "/api/v1/import/stix?tlp=green", map[string]string{"Authorization": "Bearer " + k, "Content-Type": "application/json"}, body)
	if r.Status != 200 {
		t.Fatalf("STIX import: %d %s", r.Status, r.Body)
	}
	var res api.STIXImportResult
	r.JSON(t, &res)
	if res.Created != 0 || len(res.Failures) != len(matchAllPatterns) {
		t.Errorf("STIX import of match-all patterns: %d created, failures %+v", res.Created, res.Failures)
	}

	var attrs []map[string]any
	for _, p := range matchAllPatterns {
		attrs = append(attrs, map[string]any{"type": "stix2-pattern", "category": "Network activity", "value": p, "to_ids": true})
	}
	if r := mispCall(h, "POST", "/events/add", k, map[string]any{"Event": map[string]any{"info": "match-all", "Attribute": attrs}}); r.Status != 200 {
		t.Fatalf("MISP events/add: %d %s", r.Status, r.Body)
	}
	if got := patternsStored(t, h, k); len(got) != 0 {
		t.Fatalf("match-all patterns stored: %q", got)
	}
}
