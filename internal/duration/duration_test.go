package duration

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d":    90 * Day,
		"2160h":  2160 * time.Hour,
		"1d12h":  36 * time.Hour,
		"7d30m":  7*Day + 30*time.Minute,
		"15m":    15 * time.Minute,
		"1h30m":  90 * time.Minute,
		"30s":    30 * time.Second,
		"0":      0,
		"0d":     0,
		"00090d": 90 * Day,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "90", "ninety days", "90 d", " 90d", "1.5d", "+90d", "+5h", "90D", "5d-3h", "5d+3h",
		"1d1d", "d12h", "9999999999999999999d", "106751d23h47m16.854775808s"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		} else if !strings.Contains(err.Error(), `"90d" or "2160h"`) {
			t.Errorf("Parse(%q): %q does not say that \"90d\" or \"2160h\" are accepted", in, err)
		}
	}
	for _, in := range []string{"-90d", "-5h", "-0s"} {
		if _, err := Parse(in); !errors.Is(err, ErrNegative) || !strings.Contains(err.Error(), `"90d" or "2160h"`) {
			t.Errorf("Parse(%q): %v, want ErrNegative saying \"90d\" or \"2160h\"", in, err)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                        "0s",
		90 * Day:                                 "90d",
		36 * time.Hour:                           "1d12h",
		15 * time.Minute:                         "15m",
		90 * time.Minute:                         "1h30m",
		time.Hour:                                "1h",
		30 * time.Second:                         "30s",
		Day + time.Minute + 500*time.Millisecond: "1d1m0.5s",
	} {
		got := Format(d)
		if got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
		if back, err := Parse(got); err != nil || back != d {
			t.Errorf("Parse(Format(%v)) = %v, %v", d, back, err)
		}
	}
}

// TestValueIsAFlag: a flag of Value takes days, shows its default as
// Format writes it, and refuses a negative duration.
func TestValueIsAFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := 90 * Day
	fs.Var((*Value)(&d), "window", "how far back")
	if def := fs.Lookup("window").DefValue; def != "90d" {
		t.Errorf("default shown as %q, want 90d", def)
	}
	if err := fs.Parse([]string{"--window", " 1d12h "}); err != nil || d != 36*time.Hour {
		t.Errorf("--window 1d12h: %v, %v", d, err)
	}
	if err := fs.Parse([]string{"--window", "-1d"}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("--window -1d: %v", err)
	}
}

// FuzzParse: Parse never panics and never gives a negative duration; what
// it accepts, Format writes so that Parse reads the same back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"90d", "2160h", "1d12h", "15m", "0", "-5h", "1.5d", "+3d", "9999999999d", "1d-1h", "d", "1dd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, negative", s, d)
		}
		back, err := Parse(Format(d))
		if err != nil || back != d {
			t.Fatalf("Parse(%q) = %v; Format gives %q, which parses to %v, %v", s, d, Format(d), back, err)
		}
	})
}
