package misp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseShapes(t *testing.T) {
	const ev = `{"uuid":"39049dc3-df40-408d-9d87-9bec7025f959","info":"x","Attribute":[{"type":"domain","value":"a.example.com"}]}`
	for _, c := range []struct {
		name, in string
		one      string // ParseEvent: "" ok, else a substring of the error
		many     int    // ParseEvents: number of events, -1 for an error
	}{
		{"wrapped", `{"Event":` + ev + `}`, "", 1},
		{"bare", ev, "", 1},
		{"bom and space", "\uFEFF \n" + `{"Event":` + ev + `}`, "", 1},
		{"response of one", `{"response":[{"Event":` + ev + `}]}`, "", 1},
		{"response of two", `{"response":[{"Event":` + ev + `},{"Event":` + ev + `}]}`, "holds 2 events", 2},
		{"empty response", `{"response":[]}`, "holds 0 events", 0},
		{"array", `[{"Event":` + ev + `},{"Event":` + ev + `}]`, "holds 2 events", 2},
		{"array of one", `[{"Event":` + ev + `}]`, "", 1},
		{"event index: bare events", `[` + ev + `,` + ev + `]`, "holds 2 events", 2},
		{"element not an object", `[` + ev + `,7]`, `[1] is not an object`, -1},
		{"element without Event", `[{"Event":` + ev + `},{"x":1}]`, `[1] has no "Event"`, -1},
		{"not an event", `{"x":1}`, "not an event", -1},
		{"string", `"x"`, "not a JSON object or array", -1},
		{"empty", "  ", "empty", -1},
		{"response not a list", `{"response":{"Event":{}}}`, `"response" is not a list`, -1},
	} {
		_, err := ParseEvent([]byte(c.in))
		if c.one == "" && err != nil || c.one != "" && (err == nil || !strings.Contains(err.Error(), c.one)) {
			t.Errorf("%s: ParseEvent error %v, want %q", c.name, err, c.one)
		}
		evs, err := ParseEvents([]byte(c.in))
		if c.many < 0 && err == nil || c.many >= 0 && (err != nil || len(evs) != c.many) {
			t.Errorf("%s: ParseEvents gave %d events, error %v; want %d", c.name, len(evs), err, c.many)
		}
	}
}

// TestParseTolerant reads the loose forms MISP versions and tools write.
func TestParseTolerant(t *testing.T) {
	in := `{"Event":{"id":12,"uuid":"39049dc3-df40-408d-9d87-9bec7025f959","info":"x","timestamp":1617875568,
	"published":"1","locked":0,"proposal_email_lock":"false","disable_correlation":null,"sharing_group_id":null,
	"SharingGroup":[],"Org":[],"Orgc":{"id":3,"name":"O","uuid":"7656cd2c-03e9-4f47-a11e-0ee41beaa271","local":"1"},
	"Galaxy":[{"GalaxyCluster":[{"meta":{"x":[1,2]}}]}],"future_member":{"a":[1]},
	"Tag":{"name":"single","exportable":"0"},
	"Attribute":{"0":{"type":"domain","value":"a.example.com","to_ids":"0","deleted":"1"},
	             "3":{"type":"link","value":"https://x.example.com/","first_seen":"2026-04-02T08:15:00.000000+00:00","last_seen":null,
	                  "Tag":[{"name":"t"}],"Sighting":[{"date_sighting":1776600000,"type":1,"Org":{"name":"S"}}]},
	             "4":{"type":"email-reply-to","value":"a@example.com"},
	             "5":{"type":"domain","value":12345,"to_ids":true,"comment":null},
	             "6":{"type":"yara","value":"rule x {}"},
	             "7":{"type":"made-up","value":"v"}},
	"Object":{}, "EventReport":[{"name":"r","content":"c","deleted":0}]}}`
	ev, err := ParseEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "12" || ev.Timestamp != "1617875568" || !ev.Published || ev.Locked || ev.ProposalEmailLock || ev.SharingGroupID != "" {
		t.Errorf("event fields: %+v", ev)
	}
	if ev.SharingGroup != nil || ev.Org != nil || ev.Orgc == nil || ev.Orgc.ID != "3" || !ev.Orgc.Local {
		t.Errorf("objects: sg %v org %v orgc %+v", ev.SharingGroup, ev.Org, ev.Orgc)
	}
	if len(ev.Tag) != 1 || ev.Tag[0].Name != "single" || ev.Tag[0].Exportable {
		t.Errorf("tags: %+v", ev.Tag)
	}
	if len(ev.Object) != 0 || len(ev.EventReport) != 1 || ev.EventReport[0].Content != "c" {
		t.Errorf("objects %+v reports %+v", ev.Object, ev.EventReport)
	}
	a := ev.Attribute
	if len(a) != 6 {
		t.Fatalf("%d attributes, want 6 in key order", len(a))
	}
	if a[0].ToIDS || !a[0].Deleted {
		t.Errorf("attribute 1: %+v", a[0])
	}
	if a[1].FirstSeen == nil || *a[1].FirstSeen != "2026-04-02T08:15:00.000000+00:00" || a[1].LastSeen != nil {
		t.Errorf("attribute 2 seen: %v %v", a[1].FirstSeen, a[1].LastSeen)
	}
	if len(a[1].Tag) != 1 || !a[1].Tag[0].Exportable || len(a[1].Sighting) != 1 || a[1].Sighting[0].Type != "1" ||
		a[1].Sighting[0].DateSighting != "1776600000" || a[1].Sighting[0].Org == nil || a[1].Sighting[0].Org.Name != "S" {
		t.Errorf("attribute 2: %+v", a[1])
	}
	// a missing to_ids is MISP's default for the type
	for i, want := range map[int]bool{1: false, 2: false, 4: true, 5: false} {
		if a[i].ToIDS != want {
			t.Errorf("attribute %d (%s): to_ids %v, want %v", i+1, a[i].Type, a[i].ToIDS, want)
		}
	}
	if a[3].Value != "12345" || a[3].Comment != "" {
		t.Errorf("attribute 4: %+v", a[3])
	}
}

