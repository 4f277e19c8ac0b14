package hub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// stixClock is the hubs' clock in the STIX round trip.
var stixClock = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// indicatorTimes matches the created and modified of the indicators of an
// export: the store stamps them with its own clock when it stores them, so
// they are the one thing that differs from hub to hub (the second hub keeps
// the ids, as the STIX ids ask for them).
var indicatorTimes = regexp.MustCompile(`("type":"indicator","spec_version":"2.1","id":"indicator--[0-9a-f-]{36}","created_by_ref":"identity--[0-9a-f-]{36}","created":)"[^"]+","modified":"[^"]+"`)

func normalizeExport(b []byte) []byte {
	return indicatorTimes.ReplaceAll(b, []byte(`${1}"(stored)","modified":"(stored)"`))
}

var indicatorID = regexp.MustCompile(`indicator--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// goldenForm is normalizeExport with the indicators' ids, which the hub
// draws at random, numbered in order of appearance (the same number
// wherever the same id appears, as in a relationship's source_ref).
func goldenForm(b []byte) []byte {
	seen := map[string]string{}
	return indicatorID.ReplaceAllFunc(normalizeExport(b), func(id []byte) []byte {
		n, ok := seen[string(id)]
		if !ok {
			n = fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", len(seen)+1)
			seen[string(id)] = n
		}
		return []byte(n)
	})
}

func exportSTIX(t *testing.T, h *hubtest.Hub, key string) []byte {
	t.Helper()
	r := h.Do("GET", "/api/v1/export/stix", key, nil)
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	return r.Body
}

// TestSTIXRoundTrip: what a hub exports as STIX, another hub imports without
// loss — it exports it again byte for byte (but for the times its store
// stamps on indicators): plain indicators of every type STIX can express,
// a pattern indicator, TLP levels, labels and indicator types, confidence,
// validity, kill-chain phases, and the objects kept as context (a malware,
// a relationship, a report and its link to the indicators). The first
// export is kept as a golden file (testdata/stix-roundtrip/export.json;
// rewrite it with -update).
func TestSTIXRoundTrip(t *testing.T) {
	start := func() (*hubtest.Hub, string) {
		h := hubtest.Start(t, hub.Config{Name: "hdn-roundtrip", Now: func() time.Time { return stixClock }})
		return h, h.Key(h.Org("sector-cert", policy.Coordinator, ""), policy.Analyst)
	}
	h1, k1 := start()
	conf := 85
	its := []map[string]any{
		{"type": "domain", "value": "login-portal.evil-example.net", "tlp": "green", "labels": []string{"phishing", "malicious-activity"}, "confidence": conf,
			"valid_from": "2026-11-01T00:00:00Z", "valid_until": "2027-02-01T00:00:00Z", "description": "Credential phishing aimed at hospital staff",
			"tags": []string{"kill-chain:lockheed-martin-cyber-kill-chain:delivery"}},
		{"type": "ipv4", "value": "91.92.33.132", "tlp": "amber", "labels": []string{"c2"}, "valid_from": "2026-11-01T00:00:00Z",
			"tags": []string{"kill-chain:mitre-attack:command-and-control"}},
		{"type": "ipv6", "value": "2001:db8:66::7", "tlp": "clear", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "cidr", "value": "198.51.100.0/24", "tlp": "amber+strict", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "url", "value": "https://files.evil-example.net/invoice.zip", "tlp": "green", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "email", "value": "billing@evil-example.net", "tlp": "green", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "sha256", "value": "0f3a1b9c5d7e2f4a6b8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f10", "tlp": "green", "valid_from": "2026-11-01T00:00:00Z", "labels": []string{"ransomware"}},
		{"type": "md5", "value": "44d88612fea8a8f36de82e1278abb02f", "tlp": "green", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "x509-sha1", "value": "3f1d6b0a9c2e4d5f6a7b8c9d0e1f2a3b4c5d6e7f", "tlp": "green", "valid_from": "2026-11-01T00:00:00Z"},
		{"type": "stix-pattern", "value": "([network-traffic:dst_ref.value = '91.92.33.132' AND network-traffic:dst_port = 8443] FOLLOWEDBY [domain-name:value LIKE '%.evil-example.net']) WITHIN 600 SECONDS",
			"tlp": "amber", "valid_from": "2026-11-01T00:00:00Z", "description": "Beacon then staging", "labels": []string{"c2"}},
	}
	if res := submit(t, h1, k1, its...); len(res) != len(its) {
		t.Fatalf("submit: %+v", res)
	}
	for _, r := range submit(t, h1, k1, its...) {
		if r.Status != "updated" {
			t.Fatalf("resubmit: %+v", r)
		}
	}
	// Context: a report naming the phishing domain's indicator, a malware
	// and a relationship, as a producer would send them.
	var list listResp
	h1.Do("GET", "/api/v1/indicators?type=domain", k1, nil).JSON(t, &list)
	if len(list.Indicators) != 1 {
		t.Fatalf("domains: %+v", list)
	}
	phishing := "indicator--" + list.Indicators[0].ID
	context := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2026-10-01T08:00:00.000Z","modified":"2026-10-02T08:00:00.000Z","name":"Pikabot","is_family":true,"malware_types":["loader"],"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
{"type":"relationship","spec_version":"2.1","id":"relationship--6ce78886-1e27-4b5a-b8c5-0e0a8f8d9e5b","created":"2026-10-02T08:00:00.000Z","modified":"2026-10-02T08:00:00.000Z","relationship_type":"indicates","source_ref":"` + phishing + `","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
{"type":"report","spec_version":"2.1","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","created":"2026-10-02T08:00:00.000Z","modified":"2026-10-03T08:00:00.000Z","name":"Pikabot phishing against hospitals","description":"Invoices sent to hospital finance departments.","report_types":["campaign"],"published":"2026-10-03T08:00:00Z","object_refs":["` + phishing + `","malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"],"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}
]}`
	r := h1.DoWith("POST", "/api/v1/import/stix", map[string]string{"Authorization": "Bearer " + k1, "Content-Type": "application/json"}, []byte(context))
	var res api.STIXImportResult
	r.JSON(t, &res)
	if r.Status != 200 || res.Context != 3 || res.Reports != 1 || len(res.Failures) != 0 {
		t.Fatalf("context import: %d %s", r.Status, r.Body)
	}

	export1 := exportSTIX(t, h1, k1)
	golden := filepath.Join("testdata", "stix-roundtrip", "export.json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, goldenForm(export1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got := goldenForm(export1); !bytes.Equal(got, want) {
		t.Errorf("export differs from %s:\n%s", golden, got)
	}
	// The pattern indicator and the kill-chain phases are in it.
	for _, s := range []string{`"pattern":"([network-traffic:dst_ref.value = '91.92.33.132'`, `"kill_chain_phases":[{"kill_chain_name":"lockheed-martin-cyber-kill-chain","phase_name":"delivery"}]`,
		`"name":"Pikabot"`} {
		if !bytes.Contains(export1, []byte(s)) {
			t.Errorf("export lacks %s", s)
		}
	}

	// Another hub imports it and exports the same.
	h2, k2 := start()
	r = h2.DoWith("POST", "/api/v1/import/stix", map[string]string{"Authorization": "Bearer " + k2, "Content-Type": "application/json"}, export1)
	var res2 api.STIXImportResult
	r.JSON(t, &res2)
	if r.Status != 200 || len(res2.Failures) != 0 || res2.Created != len(its) || res2.Patterns != 1 || res2.Context != 3 || res2.Reports != 1 {
		t.Fatalf("import into the second hub: %d %s", r.Status, r.Body)
	}
	export2 := exportSTIX(t, h2, k2)
	if a, b := normalizeExport(export1), normalizeExport(export2); !bytes.Equal(a, b) {
		t.Errorf("the second hub's export differs:\n first %s\nsecond %s", a, b)
	}
	// The report links the indicator on the second hub too.
	var rep struct {
		Indicators []api.IndicatorJSON `json:"indicators"`
	}
	h2.Do("GET", "/api/v1/indicators?report=84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3", k2, nil).JSON(t, &rep)
	if len(rep.Indicators) != 1 || "indicator--"+rep.Indicators[0].ID != phishing {
		t.Errorf("indicators of the report on the second hub: %+v", rep.Indicators)
	}
	var check map[string]any
	if err := json.Unmarshal(export2, &check); err != nil {
		t.Errorf("export is not JSON: %v", err)
	}
}
