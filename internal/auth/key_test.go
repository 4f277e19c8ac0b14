package auth

import (
	"strings"
	"testing"
)

func TestNewKeyRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		plain, id, hash := NewKey()
		if seen[plain] {
			t.Fatalf("key repeated: %s", plain)
		}
		seen[plain] = true
		gotID, secret, err := Parse(plain)
		if err != nil {
			t.Fatalf("Parse(%q): %v", plain, err)
		}
		if gotID != id {
			t.Fatalf("id %q, want %q", gotID, id)
		}
		if !Verify(hash, secret) {
			t.Fatal("Verify rejects the key's own secret")
		}
		if strings.Contains(string(hash), secret) {
			t.Fatal("hash contains the secret")
		}
	}
}

func TestVerifyRejectsOtherSecrets(t *testing.T) {
	_, _, hash := NewKey()
	other, _, _ := NewKey()
	_, secret, _ := Parse(other)
	if Verify(hash, secret) {
		t.Fatal("Verify accepted another key's secret")
	}
	if Verify(hash, "") {
		t.Fatal("Verify accepted an empty secret")
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	plain, _, _ := NewKey()
	for _, s := range []string{"", "hdn_", "Bearer x", plain[:len(plain)-1], plain + "a", strings.Replace(plain, "_", "-", -1), "xyz_" + plain[4:]} {
		if _, _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted a malformed key", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	plain, _, _ := NewKey()
	f.Add(plain)
	f.Add("hdn_abc_def")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := Parse(s)
		if err == nil && prefix+id+"_"+secret != s {
			t.Fatalf("Parse(%q) = %q, %q does not rebuild the input", s, id, secret)
		}
	})
}
