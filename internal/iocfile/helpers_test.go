package iocfile

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// renderEntry writes an entry on one line: "source type value", then the
// fields that are set.
func renderEntry(e Entry) string {
	s := fmt.Sprintf("%s %s %s", e.Source, e.Type, e.Value)
	if len(e.Labels) > 0 {
		s += " labels=" + strings.Join(e.Labels, ",")
	}
	if e.Confidence != 0 {
		s += fmt.Sprintf(" conf=%d", e.Confidence)
	}
	if !e.ValidUntil.IsZero() {
		s += " until=" + e.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	if e.Description != "" {
		s += fmt.Sprintf(" desc=%q", e.Description)
	}
	return s
}

// problemClass names the reason of a problem by its sentinel or, for a
// refused value, "refused:<type>", so that tests do not depend on the
// wording of indicator's messages.
func problemClass(err error) string {
	var ie *indicator.Error
	switch {
	case errors.As(err, &ie):
		return "refused:" + string(ie.Type)
	case errors.Is(err, ErrUnsupportedPattern):
		return "unsupported-pattern"
	case errors.Is(err, ErrInvalidPattern):
		return "invalid-pattern"
	case errors.Is(err, ErrUnsupportedType):
		return "unsupported-type"
	case errors.Is(err, ErrContextOnly):
		return "context-only"
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrInvalidField):
		return "invalid-field"
	}
	return "other: " + err.Error()
}

func renderProblem(p Problem) string { return p.Where + " ! " + problemClass(p.Err) }

func render(es []Entry, ps []Problem) []string {
	var out []string
	for _, e := range es {
		out = append(out, renderEntry(e))
	}
	for _, p := range ps {
		out = append(out, renderProblem(p))
	}
	return out
}

// readCase is a table-test case for Read.
type readCase struct {
	name string
	in   string
	want []string // entries then problems, as render writes them
	// msgs are substrings the problems' messages must contain, in order of
	// the problems.
	msgs []string
	// err, if set, is a substring of the error Read must return.
	err string
}

func runReadCases(t *testing.T, f Format, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, ps, err := Read(strings.NewReader(c.in), f)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				if es != nil || ps != nil {
					t.Errorf("entries or problems returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			got := render(es, ps)
			if !slices.Equal(got, c.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
			for i, m := range c.msgs {
				if i >= len(ps) {
					t.Errorf("no problem %d to contain %q", i, m)
					continue
				}
				if !strings.Contains(ps[i].Err.Error(), m) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ps[i].Err, m)
				}
			}
			checkCanonical(t, es, ps)
		})
	}
}

// checkCanonical checks what holds for every read: values are canonical for
// their type, sources are set, problems have a place and a reason.
func checkCanonical(t testing.TB, es []Entry, ps []Problem) {
	t.Helper()
	for _, e := range es {
		c, err := indicator.Canonicalize(e.Type, e.Value)
		if err != nil || c != e.Value {
			t.Errorf("entry %+v: value is not canonical (%q, %v)", e, c, err)
		}
		if p, err := netip.ParsePrefix(e.Value); e.Type == indicator.CIDR && err == nil && p.IsSingleIP() {
			t.Errorf("entry %+v: a one-address block should be an address", e)
		}
		if e.Source == "" {
			t.Errorf("entry %+v has no source", e)
		}
		if e.Confidence < 0 || e.Confidence > 100 {
			t.Errorf("entry %+v: confidence out of range", e)
		}
		for _, l := range e.Labels {
			if l == "" || l != strings.ToLower(l) || strings.HasPrefix(l, "tlp:") {
				t.Errorf("entry %+v: bad label %q", e, l)
			}
		}
	}
	for _, p := range ps {
		if p.Where == "" || p.Err == nil {
			t.Errorf("problem %+v lacks a place or a reason", p)
		}
	}
}
