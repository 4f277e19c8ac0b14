package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/hdnetwork/hdn/internal/policy"
)

func readBundle(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	return b.Objects
}

// Every object of the OASIS bundles is returned byte for byte (compacted),
// and recognised by content as the level its id says.
func TestMarkingObjectsMatchOASIS(t *testing.T) {
	n := 0
	for _, name := range []string{"tlp1-markings-bundle-stix21.json", "tlp2-markings-bundle.json"} {
		for _, obj := range readBundle(t, name) {
			var head struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}
			if err := json.Unmarshal(obj, &head); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, obj); err != nil {
				t.Fatal(err)
			}
			got, ok := MarkingObject(head.ID)
			if !ok {
				t.Errorf("%s: MarkingObject not found", head.ID)
				continue
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%s:\n got  %s\n want %s", head.ID, got, want.Bytes())
			}
			n++
			if head.Type != "marking-definition" {
				continue
			}
			byID, ok1 := TLPFromMarking(head.ID)
			byContent, ok2 := TLPFromMarkingObject(obj)
			if !ok1 || !ok2 || byID != byContent {
				t.Errorf("%s: by id %q %v, by content %q %v", head.ID, byID, ok1, byContent, ok2)
			}
			// By content alone, with the id changed.
			var m map[string]any
			_ = json.Unmarshal(obj, &m)
			m["id"] = "marking-definition--00000000-0000-4000-8000-000000000001"
			renamed, _ := json.Marshal(m)
			if got, ok := TLPFromMarkingObject(renamed); !ok || got != byID {
				t.Errorf("%s renamed: got %q %v, want %q", head.ID, got, ok, byID)
			}
		}
	}
	if n != 10 {
		t.Errorf("compared %d objects, want 10 (4 TLP 1.0, 5 TLP 2.0, 1 extension-definition)", n)
	}
	if _, ok := MarkingObject("marking-definition--00000000-0000-4000-8000-000000000001"); ok {
		t.Error("unknown id found")
	}
}

