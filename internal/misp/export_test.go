package misp

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

func tagNames(ts []Tag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestAttributeFromIndicator(t *testing.T) {
	ind := testIndicator(indicator.Domain, "evil.example.com")
	ind.Labels = []string{"phishing", "c2"}
	ind.Tags = []string{"Kimsuky", "tlp:red", `hdn:type="x"`, "phishing"}
	ind.Description = "seen in a tweet"
	ind.Confidence = 60
	ind.ValidUntil = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2026, 4, 20, 13, 0, 0, 0, time.UTC)
	opt := ExportOptions{
		Sightings: map[string][]model.SightingCount{ind.ID: {
			{Org: "org-b", Kind: model.FalsePositive, Count: 2, First: last, Last: last},
			{Org: "org-a", Kind: model.Sighted, Count: 40, First: last.Add(-5 * time.Hour), Last: last},
			{Org: "org-c", Kind: model.Sighted, Count: 1, First: last.Add(-time.Hour), Last: last.Add(-time.Hour)},
		}},
		SightingOrg: func(id string) *Org {
			if id == "org-a" {
				return &Org{ID: "4", Name: "Ziekenhuis A", UUID: "2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c"}
			}
			return nil
		},
		NumericID: func(u string) string { return "n-" + u[:4] },
	}
	a := AttributeFromIndicator(ind, opt)
	if a.Type != "domain" || a.Category != "Network activity" || a.Value != "evil.example.com" || !a.ToIDS || a.Deleted ||
		a.UUID != ind.ID || a.ID != "n-"+ind.ID[:4] || a.Comment != "seen in a tweet" || a.Timestamp != "1775037600" ||
		a.Distribution != "1" || a.SharingGroupID != "0" || a.SharingGroup != nil {
		t.Errorf("attribute: %+v", a)
	}
	if a.FirstSeen == nil || *a.FirstSeen != "2026-04-01T08:00:00.000000+00:00" || a.LastSeen == nil || *a.LastSeen != "2026-04-01T09:00:00.000000+00:00" {
		t.Errorf("seen: %v %v", a.FirstSeen, a.LastSeen)
	}
	if got := tagNames(a.Tag); !slices.Equal(got, []string{"tlp:green", "phishing", "c2", "Kimsuky", `misp:confidence-level="fairly-confident"`}) {
		t.Errorf("tags %q", got)
	}
	var sights []string
	for _, s := range a.Sighting {
		org := ""
		if s.Org != nil {
			org = s.Org.Name + "/" + s.OrgID
		}
		sights = append(sights, s.Type+" "+s.DateSighting+" "+org+" "+s.Source)
	}
	// sorted by the hour of the last sighting, then kind; the expiration last
	want := []string{"0 1776686400  hdn", "1 1776690000  hdn", "0 1776690000 Ziekenhuis A/4 hdn", "2 1788220800  hdn"}
	if !slices.Equal(sights, want) {
		t.Errorf("sightings\n  %q\nwant\n  %q", sights, want)
	}

	ind.Revoked = true
	ind.Confidence = 50
	ind.TLP, ind.Audience = policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{"org-a"}}
	a = AttributeFromIndicator(ind, ExportOptions{})
	if a.ToIDS || !a.Deleted || a.Distribution != "0" || a.ID != "" {
		t.Errorf("revoked, orgs: %+v", a)
	}
	if got := tagNames(a.Tag); !slices.Equal(got, []string{"tlp:red", "phishing", "c2", "Kimsuky", `hdn:audience="orgs"`}) {
		t.Errorf("tags %q", got)
	}
}

