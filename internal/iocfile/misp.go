package iocfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/misp"
)

type mispTag struct {
	Name string `json:"name"`
}

type mispEvent struct {
	Tag       []mispTag         `json:"Tag"`
	Attribute []json.RawMessage `json:"Attribute"`
	Object    []json.RawMessage `json:"Object"`
}

type mispObject struct {
	Deleted   flexBool          `json:"deleted"`
	Attribute []json.RawMessage `json:"Attribute"`
}

type mispAttribute struct {
	Type     string    `json:"type"`
	Category string    `json:"category"`
	Value    string    `json:"value"`
	ToIDS    *flexBool `json:"to_ids"`
	Deleted  flexBool  `json:"deleted"`
	Comment  string    `json:"comment"`
	Tag      []mispTag `json:"Tag"`
}

type mispWrapper struct {
	Event *mispEvent `json:"Event"`
}

// flexBool reads the booleans of MISP JSON, which some versions and tools
// write as true/false, others as "1"/"0" or 1/0.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"1"`, "1", `"true"`, `"True"`:
		*b = true
	case "false", `"0"`, "0", `"false"`, `"False"`, "null", `""`:
		*b = false
	default:
		return fmt.Errorf("%s is not a boolean", data)
	}
	return nil
}

// readMISP reads FormatMISP.
func readMISP(data []byte) ([]Entry, []Problem, error) {
	var wrappers []mispWrapper
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := decodeJSON(FormatMISP, data, &wrappers); err != nil {
			return nil, nil, err
		}
	} else {
		var top struct {
			mispWrapper
			Response []mispWrapper `json:"response"`
		}
		if err := decodeJSON(FormatMISP, data, &top); err != nil {
			return nil, nil, err
		}
		switch {
		case top.Event != nil:
			wrappers = []mispWrapper{top.mispWrapper}
		case top.Response != nil:
			wrappers = top.Response
		default:
			return nil, nil, errors.New(`iocfile: misp: the top-level object has neither "Event" nor "response"`)
		}
	}
	var (
		es []Entry
		ps []Problem
	)
	for i, w := range wrappers {
		if w.Event == nil {
			return nil, nil, fmt.Errorf(`iocfile: misp: element %d has no "Event"`, i+1)
		}
		prefix := ""
		if len(wrappers) > 1 {
			prefix = fmt.Sprintf("event %d ", i+1)
		}
		ev := w.Event
		evLabels := labels(nil, tagNames(ev.Tag)...)
		for j, raw := range ev.Attribute {
			es, ps = mispEntries(es, ps, raw, fmt.Sprintf("%sattribute %d", prefix, j+1), evLabels)
		}
		for j, raw := range ev.Object {
			var obj mispObject
			if err := json.Unmarshal(raw, &obj); err != nil {
				ps = append(ps, Problem{Where: fmt.Sprintf("%sobject %d", prefix, j+1), Err: fmt.Errorf("%w: %v", ErrInvalidField, err)})
				continue
			}
			if obj.Deleted {
				ps = append(ps, Problem{Where: fmt.Sprintf("%sobject %d", prefix, j+1), Err: fmt.Errorf("object is %w", ErrRevoked)})
				continue
			}
			for k, raw := range obj.Attribute {
				es, ps = mispEntries(es, ps, raw, fmt.Sprintf("%sobject %d attribute %d", prefix, j+1, k+1), evLabels)
			}
		}
	}
	return es, ps, nil
}

func tagNames(tags []mispTag) []string {
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Name
	}
	return names
}

func mispEntries(es []Entry, ps []Problem, raw json.RawMessage, w string, evLabels []string) ([]Entry, []Problem) {
	problem := func(err error) ([]Entry, []Problem) { return es, append(ps, Problem{Where: w, Err: err}) }
	var a mispAttribute
	if err := json.Unmarshal(raw, &a); err != nil {
		return problem(fmt.Errorf("%w: %v", ErrInvalidField, err))
	}
	if a.Deleted {
		return problem(fmt.Errorf("attribute is %w", ErrRevoked))
	}
	if a.ToIDS != nil && !*a.ToIDS {
		return problem(fmt.Errorf("to_ids=false: %w", ErrContextOnly))
	}
	parts, err := mispParts(a.Type, a.Value)
	if err != nil {
		return problem(err)
	}
	ls := slices.Clip(labels(labels(slices.Clone(evLabels), tagNames(a.Tag)...), a.Category))
	for _, p := range parts {
		if p.Err != nil {
			ps = append(ps, Problem{Where: w, Err: p.Err})
			continue
		}
		es = append(es, Entry{Type: p.Type, Value: p.Value, Labels: ls, Description: strings.TrimSpace(a.Comment), Source: w})
	}
	return es, ps
}

// mispParts maps a MISP attribute to the indicators in it, with the type
// table of package misp (misp.Split), which the hub's MISP import shares.
func mispParts(typ, val string) ([]misp.Part, error) {
	switch typ {
	case "uri":
		return nil, fmt.Errorf("%w: MISP attribute type uri (a path without a host; the offline matcher needs a url)", ErrUnsupportedType)
	case "link":
		return nil, fmt.Errorf("MISP attribute type link is a reference: %w", ErrContextOnly)
	}
	parts, err := misp.Split(typ, val)
	switch {
	case errors.Is(err, misp.ErrContextType):
		return nil, fmt.Errorf("%w: MISP attribute type %.100q", ErrUnsupportedType, typ)
	case errors.Is(err, misp.ErrComposite):
		return nil, fmt.Errorf("%w: %s value %.100q has no \"|\"", ErrInvalidField, typ, val)
	case err != nil:
		return nil, err
	}
	return parts, nil
}