// The id table of testdata agrees with MarkingIDs and TLPFromMarking.
func TestMarkingIDsTable(t *testing.T) {
	data, err := os.ReadFile("testdata/tlp-marking-ids.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Ext  string            `json:"tlp_2_0_extension_definition"`
		TLP2 map[string]string `json:"tlp_2_0"`
		TLP1 map[string]string `json:"tlp_1_0_stix21_predefined"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	if table.Ext != TLP2ExtensionID {
		t.Errorf("extension id %s, want %s", table.Ext, TLP2ExtensionID)
	}
	for name, id := range table.TLP2 {
		want, err := policy.ParseTLP(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := TLPFromMarking(id); !ok || got != want {
			t.Errorf("TLP 2.0 %s: got %q %v", name, got, ok)
		}
		if tlp2, _ := MarkingIDs(want); tlp2 != id {
			t.Errorf("MarkingIDs(%s) tlp2 = %s, want %s", want, tlp2, id)
		}
	}
	for name, id := range table.TLP1 {
		want, err := policy.ParseTLP(name) // TLP:WHITE reads as clear
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := TLPFromMarking(id); !ok || got != want {
			t.Errorf("TLP 1.0 %s: got %q %v", name, got, ok)
		}
		if _, tlp1 := MarkingIDs(want); tlp1 != id {
			t.Errorf("MarkingIDs(%s) tlp1 = %s, want %s", want, tlp1, id)
		}
	}
}

func TestMarkingIDs(t *testing.T) {
	cases := []struct {
		tlp        policy.TLP
		tlp2, tlp1 string
	}{
		{policy.Clear, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
		{policy.Green, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
		{policy.Amber, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
		{policy.AmberStrict, "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", ""},
		{policy.Red, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
		{"white", "", ""}, // not a policy.TLP value; callers parse first
		{"", "", ""},
	}
	for _, c := range cases {
		tlp2, tlp1 := MarkingIDs(c.tlp)
		if tlp2 != c.tlp2 || tlp1 != c.tlp1 {
			t.Errorf("%q: got (%s, %s), want (%s, %s)", c.tlp, tlp2, tlp1, c.tlp2, c.tlp1)
		}
		for _, id := range []string{tlp2, tlp1} {
			if id == "" {
				continue
			}
			if _, ok := MarkingObject(id); !ok {
				t.Errorf("%s: no object", id)
			}
		}
	}
	if _, ok := TLPFromMarking("marking-definition--00000000-0000-4000-8000-000000000001"); ok {
		t.Error("unknown id recognised")
	}
	if _, ok := TLPFromMarking(TLP2ExtensionID); ok {
		t.Error("extension-definition recognised as a marking")
	}
}

func TestTLPOfObject(t *testing.T) {
	const (
		white1  = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		amber1  = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
		red1    = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
		clear2  = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
		green2  = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		amber2  = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		strict2 = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
		stmt    = "marking-definition--ffffffff-0000-4000-8000-00000000000a" // e.g. a copyright statement
	)
	cases := []struct {
		name string
		refs []string
		def  policy.TLP
		want policy.TLP
	}{
		{"TLP 1.0 white is clear", []string{white1}, policy.Red, policy.Clear},
		{"TLP 2.0 amber+strict", []string{strict2}, policy.Clear, policy.AmberStrict},
		{"both generations of one level", []string{amber1, amber2}, policy.Clear, policy.Amber},
		{"most restrictive wins", []string{green2, strict2, clear2}, policy.Clear, policy.AmberStrict},
		{"TLP 1.0 red beats TLP 2.0 amber", []string{amber2, red1}, policy.Clear, policy.Red},
		{"unknown refs ignored", []string{stmt, green2}, policy.Red, policy.Green},
		{"only unknown refs: default", []string{stmt}, policy.Amber, policy.Amber},
		{"no refs: default", nil, policy.Green, policy.Green},
	}
	for _, c := range cases {
		got, err := TLPOfObject(c.refs, c.def)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := TLPOfObject([]string{stmt}, ""); !errors.Is(err, ErrNoTLP) {
		t.Errorf("no marking, no default: err = %v, want ErrNoTLP", err)
	}
	if got, err := TLPOfObject([]string{amber2}, ""); err != nil || got != policy.Amber {
		t.Errorf("marking, no default: got %q, %v", got, err)
	}
	if _, err := TLPOfObject([]string{amber2}, "orange"); err == nil {
		t.Error("invalid default accepted")
	}

	// A bundle's own TLP marking-definitions, through a lookup.
	own := "marking-definition--11111111-0000-4000-8000-000000000000"
	lookup := func(id string) (policy.TLP, bool) {
		if id == own {
			return policy.Red, true
		}
		if id == stmt {
			return "bogus", true // a broken lookup must not break the rule
		}
		return "", false
	}
	if got, err := TLPOfObjectFunc([]string{green2, own, stmt}, policy.Clear, lookup); err != nil || got != policy.Red {
		t.Errorf("with lookup: got %q, %v; want red", got, err)
	}
	if got, err := TLPOfObjectFunc([]string{stmt}, policy.Green, lookup); err != nil || got != policy.Green {
		t.Errorf("lookup with bogus level: got %q, %v; want default green", got, err)
	}
}

func TestTLPFromMarkingObject(t *testing.T) {
	cases := []struct {
		name string
		obj  string
		want policy.TLP // "" means not recognised
	}{
		{"STIX 2.0 TLP amber", `{"type":"marking-definition","id":"marking-definition--aaaaaaaa-0000-4000-8000-000000000000",
			"created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"amber"}}`, policy.Amber},
		{"TLP 1.0 white", `{"type":"marking-definition","definition_type":"tlp","definition":{"tlp":"white"}}`, policy.Clear},
		{"upper case level", `{"type":"marking-definition","definition_type":"tlp","definition":{"tlp":"TLP:RED"}}`, policy.Red},
		{"TLP 2.0 extension", `{"type":"marking-definition","name":"TLP:AMBER+STRICT","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}`, policy.AmberStrict},
		{"TLP 2.0 extension beside an odd one", `{"type":"marking-definition","extensions":{"x-odd":"not an object","extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"tlp_2_0":"green"}}}`, policy.Green},
		{"no type member", `{"definition_type":"tlp","definition":{"tlp":"green"}}`, policy.Green},
		{"well-known id only", `{"id":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"}`, policy.Red},
		{"id and content disagree: most restrictive", `{"type":"marking-definition","id":"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9","definition_type":"tlp","definition":{"tlp":"red"}}`, policy.Red},
		{"statement", `{"type":"marking-definition","definition_type":"statement","definition":{"statement":"Copyright 2026"}}`, ""},
		{"name only", `{"type":"marking-definition","name":"TLP:RED"}`, ""},
		{"tlp under another definition_type", `{"type":"marking-definition","definition_type":"statement","definition":{"tlp":"red"}}`, ""},
		{"unknown level", `{"type":"marking-definition","definition_type":"tlp","definition":{"tlp":"orange"}}`, ""},
		{"other object type", `{"type":"indicator","definition_type":"tlp","definition":{"tlp":"red"}}`, ""},
		{"member names are exact", `{"TYPE":"marking-definition","Definition_Type":"tlp","definition":{"TLP":"red"}}`, ""},
		{"not JSON", `{`, ""},
		{"not an object", `["tlp"]`, ""},
	}
	for _, c := range cases {
		got, ok := TLPFromMarkingObject(json.RawMessage(c.obj))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: got %q %v, want %q", c.name, got, ok, c.want)
		}
	}
}

// FuzzTLPFromMarkingObject: a marking definition posted from outside (a
// TAXII envelope, an imported bundle) is read or not, never a panic; what is
// read is a TLP level the policy knows.
func FuzzTLPFromMarkingObject(f *testing.F) {
	for _, t := range policy.TLPs {
		v2, v1 := MarkingIDs(t)
		for _, id := range []string{v2, v1} {
			if obj, ok := MarkingObject(id); ok {
				f.Add([]byte(obj))
			}
		}
	}
	f.Add([]byte(`{"type":"marking-definition","definition_type":"tlp","definition":{"tlp":"red"}}`))
	f.Add([]byte(`{"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"tlp_2_0":"amber+strict"}}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tlp, ok := TLPFromMarkingObject(json.RawMessage(data))
		if ok && !slices.Contains(policy.TLPs, tlp) {
			t.Fatalf("read TLP %q, not a level", tlp)
		}
	})
}
