// Package duration reads the durations people type, on the command line and
// in the API alike: Go's durations ("2160h", "15m", "1h30m", "30s") and
// whole days ("90d", "1d12h"). One parser serves everywhere, so that what a
// flag accepts a request field or query parameter accepts too.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours: a duration takes no account of calendars or time zones.
const Day = 24 * time.Hour

// maxDays bounds the days of a duration; more would overflow with hours added.
const maxDays = math.MaxInt64 / int64(Day)

// Examples is what the messages offer as accepted forms.
const Examples = `"90d" or "2160h"`

// ErrNegative is the error of a negative duration.
var ErrNegative = errors.New("a duration must not be negative")

// Parse reads a duration: whole days ("90d"), optionally followed by a Go
// duration ("1d12h", "7d30m"), or a Go duration alone ("2160h", "15m",
// "1h30m", "0"). It never gives a negative duration: "-5h" is refused with
// ErrNegative. Its errors say that "90d" or "2160h" are accepted.
func Parse(v string) (time.Duration, error) {
	if strings.HasPrefix(v, "-") {
		return 0, fmt.Errorf("%q: %w (e.g. %s)", v, ErrNegative, Examples)
	}
	bad := fmt.Errorf("%q is not a duration: give days or hours, e.g. %s (also 1d12h, 15m, 30s)", v, Examples)
	days, rest, ok := strings.Cut(v, "d")
	if !ok {
		d, err := time.ParseDuration(v)
		if err != nil || strings.HasPrefix(v, "+") {
			return 0, bad
		}
		return d, nil
	}
	n, err := strconv.ParseInt(days, 10, 64)
	if err != nil || n < 0 || n > maxDays || strings.HasPrefix(days, "+") {
		return 0, bad
	}
	d := time.Duration(n) * Day
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, "-") {
			return 0, bad
		}
		if d > math.MaxInt64-r {
			return 0, bad
		}
		d += r
	}
	return d, nil
}

// Format writes d as Parse reads it back, in days where it has any: 90d,
// 1d12h, 15m, 1h30m, 30s, 0s.
func Format(d time.Duration) string {
	if d < 0 {
		return d.String()
	}
	var b strings.Builder
	if days := d / Day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteString("d")
		d -= days * Day
		if d == 0 {
			return b.String()
		}
	}
	s := d.String() // 12h0m0s, 1h30m0s, 15m0s, 30s, 1m0.5s, 0s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	b.WriteString(s)
	return b.String()
}

// Value is a flag.Value of a duration read by Parse, so that a flag takes
// "90d" as well as "2160h" (flag.Duration takes no days).
type Value time.Duration

// String is the duration as Format writes it.
func (v *Value) String() string { return Format(time.Duration(*v)) }

// Set reads a duration with Parse (surrounding spaces ignored).
func (v *Value) Set(s string) error {
	d, err := Parse(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*v = Value(d)
	return nil
}
