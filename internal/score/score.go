// Package score gives each indicator a confidence score, 0–100, with the
// reasons for it: from the confidence its source stated, the source
// organisation's track record, independent sightings and false-positive
// reports, decayed by age at a rate that depends on the indicator's type
// (addresses fast, domains slower, hashes slowest) or, where configured, its
// label. An indicator whose score falls under a floor has expired by decay.
// It is pure: the hub gathers the facts, this package weighs them
// (docs/SIGNAL.md).
package score

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Day is 24 hours.
const Day = 24 * time.Hour

// DefaultHalfLives are how long each type takes to lose half its score
// without new activity: infrastructure moves fast (an address is
// reassigned within weeks), names slower, file hashes never change meaning.
var DefaultHalfLives = map[indicator.Type]time.Duration{
	indicator.IPv4: 14 * Day, indicator.IPv6: 14 * Day, indicator.CIDR: 14 * Day,
	indicator.URL:    30 * Day,
	indicator.Domain: 60 * Day, indicator.Hostname: 60 * Day, indicator.Email: 60 * Day,
	indicator.JA3: 90 * Day, indicator.JA3S: 90 * Day, indicator.JA4: 90 * Day,
	indicator.STIXPattern: 90 * Day,
	indicator.X509SHA1:    180 * Day, indicator.X509SHA256: 180 * Day,
	indicator.MD5: 365 * Day, indicator.SHA1: 365 * Day, indicator.SHA256: 365 * Day, indicator.SHA512: 365 * Day,
}

// DefaultLabelHalfLives override the type's half-life for indicators with
// these labels (the shortest applies): phishing infrastructure is taken
// down within days.
var DefaultLabelHalfLives = map[string]time.Duration{
	"phishing": 7 * Day,
}

// DefaultFloor is the score under which an indicator has expired by decay.
const DefaultFloor = 10

// Params are the weights. The zero value means the defaults.
type Params struct {
	HalfLives      map[indicator.Type]time.Duration // missing types: DefaultHalfLives
	LabelHalfLives map[string]time.Duration         // nil: DefaultLabelHalfLives
	Floor          int                              // 0: DefaultFloor
}

// Record is a source organisation's track record: of what it shared,
// how much another organisation sighted, and how much was reported false
// positive by another organisation or quarantined.
type Record struct {
	Confirmed     int
	FalsePositive int
}

// Facts are what a score is made of.
type Facts struct {
	Type   indicator.Type
	Labels []string
	// Stated is the confidence the source gave (0–100).
	Stated int
	// Source is the source's track record, not counting this indicator.
	Source Record
	// Sightings counts the organisations other than the source that
	// sighted it; FalsePositives those that reported it a false positive.
	Sightings      int
	FalsePositives int
	Quarantined    bool
	// Active is the indicator's last activity: its last change or last
	// sighting, whichever is later.
	Active time.Time
	Now    time.Time
}

// Result is a score with its reasons.
type Result struct {
	Score int `json:"score"`
	// Base is the score before decay.
	Base int `json:"base"`
	// Decay is the factor applied for age (1: none).
	Decay float64 `json:"decay"`
	// HalfLife is the half-life used.
	HalfLife time.Duration `json:"-"`
	// Expired says the score fell under the floor: the indicator has
	// expired by decay.
	Expired bool     `json:"expired_by_decay,omitempty"`
	Reasons []string `json:"reasons"`
}

// Weights of the facts (documented in docs/SIGNAL.md).
const (
	recordWeight     = 40 // the track-record adjustment spans ±recordWeight/2
	sightingBonus    = 5  // per other organisation that sighted it
	maxSightingBonus = 20
	falsePositiveHit = 25 // per organisation that reported a false positive
)

// HalfLife is the half-life of an indicator of type t with labels: the
// shortest of its labels' overrides, else its type's.
func (p Params) HalfLife(t indicator.Type, labels []string) time.Duration {
	lh := p.LabelHalfLives
	if lh == nil {
		lh = DefaultLabelHalfLives
	}
	var hl time.Duration
	for _, l := range labels {
		if d, ok := lh[strings.ToLower(l)]; ok && (hl == 0 || d < hl) {
			hl = d
		}
	}
	if hl > 0 {
		return hl
	}
	if d, ok := p.HalfLives[t]; ok && d > 0 {
		return d
	}
	if d, ok := DefaultHalfLives[t]; ok {
		return d
	}
	return 30 * Day
}

// Compute scores an indicator.
//
//	base  = stated confidence
//	      + round((R − ½) × 40)        R = (confirmed+1) / (confirmed+false positives+2), the source's record
//	      + min(5 × sightings, 20)     other organisations that sighted it
//	      − 25 × false-positive reports (organisations)
//	      clamped to 0–100
//	score = round(base × ½^(age / half-life)),  age = now − last activity
//
// A quarantined indicator scores 0. Under the floor it has expired.
func Compute(p Params, f Facts) Result {
	floor := p.Floor
	if floor <= 0 {
		floor = DefaultFloor
	}
	r := Result{Decay: 1}
	stated := min(max(f.Stated, 0), 100)
	base := stated
	r.Reasons = append(r.Reasons, fmt.Sprintf("stated confidence %d", stated))
	if n := f.Source.Confirmed + f.Source.FalsePositive; n > 0 {
		rel := float64(f.Source.Confirmed+1) / float64(n+2)
		adj := int(math.Round((rel - 0.5) * recordWeight))
		if adj != 0 {
			base += adj
			r.Reasons = append(r.Reasons, fmt.Sprintf("source track record %+d (%d confirmed, %d false positive)", adj, f.Source.Confirmed, f.Source.FalsePositive))
		}
	}
	if f.Sightings > 0 {
		b := min(sightingBonus*f.Sightings, maxSightingBonus)
		base += b
		r.Reasons = append(r.Reasons, fmt.Sprintf("sighted by %d other organisation%s %+d", f.Sightings, plural(f.Sightings), b))
	}
	if f.FalsePositives > 0 {
		base -= falsePositiveHit * f.FalsePositives
		r.Reasons = append(r.Reasons, fmt.Sprintf("false positive reported by %d organisation%s %+d", f.FalsePositives, plural(f.FalsePositives), -falsePositiveHit*f.FalsePositives))
	}
	base = min(max(base, 0), 100)
	r.Base = base
	r.HalfLife = p.HalfLife(f.Type, f.Labels)
	if age := f.Now.Sub(f.Active); age > 0 && !f.Active.IsZero() {
		r.Decay = math.Pow(0.5, float64(age)/float64(r.HalfLife))
		r.Reasons = append(r.Reasons, fmt.Sprintf("decayed ×%.2f (%s since last activity, half-life %s)", r.Decay, days(age), days(r.HalfLife)))
	}
	r.Score = int(math.Round(float64(base) * r.Decay))
	if f.Quarantined {
		r.Score = 0
		r.Reasons = append(r.Reasons, "quarantined")
	}
	if r.Score < floor && !f.Quarantined {
		r.Expired = true
		r.Reasons = append(r.Reasons, fmt.Sprintf("under the floor of %d: expired by decay", floor))
	}
	return r
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// days writes a duration in days (one decimal under ten days).
func days(d time.Duration) string {
	x := float64(d) / float64(Day)
	if x < 10 && math.Round(x) != x {
		return fmt.Sprintf("%.1fd", x)
	}
	return fmt.Sprintf("%.0fd", x)
}
