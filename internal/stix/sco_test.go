package stix

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestDeterministicIDVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/sco-deterministic-ids.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Namespace string `json:"namespace"`
		Cases     []struct {
			Type       string         `json:"type"`
			Input      map[string]any `json:"input"`
			ExpectedID string         `json:"expected_id"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if file.Namespace != SCONamespace.String() {
		t.Fatalf("namespace %s, want %s", file.Namespace, SCONamespace)
	}
	if len(file.Cases) != 10 {
		t.Fatalf("%d cases, want 10", len(file.Cases))
	}
	for _, c := range file.Cases {
		sco := map[string]any{"type": c.Type, "spec_version": "2.1"}
		for k, v := range c.Input {
			sco[k] = v
		}
		got, err := DeterministicID(sco)
		if err != nil {
			t.Errorf("%s %v: %v", c.Type, c.Input, err)
			continue
		}
		if got != c.ExpectedID {
			t.Errorf("%s %v: got %s, want %s", c.Type, c.Input, got, c.ExpectedID)
		}
	}
}

func mustID(t *testing.T, sco map[string]any) string {
	t.Helper()
	id, err := DeterministicID(sco)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDeterministicIDRules(t *testing.T) {
	const sha256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
	const md5 = "cead3f77f6cda6ec00f57d76c9a6879f"
	// From the vectors.
	const fileSHA256 = "file--02c74237-f6bc-5e2e-bcbe-e9bf3d69ac64"
	const fileMD5 = "file--5f5847ab-09d0-5569-82ff-776824486136"
	const domain = "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"

	same := []struct {
		name string
		sco  map[string]any
		want string
	}{
		{"other properties do not contribute", map[string]any{"type": "domain-name", "value": "example.com",
			"id": "domain-name--00000000-0000-4000-8000-000000000000", "resolves_to_refs": []any{"ipv4-addr--x"},
			"defanged": true, "object_marking_refs": []any{"marking-definition--x"}}, domain},
		{"MD5 preferred over SHA-256 and SHA-512", map[string]any{"type": "file",
			"hashes": map[string]any{"SHA-256": sha256, "MD5": md5, "SHA-512": strings.Repeat("a", 128)}}, fileMD5},
		{"hash names normalised", map[string]any{"type": "file", "hashes": map[string]any{"sha256": sha256}}, fileSHA256},
		{"hash names normalised (no hyphen, upper)", map[string]any{"type": "file", "hashes": map[string]string{"SHA256": sha256}}, fileSHA256},
		{"typed hashes", map[string]any{"type": "file", "hashes": map[string]string{"SHA-256": sha256}}, fileSHA256},
		{"raw hashes", map[string]any{"type": "file", "hashes": json.RawMessage(`{"SHA-256":"` + sha256 + `"}`)}, fileSHA256},
		{"raw value elsewhere", map[string]any{"type": "file", "hashes": map[string]any{"SHA-256": sha256},
			"name": json.RawMessage(`"foo.exe"`)}, "file--e9779ddb-6076-5829-bd92-61c8a3689c0f"},
		{"null and empty list count as absent", map[string]any{"type": "file", "hashes": map[string]any{"SHA-256": sha256},
			"name": nil, "extensions": nil, "parent_directory_ref": nil}, fileSHA256},
		{"non-contributing file properties", map[string]any{"type": "file", "hashes": map[string]any{"SHA-256": sha256},
			"size": 42, "mime_type": "application/x-dosexec"}, fileSHA256},
	}
	for _, c := range same {
		if got := mustID(t, c.sco); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}

	// The contributing JSON is exactly the JCS form of the contributing
	// properties: check one by hand.
	nt := map[string]any{"type": "network-traffic", "src_ref": "ipv4-addr--1", "dst_ref": "ipv4-addr--2",
		"dst_port": 443, "protocols": []any{"ipv4", "tcp"}, "src_byte_count": 100}
	want := "network-traffic--" + uuid.NewSHA1(SCONamespace,
		[]byte(`{"dst_port":443,"dst_ref":"ipv4-addr--2","protocols":["ipv4","tcp"],"src_ref":"ipv4-addr--1"}`)).String()
	if got := mustID(t, nt); got != want {
		t.Errorf("network-traffic: got %s, want %s", got, want)
	}
	// A hash of another algorithm only: it alone contributes.
	f := map[string]any{"type": "file", "hashes": map[string]any{"tlsh": strings.Repeat("b", 70), "ssdeep": "3:a:b"}}
	want = "file--" + uuid.NewSHA1(SCONamespace, []byte(`{"hashes":{"SSDEEP":"3:a:b"}}`)).String()
	if got := mustID(t, f); got != want {
		t.Errorf("file with ssdeep and tlsh: got %s, want %s", got, want)
	}
	// Deterministic: same input, same id, whatever the map order.
	for range 20 {
		if got := mustID(t, map[string]any{"type": "x509-certificate", "serial_number": "01",
			"hashes": map[string]any{"SHA-1": "x", "SHA-256": "y"}, "issuer": "CN=x"}); got != mustID(t,
			map[string]any{"type": "x509-certificate", "hashes": map[string]any{"SHA-256": "y", "SHA-1": "x"}, "serial_number": "01"}) {
			t.Fatal("x509 id depends on map order or non-contributing properties")
		}
	}
}

func TestDeterministicIDRandom(t *testing.T) {
	cases := []map[string]any{
		{"type": "process", "pid": 1},                                    // no contributing properties at all
		{"type": "file", "size": 3, "mime_type": "text/plain"},           // none present
		{"type": "email-message", "is_multipart": false, "subject": nil}, // null is absent
		{"type": "x-custom-thing", "value": "a"},                         // not a STIX 2.1 type
	}
	for _, sco := range cases {
		a, b := mustID(t, sco), mustID(t, sco)
		if a == b {
			t.Errorf("%v: two calls gave the same id %s; want random", sco, a)
		}
		typ, u, ok := strings.Cut(a, "--")
		if !ok || typ != sco["type"] {
			t.Errorf("%v: id %s has the wrong type", sco, a)
			continue
		}
		if parsed, err := uuid.Parse(u); err != nil || parsed.Version() != 4 {
			t.Errorf("%v: %s is not a UUIDv4", sco, u)
		}
	}
}

func TestDeterministicIDErrors(t *testing.T) {
	cases := []struct {
		name string
		sco  map[string]any
	}{
		{"no type", map[string]any{"value": "example.com"}},
		{"type not a string", map[string]any{"type": 1, "value": "example.com"}},
		{"required value missing", map[string]any{"type": "domain-name"}},
		{"required number missing", map[string]any{"type": "autonomous-system", "name": "x"}},
		{"empty hashes", map[string]any{"type": "file", "hashes": map[string]any{}}},
		{"hashes not an object", map[string]any{"type": "file", "hashes": "md5"}},
	}
	for _, c := range cases {
		if _, err := DeterministicID(c.sco); !errors.Is(err, ErrInvalidSCO) {
			t.Errorf("%s: err = %v, want ErrInvalidSCO", c.name, err)
		}
	}
	if _, err := DeterministicID(map[string]any{"type": "url", "value": "a\xff"}); !errors.Is(err, ErrNotCanonicalizable) {
		t.Errorf("invalid UTF-8: err = %v, want ErrNotCanonicalizable", err)
	}
}

func TestContributingProperties(t *testing.T) {
	cases := map[string]string{
		"domain-name":          "value",
		"ipv4-addr":            "value",
		"url":                  "value",
		"email-addr":           "value",
		"file":                 "hashes,name,extensions,parent_directory_ref",
		"x509-certificate":     "hashes,serial_number",
		"autonomous-system":    "number",
		"network-traffic":      "start,end,src_ref,dst_ref,src_port,dst_port,protocols,extensions",
		"software":             "name,cpe,swid,vendor,version",
		"user-account":         "account_type,user_id,account_login",
		"windows-registry-key": "key,values",
		"artifact":             "hashes,payload_bin",
		"email-message":        "from_ref,subject,body",
		"process":              "",
		"indicator":            "",
		"x-custom":             "",
	}
	for typ, want := range cases {
		if got := strings.Join(ContributingProperties(typ), ","); got != want {
			t.Errorf("%s: got %q, want %q", typ, got, want)
		}
	}
	// The result is the caller's.
	p := ContributingProperties("url")
	p[0] = "changed"
	if ContributingProperties("url")[0] != "value" {
		t.Error("ContributingProperties returned shared state")
	}
}

func BenchmarkDeterministicID(b *testing.B) {
	sco := map[string]any{"type": "file", "name": "foo.exe", "size": 1024,
		"hashes": map[string]any{"SHA-256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f",
			"MD5": "cead3f77f6cda6ec00f57d76c9a6879f"}}
	for b.Loop() {
		if _, err := DeterministicID(sco); err != nil {
			b.Fatal(err)
		}
	}
}
