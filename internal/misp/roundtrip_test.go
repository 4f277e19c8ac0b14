package misp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/import and testdata/roundtrip")

// fixedNow is the import time of every test: after the events were made,
// before the expiration sightings in the future.
var fixedNow = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

const srcOrg = "0190f2a4-6c1e-7b2a-9d3e-4f5a6b7c8d9e" // the hub organisation that imports

// stored is what a hub keeps of one import, with fixed times, as the store
// would keep it: one indicator per type and value, the first id kept.
type stored struct {
	report    model.Report
	inds      []model.Indicator
	sightings map[string][]model.SightingCount
	groups    map[string]string // hub group id -> name
}

// storeImport simulates the hub: it resolves groups (by uuid, or a group
// made for the name), sets the source, checks every submission as the store
// does, and builds the rows with fixed times.
func storeImport(t testing.TB, im Imported) stored {
	t.Helper()
	st := stored{groups: map[string]string{}, sightings: map[string][]model.SightingCount{}}
	im.SetSource(srcOrg, srcOrg)
	im.ResolveGroups(func(ref, name string) (string, bool) {
		id := ref
		if !isUUID(ref) {
			id = uuid.NewSHA1(hdnNamespace, []byte("test group "+ref)).String()
		}
		if name == "" {
			name = ref
		}
		st.groups[id] = name
		return id, true
	})
	created := time.Date(2026, 4, 28, 9, 0, 0, 0, time.UTC)
	modified := created.Add(26 * time.Hour)

	r := im.Report
	if r.ID == "" {
		r.ID = uuid.NewSHA1(hdnNamespace, []byte("test report "+r.Title)).String()
	}
	r.Created, r.Modified = created, modified
	if err := policy.CheckAudience(r.TLP, r.Audience); err != nil {
		t.Errorf("report audience: %v", err)
	}
	st.report = r

	byKey := map[string]int{}
	for _, ii := range im.Indicators {
		s := ii.Sub
		checkSubmission(t, ii.Where, s)
		key := string(s.Type) + " " + s.Value
		id := s.ID
		if i, ok := byKey[key]; ok {
			id = st.inds[i].ID // an update keeps the indicator's id
		} else if id == "" {
			id = uuid.NewSHA1(hdnNamespace, []byte("test indicator "+key)).String()
		}
		ind := model.Indicator{
			ID: id, Type: s.Type, Value: s.Value, TLP: s.TLP, Audience: s.Audience, Labels: s.Labels,
			Description: s.Description, Confidence: s.Confidence, ValidFrom: created, ValidUntil: s.ValidUntil,
			FirstSeen: created, LastSeen: modified, Source: s.Source, SubmittedBy: s.SubmittedBy,
			ReportID: r.ID, Tags: s.Tags, Created: created, Modified: modified,
		}
		if i, ok := byKey[key]; ok {
			st.inds[i] = ind
		} else {
			byKey[key] = len(st.inds)
			st.inds = append(st.inds, ind)
		}
	}
	for _, s := range im.Sightings {
		i, ok := byKey[string(s.Type)+" "+s.Value]
		if !ok {
			t.Errorf("sighting of %s %s, which was not imported", s.Type, s.Value)
			continue
		}
		id := st.inds[i].ID
		hour := s.At.Truncate(time.Hour)
		cs := st.sightings[id]
		j := slices.IndexFunc(cs, func(c model.SightingCount) bool { return c.Kind == s.Kind })
		if j < 0 {
			cs = append(cs, model.SightingCount{Org: srcOrg, Kind: s.Kind, First: hour, Last: hour})
			j = len(cs) - 1
		}
		cs[j].Count++
		if hour.Before(cs[j].First) {
			cs[j].First = hour
		}
		if hour.After(cs[j].Last) {
			cs[j].Last = hour
		}
		st.sightings[id] = cs
	}
	return st
}

// checkSubmission checks what the hub's store and policy would check.
func checkSubmission(t testing.TB, where string, s model.Submission) {
	t.Helper()
	if c, err := indicator.Canonicalize(s.Type, s.Value); err != nil || c != s.Value {
		t.Errorf("%s: %s %q is not canonical (%q, %v)", where, s.Type, s.Value, c, err)
	}
	if err := policy.CheckAudience(s.TLP, s.Audience); err != nil {
		t.Errorf("%s: %s %s: %v", where, s.Type, s.Value, err)
	}
	if len(s.Labels) > MaxLabels || len(s.Tags) > MaxTags || len(s.Description) > MaxDescriptionLen {
		t.Errorf("%s: over the limits: %d labels, %d tags, %d bytes of description", where, len(s.Labels), len(s.Tags), len(s.Description))
	}
	for _, l := range s.Labels {
		if l != strings.ToLower(l) || len(l) > MaxLabelLen || l == "" {
			t.Errorf("%s: label %q", where, l)
		}
	}
	for _, tg := range s.Tags {
		if len(tg) > MaxTagLen || tg == "" {
			t.Errorf("%s: tag %q", where, tg)
		}
	}
	if s.Confidence < 0 || s.Confidence > 100 {
		t.Errorf("%s: confidence %d", where, s.Confidence)
	}
}

func (st stored) exportOptions() ExportOptions {
	return ExportOptions{
		Orgc:      Org{Name: "Ziekenhuis Noord", UUID: "7656cd2c-03e9-4f47-a11e-0ee41beaa271"},
		Org:       Org{Name: "Z-CERT hub", UUID: "3f5495de-0ffc-4aa4-9136-bfcbddcb3cc1"},
		Sightings: st.sightings,
		GroupName: func(id string) (string, string) { return st.groups[id], id },
		Published: true,
	}
}

