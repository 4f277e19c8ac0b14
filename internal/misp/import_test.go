package misp

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// renderLines writes an import as lines: indicators, then context, then
// sightings, then problems.
func renderLines(im Imported) []string {
	var out []string
	for _, ii := range im.Indicators {
		s := ii.Sub
		l := fmt.Sprintf("%s %s %s tlp=%s aud=%s", ii.Where, s.Type, s.Value, s.TLP, s.Audience.Kind)
		if ii.GroupRef != "" {
			l += " group=" + ii.GroupRef
		}
		if len(s.Labels) > 0 {
			l += " labels=" + strings.Join(s.Labels, ",")
		}
		if len(s.Tags) > 0 {
			l += " tags=" + strings.Join(s.Tags, ",")
		}
		if s.Confidence != DefaultConfidence {
			l += fmt.Sprintf(" conf=%d", s.Confidence)
		}
		if !s.ValidUntil.IsZero() {
			l += " until=" + s.ValidUntil.Format(time.RFC3339)
		}
		out = append(out, l)
	}
	for _, c := range im.Report.Context {
		l := "context " + c.Type + " " + c.Value
		if c.Object != "" {
			l += " object=" + c.Object
		}
		out = append(out, l)
	}
	for _, s := range im.Sightings {
		out = append(out, fmt.Sprintf("sighting %s %s at %s", s.Kind, s.Value, s.At.Format(time.RFC3339)))
	}
	for _, p := range im.Problems {
		out = append(out, p.Where+" ! "+problemClass(p.Err))
	}
	return out
}

// ev builds an event from its members and attributes.
func ev(members string, attrs ...string) string {
	if members != "" {
		members += ","
	}
	return `{"Event":{"info":"rules",` + members + `"Attribute":[` + strings.Join(attrs, ",") + `]}}`
}

const (
	groupA = `"SharingGroup":{"name":"Healthcare NL","uuid":"32a19f69-2a36-488e-a5ec-ed085431a84d"}`
	refA   = "32a19f69-2a36-488e-a5ec-ed085431a84d"
)

