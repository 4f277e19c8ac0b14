package misp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxEventSize bounds the JSON that ParseEvent and ParseEvents take, and an
// event file read from a feed.
const MaxEventSize = 256 << 20

// maxEventSize is MaxEventSize as a variable, so that tests can lower it.
var maxEventSize int64 = MaxEventSize

// ErrTooLarge is returned for input over the size limits.
var ErrTooLarge = errors.New("misp: input is larger than the limit")

// ParseEvent reads one MISP event: {"Event": {…}}, a bare event object, or a
// REST response holding exactly one event ({"response": [{"Event": …}]}).
//
// Decoding is as tolerant as MISP itself: ids, timestamps and other string
// fields may be numbers; booleans may be true/false, 0/1 or "0"/"1"; null
// and a missing member are empty; an empty list written as {} or an empty
// object written as [] (as PHP does) is accepted, and so is a list written
// as an object with numeric keys. Unknown members are ignored, since MISP adds
// members over versions. A missing "to_ids" is MISP's default for the type,
// and a missing tag "exportable" is true.
//
// An error names where the input went wrong: the byte offset of a JSON
// syntax error, or the path of a member of the wrong kind
// ("Event.Attribute[3].to_ids: \"maybe\" is not a boolean").
func ParseEvent(data []byte) (*Event, error) {
	evs, err := parse(data, true)
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

// ParseEvents reads MISP events in any of the shapes MISP and its tools
// write: an array of {"Event": …} (or of bare events, as the event index
// lists them), the REST API's {"response": [{"Event": …}, …]}, or a single
// event as ParseEvent takes it. An empty array or response gives no events
// and no error.
func ParseEvents(data []byte) ([]*Event, error) {
	return parse(data, false)
}

func parse(data []byte, one bool) ([]*Event, error) {
	if int64(len(data)) > maxEventSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), maxEventSize)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 {
		return nil, errors.New("misp: the input is empty")
	}
	offset := int64(len(data) - len(t))
	evs, err := parseAny(t, offset)
	if err == nil && one && len(evs) != 1 {
		return nil, fmt.Errorf("misp: the input holds %d events; one was expected", len(evs))
	}
	return evs, err
}

func parseAny(t []byte, offset int64) ([]*Event, error) {
	switch t[0] {
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(t, &raws); err != nil {
			return nil, syntaxError(err, offset)
		}
		return parseList(raws, "")
	case '{':
	default:
		return nil, errors.New("misp: the input is not a JSON object or array")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(t, &top); err != nil {
		return nil, syntaxError(err, offset)
	}
	if raw, ok := top["Event"]; ok {
		ev, err := decodeEvent(raw, "Event")
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	}
	if raw, ok := top["response"]; ok {
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil {
			return nil, errors.New(`misp: "response" is not a list`)
		}
		return parseList(raws, "response")
	}
	if isBareEvent(top) {
		ev, err := decodeEvent(t, "Event")
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	}
	return nil, errors.New(`misp: the object is not an event: it has none of "Event", "response", "uuid", "info", "Attribute", "Object"`)
}

// isBareEvent says whether an object is an event without the envelope.
func isBareEvent(members map[string]json.RawMessage) bool {
	for _, k := range []string{"uuid", "info", "Attribute", "Object"} {
		if _, ok := members[k]; ok {
			return true
		}
	}
	return false
}

func parseList(raws []json.RawMessage, name string) ([]*Event, error) {
	evs := make([]*Event, 0, len(raws))
	for i, raw := range raws {
		where := fmt.Sprintf("%s[%d]", name, i)
		var w map[string]json.RawMessage
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf(`misp: %s is not an object`, where)
		}
		inner, path := w["Event"], where+".Event"
		if inner == nil && isBareEvent(w) { // the REST API's event index lists bare events
			inner, path = raw, where
		}
		if inner == nil {
			return nil, fmt.Errorf(`misp: %s has no "Event"`, where)
		}
		ev, err := decodeEvent(inner, path)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func decodeEvent(raw []byte, where string) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("misp: %s%s: %w", where, fe.path, fe.err)
		}
		return nil, fmt.Errorf("misp: %s: %w", where, err)
	}
	return &ev, nil
}

