package stixpattern

import (
	"reflect"
	"testing"
)

func TestComparisons(t *testing.T) {
	p, err := Parse("[a:b.'c-d'[*] NOT LIKE 'x%' AND e:f IN (1, 2)] FOLLOWEDBY [NOT EXISTS g:h OR i:j != 'k']")
	if err != nil {
		t.Fatal(err)
	}
	want := []Comparison{
		{Text: "a:b.'c-d'[*] NOT LIKE 'x%'", ObjectType: "a", Props: []string{"b", "c-d", "[*]"}, Op: "LIKE", Not: true, Constant: "string", Strings: []string{"x%"}},
		{Text: "e:f IN (1, 2)", ObjectType: "e", Props: []string{"f"}, Op: "IN", Constant: "number"},
		{Text: "NOT EXISTS g:h", ObjectType: "g", Props: []string{"h"}, Op: "EXISTS", Not: true},
		{Text: "i:j != 'k'", ObjectType: "i", Props: []string{"j"}, Op: "!=", Constant: "string", Strings: []string{"k"}},
	}
	if got := p.Comparisons(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for i, n := range []bool{true, false, true, true} {
		if got := p.Comparisons()[i].Negated(); got != n {
			t.Errorf("comparison %d: Negated %v", i, got)
		}
	}
}

func TestUnanchored(t *testing.T) {
	p, err := Parse("[a:b = 'x' AND (c:d = 'y' OR c:e = 'z')] AND [f:g = 'v' OR h:i = 'w']")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		anchor []bool
		obs    string
		loose  []int
	}{
		{anchor: []bool{true, false, false, true, true}},                                                                      // a:b anchors the first, both alternatives the second
		{anchor: []bool{false, true, false, true, true}, obs: "[a:b = 'x' AND (c:d = 'y' OR c:e = 'z')]", loose: []int{0, 2}}, // through a:b AND c:e
		{anchor: []bool{false, true, true, true, true}},                                                                       // c:d and c:e anchor either alternative
		{anchor: []bool{true, true, true, true, false}, obs: "[f:g = 'v' OR h:i = 'w']", loose: []int{4}},
	} {
		obs, loose, found := p.Unanchored(c.anchor)
		if found != (c.obs != "") || obs != c.obs || !reflect.DeepEqual(loose, c.loose) {
			t.Errorf("anchors %v: %q %v %v, want %q %v", c.anchor, obs, loose, found, c.obs, c.loose)
		}
	}
}
