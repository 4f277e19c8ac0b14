package api

import (
	"strings"
	"testing"
)

// The MISP text and hashes formats write one value a line. A stored value
// with a Unicode line break (an email local part accepted before the
// canonical form refused it) is left out, so that no reader that splits on
// Unicode line breaks or on whitespace reads "0.0.0.0/0" out of it.
func TestMISPOneLine(t *testing.T) {
	for _, v := range []string{
		"x\u20290.0.0.0/0\u2029y@mail-phish.xyz",
		"x\u20280.0.0.0/0@mail-phish.xyz",
		"x\u00850.0.0.0/0\u0085y@mail-phish.xyz",
		"x\x1e0.0.0.0/0@mail-phish.xyz",
		"x\r\n0.0.0.0/0@mail-phish.xyz",
		"x\x000.0.0.0/0@mail-phish.xyz",
	} {
		if got := oneLine(v); got != "" {
			t.Errorf("oneLine(%q) = %q, want it left out", v, got)
		}
	}
	for _, v := range []string{"jörg@example.com", "http://evil.example/a?b=c%20d", "2001:db8::1"} {
		if got := oneLine(v); got != v {
			t.Errorf("oneLine(%q) = %q, want it unchanged", v, got)
		}
	}
}

// Labels and tags refuse C1 controls, line and paragraph separators and
// bidirectional controls, as they refuse C0 controls.
func TestCheckWordsControls(t *testing.T) {
	for _, w := range []string{"phish\u0085ing", "phish\u2028ing", "phish\u2029ing", "phish\u009bing", "gnihsihp\u202e", "a\u2066b", "a\u200fb", "tab\tbed"} {
		_, err := checkWords("labels", []string{"ok", w}, 10, 64, true)
		if err == nil {
			t.Errorf("checkWords(%q) accepted it", w)
			continue
		}
		if !strings.Contains(err.Error(), "labels entry") || !strings.Contains(err.Error(), "contains a control character (U+") {
			t.Errorf("checkWords(%q): error %q does not say what and where", w, err)
		}
	}
	got, err := checkWords("tags", []string{"Ransomware", "🏥 hôpital", "tlp:amber"}, 10, 64, false)
	if err != nil || len(got) != 3 {
		t.Errorf("checkWords of ordinary tags: %q, %v", got, err)
	}
}