// syntaxError says where the JSON is broken, counting from the start of the
// input.
func syntaxError(err error, offset int64) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("misp: invalid JSON at byte offset %d: %v", offset+se.Offset, se)
	}
	return fmt.Errorf("misp: %w", err)
}

// fieldError is a member of the wrong kind, with the path to it.
type fieldError struct {
	path string // ".Attribute[3].to_ids"
	err  error
}

func (e *fieldError) Error() string { return strings.TrimPrefix(e.path, ".") + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// under puts seg (".name" or "[i]") in front of the path of err.
func under(seg string, err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return &fieldError{path: seg + fe.path, err: fe.err}
	}
	return &fieldError{path: seg, err: err}
}

// jstr is a string member: a string, a number (kept as written), or null.
type jstr string

func (s *jstr) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = jstr(v)
	case 'n':
		*s = ""
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		*s = jstr(b)
	default:
		return kindError(b, "a string")
	}
	return nil
}

// optStr is a string member that may be null (first_seen, last_seen).
type optStr struct{ v *string }

func (s *optStr) UnmarshalJSON(b []byte) error {
	if b[0] == 'n' {
		s.v = nil
		return nil
	}
	var v jstr
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	str := string(v)
	s.v = &str
	return nil
}

// jbool is a boolean member as MISP versions and tools write it.
type jbool bool

func (v *jbool) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = strings.ToLower(s[1 : len(s)-1])
	}
	switch s {
	case "true", "1":
		*v = true
		return nil
	case "false", "0", "", "null":
		*v = false
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && b[0] != '"' {
		*v = f != 0
		return nil
	}
	return fmt.Errorf("%s is not a boolean (true, false, 0 or 1)", clip(b))
}

// jlist is a list member. Besides an array and null it takes an object: a
// PHP array with non-sequential keys ({"0": …, "3": …}) gives its values in
// order, any other object is one element.
type jlist[T any] []T

func (l *jlist[T]) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		*l = nil
		return nil
	case '[':
		var xs []T
		if err := json.Unmarshal(b, &xs); err == nil {
			*l = xs
			return nil
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return err
		}
		for i, r := range raws {
			var x T
			if err := json.Unmarshal(r, &x); err != nil {
				return under(fmt.Sprintf("[%d]", i), err)
			}
		}
		return errors.New("list does not decode") // not reached: some element failed above
	case '{':
		keys, vals, err := objectMembers(b)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			*l = nil
			return nil
		}
		numeric := true
		for _, k := range keys {
			if _, err := strconv.ParseUint(k, 10, 32); err != nil {
				numeric = false
				break
			}
		}
		if !numeric {
			var x T
			if err := json.Unmarshal(b, &x); err != nil {
				return err
			}
			*l = jlist[T]{x}
			return nil
		}
		xs := make([]T, len(vals))
		for i, r := range vals {
			if err := json.Unmarshal(r, &xs[i]); err != nil {
				return under("["+keys[i]+"]", err)
			}
		}
		*l = xs
		return nil
	}
	return kindError(b, "a list")
}

