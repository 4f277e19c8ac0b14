package match

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

var urlSamples = []string{
	"http://evil.example/", "http://evil.example", "HTTP://Evil.Example/A/B?C=D", "https://evil.example:443/x",
	"http://evil.example:80/x", "http://evil.example:8080/x", "http://evil.example:08080/x", "http://evil.example:/x",
	"http://evil.example/a/../b", "http://evil.example/a/./b", "http://evil.example/%7Euser", "http://evil.example/%2f",
	"http://evil.example/%2F", "http://evil.example/a%20b", "http://evil.example/a b", "http://evil.example/a?",
	"http://evil.example/a?b#c", "http://evil.example/a#c d", "http://evil.example/(.)x", "http://evil.example/x?u=hxxp://y",
	"http://user@evil.example/", "http://[2001:db8::1]/", "http://1.2.3.4/", "http://01.2.3.4/", "http://2130706433/",
	"http://0x7f.1/", "http://xn--bcher-kva.example/", "http://bücher.example/", "http://evil.example./",
	"http://a..b/", "http://-a.example/", "http://a_b.example/", "http://evil.example\\x", "ftp://evil.example/",
	"http://evil.example/a\x01", "http://evil.example/é", "http://evil.example/%", "http://evil.example/%zz",
	"http://evil.example/%41", "http://evil.example/%3a", "http://evil.example/?a=%3A&b=%7e",
	"http://" + string(make([]byte, 300)) + "/", "http://1.2.3/", "http://a.1/", "http://256.1.1.1/",
	"http://evil.example/[x]", "http://evil.example/{x}", "http://evil.example/a;b=c,d/e:f@g!$&'*+",
}

// TestCanonicalURLFastPath holds the allocation-free canonicalisation to
// indicator.Canonicalize: whenever it answers, it gives the same result.
func TestCanonicalURLFastPath(t *testing.T) {
	fast := 0
	for _, u := range urlSamples {
		if checkCanonicalURL(t, u) {
			fast++
		}
	}
	if fast < 12 {
		t.Errorf("only %d of %d samples took the fast path", fast, len(urlSamples))
	}
}

func checkCanonicalURL(t *testing.T, u string) bool {
	t.Helper()
	got, ok := appendCanonicalURL(nil, []byte(u))
	if !ok {
		return false
	}
	want, err := indicator.Canonicalize(indicator.URL, u)
	if err != nil {
		t.Fatalf("fast path accepted %q, Canonicalize refuses it: %v", u, err)
	}
	if string(got) != want {
		t.Fatalf("fast path: %q -> %q, Canonicalize: %q", u, got, want)
	}
	return true
}

func FuzzCanonicalURL(f *testing.F) {
	for _, u := range urlSamples {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		checkCanonicalURL(t, u)
	})
}
