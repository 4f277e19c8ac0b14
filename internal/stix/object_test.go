package stix

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadObject(t *testing.T) {
	ind := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.123Z",` +
		`"name":"x","indicator_types":["malicious-activity"],"pattern":"[domain-name:value = 'a.example']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","confidence":70,` +
		`"kill_chain_phases":[{"kill_chain_name":"lockheed-martin-cyber-kill-chain","phase_name":"delivery"}],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}`
	o, err := ReadObject(json.RawMessage(ind))
	if err != nil {
		t.Fatal(err)
	}
	if o.Type != "indicator" || o.Version != "2016-04-06T20:03:48.123Z" || !o.Modified.Equal(time.Date(2016, 4, 6, 20, 3, 48, 123e6, time.UTC)) ||
		o.Indicator == nil || o.Indicator.PatternType != "stix" || *o.Indicator.Confidence != 70 || len(o.MarkingRefs) != 1 ||
		!slices.Equal(KillChainPhases([]string{KillChainTag(o.Indicator.KillChainPhases[0]), "other"}), o.Indicator.KillChainPhases) {
		t.Errorf("read %+v, indicator %+v", o, o.Indicator)
	}
	if string(o.Raw) != ind {
		t.Error("Raw is not the object as given")
	}
	// A cyber-observable has no created or modified; a pattern_type absent
	// is stix.
	o, err = ReadObject(json.RawMessage(`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`))
	if err != nil || !o.Modified.IsZero() || o.Version != "" {
		t.Errorf("SCO: %+v, %v", o, err)
	}
	for _, c := range []struct{ in, want string }{
		{`[]`, "cannot unmarshal"},
		{`{"id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "no type"},
		{`{"type":"malware"}`, "without an id"},
		{`{"type":"malware","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "not of the form malware--UUID"},
		{`{"type":"malware","id":"malware--123"}`, "does not end in a UUID"},
		{`{"type":"malware","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"yesterday"}`, `modified "yesterday" is not an RFC 3339 timestamp`},
		{`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "has no pattern"},
		{`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[a:b = 'c']","confidence":101}`, "not within 0–100"},
	} {
		_, err := ReadObject(json.RawMessage(c.in))
		if !errors.Is(err, ErrObject) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrObject saying %q", c.in, err, c.want)
		}
	}
}

func FuzzReadObject(f *testing.F) {
	f.Add([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","pattern":"[file:name = 'x']","valid_from":"2016-01-01T00:00:00Z","kill_chain_phases":[{"kill_chain_name":"a","phase_name":"b"}]}`))
	f.Add([]byte(`{"type":"report","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"],"labels":["x"]}`))
	f.Add([]byte(`{"type":null,"id":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ReadObject(json.RawMessage(data))
		if err != nil {
			if !errors.Is(err, ErrObject) {
				t.Fatalf("error %v does not wrap ErrObject", err)
			}
			return
		}
		if o.Type == "" || !strings.HasPrefix(o.ID, o.Type+"--") {
			t.Fatalf("read %q, %q", o.Type, o.ID)
		}
		if (o.Type == "indicator") != (o.Indicator != nil) {
			t.Fatalf("indicator props %v for type %q", o.Indicator, o.Type)
		}
		IsTLPObject(&o)
	})
}
