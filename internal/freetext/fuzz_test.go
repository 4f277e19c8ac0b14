package freetext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzExtract checks that Extract never panics, refuses only invalid UTF-8,
// and that every candidate holds the invariants of checkCandidates: its
// value canonicalises to itself for its type and its Raw is at its Offset.
// The seeds are the golden samples, cut into lines and whole.
func FuzzExtract(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
		for line := range strings.Lines(string(data)) {
			f.Add(line)
		}
	}
	for _, s := range []string{
		"hxxp[://]a[.]b", "[[.]]", "a [.] [.] b", "x AT y DOT z", "(.)(.)", "http://[", "::", "1.2.3.4/",
		"a@b@c.com", "evil\\.com\\.", "meows[://]x", "[/][/]", "&quot;http://a.com&quot;", "\u00a0[.]\u00a0",
		"0x" + md5Hex, colonHex(sha256Hex) + ":", "http://a.com/(((", "访问evil.com获取",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cs, err := Extract(text, Options{MaxCandidates: 50})
		if err != nil {
			if utf8.ValidString(text) {
				t.Fatalf("valid text refused: %v", err)
			}
			return
		}
		if !utf8.ValidString(text) {
			t.Fatal("invalid UTF-8 accepted")
		}
		if len(cs) > 50 {
			t.Fatalf("%d candidates, limit 50", len(cs))
		}
		checkCandidates(t, text, cs)
	})
}
