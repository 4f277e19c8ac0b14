package indicator

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRefang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hxxp://evil[.]com/a", "http://evil.com/a"},
		{"hxxps://evil[.]com", "https://evil.com"},
		{"hXXp://evil(.)com", "http://evil.com"},
		{"HXXPS[://]evil{.}com", "https://evil.com"},
		{"hxxp[:]//evil[dot]com", "http://evil.com"},
		{"fxp://files(dot)evil[.]com", "ftp://files.evil.com"},
		{"FXP[://]x[.]y", "ftp://x.y"},
		{"192[.]0[.]2[.]1", "192.0.2.1"},
		{"2001[:]db8[:][:]1", "2001:db8::1"},
		{"user[at]example[.]com", "user@example.com"},
		{"user(at)example(DOT)com", "user@example.com"},
		{"user[@]example.com", "user@example.com"},
		{"user[AT]example[Dot]com", "user@example.com"},
		{"  example[.]com\n", "example.com"},
		{"see hxxp://a[.]b and hxxps://c[.]d", "see http://a.b and https://c.d"},
		{"http://a.com/?u=hxxp://b[.]com", "http://a.com/?u=http://b.com"},
		{"example[[.]]com", "example[.]com"}, // one layer per call
		// Not defanged: left alone.
		{"http://[2001:db8::1]:80/", "http://[2001:db8::1]:80/"},
		{"[::1]", "[::1]"},
		{"hxxpool.example.com", "hxxpool.example.com"},
		{"www.hxxp.example", "www.hxxp.example"},
		{"a.fxp://x", "a.fxp://x"},
		{"shxxp://x", "shxxp://x"},
		{"hxxp", "hxxp"},
		{"hxxp:x", "hxxp:x"},
		{"(a)[b]{c}", "(a)[b]{c}"},
		{"[", "["},
		{"example.com", "example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Refang(tt.in); got != tt.want {
			t.Errorf("Refang(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRefangNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Refang(" http://example.com/a(b)[c] ") }); n != 0 {
		t.Errorf("%v allocations for a value that is not defanged", n)
	}
}

func FuzzRefang(f *testing.F) {
	for _, s := range []string{"hxxp://evil[.]com", "a[dot]b(at)c{.}d", "hXXps[://]x[:]1", "fxp[:]//x", "[[.]]", "h", "[", "(do", "x[://]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := Refang(in)
		if utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("Refang(%q) = %q is not valid UTF-8", in, got)
		}
		if len(got) > len(strings.TrimSpace(in)) {
			t.Fatalf("Refang(%q) = %q grew", in, got)
		}
		if !strings.ContainsAny(in, "[({xX") && got != strings.TrimSpace(in) {
			t.Fatalf("Refang(%q) = %q changed a value that is not defanged", in, got)
		}
	})
}