func TestExportDistribution(t *testing.T) {
	opt := ExportOptions{
		GroupName: func(id string) (string, string) { return "Healthcare NL", "32a19f69-2a36-488e-a5ec-ed085431a84d" },
		NumericID: func(u string) string { return map[string]string{"32a19f69-2a36-488e-a5ec-ed085431a84d": "3"}[u] },
	}
	for _, c := range []struct {
		tlp  policy.TLP
		aud  policy.Audience
		dist string
		sg   string
	}{
		{policy.Clear, policy.NetworkAudience(), "3", ""},
		{policy.Green, policy.NetworkAudience(), "1", ""},
		{policy.AmberStrict, policy.Audience{}, "1", ""},
		{policy.Amber, policy.Audience{Kind: policy.Group, Group: "g1"}, "4", "3 Healthcare NL 32a19f69-2a36-488e-a5ec-ed085431a84d"},
		{policy.Red, policy.Audience{Kind: policy.Orgs, Orgs: []string{"a"}}, "0", ""},
	} {
		ind := testIndicator(indicator.MD5, strings.Repeat("a", 32))
		ind.TLP, ind.Audience = c.tlp, c.aud
		a := AttributeFromIndicator(ind, opt)
		sg := ""
		if a.SharingGroup != nil {
			sg = a.SharingGroupID + " " + a.SharingGroup.Name + " " + a.SharingGroup.UUID
		}
		if a.Distribution != c.dist || sg != c.sg {
			t.Errorf("%s %+v: distribution %q, group %q; want %q, %q", c.tlp, c.aud, a.Distribution, sg, c.dist, c.sg)
		}
	}
}

