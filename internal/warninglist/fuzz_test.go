package warninglist

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// probeValues are values of every type that the fuzz targets try on the
// sets they build.
var probeValues = []struct {
	t indicator.Type
	v string
}{
	{indicator.IPv4, "10.1.2.3"}, {indicator.IPv6, "2001:db8::1"}, {indicator.CIDR, "10.0.0.0/8"},
	{indicator.Domain, "a.example.com"}, {indicator.URL, "https://a.example.com/x?y"},
	{indicator.URL, "http://[::1]/"}, {indicator.Email, "x@a.example.com"},
	{indicator.MD5, "d41d8cd98f00b204e9800998ecf8427e"}, {indicator.JA4, "t13d1516h2_8daaf6152771_b186095e22b6"},
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rfc1918", "empty-hashes", "url-shortener", "reserved-ranges", "hosting-zones", "sinkholes"} {
		b, err := shippedFiles.ReadFile("lists/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(listFile("r", "regex", []string{"url"}, `/^https?:\/\/[^/]+\/wp-/i`, `#x#`, `(a|b)*c`))
	f.Add(listFile("s", "substring", nil, "login", "/"))
	f.Add(listFile("c", "cidr", nil, "::ffff:10.0.0.0/104", "0.0.0.0/0", "::/0", "1.2.3.4"))
	f.Add(listFile("h", "hostname", []string{"email-src", "domain|ip"}, "*.x", ".y.z", "Ü.example."))
	f.Add([]byte(`{"name":"x","type":"string","list":["a"],"matching_attributes":null,"version":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data, Refuse)
		if err != nil {
			if l != nil {
				t.Fatal("Parse returned a list and an error")
			}
			return
		}
		l.Delegates = l.Type == typeHostname
		s, err := NewSet(l)
		if err != nil {
			t.Fatalf("NewSet of a parsed list: %v", err)
		}
		for _, p := range probeValues {
			checkHits(t, s, p.t, p.v)
		}
		_ = s.Lists()
	})
}

// fuzzSet has a list of every type, a delegating one among them, on top of
// the shipped lists.
func fuzzSet(t testing.TB) *Set {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	dyn := mustParse(t, listFile("fz-dyn", "hostname", nil, ".dyn.example", "google.com"), Flag)
	dyn.Delegates = true
	s, err = s.With(
		dyn,
		mustParse(t, listFile("fz-str", "string", nil, "Exact", "https://x.example/A", "a@b.example"), Refuse),
		mustParse(t, listFile("fz-sub", "substring", nil, "login", "/wp-"), Flag),
		mustParse(t, listFile("fz-re", "regex", nil, `/^[0-9a-f]{32}$/`, `(?i)paypa1`), Flag),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func FuzzCheck(f *testing.F) {
	s := fuzzSet(f)
	for i, p := range probeValues {
		f.Add(uint8(i), p.v)
	}
	for i, v := range []string{"", ".", "..", "@", "a@", "@b", "://", "http://", "http://[", "http://[]/", "http://:80/",
		"x.dyn.example", "dyn.example", "mail.google.com", "https://docs.google.com/forms/x", "8.8.8.8/8", "::ffff:8.8.8.8",
		"fe80::1%eth0", "HTTP://WWW.GOOGLE.COM/", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.com"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, ti uint8, v string) {
		typ := indicator.Type("unknown")
		if int(ti) < len(indicator.Types) {
			typ = indicator.Types[ti]
		}
		checkHits(t, s, typ, v)
	})
}

// checkHits runs Check and tests what every result must satisfy: valid
// kinds, refuse hits first, each list at most once, entries of the list.
func checkHits(t *testing.T, s *Set, typ indicator.Type, v string) {
	t.Helper()
	hs := s.Check(typ, v)
	if hs != nil && len(hs) == 0 {
		t.Fatalf("Check(%s, %q) returned an empty non-nil slice", typ, v)
	}
	seen := map[string]bool{}
	flagged := false
	for _, h := range hs {
		switch h.Kind {
		case Refuse:
			if flagged {
				t.Fatalf("Check(%s, %q): a refuse hit after a flag hit: %v", typ, v, hs)
			}
		case Flag:
			flagged = true
		default:
			t.Fatalf("Check(%s, %q): kind %q", typ, v, h.Kind)
		}
		if seen[h.List] {
			t.Fatalf("Check(%s, %q): list %q named twice: %v", typ, v, h.List, hs)
		}
		seen[h.List] = true
		if h.Entry == "" {
			t.Fatalf("Check(%s, %q): empty entry: %v", typ, v, hs)
		}
	}
}
