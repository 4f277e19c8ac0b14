package export

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/policy"
)

// sharedSTIX is the STIX reference data in the shared/ folder beside the
// repository (or under HDN_SHARED_DATA); tests that need it skip when it is
// absent.
var sharedSTIX = func() string {
	if d := os.Getenv("HDN_SHARED_DATA"); d != "" {
		return filepath.Join(d, "stix")
	}
	return filepath.Join("..", "..", "..", "shared", "data", "stix")
}()

var (
	// STIX 2.1 identifier: type--UUID (RFC 4122 variant).
	stixIDForm = regexp.MustCompile(`^([a-z][a-z0-9-]*[a-z0-9])--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	// STIX 2.1 timestamp: RFC 3339, UTC, "Z".
	stixTimeForm = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)
)

// required lists the properties the STIX 2.1 specification requires of
// each object type we write.
var required = map[string][]string{
	"identity":             {"type", "spec_version", "id", "created", "modified", "name"},
	"indicator":            {"type", "spec_version", "id", "created", "modified", "pattern", "pattern_type", "valid_from"},
	"marking-definition":   {"type", "spec_version", "id", "created"},
	"extension-definition": {"type", "spec_version", "id", "created", "modified", "created_by_ref", "name", "schema", "version", "extension_types"},
}

func TestSTIXBundle(t *testing.T) {
	out, st := goldenCase{format: STIX}.export(t)
	var bundle struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bundle); err != nil {
		t.Fatal(err)
	}
	if bundle.Type != "bundle" || !strings.HasPrefix(bundle.ID, "bundle--") || !stixIDForm.MatchString(bundle.ID) {
		t.Errorf("bundle %q %q", bundle.Type, bundle.ID)
	}
	if len(bundle.Objects) != st.Records {
		t.Errorf("%d objects, stats say %d", len(bundle.Objects), st.Records)
	}
	ids := map[string]map[string]any{}
	for _, o := range bundle.Objects {
		typ, _ := o["type"].(string)
		id, _ := o["id"].(string)
		req, ok := required[typ]
		if !ok {
			t.Errorf("unexpected object type %q", typ)
			continue
		}
		for _, p := range req {
			if _, ok := o[p]; !ok {
				t.Errorf("%s lacks required property %s", id, p)
			}
		}
		if m := stixIDForm.FindStringSubmatch(id); m == nil || m[1] != typ {
			t.Errorf("id %q is not a %s identifier", id, typ)
		}
		if ids[id] != nil {
			t.Errorf("id %s twice", id)
		}
		ids[id] = o
		if o["spec_version"] != "2.1" {
			t.Errorf("%s: spec_version %v", id, o["spec_version"])
		}
		for _, p := range []string{"created", "modified", "valid_from", "valid_until"} {
			if v, ok := o[p]; ok && !stixTimeForm.MatchString(v.(string)) {
				t.Errorf("%s: %s %q is not a STIX timestamp", id, p, v)
			}
		}
	}
	identity := HubIdentityID("Z-CERT hub")
	if ids[identity] == nil {
		t.Fatalf("no identity %s", identity)
	}
	byID := map[string]bool{}
	for _, ind := range fixture() {
		o := ids["indicator--"+ind.ID]
		_, pat := stixPattern(&ind)
		if !pat {
			if o != nil {
				t.Errorf("%s has no STIX pattern but is in the bundle", ind.Type)
			}
			continue
		}
		byID[ind.ID] = true
		if o == nil {
			t.Errorf("no indicator--%s", ind.ID)
			continue
		}
		if o["created_by_ref"] != identity || o["pattern_type"] != "stix" || o["pattern_version"] != "2.1" {
			t.Errorf("%s: %v", ind.ID, o)
		}
		if o["created"].(string) > o["modified"].(string) {
			t.Errorf("%s: modified before created", ind.ID)
		}
		if vu, ok := o["valid_until"].(string); ok && vu <= o["valid_from"].(string) {
			t.Errorf("%s: valid_until not after valid_from", ind.ID)
		}
		if rv, _ := o["revoked"].(bool); rv != ind.Revoked {
			t.Errorf("%s: revoked %v", ind.ID, o["revoked"])
		}
		refs := o["object_marking_refs"].([]any)
		want := 2
		if ind.TLP == policy.AmberStrict {
			want = 1
		}
		if len(refs) != want {
			t.Errorf("%s (%s): marking refs %v", ind.ID, ind.TLP, refs)
		}
		for _, r := range refs {
			m := ids[r.(string)]
			if m == nil || m["type"] != "marking-definition" {
				t.Errorf("%s: marking %v not in the bundle", ind.ID, r)
			}
		}
		var types, labels []string
		for _, l := range ind.Labels {
			if indicatorTypes[l] {
				types = append(types, l)
			} else {
				labels = append(labels, l)
			}
		}
		if got := strs(o["indicator_types"]); !slices.Equal(got, types) {
			t.Errorf("%s: indicator_types %v, want %v", ind.ID, got, types)
		}
		if got := strs(o["labels"]); !slices.Equal(got, labels) {
			t.Errorf("%s: labels %v, want %v", ind.ID, got, labels)
		}
	}

	// The patterns read back, through the hub's own STIX importer, as the
	// values they were made from (a hostname comes back as a domain: STIX
	// has one domain-name object for both).
	es, ps, err := iocfile.Read(bytes.NewReader(out), iocfile.FormatSTIX)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range es {
		got[string(e.Type)+" "+e.Value] = true
	}
	for _, ind := range fixture() {
		if !byID[ind.ID] || ind.Revoked {
			continue
		}
		typ := ind.Type
		if typ == indicator.Hostname {
			typ = indicator.Domain
		}
		if !got[string(typ)+" "+ind.Value] {
			t.Errorf("%s %s did not read back (problems %v)", ind.Type, ind.Value, ps)
		}
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestSTIXPatternQuoting checks the escaping of quotes and backslashes in
// pattern string literals.
func TestSTIXPatternQuoting(t *testing.T) {
	ind := fixture()[3]
	ind.Value = `http://evil.example/it's\here`
	got, ok := stixPattern(&ind)
	if want := `[url:value = 'http://evil.example/it\'s\\here']`; !ok || got != want {
		t.Errorf("pattern %s, want %s", got, want)
	}
}

// TestSTIXTLPMarkings compares the marking definitions in the bundle with
// the official objects (OASIS cti-stix-common-objects for TLP 2.0, the
// STIX 2.1 predefined ones for TLP 1.0) kept in the workspace.
func TestSTIXTLPMarkings(t *testing.T) {
	dir := filepath.Join(sharedSTIX, "tlp")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not found: the reference TLP marking definitions are in the workspace's shared data only", dir)
	}
	official := map[string]any{}
	for _, f := range []string{"tlp2-markings-bundle.json", "tlp1-markings-bundle-stix21.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Objects []map[string]any `json:"objects"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		for _, o := range b.Objects {
			official[o["id"].(string)] = o
		}
	}
	out, _ := goldenCase{format: STIX}.export(t)
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(out, &bundle); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range bundle.Objects {
		if o["type"] != "marking-definition" && o["type"] != "extension-definition" {
			continue
		}
		n++
		id := o["id"].(string)
		a, _ := json.Marshal(o)
		b, _ := json.Marshal(official[id])
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the official object:\n got %s\nwant %s", id, a, b)
		}
	}
	if n != 1+5+4 {
		t.Errorf("%d marking and extension definitions, want 10", n)
	}
	// The ids themselves are checked against the official list in package
	// stix, where they come from.
}