func TestExportEvent(t *testing.T) {
	created := time.Date(2026, 4, 28, 23, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	r := model.Report{
		ID: "39049dc3-df40-408d-9d87-9bec7025f959", Title: "Report", Narrative: "What happened.",
		ThreatActor: "Kimsuky", Campaign: "Open Vacancy",
		Tags:    []string{"sector:health", "tlp:clear", `hdn:audience="network"`},
		Context: []model.ContextAttribute{{Type: "link", Value: "https://r.example.com/"}, {ID: "ce17caca-2fd5-47e7-961c-8097d4d25ca9", Type: "text", Category: "Other", Value: "t", Comment: "c"}},
		TLP:     policy.Amber, Audience: policy.NetworkAudience(), Created: created, Modified: created.Add(time.Hour),
	}
	a := testIndicator(indicator.URL, "https://b.example.com/")
	b := testIndicator(indicator.Domain, "z.example.com")
	c := testIndicator(indicator.Domain, "a.example.com")
	for _, i := range []*model.Indicator{&a, &b, &c} {
		i.TLP = policy.Amber
	}
	b.TLP = policy.Clear
	ids := map[string]string{r.ID: "41", a.ID: "1001", b.ID: "1002", c.ID: "1003"}
	ev := ExportEvent(r, []model.Indicator{a, b, c}, ExportOptions{
		Orgc:      Org{Name: "Ziekenhuis Noord", UUID: "7656cd2c-03e9-4f47-a11e-0ee41beaa271", ID: "12"},
		NumericID: func(u string) string { return ids[u] }, Published: true,
	})
	if ev.ID != "41" || ev.UUID != r.ID || ev.Info != "Report" || ev.Date != "2026-04-28" || ev.Timestamp != "1777415400" ||
		!ev.Published || ev.PublishTimestamp != ev.Timestamp || ev.Distribution != "1" || ev.SharingGroupID != "0" ||
		ev.OrgcID != "12" || ev.Orgc == nil || ev.Org != nil || ev.OrgID != "" || ev.AttributeCount != "6" {
		t.Errorf("event: %+v", ev)
	}
	if got := tagNames(ev.Tag); !slices.Equal(got, []string{"tlp:amber", "sector:health", `misp-galaxy:threat-actor="Kimsuky"`}) {
		t.Errorf("event tags %q", got)
	}
	var got []string
	for _, at := range ev.Attribute {
		got = append(got, strings.Join([]string{at.ID, at.EventID, at.Type, at.Value, at.Distribution, at.Category}, " "))
	}
	want := []string{
		"1003 41 domain a.example.com 5 Network activity",
		"1002 41 domain z.example.com 3 Network activity",
		"1001 41 url https://b.example.com/ 5 Network activity",
		" 41 link https://r.example.com/ 5 External analysis",
		" 41 text t 5 Other",
		" 41 campaign-name Open Vacancy 5 Attribution",
	}
	if !slices.Equal(got, want) {
		t.Errorf("attributes\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, at := range ev.Attribute[3:] {
		if at.ToIDS || at.UUID == "" || len(at.Tag) != 0 {
			t.Errorf("context attribute %+v", at)
		}
	}
	if len(ev.EventReport) != 1 || ev.EventReport[0].Content != "What happened." || ev.EventReport[0].Distribution != "5" {
		t.Errorf("event report %+v", ev.EventReport)
	}
	// Exported twice, the derived ids are the same.
	again := ExportEvent(r, []model.Indicator{c, b, a}, ExportOptions{})
	if again.Attribute[3].UUID != ev.Attribute[3].UUID || again.EventReport[0].UUID != ev.EventReport[0].UUID || again.Attribute[0].Value != "a.example.com" {
		t.Error("derived ids or order change between exports")
	}
	if again.ID != "" || again.Attribute[0].ID != "" || again.Orgc != nil {
		t.Errorf("without NumericID and Orgc: id %q, attribute id %q, orgc %v", again.ID, again.Attribute[0].ID, again.Orgc)
	}
	data, err := json.Marshal(Wrap(again))
	if err != nil || strings.Contains(string(data), `"id":`) {
		t.Errorf("a feed event has no ids: %v %s", err, data[:200])
	}
}

// TestExportOrgsAndGroup: an event for a list of organisations, and one for
// a group with its indicators inheriting.
func TestExportOrgsAndGroup(t *testing.T) {
	r := model.Report{ID: "ab5128c3-f9a2-4fdd-9ac3-8578e328c102", Title: "x", TLP: policy.Red, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{"a", "b"}}}
	ind := testIndicator(indicator.IPv4, "198.51.100.1")
	ind.TLP, ind.Audience = policy.Red, r.Audience
	ev := ExportEvent(r, []model.Indicator{ind}, ExportOptions{})
	if ev.Distribution != "0" || ev.Attribute[0].Distribution != "5" || !slices.Contains(tagNames(ev.Tag), `hdn:audience="orgs"`) {
		t.Errorf("orgs: event %s, attribute %s, tags %q", ev.Distribution, ev.Attribute[0].Distribution, tagNames(ev.Tag))
	}
	if strings.Contains(mustJSON(t, ev), `"a"`) {
		t.Error("the organisations of the list leak into the export")
	}

	r.TLP, r.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: "0190f2a4-0000-7000-8000-000000000001"}
	in, other := ind, testIndicator(indicator.IPv4, "198.51.100.2")
	in.TLP, in.Audience = policy.Amber, r.Audience
	other.TLP, other.Audience = policy.Amber, policy.Audience{Kind: policy.Group, Group: "0190f2a4-0000-7000-8000-000000000002"}
	ev = ExportEvent(r, []model.Indicator{in, other}, ExportOptions{GroupName: func(id string) (string, string) { return "G " + id[len(id)-1:], id }})
	if ev.Distribution != "4" || ev.SharingGroup == nil || ev.SharingGroup.Name != "G 1" || ev.SharingGroup.UUID != r.Audience.Group {
		t.Errorf("group event: %s %+v", ev.Distribution, ev.SharingGroup)
	}
	// PyMISP needs a non-zero numeric sharing_group_id with distribution 4.
	if n, err := strconv.ParseUint(ev.SharingGroupID, 10, 64); err != nil || n == 0 || ev.SharingGroup.ID != ev.SharingGroupID {
		t.Errorf("sharing_group_id %q, SharingGroup.id %q", ev.SharingGroupID, ev.SharingGroup.ID)
	}
	if a := ev.Attribute[0]; a.Distribution != "5" || a.SharingGroup != nil {
		t.Errorf("same group: %s %+v", a.Distribution, a.SharingGroup)
	}
	if a := ev.Attribute[1]; a.Distribution != "4" || a.SharingGroup == nil || a.SharingGroup.Name != "G 2" {
		t.Errorf("other group: %s %+v", a.Distribution, a.SharingGroup)
	}
}

func TestConfidenceTagOf(t *testing.T) {
	for c, want := range map[int]string{0: "unconfident", 12: "unconfident", 13: "rarely-confident", 40: "fairly-confident",
		62: "fairly-confident", 63: "usually-confident", 87: "usually-confident", 88: "completely-confident", 100: "completely-confident"} {
		if got := confidenceTagOf(c).Name; got != `misp:confidence-level="`+want+`"` {
			t.Errorf("%d: %s, want %s", c, got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
