package warninglist

import (
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// TestScreen: a plain value is screened as Check screens it; a STIX pattern
// by the values it pins down, refusing hits first and each entry once, the
// refusal naming the value in the pattern and its type; a nil set and a
// pattern that does not parse have no hits.
func TestScreen(t *testing.T) {
	s := mustSet(t,
		mustParse(t, listFile("popular", "hostname", nil, "popular.example"), Flag),
		mustParse(t, listFile("benign", "hostname", nil, "benign.example"), Refuse),
	)
	for _, tc := range []struct {
		t                indicator.Type
		value            string
		want             string // hits(...)
		refused, inPatOf string // the refusal's value and InPattern ("" none)
	}{
		{indicator.Domain, "a.benign.example", "benign:refuse:benign.example", "a.benign.example", ""},
		{indicator.Domain, "a.popular.example", "popular:flag:popular.example", "", ""},
		{indicator.Domain, "evil.example", "", "", ""},
		{indicator.STIXPattern, "[domain-name:value = 'x.popular.example'] OR [domain-name:value = 'popular.example' OR domain-name:value = 'www.benign.example']",
			"benign:refuse:benign.example popular:flag:popular.example", "www.benign.example", "domain"},
		{indicator.STIXPattern, "[domain-name:value = 'evil.example']", "", "", ""},
		{indicator.STIXPattern, "not a pattern", "", "", ""},
	} {
		hs, r := s.Screen(tc.t, tc.value)
		gotRefused, gotIn := "", ""
		if r != nil {
			gotRefused, gotIn = r.Value, string(r.InPattern)
			if r.Hit != hs[0] {
				t.Errorf("Screen(%s, %q): refusal %+v is not the first hit %+v", tc.t, tc.value, r.Hit, hs[0])
			}
		}
		if got := hits(hs); got != tc.want || gotRefused != tc.refused || gotIn != tc.inPatOf {
			t.Errorf("Screen(%s, %q) = %q, refusal %q in %q; want %q, %q in %q", tc.t, tc.value, got, gotRefused, gotIn, tc.want, tc.refused, tc.inPatOf)
		}
	}
	var none *Set
	if hs, r := none.Screen(indicator.Domain, "a.benign.example"); hs != nil || r != nil {
		t.Errorf("a nil set: %v %v", hs, r)
	}
}