// objectMembers returns the members of a JSON object in document order.
func objectMembers(b []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	var (
		keys []string
		vals []json.RawMessage
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}

// jobj is an object member; null and [] (PHP's empty array) are absent.
type jobj[T any] struct{ v *T }

func (o *jobj[T]) UnmarshalJSON(b []byte) error {
	if b[0] == 'n' || isEmptyList(b) {
		o.v = nil
		return nil
	}
	if b[0] != '{' {
		return kindError(b, "an object")
	}
	var x T
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	o.v = &x
	return nil
}

// isEmptyList says whether b is the JSON text [] (with any space inside).
func isEmptyList(b []byte) bool {
	return len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' && len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// decodeObject decodes the JSON object b into the wire struct w. null and []
// leave w alone. When a member does not decode, the error names it.
func decodeObject(b []byte, w any) error {
	if b[0] == 'n' || isEmptyList(b) {
		return nil
	}
	if b[0] != '{' {
		return kindError(b, "an object")
	}
	err := json.Unmarshal(b, w)
	if err == nil {
		return nil
	}
	// Decode member by member to find the one that failed: slow, but only
	// on the way to an error.
	var members map[string]json.RawMessage
	if json.Unmarshal(b, &members) != nil {
		return err
	}
	rv := reflect.ValueOf(w).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		for k, raw := range members {
			if !strings.EqualFold(k, name) {
				continue
			}
			fv := reflect.New(rt.Field(i).Type)
			if ferr := json.Unmarshal(raw, fv.Interface()); ferr != nil {
				return under("."+k, ferr)
			}
		}
	}
	return err
}

// kindError says that b is not of the kind wanted.
func kindError(b []byte, want string) error {
	var got string
	switch b[0] {
	case '{':
		got = "an object"
	case '[':
		got = "a list"
	case '"':
		got = "a string"
	case 't', 'f':
		got = "a boolean"
	case 'n':
		got = "null"
	default:
		got = "a number"
	}
	return fmt.Errorf("is %s, want %s", got, want)
}

// clip cuts a value for an error message.
func clip[S string | []byte](s S) string {
	const n = 64
	if len(s) <= n {
		return string(s)
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return string(s[:i]) + "…"
}

// The wire structs mirror the exported ones with tolerant member types.

type wireOrg struct {
	ID    jstr  `json:"id"`
	Name  jstr  `json:"name"`
	UUID  jstr  `json:"uuid"`
	Local jbool `json:"local"`
}

// UnmarshalJSON decodes an organisation tolerantly.
func (o *Org) UnmarshalJSON(b []byte) error {
	var w wireOrg
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*o = Org{ID: string(w.ID), Name: string(w.Name), UUID: string(w.UUID), Local: bool(w.Local)}
	return nil
}

type wireTag struct {
	ID         jstr   `json:"id"`
	Name       jstr   `json:"name"`
	Colour     jstr   `json:"colour"`
	Exportable *jbool `json:"exportable"`
	Local      jbool  `json:"local"`
}

// UnmarshalJSON decodes a tag tolerantly.
func (t *Tag) UnmarshalJSON(b []byte) error {
	var w wireTag
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*t = Tag{ID: string(w.ID), Name: string(w.Name), Colour: string(w.Colour), Exportable: w.Exportable == nil || bool(*w.Exportable), Local: bool(w.Local)}
	return nil
}

type wireSighting struct {
	ID           jstr      `json:"id"`
	AttributeID  jstr      `json:"attribute_id"`
	EventID      jstr      `json:"event_id"`
	OrgID        jstr      `json:"org_id"`
	DateSighting jstr      `json:"date_sighting"`
	UUID         jstr      `json:"uuid"`
	Source       jstr      `json:"source"`
	Type         jstr      `json:"type"`
	Organisation jobj[Org] `json:"Organisation"`
	Org          jobj[Org] `json:"Org"`
}

// UnmarshalJSON decodes a sighting tolerantly.
func (s *Sighting) UnmarshalJSON(b []byte) error {
	var w wireSighting
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	org := w.Organisation.v
	if org == nil {
		org = w.Org.v
	}
	*s = Sighting{ID: string(w.ID), AttributeID: string(w.AttributeID), EventID: string(w.EventID), OrgID: string(w.OrgID),
		DateSighting: string(w.DateSighting), UUID: string(w.UUID), Source: string(w.Source), Type: string(w.Type), Org: org}
	return nil
}

type wireSharingGroupOrg struct {
	ID           jstr      `json:"id"`
	OrgID        jstr      `json:"org_id"`
	Extend       jbool     `json:"extend"`
	Organisation jobj[Org] `json:"Organisation"`
}

// UnmarshalJSON decodes a sharing group member tolerantly.
func (m *SharingGroupOrg) UnmarshalJSON(b []byte) error {
	var w wireSharingGroupOrg
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*m = SharingGroupOrg{ID: string(w.ID), OrgID: string(w.OrgID), Extend: bool(w.Extend), Organisation: w.Organisation.v}
	return nil
}

type wireSharingGroup struct {
	ID            jstr                   `json:"id"`
	Name          jstr                   `json:"name"`
	UUID          jstr                   `json:"uuid"`
	Description   jstr                   `json:"description"`
	Releasability jstr                   `json:"releasability"`
	Active        jbool                  `json:"active"`
	Organisation  jobj[Org]              `json:"Organisation"`
	Orgs          jlist[SharingGroupOrg] `json:"SharingGroupOrg"`
}

// UnmarshalJSON decodes a sharing group tolerantly.
func (g *SharingGroup) UnmarshalJSON(b []byte) error {
	var w wireSharingGroup
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*g = SharingGroup{ID: string(w.ID), Name: string(w.Name), UUID: string(w.UUID), Description: string(w.Description),
		Releasability: string(w.Releasability), Active: bool(w.Active), Organisation: w.Organisation.v, Orgs: w.Orgs}
	return nil
}

type wireEventReport struct {
	ID             jstr  `json:"id"`
	UUID           jstr  `json:"uuid"`
	EventID        jstr  `json:"event_id"`
	Name           jstr  `json:"name"`
	Content        jstr  `json:"content"`
	Distribution   jstr  `json:"distribution"`
	SharingGroupID jstr  `json:"sharing_group_id"`
	Timestamp      jstr  `json:"timestamp"`
	Deleted        jbool `json:"deleted"`
}

// UnmarshalJSON decodes an event report tolerantly.
func (r *EventReport) UnmarshalJSON(b []byte) error {
	var w wireEventReport
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*r = EventReport{ID: string(w.ID), UUID: string(w.UUID), EventID: string(w.EventID), Name: string(w.Name), Content: string(w.Content),
		Distribution: string(w.Distribution), SharingGroupID: string(w.SharingGroupID), Timestamp: string(w.Timestamp), Deleted: bool(w.Deleted)}
	return nil
}

type wireAttribute struct {
	ID                 jstr               `json:"id"`
	EventID            jstr               `json:"event_id"`
	ObjectID           jstr               `json:"object_id"`
	ObjectRelation     jstr               `json:"object_relation"`
	UUID               jstr               `json:"uuid"`
	Type               jstr               `json:"type"`
	Category           jstr               `json:"category"`
	Value              jstr               `json:"value"`
	ToIDS              *jbool             `json:"to_ids"`
	Comment            jstr               `json:"comment"`
	Timestamp          jstr               `json:"timestamp"`
	Distribution       jstr               `json:"distribution"`
	SharingGroupID     jstr               `json:"sharing_group_id"`
	Deleted            jbool              `json:"deleted"`
	DisableCorrelation jbool              `json:"disable_correlation"`
	FirstSeen          optStr             `json:"first_seen"`
	LastSeen           optStr             `json:"last_seen"`
	SharingGroup       jobj[SharingGroup] `json:"SharingGroup"`
	Tag                jlist[Tag]         `json:"Tag"`
	Sighting           jlist[Sighting]    `json:"Sighting"`
}

// UnmarshalJSON decodes an attribute tolerantly. A missing to_ids is
// MISP's default for the type.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	var w wireAttribute
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	toIDS := defaultToIDS(string(w.Type))
	if w.ToIDS != nil {
		toIDS = bool(*w.ToIDS)
	}
	*a = Attribute{ID: string(w.ID), EventID: string(w.EventID), ObjectID: string(w.ObjectID), ObjectRelation: string(w.ObjectRelation),
		UUID: string(w.UUID), Type: string(w.Type), Category: string(w.Category), Value: string(w.Value), ToIDS: toIDS,
		Comment: string(w.Comment), Timestamp: string(w.Timestamp), Distribution: string(w.Distribution),
		SharingGroupID: string(w.SharingGroupID), Deleted: bool(w.Deleted), DisableCorrelation: bool(w.DisableCorrelation),
		FirstSeen: w.FirstSeen.v, LastSeen: w.LastSeen.v, SharingGroup: w.SharingGroup.v, Tag: w.Tag, Sighting: w.Sighting}
	return nil
}

type wireObject struct {
	ID              jstr               `json:"id"`
	Name            jstr               `json:"name"`
	MetaCategory    jstr               `json:"meta-category"`
	Description     jstr               `json:"description"`
	TemplateUUID    jstr               `json:"template_uuid"`
	TemplateVersion jstr               `json:"template_version"`
	EventID         jstr               `json:"event_id"`
	UUID            jstr               `json:"uuid"`
	Timestamp       jstr               `json:"timestamp"`
	Distribution    jstr               `json:"distribution"`
	SharingGroupID  jstr               `json:"sharing_group_id"`
	Comment         jstr               `json:"comment"`
	Deleted         jbool              `json:"deleted"`
	FirstSeen       optStr             `json:"first_seen"`
	LastSeen        optStr             `json:"last_seen"`
	SharingGroup    jobj[SharingGroup] `json:"SharingGroup"`
	Attribute       jlist[Attribute]   `json:"Attribute"`
}

// UnmarshalJSON decodes an object tolerantly.
func (o *Object) UnmarshalJSON(b []byte) error {
	var w wireObject
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*o = Object{ID: string(w.ID), Name: string(w.Name), MetaCategory: string(w.MetaCategory), Description: string(w.Description),
		TemplateUUID: string(w.TemplateUUID), TemplateVersion: string(w.TemplateVersion), EventID: string(w.EventID),
		UUID: string(w.UUID), Timestamp: string(w.Timestamp), Distribution: string(w.Distribution),
		SharingGroupID: string(w.SharingGroupID), Comment: string(w.Comment), Deleted: bool(w.Deleted),
		FirstSeen: w.FirstSeen.v, LastSeen: w.LastSeen.v, SharingGroup: w.SharingGroup.v, Attribute: w.Attribute}
	return nil
}

type wireEvent struct {
	ID                 jstr               `json:"id"`
	OrgcID             jstr               `json:"orgc_id"`
	OrgID              jstr               `json:"org_id"`
	Date               jstr               `json:"date"`
	ThreatLevelID      jstr               `json:"threat_level_id"`
	Info               jstr               `json:"info"`
	Published          jbool              `json:"published"`
	UUID               jstr               `json:"uuid"`
	AttributeCount     jstr               `json:"attribute_count"`
	Analysis           jstr               `json:"analysis"`
	Timestamp          jstr               `json:"timestamp"`
	Distribution       jstr               `json:"distribution"`
	ProposalEmailLock  jbool              `json:"proposal_email_lock"`
	Locked             jbool              `json:"locked"`
	PublishTimestamp   jstr               `json:"publish_timestamp"`
	SharingGroupID     jstr               `json:"sharing_group_id"`
	DisableCorrelation jbool              `json:"disable_correlation"`
	ExtendsUUID        jstr               `json:"extends_uuid"`
	Org                jobj[Org]          `json:"Org"`
	Orgc               jobj[Org]          `json:"Orgc"`
	SharingGroup       jobj[SharingGroup] `json:"SharingGroup"`
	Attribute          jlist[Attribute]   `json:"Attribute"`
	Object             jlist[Object]      `json:"Object"`
	EventReport        jlist[EventReport] `json:"EventReport"`
	Tag                jlist[Tag]         `json:"Tag"`
}

// UnmarshalJSON decodes an event tolerantly (see ParseEvent).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*e = Event{ID: string(w.ID), OrgcID: string(w.OrgcID), OrgID: string(w.OrgID), Date: string(w.Date),
		ThreatLevelID: string(w.ThreatLevelID), Info: string(w.Info), Published: bool(w.Published), UUID: string(w.UUID),
		AttributeCount: string(w.AttributeCount), Analysis: string(w.Analysis), Timestamp: string(w.Timestamp),
		Distribution: string(w.Distribution), ProposalEmailLock: bool(w.ProposalEmailLock), Locked: bool(w.Locked),
		PublishTimestamp: string(w.PublishTimestamp), SharingGroupID: string(w.SharingGroupID),
		DisableCorrelation: bool(w.DisableCorrelation), ExtendsUUID: string(w.ExtendsUUID),
		Org: w.Org.v, Orgc: w.Orgc.v, SharingGroup: w.SharingGroup.v,
		Attribute: w.Attribute, Object: w.Object, EventReport: w.EventReport, Tag: w.Tag}
	return nil
}