func (st stored) export() *Event { return ExportEvent(st.report, st.inds, st.exportOptions()) }

func marshalEvent(t *testing.T, ev *Event) []byte {
	t.Helper()
	b, err := json.MarshalIndent(Wrap(ev), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestRoundTrip imports each event of testdata/events, stores it in a
// simulated hub and exports it again. What Import made of it is compared with
// testdata/import/<name>.json and the event exported with
// testdata/roundtrip/<name>.json (-update rewrites both). The export must be
// stable: importing and exporting it again gives the same bytes.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/events/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("test events: %v %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := ParseEvent(data)
			if err != nil {
				t.Fatal(err)
			}
			im, err := Import(ev, ImportOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			view, err := json.MarshalIndent(renderImport(im), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "import", name+".json"), append(view, '\n'))

			first := marshalEvent(t, storeImport(t, im).export())
			golden(t, filepath.Join("testdata", "roundtrip", name+".json"), first)

			again, err := ParseEvent(first)
			if err != nil {
				t.Fatalf("the export does not parse: %v", err)
			}
			im2, err := Import(again, ImportOptions{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if len(im2.Problems) != 0 {
				t.Errorf("importing the export: problems %v", im2.Problems)
			}
			second := marshalEvent(t, storeImport(t, im2).export())
			if !bytes.Equal(first, second) {
				t.Errorf("the export is not stable; second export:\n%s", diffLines(first, second))
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, diffLines(want, got))
	}
}

// diffLines shows the first lines that differ.
func diffLines(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	var out []string
	for i := 0; i < max(len(la), len(lb)) && len(out) < 20; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}

// The golden view of an import: everything, in a stable, readable form.

type importView struct {
	Report     reportView      `json:"report"`
	Timestamp  string          `json:"timestamp"`
	Indicators []indicatorView `json:"indicators"`
	Sightings  []string        `json:"sightings"`
	Problems   []string        `json:"problems"`
}

type reportView struct {
	ID          string                   `json:"id"`
	Title       string                   `json:"title"`
	ThreatActor string                   `json:"threat_actor,omitempty"`
	Campaign    string                   `json:"campaign,omitempty"`
	TLP         policy.TLP               `json:"tlp"`
	Audience    string                   `json:"audience"`
	Tags        []string                 `json:"tags"`
	Narrative   string                   `json:"narrative,omitempty"`
	Context     []model.ContextAttribute `json:"context,omitempty"`
}

type indicatorView struct {
	Where       string   `json:"where"`
	MISP        string   `json:"misp"`
	Indicator   string   `json:"indicator"`
	Sharing     string   `json:"sharing"`
	Labels      []string `json:"labels,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Confidence  int      `json:"confidence"`
	Description string   `json:"description,omitempty"`
	ValidUntil  string   `json:"valid_until,omitempty"`
	ID          string   `json:"id"`
}

func audienceView(a policy.Audience, ref string) string {
	switch a.Kind {
	case policy.Group:
		return "group " + ref
	case policy.Orgs:
		if len(a.Orgs) == 0 {
			return "orgs (the source only)"
		}
		return "orgs " + strings.Join(a.Orgs, ",")
	}
	return string(a.Kind)
}

func renderImport(im Imported) importView {
	v := importView{
		Report: reportView{
			ID: im.Report.ID, Title: im.Report.Title, ThreatActor: im.Report.ThreatActor, Campaign: im.Report.Campaign,
			TLP: im.Report.TLP, Audience: audienceView(im.Report.Audience, im.GroupRef), Tags: im.Report.Tags,
			Narrative: im.Report.Narrative, Context: im.Report.Context,
		},
		Timestamp:  im.Timestamp.Format(time.RFC3339),
		Indicators: []indicatorView{},
		Sightings:  []string{},
		Problems:   []string{},
	}
	for _, ii := range im.Indicators {
		s := ii.Sub
		iv := indicatorView{
			Where: ii.Where, MISP: ii.MISPType + " / " + ii.Category, Indicator: string(s.Type) + " " + s.Value,
			Sharing: "tlp:" + string(s.TLP) + " " + audienceView(s.Audience, ii.GroupRef),
			Labels:  s.Labels, Tags: s.Tags, Confidence: s.Confidence, Description: s.Description, ID: s.ID,
		}
		if !s.ValidUntil.IsZero() {
			iv.ValidUntil = s.ValidUntil.Format(time.RFC3339)
		}
		v.Indicators = append(v.Indicators, iv)
	}
	for _, s := range im.Sightings {
		v.Sightings = append(v.Sightings, fmt.Sprintf("%s %s %s at %s (%s)", s.Kind, s.Type, s.Value, s.At.Format(time.RFC3339), s.AttributeUUID))
	}
	for _, p := range im.Problems {
		v.Problems = append(v.Problems, problemClass(p.Err)+" | "+p.String())
	}
	return v
}

// problemClass names the reason of a problem by its sentinel.
func problemClass(err error) string {
	var ie *indicator.Error
	switch {
	case errors.As(err, &ie) && errors.Is(err, ErrBadValue):
		return "bad-value:" + string(ie.Type)
	case errors.Is(err, ErrBadValue):
		return "bad-value"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrSharing):
		return "sharing"
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, ErrField):
		return "field"
	}
	return "other"
}
