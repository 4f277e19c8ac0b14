package iocfile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

type stixBundle struct {
	Type    string            `json:"type"`
	Objects []json.RawMessage `json:"objects"`
}

type stixIndicator struct {
	Type           string   `json:"type"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Pattern        string   `json:"pattern"`
	PatternType    *string  `json:"pattern_type"`
	IndicatorTypes []string `json:"indicator_types"`
	Labels         []string `json:"labels"`
	ValidUntil     string   `json:"valid_until"`
	Confidence     *int     `json:"confidence"`
	Revoked        bool     `json:"revoked"`
}

// readSTIX reads FormatSTIX.
func readSTIX(data []byte) ([]Entry, []Problem, error) {
	var b stixBundle
	if err := decodeJSON(FormatSTIX, data, &b); err != nil {
		return nil, nil, err
	}
	switch {
	case b.Type != "" && b.Type != "bundle":
		return nil, nil, fmt.Errorf("iocfile: stix: the top-level object is of type %q, not a bundle", b.Type)
	case b.Type == "" && b.Objects == nil:
		return nil, nil, fmt.Errorf("iocfile: stix: the top-level object is neither a bundle nor a TAXII envelope")
	}
	var (
		es []Entry
		ps []Problem
	)
	for i, raw := range b.Objects {
		var head struct {
			Type json.RawMessage `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			ps = append(ps, Problem{Where: fmt.Sprintf("object %d", i+1), Err: fmt.Errorf("%w: %v", ErrInvalidField, err)})
			continue
		}
		if string(head.Type) != `"indicator"` {
			continue
		}
		var ind stixIndicator
		err := json.Unmarshal(raw, &ind)
		w := ind.ID
		if w == "" {
			w = fmt.Sprintf("object %d", i+1)
		}
		if err != nil {
			ps = append(ps, Problem{Where: w, Err: fmt.Errorf("%w: %v", ErrInvalidField, err)})
			continue
		}
		es, ps = stixEntries(es, ps, &ind, w)
	}
	return es, ps, nil
}

func stixEntries(es []Entry, ps []Problem, ind *stixIndicator, w string) ([]Entry, []Problem) {
	problem := func(err error) ([]Entry, []Problem) { return es, append(ps, Problem{Where: w, Err: err}) }
	if ind.Revoked {
		return problem(fmt.Errorf("indicator is %w", ErrRevoked))
	}
	if ind.PatternType != nil && *ind.PatternType != "stix" {
		return problem(fmt.Errorf("%w: pattern_type %q", ErrUnsupportedPattern, *ind.PatternType))
	}
	tmpl := Entry{Description: ind.Description, Source: w}
	if tmpl.Description == "" {
		tmpl.Description = ind.Name
	}
	if ind.Confidence != nil {
		c, err := checkConfidence(*ind.Confidence)
		if err != nil {
			return problem(err)
		}
		tmpl.Confidence = c
	}
	if ind.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, ind.ValidUntil)
		if err != nil {
			return problem(fmt.Errorf("%w: valid_until %q is not an RFC 3339 timestamp", ErrInvalidField, ind.ValidUntil))
		}
		tmpl.ValidUntil = t
	}
	tmpl.Labels = slices.Clip(labels(labels(nil, ind.IndicatorTypes...), ind.Labels...))

	tree, err := parsePattern(ind.Pattern)
	if err != nil {
		return problem(err)
	}
	cs, reasons := disjunction(tree)
	taken := 0
	type key struct {
		t indicator.Type
		v string
	}
	seen := map[key]bool{}
	for _, c := range cs {
		k, ok := pathKind(c.path)
		if !ok {
			reasons = append(reasons, c.path.String())
			continue
		}
		t, v, err := canonical(k, c.value)
		if err != nil {
			ps = append(ps, Problem{Where: w, Err: err})
			continue
		}
		taken++
		if seen[key{t, v}] {
			continue
		}
		seen[key{t, v}] = true
		e := tmpl
		e.Type, e.Value = t, v
		es = append(es, e)
	}
	if len(reasons) > 0 {
		msg := strings.Join(uniq(reasons), "; ")
		if taken > 0 {
			msg += fmt.Sprintf(" (the other %d comparisons of the OR were taken)", taken)
		}
		ps = append(ps, Problem{Where: w, Err: fmt.Errorf("%w: %s", ErrUnsupportedPattern, msg)})
	}
	return es, ps
}

// pathKind maps a STIX object path to the kind of its values.
func pathKind(p *objPath) (kind, bool) {
	t := strings.ToLower(p.objType)
	switch {
	case len(p.props) == 1 && strings.EqualFold(p.props[0], "value"):
		switch t {
		case "domain-name":
			return kind(indicator.Domain), true
		case "ipv4-addr":
			return kindIPv4, true
		case "ipv6-addr":
			return kindIPv6, true
		case "url":
			return kind(indicator.URL), true
		case "email-addr":
			return kind(indicator.Email), true
		}
	case len(p.props) == 2 && strings.EqualFold(p.props[0], "hashes"):
		h := strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(p.props[1]))
		switch t {
		case "file":
			switch h {
			case "MD5":
				return kind(indicator.MD5), true
			case "SHA1":
				return kind(indicator.SHA1), true
			case "SHA256":
				return kind(indicator.SHA256), true
			case "SHA512":
				return kind(indicator.SHA512), true
			}
		case "x509-certificate":
			switch h {
			case "SHA1":
				return kind(indicator.X509SHA1), true
			case "SHA256":
				return kind(indicator.X509SHA256), true
			}
		}
	}
	return "", false
}

func uniq(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
