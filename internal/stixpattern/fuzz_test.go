package stixpattern

import (
	"encoding/json"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	var v struct {
		Cases []validatorCase `json:"cases"`
	}
	if data, err := os.ReadFile("testdata/stix2-pattern-validator-cases.json"); err == nil && json.Unmarshal(data, &v) == nil {
		for _, c := range v.Cases {
			f.Add(c.Pattern)
		}
	}
	f.Add("([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS")
	f.Add("[a:'x y'[-1].z NOT IN (h'00', b'AA==')] START '2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse(%q): error %T is not a *ParseError", s, err)
			}
			return
		}
		canon := p.String()
		q, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q fails: %v", s, canon, err)
		}
		if q.String() != canon {
			t.Fatalf("String not stable: %q -> %q -> %q", s, canon, q.String())
		}
		p.Simple()
		p.ObjectTypes()
	})
}

func FuzzMatch(f *testing.F) {
	var v struct {
		Sets  map[string]json.RawMessage `json:"observation_sets"`
		Cases []matcherCase              `json:"cases"`
	}
	if data, err := os.ReadFile("testdata/stix2-pattern-matcher-cases.json"); err == nil && json.Unmarshal(data, &v) == nil {
		for i, c := range v.Cases {
			if i%7 == 0 { // a spread of the cases keeps the seed corpus small
				f.Add(c.Pattern, string(v.Sets[c.Observations]))
			}
		}
	}
	f.Add("[file:size = 1024] REPEATS 3 TIMES", obs21)
	f.Fuzz(func(t *testing.T, pattern, observations string) {
		p, err := Parse(pattern)
		if err != nil {
			return
		}
		obs, err := DecodeObservations([]byte(observations))
		if err != nil {
			return
		}
		got, gerr := p.Match(obs)
		// Matching is deterministic, and the printed pattern means the same.
		if again, aerr := p.Match(obs); again != got || (aerr == nil) != (gerr == nil) {
			t.Fatalf("%q: matched %v (%v), then %v (%v)", pattern, got, gerr, again, aerr)
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", pattern, p.String(), err)
		}
		if printed, perr := q.Match(obs); printed != got || (perr == nil) != (gerr == nil) {
			t.Fatalf("%q matched %v (%v); printed as %q it matched %v (%v)", pattern, got, gerr, p.String(), printed, perr)
		}
	})
}
