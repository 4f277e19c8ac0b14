package stixpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Observation is one STIX observed-data object: it stands for
// NumberObserved observations between FirstObserved and LastObserved of
// the objects in Objects.
type Observation struct {
	FirstObserved  time.Time
	LastObserved   time.Time
	NumberObserved int
	// Objects are the observed SCOs, keyed as in a STIX 2.0 "objects" map
	// or, for STIX 2.1 "object_refs", by SCO id. Values are JSON-decoded
	// (json.Number for numbers).
	Objects map[string]map[string]any
	// Refs resolves the values of *_ref and *_refs properties. Nil means
	// Objects (STIX 2.0); for STIX 2.1 it holds every object of the input
	// by id.
	Refs map[string]map[string]any
}

// MaxObservations bounds the observations one Match call expands
// (number_observed counts).
const MaxObservations = 100_000

// DecodeObservations reads observed-data objects from JSON: one object or an
// array of them, where bundles are opened and STIX 2.1 object_refs are
// resolved against every object with an id in the input.
func DecodeObservations(data []byte) ([]Observation, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("stixpattern: observations: %w", err)
	}
	var sdos []map[string]any
	byID := map[string]map[string]any{}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 8 {
			return errors.New("stixpattern: observations nested too deeply")
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case map[string]any:
			if x["type"] == "bundle" {
				return walk(x["objects"], depth+1)
			}
			if id, ok := x["id"].(string); ok {
				byID[id] = x
			}
			if _, ok := x["first_observed"]; ok {
				sdos = append(sdos, x)
			}
		case nil:
		default:
			return fmt.Errorf("stixpattern: observations: unexpected JSON %T", v)
		}
		return nil
	}
	if err := walk(top, 0); err != nil {
		return nil, err
	}
	out := make([]Observation, 0, len(sdos))
	for _, sdo := range sdos {
		o, err := observationFrom(sdo, byID)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func observationFrom(sdo map[string]any, byID map[string]map[string]any) (Observation, error) {
	var o Observation
	id, _ := sdo["id"].(string)
	ts := func(k string) (time.Time, error) {
		s, ok := sdo[k].(string)
		if !ok {
			return time.Time{}, fmt.Errorf("stixpattern: observed-data %s: %s missing or not a string", id, k)
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("stixpattern: observed-data %s: %s: %w", id, k, err)
		}
		return t, nil
	}
	var err error
	if o.FirstObserved, err = ts("first_observed"); err != nil {
		return o, err
	}
	if o.LastObserved, err = ts("last_observed"); err != nil {
		return o, err
	}
	n, ok := sdo["number_observed"].(json.Number)
	if !ok {
		return o, fmt.Errorf("stixpattern: observed-data %s: number_observed missing or not a number", id)
	}
	k, err := n.Int64()
	if err != nil || k < 1 || k > MaxObservations {
		return o, fmt.Errorf("stixpattern: observed-data %s: number_observed %s out of range 1..%d", id, n, MaxObservations)
	}
	o.NumberObserved = int(k)
	o.Objects = map[string]map[string]any{}
	if refs, ok := sdo["object_refs"].([]any); ok && len(refs) > 0 {
		for _, r := range refs {
			rs, ok := r.(string)
			if !ok {
				return o, fmt.Errorf("stixpattern: observed-data %s: object_refs holds a %T", id, r)
			}
			if obj, ok := byID[rs]; ok {
				o.Objects[rs] = obj
			}
		}
		o.Refs = byID
		return o, nil
	}
	if objs, ok := sdo["objects"].(map[string]any); ok {
		for key, v := range objs {
			if m, ok := v.(map[string]any); ok {
				o.Objects[key] = m
			}
		}
	}
	return o, nil
}

// sortedRoots returns the keys of objs in a fixed order.
func sortedRoots(objs map[string]map[string]any) []string {
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