// TestSTIXOnlyUsedMarkings checks that a bundle carries the marking
// definitions its indicators use, and no others.
func TestSTIXOnlyUsedMarkings(t *testing.T) {
	inds := fixture()[:1] // amber
	var buf bytes.Buffer
	if _, err := Write(&buf, STIX, seq(inds), testOptions()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.Contains(s, `"name":"TLP:AMBER"`) || strings.Contains(s, "TLP:GREEN") || strings.Contains(s, "TLP:RED") {
		t.Errorf("markings: %s", s)
	}
	buf.Reset()
	if _, err := Write(&buf, STIX, seq(nil), Options{Now: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(buf.Bytes(), &b); err != nil || len(asSlice(b["objects"])) != 1 {
		t.Errorf("empty bundle: %v %s", err, buf.String())
	}
}

// TestSTIXQuarantinedIndicator: a quarantined indicator is a version valid
// until its quarantine (its modified time), or its own valid_until when
// that came first, always after valid_from, and marked x_hdn_quarantined; a
// released one has its own valid_until (or none) and no mark.
func TestSTIXQuarantinedIndicator(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                  string
		quarantined           bool
		validFrom, validUntil time.Time
		want                  string // valid_until; "" none
	}{
		{"released", false, t0.Add(-time.Hour), time.Time{}, ""},
		{"released with its own", false, t0.Add(-time.Hour), t0.Add(time.Hour), "2026-11-27T11:00:00.000Z"},
		{"quarantined", true, t0.Add(-time.Hour), time.Time{}, "2026-11-27T10:00:00.000Z"},
		{"quarantined after its own", true, t0.Add(-time.Hour), t0.Add(-time.Minute), "2026-11-27T09:59:00.000Z"},
		{"quarantined before its own", true, t0.Add(-time.Hour), t0.Add(time.Hour), "2026-11-27T10:00:00.000Z"},
		{"quarantined before valid_from", true, t0.Add(time.Hour), time.Time{}, "2026-11-27T11:00:00.001Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ind := fixture()[0]
			ind.ID = "5a0b2b4e-8f3c-4d1e-9a7b-000000000001"
			ind.Created, ind.Modified = t0.Add(-2*time.Hour), t0
			ind.ValidFrom, ind.ValidUntil, ind.Quarantined = tc.validFrom, tc.validUntil, tc.quarantined
			raw, err := STIXIndicator(&ind, "test hub")
			if err != nil {
				t.Fatal(err)
			}
			var o struct {
				ValidFrom   string `json:"valid_from"`
				ValidUntil  string `json:"valid_until"`
				Revoked     bool   `json:"revoked"`
				Quarantined *bool  `json:"x_hdn_quarantined"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			if o.ValidUntil != tc.want || o.Revoked || (o.Quarantined != nil) != tc.quarantined || (o.Quarantined != nil && !*o.Quarantined) {
				t.Errorf("valid_until %q revoked %t x_hdn_quarantined %v; want %q, false, set %t", o.ValidUntil, o.Revoked, o.Quarantined, tc.want, tc.quarantined)
			}
			if o.ValidUntil != "" && o.ValidUntil <= o.ValidFrom {
				t.Errorf("valid_until %s not after valid_from %s", o.ValidUntil, o.ValidFrom)
			}
		})
	}
}
