package score

import (
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// TestCompute: every expected value is worked out by hand in its comment
// from the formula of Compute (docs/SIGNAL.md).
func TestCompute(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, c := range []struct {
		name    string
		p       Params
		f       Facts
		score   int
		base    int
		expired bool
		reason  string // a reason that must be given
	}{
		// 70, no age.
		{name: "fresh", f: Facts{Type: indicator.Domain, Stated: 70, Active: now}, score: 70, base: 70, reason: "stated confidence 70"},
		// A domain's half-life is 60 days: 70 × ½ = 35.
		{name: "domain one half-life", f: Facts{Type: indicator.Domain, Stated: 70, Active: ago(60 * Day)}, score: 35, base: 70, reason: "half-life 60d"},
		// Addresses halve every 14 days: 80 × ¼ = 20.
		{name: "ipv4 two half-lives", f: Facts{Type: indicator.IPv4, Stated: 80, Active: ago(28 * Day)}, score: 20, base: 80},
		// 80 × 1/16 = 5, under the floor of 10: expired.
		{name: "ipv4 expired by decay", f: Facts{Type: indicator.IPv4, Stated: 80, Active: ago(56 * Day)}, score: 5, base: 80, expired: true, reason: "expired by decay"},
		// Hashes halve yearly: 50 × ½ = 25.
		{name: "sha256 a year", f: Facts{Type: indicator.SHA256, Stated: 50, Active: ago(365 * Day)}, score: 25, base: 50},
		// 100 × ½^1.5 = 35.36 → 35.
		{name: "one and a half half-lives", f: Facts{Type: indicator.Domain, Stated: 100, Active: ago(90 * Day)}, score: 35, base: 100},
		// R = (8+1)/(8+0+2) = 0.9; round(0.4 × 40) = +16; 50 + 16 = 66.
		{name: "good source", f: Facts{Type: indicator.Domain, Stated: 50, Source: Record{Confirmed: 8}, Active: now}, score: 66, base: 66, reason: "source track record +16"},
		// R = 1/10 = 0.1; round(−0.4 × 40) = −16; 50 − 16 = 34.
		{name: "poor source", f: Facts{Type: indicator.Domain, Stated: 50, Source: Record{FalsePositive: 8}, Active: now}, score: 34, base: 34, reason: "source track record -16"},
		// R = (1+1)/(1+1+2) = 0.5: no adjustment, no reason.
		{name: "even source", f: Facts{Type: indicator.Domain, Stated: 50, Source: Record{Confirmed: 1, FalsePositive: 1}, Active: now}, score: 50, base: 50},
		// 3 sightings: +15.
		{name: "sighted by three", f: Facts{Type: indicator.URL, Stated: 60, Sightings: 3, Active: now}, score: 75, base: 75, reason: "sighted by 3 other organisations +15"},
		// 6 sightings: +30, capped at +20.
		{name: "sighting bonus capped", f: Facts{Type: indicator.URL, Stated: 60, Sightings: 6, Active: now}, score: 80, base: 80},
		// Two false-positive reports: −50.
		{name: "two false positives", f: Facts{Type: indicator.Domain, Stated: 70, FalsePositives: 2, Active: now}, score: 20, base: 20, reason: "false positive reported by 2 organisations -50"},
		// 95 + 18 (R = 21/22, round(0.4545 × 40) = 18) + 20 = 133 → 100.
		{name: "clamped at 100", f: Facts{Type: indicator.SHA256, Stated: 95, Source: Record{Confirmed: 20}, Sightings: 4, Active: now}, score: 100, base: 100},
		// 10 − 75 → 0: expired.
		{name: "clamped at 0", f: Facts{Type: indicator.Domain, Stated: 10, FalsePositives: 3, Active: now}, score: 0, base: 0, expired: true},
		// Phishing infrastructure halves weekly: 70 × ½ = 35.
		{name: "phishing label", f: Facts{Type: indicator.Domain, Labels: []string{"Phishing"}, Stated: 70, Active: ago(7 * Day)}, score: 35, base: 70, reason: "half-life 7d"},
		// A configured label half-life (3 days for c2): 80 × ½ = 40.
		{name: "configured label", p: Params{LabelHalfLives: map[string]time.Duration{"c2": 3 * Day}}, f: Facts{Type: indicator.IPv4, Labels: []string{"c2"}, Stated: 80, Active: ago(3 * Day)}, score: 40, base: 80},
		// A configured type half-life (ipv4 7 days): 80 × ¼ = 20.
		{name: "configured type", p: Params{HalfLives: map[indicator.Type]time.Duration{indicator.IPv4: 7 * Day}}, f: Facts{Type: indicator.IPv4, Stated: 80, Active: ago(14 * Day)}, score: 20, base: 80},
		// Quarantined: 0, and not "expired": it waits for the coordinator.
		{name: "quarantined", f: Facts{Type: indicator.Domain, Stated: 90, Quarantined: true, Active: now}, score: 0, base: 90, reason: "quarantined"},
		// A floor of 40: 70 × ½ = 35 is under it.
		{name: "configured floor", p: Params{Floor: 40}, f: Facts{Type: indicator.Domain, Stated: 70, Active: ago(60 * Day)}, score: 35, base: 70, expired: true},
		// A last activity in the future (clock skew) does not inflate.
		{name: "future activity", f: Facts{Type: indicator.Domain, Stated: 70, Active: now.Add(Day)}, score: 70, base: 70},
	} {
		c.f.Now = now
		r := Compute(c.p, c.f)
		if r.Score != c.score || r.Base != c.base || r.Expired != c.expired {
			t.Errorf("%s: score %d base %d expired %v, want %d %d %v (%v)", c.name, r.Score, r.Base, r.Expired, c.score, c.base, c.expired, r.Reasons)
		}
		if c.reason != "" && !strings.Contains(strings.Join(r.Reasons, "; "), c.reason) {
			t.Errorf("%s: reasons %q lack %q", c.name, r.Reasons, c.reason)
		}
	}
}

func TestHalfLifeEveryType(t *testing.T) {
	for _, typ := range indicator.Types {
		if _, ok := DefaultHalfLives[typ]; !ok {
			t.Errorf("no default half-life for %s", typ)
		}
	}
	// Addresses decay faster than names, names faster than hashes.
	p := Params{}
	if !(p.HalfLife(indicator.IPv4, nil) < p.HalfLife(indicator.Domain, nil) && p.HalfLife(indicator.Domain, nil) < p.HalfLife(indicator.SHA256, nil)) {
		t.Error("half-lives are not ordered addresses < domains < hashes")
	}
	// The shortest label wins.
	p = Params{LabelHalfLives: map[string]time.Duration{"a": 5 * Day, "b": 2 * Day}}
	if got := p.HalfLife(indicator.SHA256, []string{"a", "b"}); got != 2*Day {
		t.Errorf("label half-life %v", got)
	}
}