func TestImportRules(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		opt    ImportOptions
		report string // "tlp audience [group]"
		want   []string
	}{
		{
			name:   "tlp from the event; an attribute's own tag wins; tlp:white is clear",
			in:     ev(`"Tag":[{"name":"TLP:GREEN"}]`, `{"type":"domain","value":"a.example.com"}`, `{"type":"domain","value":"b.example.com","Tag":[{"name":"tlp:white"}]}`, `{"type":"domain","value":"c.example.com","Tag":[{"name":"tlp:amber"},{"name":"tlp:amber+strict"}]}`),
			report: "green network",
			want: []string{
				"Attribute 1 domain a.example.com tlp=green aud=network",
				"Attribute 2 domain b.example.com tlp=clear aud=network",
				"Attribute 3 domain c.example.com tlp=amber+strict aud=network",
			},
		},
		{
			name:   "several tlp tags on the event: the strictest",
			in:     ev(`"Tag":[{"name":"tlp:clear"},{"name":"tlp:amber"},{"name":"tlp:green"}]`, `{"type":"domain","value":"a.example.com"}`),
			report: "amber network",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=network"},
		},
		{
			name:   "no tlp tag: the default (amber when none is given)",
			in:     ev(``, `{"type":"domain","value":"a.example.com"}`),
			report: "amber network",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=network"},
		},
		{
			name:   "no tlp tag, default green",
			in:     ev(``, `{"type":"domain","value":"a.example.com"}`),
			opt:    ImportOptions{DefaultTLP: policy.Green},
			report: "green network",
			want:   []string{"Attribute 1 domain a.example.com tlp=green aud=network"},
		},
		{
			name:   "an unknown tlp level is a problem and not used",
			in:     ev(`"Tag":[{"name":"tlp:ex:chr"},{"name":"tlp:green"}]`, `{"type":"domain","value":"a.example.com","Tag":[{"name":"tlp:unclear"}]}`),
			report: "green network",
			want:   []string{"Attribute 1 domain a.example.com tlp=green aud=network", "Event Tag 1 ! field", "Attribute 1 ! field"},
		},
		{
			name: "distribution: 0 the source, 1-3 the network, 5 inherits, never wider than the event",
			in: ev(`"distribution":"2"`, `{"type":"domain","value":"a.example.com","distribution":"0"}`,
				`{"type":"domain","value":"b.example.com","distribution":"1"}`, `{"type":"domain","value":"c.example.com","distribution":"3"}`,
				`{"type":"domain","value":"d.example.com","distribution":"5"}`),
			report: "amber network",
			want: []string{
				"Attribute 1 domain a.example.com tlp=amber aud=orgs",
				"Attribute 2 domain b.example.com tlp=amber aud=network",
				"Attribute 3 domain c.example.com tlp=amber aud=network",
				"Attribute 4 domain d.example.com tlp=amber aud=network",
			},
		},
		{
			name:   "event distribution 0: every attribute the source only, whatever it says",
			in:     ev(`"distribution":0`, `{"type":"domain","value":"a.example.com","distribution":"3"}`, `{"type":"domain","value":"b.example.com","distribution":"4",`+groupA+`}`),
			report: "amber orgs",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=orgs", "Attribute 2 domain b.example.com tlp=amber aud=orgs"},
		},
		{
			name: "sharing group: by uuid; the same group by sharing_group_id; another group narrows",
			in: ev(`"distribution":"4","sharing_group_id":"3",`+groupA,
				`{"type":"domain","value":"a.example.com","distribution":"5"}`,
				`{"type":"domain","value":"b.example.com","distribution":"4","sharing_group_id":"3"}`,
				`{"type":"domain","value":"c.example.com","distribution":"1"}`,
				`{"type":"domain","value":"d.example.com","distribution":"4","SharingGroup":{"name":"Other","uuid":"4e8a0c57-2b7e-4f0e-8c61-7d9d2b6f1a11"}}`),
			report: "amber group " + refA,
			want: []string{
				"Attribute 1 domain a.example.com tlp=amber aud=group group=" + refA,
				"Attribute 2 domain b.example.com tlp=amber aud=group group=" + refA,
				"Attribute 3 domain c.example.com tlp=amber aud=group group=" + refA,
				"Attribute 4 domain d.example.com tlp=amber aud=orgs",
				"Attribute 4 ! sharing",
			},
		},
		{
			name:   "sharing group by name when it has no uuid",
			in:     ev(`"distribution":"4","SharingGroup":{"name":"Care MSSP customers"}`, `{"type":"domain","value":"a.example.com"}`),
			report: "amber group Care MSSP customers",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=group group=Care MSSP customers"},
		},
		{
			name:   "distribution 4 without its group, 5 on an event, an unknown level: the source only",
			in:     ev(`"distribution":"4","sharing_group_id":"3"`, `{"type":"domain","value":"a.example.com"}`),
			report: "amber orgs",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=orgs", "Event ! sharing"},
		},
		{
			name:   "distribution 5 on the event",
			in:     ev(`"distribution":"5"`, `{"type":"domain","value":"a.example.com","distribution":"x"}`),
			report: "amber orgs",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=orgs", "Event ! sharing", "Attribute 1 ! sharing"},
		},
		{
			name: "tlp:red needs named recipients: with a network audience it is narrowed",
			in: ev(`"distribution":"1","Tag":[{"name":"tlp:amber"}]`, `{"type":"domain","value":"a.example.com","Tag":[{"name":"tlp:red"}]}`,
				`{"type":"domain","value":"b.example.com","distribution":"0","Tag":[{"name":"tlp:red"}]}`),
			report: "amber network",
			want: []string{
				"Attribute 1 domain a.example.com tlp=red aud=orgs",
				"Attribute 2 domain b.example.com tlp=red aud=orgs",
				"Attribute 1 ! sharing",
			},
		},
		{
			name:   "a red event of the whole community: one problem, not one per attribute",
			in:     ev(`"distribution":"3","Tag":[{"name":"tlp:red"}]`, `{"type":"domain","value":"a.example.com"}`, `{"type":"domain","value":"b.example.com","Tag":[{"name":"tlp:green"}]}`),
			report: "red orgs",
			want:   []string{"Attribute 1 domain a.example.com tlp=red aud=orgs", "Attribute 2 domain b.example.com tlp=green aud=orgs", "Event ! sharing"},
		},
		{
			name: "to_ids false, context types, deleted attributes and objects",
			in: `{"Event":{"info":"rules","Attribute":[{"type":"domain","value":"a.example.com","to_ids":false},` +
				`{"type":"link","value":"https://r.example.com/x"},{"type":"domain","value":"gone.example.com","deleted":true},` +
				`{"type":"uri","value":"/gate.php","to_ids":true},{"type":"no-such-type","value":"v","to_ids":true}],` +
				`"Object":[{"name":"file","deleted":true,"Attribute":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]},` +
				`{"name":"domain-ip","Attribute":[{"type":"domain","value":"o.example.com"},{"type":"ip-dst","value":"198.51.100.1","to_ids":false},` +
				`{"type":"ip-dst","value":"198.51.100.2","deleted":1}]}]}}`,
			report: "amber network",
			want: []string{
				"Object 2 Attribute 1 domain o.example.com tlp=amber aud=network",
				"context domain a.example.com", "context link https://r.example.com/x", "context uri /gate.php",
				"context no-such-type v", "context ip-dst 198.51.100.1 object=domain-ip",
			},
		},
		{
			name: "threat tags become labels; a tag that is its label is not kept as a tag",
			in: ev(`"Tag":[{"name":"Phishing"},{"name":"misp-galaxy:ransomware=\"LockBit\""},{"name":"type:OSINT"}]`,
				`{"type":"domain","value":"a.example.com","Tag":[{"name":"#C2"},{"name":"APT"},{"name":"kill-chain:Command and Control"},{"name":"ecsirt:malicious-code=\"botnet-drone\""},{"name":"opendir"}]}`),
			report: "amber network",
			want:   []string{"Attribute 1 domain a.example.com tlp=amber aud=network labels=phishing,ransomware,c2,espionage,botnet tags=APT,kill-chain:Command and Control,ecsirt:malicious-code=\"botnet-drone\",opendir"},
		},
		{
			name: "confidence from misp:confidence-level, the attribute's first",
			in: ev(`"Tag":[{"name":"misp:confidence-level=\"rarely-confident\""}]`, `{"type":"domain","value":"a.example.com"}`,
				`{"type":"domain","value":"b.example.com","Tag":[{"name":"misp:confidence-level=\"completely-confident\""}]}`,
				`{"type":"domain","value":"c.example.com","Tag":[{"name":"misp:confidence-level=\"confidence-cannot-be-evaluated\""}]}`),
			report: "amber network",
			want: []string{
				"Attribute 1 domain a.example.com tlp=amber aud=network conf=25",
				"Attribute 2 domain b.example.com tlp=amber aud=network conf=100",
				"Attribute 3 domain c.example.com tlp=amber aud=network conf=25",
			},
		},
		{
			name: "sightings: 0 and 3 seen, 1 false positive, 2 expiration (future: valid_until; past: context)",
			in: ev(``, `{"type":"domain","value":"a.example.com","Sighting":[{"type":"0","date_sighting":"1776000000"},{"type":"3","date_sighting":"1776003600"},`+
				`{"type":"1","date_sighting":"1776007200"},{"type":"2","date_sighting":"1790000000"},{"type":"2","date_sighting":"1785000000"}]}`,
				`{"type":"domain","value":"b.example.com","Sighting":[{"type":"0","date_sighting":"1776000000"},{"type":"2","date_sighting":"1777000000"}]}`),
			report: "amber network",
			want: []string{
				"Attribute 1 domain a.example.com tlp=amber aud=network until=2026-07-25T17:20:00Z",
				"context domain b.example.com",
				"sighting sighting a.example.com at 2026-04-12T13:20:00Z",
				"sighting sighting a.example.com at 2026-04-12T14:20:00Z",
				"sighting false-positive a.example.com at 2026-04-12T15:20:00Z",
				"Attribute 2 ! expired",
			},
		},
		{
			name: "a bad value is a problem and kept as context; half a domain|ip is still taken",
			in: ev(``, `{"type":"domain","value":"co.uk"}`, `{"type":"domain|ip","value":"localhost|198.51.100.9"}`,
				`{"type":"filename|md5","value":"invoice.pdf"}`, `{"type":"filename|md5","value":"invoice.pdf.exe|D41D8CD98F00B204E9800998ECF8427E"}`),
			report: "amber network",
			want: []string{
				"Attribute 2 ipv4 198.51.100.9 tlp=amber aud=network",
				"Attribute 4 md5 d41d8cd98f00b204e9800998ecf8427e tlp=amber aud=network",
				"context domain co.uk", "context domain|ip localhost|198.51.100.9", "context filename|md5 invoice.pdf",
				"context filename invoice.pdf.exe",
				"Attribute 1 ! bad-value:domain", "Attribute 2 ! bad-value:domain", "Attribute 3 ! bad-value",
			},
		},
		{
			name: "context shared more narrowly than the report is left out",
			in: ev(`"distribution":"1"`, `{"type":"link","value":"https://internal.example.com/case/1","distribution":"0"}`,
				`{"type":"comment","value":"for us only","Tag":[{"name":"tlp:red"}]}`, `{"type":"comment","value":"fine"}`),
			report: "amber network",
			want:   []string{"context comment fine", "Attribute 1 ! sharing", "Attribute 2 ! sharing", "Attribute 2 ! sharing"},
		},
		{
			name: "ja3s and ja4 travel as text with an hdn:type tag; without to_ids they stay context",
			in: ev(``, `{"type":"text","value":"t13d1516h2_8daaf6152771_b186095e22b6","to_ids":true,"Tag":[{"name":"hdn:type=\"ja4\""}]}`,
				`{"type":"text","value":"E7D705A3286E19EA42F587B344EE6865","to_ids":true,"Tag":[{"name":"hdn:type=\"ja3s\""}]}`,
				`{"type":"text","value":"t13d1516h2_8daaf6152771_b186095e22b6","Tag":[{"name":"hdn:type=\"ja4\""}]}`,
				`{"type":"domain","value":"x.example.com","Tag":[{"name":"hdn:type=\"ja4\""}]}`),
			report: "amber network",
			want: []string{
				"Attribute 1 ja4 t13d1516h2_8daaf6152771_b186095e22b6 tlp=amber aud=network",
				"Attribute 2 ja3s e7d705a3286e19ea42f587b344ee6865 tlp=amber aud=network",
				"Attribute 4 domain x.example.com tlp=amber aud=network",
				"context text t13d1516h2_8daaf6152771_b186095e22b6",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if c.opt.Now.IsZero() {
				c.opt.Now = fixedNow
			}
			im, err := Import(e, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			rep := fmt.Sprintf("%s %s", im.Report.TLP, im.Report.Audience.Kind)
			if im.GroupRef != "" {
				rep += " " + im.GroupRef
			}
			if rep != c.report {
				t.Errorf("report %q, want %q", rep, c.report)
			}
			if got := renderLines(im); !slices.Equal(got, c.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			for _, p := range im.Problems {
				if p.Where == "" {
					t.Errorf("problem without where: %v", p.Err)
				}
			}
		})
	}
}

// TestImportReport: title, id, narrative, threat actor, campaign, tags,
// timestamp and the limits.
func TestImportReport(t *testing.T) {
	in := `{"Event":{"uuid":"39049DC3-DF40-408D-9D87-9BEC7025F959","info":"  ` + strings.Repeat("é", 300) + `  ","timestamp":"1776332400",
	"Tag":[{"name":"tlp:green"},{"name":"hdn:audience=\"orgs\""},{"name":"misp-galaxy:threat-actor=\"APT29\""},{"name":"sector:health"},{"name":"sector:health"},{"name":""}],
	"EventReport":[{"name":"One","content":"first"},{"name":"Gone","content":"x","deleted":true},{"name":"Two","content":"second"},{"name":"Ours","content":"y","distribution":"0"}],
	"Attribute":[{"type":"threat-actor","value":"Cozy Bear"},{"type":"campaign-name","value":" Operation X "},{"type":"campaign-name","value":"Operation Y"},
	{"type":"domain","value":"a.example.com","comment":"` + strings.Repeat("c", MaxDescriptionLen+5) + `"}]}}`
	e, err := ParseEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	im, err := Import(e, ImportOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	r := im.Report
	if r.ID != "39049dc3-df40-408d-9d87-9bec7025f959" {
		t.Errorf("id %q", r.ID)
	}
	if len(r.Title) != 512 || !strings.HasPrefix(r.Title, "éé") {
		t.Errorf("title of %d bytes", len(r.Title))
	}
	if r.ThreatActor != "APT29" || r.Campaign != "Operation X" {
		t.Errorf("actor %q campaign %q", r.ThreatActor, r.Campaign)
	}
	if r.Narrative != "## One\n\nfirst\n\n## Two\n\nsecond" {
		t.Errorf("narrative %q", r.Narrative)
	}
	if !slices.Equal(r.Tags, []string{`misp-galaxy:threat-actor="APT29"`, "sector:health"}) {
		t.Errorf("tags %q", r.Tags)
	}
	if !im.Timestamp.Equal(time.Unix(1776332400, 0)) {
		t.Errorf("timestamp %v", im.Timestamp)
	}
	if len(im.Indicators) != 1 || len(im.Indicators[0].Sub.Description) != MaxDescriptionLen {
		t.Errorf("indicators %d", len(im.Indicators))
	}
	want := []string{"Event ! limit", "EventReport 4 ! sharing", "Attribute 4 ! limit"}
	var got []string
	for _, p := range im.Problems {
		got = append(got, p.Where+" ! "+problemClass(p.Err))
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if len(r.Context) != 3 {
		t.Errorf("%d context attributes, want 3 (the threat actor and campaigns)", len(r.Context))
	}
}

func TestImportErrors(t *testing.T) {
	if _, err := Import(nil, ImportOptions{}); err == nil {
		t.Error("nil event imported")
	}
	if _, err := Import(&Event{Info: "  "}, ImportOptions{}); !errors.Is(err, ErrNoInfo) {
		t.Errorf("no info: %v", err)
	}
	e := &Event{Info: "x", Attribute: make([]Attribute, 3), Object: []Object{{Attribute: make([]Attribute, 3)}}}
	if _, err := Import(e, ImportOptions{MaxAttributes: 5}); !errors.Is(err, ErrTooManyAttributes) {
		t.Errorf("6 attributes, at most 5: %v", err)
	}
	if _, err := Import(e, ImportOptions{MaxAttributes: 6}); err != nil {
		t.Errorf("6 attributes, at most 6: %v", err)
	}
	if _, err := Import(&Event{Info: "x", Attribute: make([]Attribute, DefaultMaxAttributes+1)}, ImportOptions{}); !errors.Is(err, ErrTooManyAttributes) {
		t.Errorf("default limit: %v", err)
	}
}

// TestSetSourceResolveGroups: the caller's part, done by the helpers.
func TestSetSourceResolveGroups(t *testing.T) {
	data, err := os.ReadFile("testdata/events/sharing-group.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Import(e, ImportOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	im.SetSource("org-1", "org-2")
	im.ResolveGroups(func(ref, name string) (string, bool) {
		if ref == refA && name == "Healthcare NL" {
			return "group-7", true
		}
		return "", false
	})
	if im.Report.Source != "org-1" || im.Report.SubmittedBy != "org-2" || im.Report.Audience.Group != "group-7" {
		t.Errorf("report: %+v", im.Report)
	}
	kinds := map[string]int{}
	for _, ii := range im.Indicators {
		s := ii.Sub
		if s.Source != "org-1" || s.SubmittedBy != "org-2" {
			t.Errorf("%s: source %q submitted by %q", ii.Where, s.Source, s.SubmittedBy)
		}
		if err := policy.CheckAudience(s.TLP, s.Audience); err != nil {
			t.Errorf("%s: %v", ii.Where, err)
		}
		switch s.Audience.Kind {
		case policy.Orgs:
			if !slices.Equal(s.Audience.Orgs, []string{"org-1"}) {
				t.Errorf("%s: orgs %q", ii.Where, s.Audience.Orgs)
			}
		case policy.Group:
			if s.Audience.Group != "group-7" {
				t.Errorf("%s: group %q", ii.Where, s.Audience.Group)
			}
		}
		kinds[string(s.Audience.Kind)]++
	}
	if kinds["group"] != 6 || kinds["orgs"] != 3 {
		t.Errorf("audiences %v", kinds)
	}

	// A group the hub does not know: the source alone, with a problem.
	im, _ = Import(e, ImportOptions{Now: fixedNow})
	im.SetSource("org-1", "org-1")
	n := len(im.Problems)
	im.ResolveGroups(func(string, string) (string, bool) { return "", false })
	if a := im.Report.Audience; a.Kind != policy.Orgs || !slices.Equal(a.Orgs, []string{"org-1"}) {
		t.Errorf("unknown group: report audience %+v", a)
	}
	if len(im.Problems) != n+7 { // the report and six indicators
		t.Errorf("%d problems, want %d", len(im.Problems), n+7)
	}
	for _, ii := range im.Indicators {
		if err := policy.CheckAudience(ii.Sub.TLP, ii.Sub.Audience); err != nil {
			t.Errorf("%s: %v", ii.Where, err)
		}
	}
}

// TestImportSightingIDs: a sighting names the indicator it belongs to, the
// second indicator of a domain|ip by its derived id.
func TestImportSightingIDs(t *testing.T) {
	e, _ := ParseEvent([]byte(ev(``, `{"uuid":"d3bac141-ed7a-4b45-9cd1-b66f7c92e25f","type":"domain|ip","value":"a.example.com|198.51.100.1","Sighting":[{"type":"0","date_sighting":"1776000000"}]}`)))
	im, err := Import(e, ImportOptions{Now: fixedNow})
	if err != nil || len(im.Indicators) != 2 || len(im.Sightings) != 2 {
		t.Fatalf("%v: %d indicators, %d sightings", err, len(im.Indicators), len(im.Sightings))
	}
	for i, s := range im.Sightings {
		sub := im.Indicators[i].Sub
		if s.AttributeUUID != sub.ID || s.Value != sub.Value || s.Type != sub.Type || s.Kind != model.Sighted {
			t.Errorf("sighting %d: %+v for %s %s %s", i, s, sub.ID, sub.Type, sub.Value)
		}
	}
	if im.Indicators[0].Sub.ID != "d3bac141-ed7a-4b45-9cd1-b66f7c92e25f" || im.Indicators[1].Sub.ID == im.Indicators[0].Sub.ID {
		t.Errorf("ids %q %q", im.Indicators[0].Sub.ID, im.Indicators[1].Sub.ID)
	}
}
