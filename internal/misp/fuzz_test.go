package misp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/policy"
)

// checkImported checks what must hold of every import, whatever the input:
// every problem says where, every value is canonical, every audience passes
// the policy once the caller's part is done, and the limits hold.
func checkImported(t *testing.T, im Imported) {
	t.Helper()
	for _, p := range im.Problems {
		if p.Where == "" || p.Err == nil {
			t.Errorf("problem without where or reason: %+v", p)
		}
	}
	im.Indicators = slices.Clone(im.Indicators) // the caller's copy stays as it was
	im.SetSource("org-src", "org-src")
	im.ResolveGroups(func(ref, name string) (string, bool) { return "group-" + ref, ref != "" })
	if err := policy.CheckAudience(im.Report.TLP, im.Report.Audience); err != nil {
		t.Errorf("report: %v", err)
	}
	if len(im.Report.Title) > MaxTitleLen || len(im.Report.Narrative) > MaxNarrativeLen || len(im.Report.Tags) > MaxTags {
		t.Errorf("report over the limits")
	}
	for _, ii := range im.Indicators {
		s := ii.Sub
		if ii.Where == "" {
			t.Errorf("indicator without where: %+v", s)
		}
		c, err := indicator.Canonicalize(s.Type, s.Value)
		if err != nil || c != s.Value {
			t.Errorf("%s: %s %q canonicalises to %q, %v", ii.Where, s.Type, s.Value, c, err)
		}
		if err := policy.CheckAudience(s.TLP, s.Audience); err != nil {
			t.Errorf("%s: %v", ii.Where, err)
		}
		if len(s.Labels) > MaxLabels || len(s.Tags) > MaxTags || len(s.Description) > MaxDescriptionLen {
			t.Errorf("%s: over the limits", ii.Where)
		}
		for _, l := range s.Labels {
			if len(l) > MaxLabelLen {
				t.Errorf("%s: label %q", ii.Where, l)
			}
		}
		for _, tg := range s.Tags {
			if len(tg) > MaxTagLen || tg == "" {
				t.Errorf("%s: tag %q", ii.Where, tg)
			}
		}
		if s.ID != "" && !isUUID(s.ID) {
			t.Errorf("%s: id %q", ii.Where, s.ID)
		}
	}
	for _, c := range im.Report.Context {
		if len(c.Value) > MaxContextLen || !isUUID(c.ID) {
			t.Errorf("context %q of %d bytes", c.ID, len(c.Value))
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	files, _ := filepath.Glob("testdata/events/*.json")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"response":[{"Event":{"info":"x","Attribute":{"0":{"type":"domain","value":"a.example.com"}}}}]}`,
		`[{"Event":{"info":"x","Tag":{"name":"tlp:red"},"distribution":4,"SharingGroup":[]}}]`,
		`{"info":"x","Object":[{"Attribute":[{"type":"domain|ip","value":"a.b|1.2.3.4","to_ids":"1"}]}]}`,
		`{"Event":{"info":"x","Attribute":[{"type":"ip-dst","value":7,"Sighting":[{"type":2,"date_sighting":1}]}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseEvents(data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			b, err := json.Marshal(Wrap(ev))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if _, err := ParseEvent(b); err != nil {
				t.Fatalf("what was parsed and marshalled does not parse: %v\n%s", err, b)
			}
			im, err := Import(ev, ImportOptions{Now: fixedNow, MaxAttributes: 1000})
			if err != nil {
				continue
			}
			checkImported(t, im)
		}
	})
}

func FuzzImport(f *testing.F) {
	f.Add("ip-dst", "198.51.100.1/32", "tlp:red", "1", "4", true, "0", "1776000000")
	f.Add("domain|ip", "co.uk|::ffff:1.2.3.4", "APT", "5", "3", true, "2", "1")
	f.Add("filename|sha256", "x|"+"A0"+"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab", "tlp:amber+strict", "4", "4", true, "1", "1776000000")
	f.Add("text", "t13d1516h2_8daaf6152771_b186095e22b6", `hdn:type="ja4"`, "0", "1", true, "3", "99999999999")
	f.Add("url", "hxxps://evil[.]example[.]com/a/../b?c#d", "misp:confidence-level=\"unconfident\"", "", "", false, "x", "")
	f.Add("email-src", "Bad[at]Example.COM", "kill-chain:Command and Control", "9", "5", true, "", "-1")
	f.Fuzz(func(t *testing.T, typ, value, tag, attrDist, eventDist string, toIDS bool, sightType, sightDate string) {
		ev := &Event{
			UUID: "39049dc3-df40-408d-9d87-9bec7025f959", Info: "fuzz", Distribution: eventDist,
			Tag: []Tag{{Name: tag}, {Name: "tlp:green"}},
			Attribute: []Attribute{{
				UUID: "f4ebffe2-db7f-421d-a2d0-751bf188c114", Type: typ, Value: value, ToIDS: toIDS, Distribution: attrDist,
				Tag: []Tag{{Name: tag}}, Sighting: []Sighting{{Type: sightType, DateSighting: sightDate}},
			}},
			Object: []Object{{Name: "o", Distribution: attrDist, Attribute: []Attribute{{Type: typ, Value: value, ToIDS: true, Tag: []Tag{{Name: tag}}}}}},
		}
		if eventDist == "4" {
			ev.SharingGroup = &SharingGroup{Name: tag}
		}
		if attrDist == "4" {
			ev.Attribute[0].SharingGroup = &SharingGroup{Name: value}
		}
		im, err := Import(ev, ImportOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		checkImported(t, im)
		// What is exported imports again without a problem about sharing
		// or values.
		st := storeImport(t, im)
		again, err := ParseEvent([]byte(mustJSON(t, Wrap(ExportEvent(st.report, st.inds, st.exportOptions())))))
		if err != nil {
			t.Fatal(err)
		}
		im2, err := Import(again, ImportOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		checkImported(t, im2)
		if len(im2.Indicators) != len(st.inds) {
			t.Errorf("exported %d indicators, imported back %d: %v", len(st.inds), len(im2.Indicators), im2.Problems)
		}
	})
}

// memSource serves one manifest from memory.
type memSource []byte

func (m memSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m)), nil
}

// FuzzReadManifest: a feed's manifest.json, whatever it holds, is read or
// refused with an error, never a panic; what is read lists only event uuids,
// and Changed orders a subset of them.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"01d7d459-91ef-5fa0-8bf8-1e682f4c5c93": {"info": "x", "timestamp": "1700000000", "Tag": [{"name": "tlp:clear"}]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"not-a-uuid": {}}`))
	f.Add([]byte("\uFEFF {\"01d7d459-91ef-5fa0-8bf8-1e682f4c5c93\": {\"timestamp\": 17}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadManifest(context.Background(), memSource(data))
		if err != nil {
			return
		}
		for id := range m {
			if !isUUID(id) {
				t.Fatalf("manifest key %q is not a uuid", id)
			}
		}
		for _, id := range m.Changed(nil) {
			if _, ok := m[id]; !ok {
				t.Fatalf("Changed lists %q, not in the manifest", id)
			}
		}
	})
}