// TestParseErrors: errors say where.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"Event":{"info":"x","Attribute":[{"type":"domain"},{"type":"domain","to_ids":"maybe"}]}}`,
			`Event.Attribute[1].to_ids: "maybe" is not a boolean`},
		{`{"Event":{"info":"x","Tag":"tlp:red"}}`, `Event.Tag: is a string, want a list`},
		{`{"Event":{"info":"x","Tag":[{"name":"a"},"b"]}}`, `Event.Tag[1]: is a string, want an object`},
		{`{"Event":{"info":{"a":1}}}`, `Event.info: is an object, want a string`},
		{`{"Event":{"info":"x","Object":[{"Attribute":[{"value":["a"]}]}]}}`, `Event.Object[0].Attribute[0].value: is a list, want a string`},
		{`{"Event":{"info":"x","Orgc":"CIRCL"}}`, `Event.Orgc: is a string, want an object`},
		{`{"Event":{"info":"x","Attribute":{"0":{"type":"x"},"7":{"deleted":"perhaps"}}}}`, `Event.Attribute[7].deleted`},
		{`{"response":[{"Event":{"published":"no"}}]}`, `response[0].Event.published`},
		{`{"Event":7}`, `Event: is a number, want an object`},
		{"{\"Event\":\n{\"info\":\"x\" \"uuid\":\"y\"}}", "invalid JSON at byte offset 23"},
		{"  [1,", "invalid JSON at byte offset 5"},
	} {
		_, err := ParseEvents([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n  error %v\n  want  %q", c.in, err, c.want)
		}
	}
}

func TestParseSizeLimit(t *testing.T) {
	defer func(n int64) { maxEventSize = n }(maxEventSize)
	maxEventSize = 64
	_, err := ParseEvent([]byte(`{"Event":{"info":"` + strings.Repeat("x", 60) + `"}}`))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v, want ErrTooLarge", err)
	}
}

// TestMarshal: MISP's field names and types, lists written as [], ids left
// out when empty.
func TestMarshal(t *testing.T) {
	b, err := json.Marshal(Wrap(&Event{UUID: "u", Info: "i"}))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`{"Event":{"date":""`, `"info":"i"`, `"published":false`, `"Attribute":[]`, `"Object":[]`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
	for _, absent := range []string{`"id"`, `"Tag"`, `null`} {
		if strings.Contains(got, absent) {
			t.Errorf("%s has %s", got, absent)
		}
	}
	b, _ = json.Marshal(Attribute{Type: "domain", Value: "a.example.com", ToIDS: true})
	if s := string(b); !strings.Contains(s, `"to_ids":true`) || !strings.Contains(s, `"first_seen":null`) || strings.Contains(s, `"Tag"`) {
		t.Errorf("attribute: %s", s)
	}
	b, _ = json.Marshal(Object{Name: "file", MetaCategory: "file"})
	if s := string(b); !strings.Contains(s, `"meta-category":"file"`) || !strings.Contains(s, `"Attribute":[]`) {
		t.Errorf("object: %s", s)
	}
}

// TestParseMarshalParse: what ParseEvent reads, marshalled and read again,
// is the same.
func TestParseMarshalParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/events/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEvent(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b, err := json.Marshal(Wrap(ev))
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseEvent(b)
		if err != nil {
			t.Fatalf("%s: again: %v", f, err)
		}
		if !reflect.DeepEqual(normalise(ev), normalise(again)) {
			t.Errorf("%s: parse, marshal, parse changed the event", f)
		}
	}
}

// normalise makes nil and empty lists alike, as JSON does not keep them
// apart.
func normalise(e *Event) *Event {
	c := *e
	if len(c.Attribute) == 0 {
		c.Attribute = nil
	}
	if len(c.Object) == 0 {
		c.Object = nil
	}
	c.Attribute = append([]Attribute(nil), c.Attribute...)
	for i := range c.Object {
		if len(c.Object[i].Attribute) == 0 {
			c.Object[i].Attribute = nil
		}
	}
	return &c
}
