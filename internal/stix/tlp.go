package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/hdnetwork/hdn/internal/policy"
)

// TLP2ExtensionID is the extension-definition of TLP 2.0 marking
// definitions (OASIS cti-stix-common-objects, extension-definition-
// specifications/tlp-2.0). A TLP 2.0 marking-definition carries its level in
// extensions[TLP2ExtensionID].tlp_2_0.
const TLP2ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// tlpMarking is one of the nine well-known TLP marking definitions.
type tlpMarking struct {
	id     string
	tlp    policy.TLP
	object string // compact JSON, member order and values as OASIS publishes it
}

// The marking-definition objects, byte for byte as the OASIS objects once
// compacted (testdata holds the sources; a test compares). TLP 1.0: the four
// predefined in STIX 2.1 section 7.2.1.4 (as in oasis-open/cti-python-stix2
// stix2/v21/common.py). TLP 2.0: oasis-open/cti-stix-common-objects.
var (
	tlp1Markings = []tlpMarking{
		{"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", policy.Clear,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:WHITE","definition":{"tlp":"white"}}`},
		{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", policy.Green,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:GREEN","definition":{"tlp":"green"}}`},
		{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", policy.Amber,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:AMBER","definition":{"tlp":"amber"}}`},
		{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", policy.Red,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:RED","definition":{"tlp":"red"}}`},
	}
	tlp2Markings = []tlpMarking{
		{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", policy.Clear,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"clear"}}}`},
		{"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", policy.Green,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb","created":"2022-10-01T00:00:00.000Z","name":"TLP:GREEN","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"green"}}}`},
		{"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", policy.Amber,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421","created":"2022-10-01T00:00:00.000Z","name":"TLP:AMBER","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber"}}}`},
		{"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", policy.AmberStrict,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003","created":"2022-10-01T00:00:00.000Z","name":"TLP:AMBER+STRICT","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}`},
		{"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", policy.Red,
			`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1","created":"2022-10-01T00:00:00.000Z","name":"TLP:RED","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"red"}}}`},
	}
	// tlp2Extension is the extension-definition every TLP 2.0 marking
	// references; a bundle that carries a TLP 2.0 marking should carry it too.
	tlp2Extension = `{"id":"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d","type":"extension-definition","spec_version":"2.1","name":"TLP 2.0","description":"This defines TLP 2.0 as a STIX extension","created":"2022-10-01T00:00:00.000Z","modified":"2022-10-01T00:00:00.000Z","created_by_ref":"identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01","schema":"https://github.com/oasis-open/cti-stix-common-objects/tree/master/extension-definition-specifications/tlp-2.0","version":"1.0.0","extension_types":["property-extension"]}`
)

func findMarking(id string) (tlpMarking, bool) {
	for _, set := range [][]tlpMarking{tlp2Markings, tlp1Markings} {
		for _, m := range set {
			if m.id == id {
				return m, true
			}
		}
	}
	return tlpMarking{}, false
}

func markingFor(set []tlpMarking, t policy.TLP) string {
	for _, m := range set {
		if m.tlp == t {
			return m.id
		}
	}
	return ""
}

// TLPFromMarking maps the id of a well-known TLP marking-definition, of
// either generation, to its TLP 2.0 level: TLP 1.0 white becomes clear, the
// other TLP 1.0 levels keep their name. ok is false for any other id.
func TLPFromMarking(id string) (policy.TLP, bool) {
	m, ok := findMarking(id)
	return m.tlp, ok
}

// MarkingIDs returns the marking-definition ids of a level: the TLP 2.0 one
// and the TLP 1.0 one, which is empty for amber+strict (TLP 1.0 has no such
// level). Both are empty for a value that is not a TLP level.
func MarkingIDs(t policy.TLP) (tlp2, tlp1 string) {
	return markingFor(tlp2Markings, t), markingFor(tlp1Markings, t)
}

// MarkingObject returns the full object of a well-known TLP marking
// definition, or of the TLP 2.0 extension-definition (TLP2ExtensionID), as
// compact JSON that exports can include as is. The caller must not modify
// the result.
func MarkingObject(id string) (json.RawMessage, bool) {
	if id == TLP2ExtensionID {
		return json.RawMessage(tlp2Extension), true
	}
	m, ok := findMarking(id)
	if !ok {
		return nil, false
	}
	return json.RawMessage(m.object), true
}

// ErrNoTLP is returned by TLPOfObject when an object carries no TLP marking
// and no default level was given.
var ErrNoTLP = errors.New("object has no TLP marking")

// tlpRank orders levels from most open (0) to most restrictive.
func tlpRank(t policy.TLP) int { return slices.Index(policy.TLPs, t) }

// moreRestrictive returns the more restrictive of two levels; "" stands for
// none.
func moreRestrictive(a, b policy.TLP) policy.TLP {
	if a == "" || tlpRank(b) > tlpRank(a) {
		return b
	}
	return a
}

// TLPOfObject decides the TLP level of a STIX object from its
// object_marking_refs. Only the well-known TLP markings of either generation
// count; any other reference is ignored, since it may be a statement, a
// copyright or another marking scheme. When several TLP markings apply (a
// producer may list both the TLP 1.0 and the TLP 2.0 id, or mistakenly two
// levels) the most restrictive wins: sharing must never widen what a
// producer marked. Without any TLP marking the result is defaultTLP; if that
// is empty, the result is ErrNoTLP, for callers that must refuse unmarked
// objects. A defaultTLP that is not a level is an error.
func TLPOfObject(markingRefs []string, defaultTLP policy.TLP) (policy.TLP, error) {
	return TLPOfObjectFunc(markingRefs, defaultTLP, nil)
}

// TLPOfObjectFunc is TLPOfObject that also asks lookup about references that
// are not well-known TLP ids, so that marking-definitions a bundle defines
// itself (found with TLPFromMarkingObject) count. lookup may be nil.
func TLPOfObjectFunc(markingRefs []string, defaultTLP policy.TLP, lookup func(id string) (policy.TLP, bool)) (policy.TLP, error) {
	if defaultTLP != "" && tlpRank(defaultTLP) < 0 {
		return "", fmt.Errorf("stix: default tlp %q is not one of clear, green, amber, amber+strict, red", defaultTLP)
	}
	var found policy.TLP
	for _, ref := range markingRefs {
		t, ok := TLPFromMarking(ref)
		if !ok && lookup != nil {
			t, ok = lookup(ref)
			ok = ok && tlpRank(t) >= 0
		}
		if ok {
			found = moreRestrictive(found, t)
		}
	}
	switch {
	case found != "":
		return found, nil
	case defaultTLP != "":
		return defaultTLP, nil
	}
	return "", ErrNoTLP
}

// TLPFromMarkingObject recognises a TLP marking-definition by its content,
// whatever its id: the TLP 1.0 form of STIX 2.0 and 2.1
// (definition_type "tlp", definition.tlp "white"/"green"/"amber"/"red") and
// the TLP 2.0 extension (extensions[TLP2ExtensionID].tlp_2_0), and by its id
// if it is a well-known one. If these disagree, the most restrictive level
// wins. Level names are read as policy.ParseTLP reads them ("TLP:AMBER",
// "white"). ok is false for anything else, including objects of another
// type and statement markings.
func TLPFromMarkingObject(obj json.RawMessage) (policy.TLP, bool) {
	// Member by member, so that one odd member (another extension, a
	// statement) does not hide the rest, and names match exactly, which
	// decoding into a struct would not ensure.
	var md map[string]json.RawMessage
	if json.Unmarshal(obj, &md) != nil {
		return "", false
	}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	if typ, ok := md["type"]; ok && str(typ) != "marking-definition" {
		return "", false
	}
	var found policy.TLP
	if t, ok := TLPFromMarking(str(md["id"])); ok {
		found = t
	}
	if str(md["definition_type"]) == "tlp" {
		var def map[string]json.RawMessage
		if json.Unmarshal(md["definition"], &def) == nil {
			if t, err := policy.ParseTLP(str(def["tlp"])); err == nil {
				found = moreRestrictive(found, t)
			}
		}
	}
	var exts map[string]json.RawMessage
	if json.Unmarshal(md["extensions"], &exts) == nil {
		var ext map[string]json.RawMessage
		if json.Unmarshal(exts[TLP2ExtensionID], &ext) == nil {
			if t, err := policy.ParseTLP(str(ext["tlp_2_0"])); err == nil {
				found = moreRestrictive(found, t)
			}
		}
	}
	return found, found != ""
}
