package api

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestParseMISPFilter(t *testing.T) {
	for _, tc := range []struct {
		in           string
		or, and, not []string
		err          bool
	}{
		{in: `"a"`, or: []string{"a"}},
		{in: `"!a"`, not: []string{"a"}},
		{in: `"a||b||!c"`, or: []string{"a", "b"}, not: []string{"c"}},
		{in: `"a&&b&&!c"`, and: []string{"a", "b"}, not: []string{"c"}},
		{in: `12`, or: []string{"12"}},
		{in: `["a", "!b", 3]`, or: []string{"a", "3"}, not: []string{"b"}},
		{in: `{"OR": ["a"], "and": "b", "NOT": ["c"]}`, or: []string{"a"}, and: []string{"b"}, not: []string{"c"}},
		{in: `{"OR": ["!a"]}`, not: []string{"a"}},
		{in: `"  "`},
		{in: `{"XOR": ["a"]}`, err: true},
		{in: `[{"a": 1}]`, err: true},
		{in: `true`, or: []string{"1"}},
	} {
		f, err := parseMISPFilter(json.RawMessage(tc.in))
		if tc.err {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !slices.Equal(f.OR, tc.or) || !slices.Equal(f.AND, tc.and) || !slices.Equal(f.NOT, tc.not) {
			t.Errorf("%s: OR %q AND %q NOT %q", tc.in, f.OR, f.AND, f.NOT)
		}
	}
}

func TestMISPFilterMatch(t *testing.T) {
	has := func(set ...string) func(string) bool {
		return func(t string) bool { return slices.Contains(set, t) }
	}
	f := &mispFilter{OR: []string{"a", "b"}, NOT: []string{"c"}}
	for _, tc := range []struct {
		set  []string
		want bool
	}{{[]string{"a"}, true}, {[]string{"b", "x"}, true}, {[]string{"a", "c"}, false}, {[]string{"x"}, false}} {
		if got := f.match(has(tc.set...)); got != tc.want {
			t.Errorf("%v: %v", tc.set, got)
		}
	}
	and := &mispFilter{AND: []string{"a", "b"}}
	if !and.match(has("a", "b")) || and.match(has("a")) {
		t.Error("AND")
	}
	var none *mispFilter
	if !none.match(has()) {
		t.Error("no filter must match everything")
	}
}

func TestLikeMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"abc", "ABC", true}, {"%bc", "abc", true}, {"a%", "abc", true}, {"%b%", "abc", true},
		{"a%c", "abbbc", true}, {"a%c", "abcd", false}, {"%x%", "abc", false}, {"a%b%c", "acb", false}, {"%", "", true},
	} {
		if got := likeMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("likeMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestMISPTime(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "1764237600", want: time.Unix(1764237600, 0).UTC()},
		{in: "5d", want: now.Add(-5 * 24 * time.Hour)},
		{in: "12h", want: now.Add(-12 * time.Hour)},
		{in: "30m", want: now.Add(-30 * time.Minute)},
		{in: "2w", want: now.Add(-14 * 24 * time.Hour)},
		{in: "2026-01-02", want: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{in: "2026-01-02T03:04:05Z", want: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{in: "yesterday", err: true},
		{in: "5y", err: true},
		{in: "-5", err: true},
		{in: "", err: true},
	} {
		got, err := mispTime(tc.in, now)
		if tc.err != (err != nil) || !got.Equal(tc.want) {
			t.Errorf("%q: %v, %v", tc.in, got, err)
		}
	}
}

func TestMISPNumericID(t *testing.T) {
	a, b := mispNumericID("39049dc3-df40-408d-9d87-9bec7025f959"), mispNumericID("39049dc3-df40-408d-9d87-9bec7025f95a")
	if a == b || a != mispNumericID("39049dc3-df40-408d-9d87-9bec7025f959") || len(a) > 10 || a == "0" {
		t.Errorf("ids %s %s", a, b)
	}
	if mispNumericID("") != "" {
		t.Error("an empty key has no id")
	}
}

// FuzzMISPParams feeds request bodies to the parameter and filter parsers:
// they must not panic, and a filter they accept stays within its bounds.
func FuzzMISPParams(f *testing.F) {
	for _, s := range []string{
		`{"value": "a||b", "tags": ["!x", "y"], "limit": 10, "page": "2", "last": "5d", "to_ids": "1"}`,
		`{"request": {"type": {"OR": ["md5"], "NOT": "sha1"}}}`,
		`{"timestamp": ["1d", null], "from": "2026-01-02", "published": true}`,
		`[]`, `null`, `{"tags": {"AND": [1, 2]}}`, `{"value": "%a%b%"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseMISPParams(b)
		if err != nil {
			return
		}
		for k := range p {
			if fl, err := p.filter(k); err == nil && fl != nil {
				if n := len(fl.OR) + len(fl.AND) + len(fl.NOT); n > maxFilterTerms {
					t.Fatalf("%d terms", n)
				}
				fl.match(func(term string) bool { return likeMatch(term, "value") })
			}
			_, _, _ = p.boolean(k)
			_, _, _ = p.integer(k)
			_, _, _ = p.timeRange(k, now)
		}
		_, _ = readPaging(p)
		_, _ = readFormat(p)
	})
}
