package match

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/logparse"
	"github.com/hdnetwork/hdn/internal/stixpattern"
)

// Pattern indicators (type stix-pattern) are few, so they are not hashed:
// each is kept in the tabPattern arena like any other indicator (so that
// Update, Compact, Ref and removal by id treat it the same way) and, parsed
// once, in a list of patEntry. For each event, Session.matchPatterns
// builds the STIX cyber-observables the sensor can see in it — but only
// when the index holds an observable pattern whose object types occur in
// the event — and evaluates those patterns:
//
//   - A single bracketed observation expression without qualifiers is
//     decided by the event alone.
//   - Any other pattern (AND, OR, FOLLOWEDBY between observation
//     expressions, WITHIN, REPEATS, START/STOP) keeps a window of the
//     recent observations that satisfy at least one of its bracketed
//     comparison expressions — at most windowMax of them, none older than
//     the pattern's WITHIN (else windowAge) before the newest — and is
//     evaluated over that window whenever an event joins it. When it
//     matches, it alerts once and its window is emptied: the observations
//     that made a match never make another, so a repeat alert needs a
//     whole new set of observations.

// Bounds of a pattern's window of observations.
const (
	// windowMax is the most observations kept per pattern.
	windowMax = 64
	// windowAge is how far back the window reaches for a pattern without
	// an overall WITHIN; windowMaxAge caps a WITHIN.
	windowAge    = time.Hour
	windowMaxAge = 24 * time.Hour
)

// The STIX object types the sensor builds from its events, as bits.
const (
	stixIPv4 uint16 = 1 << iota
	stixIPv6
	stixDomain
	stixURL
	stixEmail
	stixFile
	stixX509
	stixTraffic
)

var stixTypeBits = map[string]uint16{
	"ipv4-addr": stixIPv4, "ipv6-addr": stixIPv6, "domain-name": stixDomain, "url": stixURL,
	"email-addr": stixEmail, "file": stixFile, "x509-certificate": stixX509, "network-traffic": stixTraffic,
}

// ObservableProperties are the object properties (type:property) that the
// sensor fills in from its events. A pattern that compares only these is
// observable and evaluated; any other (file:name, process:name, app:id) is
// kept but never evaluated. A *_ref is followed to the address object it
// names (network-traffic:dst_ref.value).
var ObservableProperties = map[string]bool{
	"ipv4-addr:value": true, "ipv6-addr:value": true, "domain-name:value": true, "url:value": true,
	"email-addr:value": true, "file:hashes": true, "x509-certificate:hashes": true,
	"network-traffic:src_ref": true, "network-traffic:dst_ref": true, "network-traffic:src_port": true,
	"network-traffic:dst_port": true, "network-traffic:protocols": true,
}

// patEntry is a pattern indicator of an index.
type patEntry struct {
	ref        Ref
	pat        *stixpattern.Pattern
	mask       uint16 // the object types it names
	observable bool
	hist       *patWindow // nil for a single-observation pattern
}

// builtPattern is a pattern added to a Builder.
type builtPattern struct {
	off uint32
	pat *stixpattern.Pattern
}

// patWindow is the recent observations of one multi-observation pattern,
// shared by every Session (and carried from an index to its Update).
type patWindow struct {
	age time.Duration
	mu  sync.Mutex
	win []windowObs // in time order
}

type windowObs struct {
	obs   stixpattern.Observation
	field string
	value string
}

func parsePattern(v string) (*stixpattern.Pattern, error) {
	if v == "" {
		return nil, fmt.Errorf("%w: stix-pattern is empty", ErrValue)
	}
	p, err := stixpattern.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%w: stix-pattern %q: %v", ErrValue, clip(v), err)
	}
	return p, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// buildPatterns makes the pattern entries of a newly built index.
func (x *Index) buildPatterns(bp []builtPattern) {
	for _, b := range bp {
		e := &patEntry{ref: Ref{x, tabPattern, b.off}, pat: b.pat, observable: true}
		for _, r := range b.pat.PropertyRoots() {
			if !ObservableProperties[r] {
				e.observable = false
			}
			typ, _, _ := strings.Cut(r, ":")
			e.mask |= stixTypeBits[typ]
		}
		if e.observable && !b.pat.SingleObservation() {
			age := windowAge
			if d, ok := b.pat.Within(); ok {
				age = min(d, windowMaxAge)
			}
			e.hist = &patWindow{age: age}
		}
		x.pats = append(x.pats, e)
	}
	x.linkPatterns(nil)
}

// linkPatterns lists the patterns x evaluates: its own and, for a layered
// index, its base's that are not removed. Windows of patterns that old
// (the index x was made from) also holds, with the same id and value, are
// taken over, so that an Update does not forget what was seen.
func (x *Index) linkPatterns(old *Index) {
	x.live, x.unobservable = x.live[:0], 0
	add := func(e *patEntry) {
		if e.observable {
			x.live = append(x.live, e)
		} else {
			x.unobservable++
		}
	}
	for _, e := range x.pats {
		add(e)
	}
	if x.base != nil {
		for _, e := range x.base.pats {
			if !x.removedRef(e.ref) {
				add(e)
			}
		}
	}
	if old == nil {
		return
	}
	prev := map[string]*patWindow{}
	for _, l := range []*Index{old, old.base} {
		if l == nil {
			continue
		}
		for _, e := range l.pats {
			if e.hist != nil {
				prev[patKey(e.ref)] = e.hist
			}
		}
	}
	if len(prev) == 0 {
		return
	}
	for _, e := range x.pats {
		if h := prev[patKey(e.ref)]; e.hist != nil && h != nil {
			e.hist = h
		}
	}
}

func patKey(r Ref) string { return string(r.idKey()) + string(entryValue(r.entry())) }

// Patterns reports how many pattern indicators the index holds that the
// sensor evaluates (observable: every object type they name is one of
// ObservableTypes), and how many it keeps but never evaluates.
func (x *Index) Patterns() (observable, unobservable int) {
	if x == nil {
		return 0, 0
	}
	return len(x.live), x.unobservable
}

// hashField says what a hash observation is the hash of, by its field.
func hashField(field string) uint16 {
	switch field {
	case "fileinfo.md5", "fileinfo.sha1", "fileinfo.sha256", "files.md5", "files.sha1", "files.sha256":
		return stixFile
	case "tls.fingerprint", "ssl.cert_chain_fps", "ssl.client_cert_chain_fps", "x509.fingerprint":
		return stixX509
	}
	return 0
}

// eventTypes returns the object types the sensor can build from ev.
func eventTypes(ev *logparse.Event) uint16 {
	var m uint16
	if ev.SrcIP.IsValid() || ev.DestIP.IsValid() {
		m |= stixTraffic
	}
	for i := range ev.Obs {
		o := &ev.Obs[i]
		switch o.Kind {
		case logparse.KindIP:
			if o.Addr.Unmap().Is4() {
				m |= stixIPv4
			} else {
				m |= stixIPv6
			}
		case logparse.KindName:
			m |= stixDomain
		case logparse.KindURL:
			m |= stixURL
		case logparse.KindEmail:
			m |= stixEmail
		case logparse.KindHash:
			m |= hashField(o.Field)
		}
	}
	return m
}

// objSource says which observation of the event an object came from.
type objSource struct {
	key   string
	field string
	value []byte
}

// matchPatterns evaluates the index's observable patterns against the
// event.
func (s *Session) matchPatterns(x *Index) {
	types := eventTypes(&s.ev)
	if types == 0 {
		return
	}
	found := false
	for _, e := range x.live {
		if e.mask&types != 0 {
			found = true
			break
		}
	}
	if !found {
		return
	}
	cur, srcs := s.stixObservation()
	for _, e := range x.live {
		if e.mask&types == 0 || !e.ref.LiveAt(s.clock()) {
			continue
		}
		if e.hist == nil {
			// For one observation and one bracketed expression without
			// qualifiers, MatchesAny is Match, at less cost.
			if ok, err := e.pat.MatchesAny(&cur); ok && err == nil {
				field, val := attribute(e.pat, &cur, srcs)
				s.addPatternHit(e.ref, field, val)
			}
			continue
		}
		if ok, err := e.pat.MatchesAny(&cur); !ok || err != nil {
			continue
		}
		field, val := attribute(e.pat, &cur, srcs)
		if f, v, ok := e.hist.add(e.pat, windowObs{obs: cur, field: field, value: string(val)}); ok {
			s.addPatternHit(e.ref, f, []byte(v))
		}
	}
}

// add puts an observation in the window, drops what is too old or too
// many, and evaluates the pattern over the window. When it matches, add
// returns the field and value of the earliest observation of the latest
// set that satisfies it (the largest i such that the window from i on still
// matches), and empties the window.
func (w *patWindow) add(p *stixpattern.Pattern, o windowObs) (field, value string, matched bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := o.obs.FirstObserved
	i := len(w.win)
	for i > 0 && w.win[i-1].obs.FirstObserved.After(at) {
		i--
	}
	w.win = append(w.win, windowObs{})
	copy(w.win[i+1:], w.win[i:])
	w.win[i] = o
	newest := w.win[len(w.win)-1].obs.LastObserved
	drop := 0
	for drop < len(w.win) && (len(w.win)-drop > windowMax || w.win[drop].obs.LastObserved.Before(newest.Add(-w.age))) {
		drop++
	}
	if drop > 0 {
		n := copy(w.win, w.win[drop:])
		clear(w.win[n:])
		w.win = w.win[:n]
	}
	if len(w.win) == 0 {
		return "", "", false
	}
	obs := make([]stixpattern.Observation, len(w.win))
	for k := range w.win {
		obs[k] = w.win[k].obs
	}
	if ok, err := p.Match(obs); !ok || err != nil {
		return "", "", false
	}
	first := 0
	for k := len(obs) - 1; k > 0; k-- {
		if ok, err := p.Match(obs[k:]); ok && err == nil {
			first = k
			break
		}
	}
	field, value = w.win[first].field, w.win[first].value
	clear(w.win)
	w.win = w.win[:0]
	return field, value, true
}

// addPatternHit records a pattern's hit, once per event.
func (s *Session) addPatternHit(r Ref, field string, val []byte) {
	for i := range s.hits {
		if s.hits[i].ref == r {
			return
		}
	}
	s.hits = append(s.hits, hit{ref: r, obs: -1, field: field, val: val})
}

// attribute returns the field and value of the first object of the
// observation (in the order of the event's observations; a file after
// them, the network traffic last) that satisfies one of the pattern's
// comparison expressions on its own. A network-traffic object is reported
// as the flow's destination address (else its source).
func attribute(p *stixpattern.Pattern, cur *stixpattern.Observation, srcs []objSource) (string, []byte) {
	for _, src := range srcs {
		one := stixpattern.Observation{
			FirstObserved: cur.FirstObserved, LastObserved: cur.LastObserved, NumberObserved: 1,
			Objects: map[string]map[string]any{src.key: cur.Objects[src.key]}, Refs: cur.Objects,
		}
		if ok, err := p.MatchesAny(&one); ok && err == nil {
			return src.field, src.value
		}
	}
	if len(srcs) > 0 {
		return srcs[0].field, srcs[0].value
	}
	return "", nil
}

// stixObservation builds the STIX observed-data of the current event: one
// observation (number_observed 1, first and last observed at the event's
// time) whose objects are keyed "0", "1", … in the order of srcs.
func (s *Session) stixObservation() (stixpattern.Observation, []objSource) {
	ev := &s.ev
	at := s.eventTime()
	objs := make(map[string]map[string]any, len(ev.Obs)+2)
	var srcs []objSource
	put := func(obj map[string]any, field string, value []byte) string {
		k := strconv.Itoa(len(srcs))
		objs[k] = obj
		srcs = append(srcs, objSource{key: k, field: field, value: value})
		return k
	}
	var file map[string]any
	var fileSrc objSource
	for i := range ev.Obs {
		o := &ev.Obs[i]
		if seenBefore(ev.Obs, i) {
			continue
		}
		switch o.Kind {
		case logparse.KindIP:
			a := o.Addr.Unmap()
			typ := "ipv6-addr"
			if a.Is4() {
				typ = "ipv4-addr"
			}
			put(map[string]any{"type": typ, "value": a.String()}, o.Field, o.Value)
		case logparse.KindName:
			put(map[string]any{"type": "domain-name", "value": lowerName(o.Value)}, o.Field, o.Value)
		case logparse.KindURL:
			put(map[string]any{"type": "url", "value": string(o.Value)}, o.Field, o.Value)
		case logparse.KindEmail:
			put(map[string]any{"type": "email-addr", "value": lowerASCII(o.Value)}, o.Field, o.Value)
		case logparse.KindHash:
			alg := hashAlg(len(o.Value))
			if alg == "" {
				continue
			}
			h := string(appendHexLower(o.Value))
			switch hashField(o.Field) {
			case stixFile:
				if file == nil {
					file = map[string]any{}
					fileSrc = objSource{field: o.Field, value: o.Value}
				}
				addHash(file, alg, h)
			case stixX509:
				hs := map[string]any{}
				addHash(hs, alg, h)
				put(map[string]any{"type": "x509-certificate", "hashes": hs}, o.Field, o.Value)
			}
		}
	}
	if file != nil {
		put(map[string]any{"type": "file", "hashes": file}, fileSrc.field, fileSrc.value)
	}
	if ev.SrcIP.IsValid() || ev.DestIP.IsValid() {
		nt := map[string]any{"type": "network-traffic"}
		var field string
		var value []byte
		ref := func(a netip.Addr, prop string) {
			if !a.IsValid() {
				return
			}
			a = a.Unmap()
			for _, src := range srcs {
				obj := objs[src.key]
				if (obj["type"] == "ipv4-addr" || obj["type"] == "ipv6-addr") && obj["value"] == a.String() {
					nt[prop] = src.key
					field, value = src.field, src.value
					return
				}
			}
			typ := "ipv6-addr"
			if a.Is4() {
				typ = "ipv4-addr"
			}
			v := []byte(a.String())
			nt[prop] = put(map[string]any{"type": typ, "value": a.String()}, prop, v)
			field, value = prop, v
		}
		ref(ev.SrcIP, "src_ref")
		ref(ev.DestIP, "dst_ref") // the destination names the flow when there is one
		if ev.SrcPort >= 0 {
			nt["src_port"] = json.Number(strconv.Itoa(int(ev.SrcPort)))
		}
		if ev.DestPort >= 0 {
			nt["dst_port"] = json.Number(strconv.Itoa(int(ev.DestPort)))
		}
		var protos []any
		if len(ev.Proto) > 0 {
			protos = append(protos, lowerASCII(ev.Proto))
		}
		if app := appProtocol(ev.Type); app != "" {
			protos = append(protos, app)
		}
		if protos != nil {
			nt["protocols"] = protos
		}
		put(nt, field, value)
	}
	return stixpattern.Observation{FirstObserved: at, LastObserved: at, NumberObserved: 1, Objects: objs}, srcs
}

// addHash files a digest under its STIX hash name and the usual spelling
// without the hyphen.
func addHash(hs map[string]any, alg, h string) {
	hs[alg] = h
	switch alg {
	case "SHA-1":
		hs["SHA1"] = h
	case "SHA-256":
		hs["SHA256"] = h
	case "SHA-512":
		hs["SHA512"] = h
	}
}

func hashAlg(n int) string {
	switch n {
	case 32:
		return "MD5"
	case 40:
		return "SHA-1"
	case 64:
		return "SHA-256"
	case 128:
		return "SHA-512"
	}
	return ""
}

func appendHexLower(v []byte) []byte {
	b := make([]byte, len(v))
	for i, c := range v {
		b[i] = lower(c)
	}
	return b
}

// lowerName returns a name in ASCII lower case, without a trailing dot.
func lowerName(v []byte) string {
	if len(v) > 0 && v[len(v)-1] == '.' {
		v = v[:len(v)-1]
	}
	return lowerASCII(v)
}

func lowerASCII(v []byte) string {
	b := make([]byte, len(v))
	for i, c := range v {
		b[i] = lower(c)
	}
	return string(b)
}

// appProtocol is the application protocol of an event type, in the terms
// of STIX network-traffic protocols, or "".
func appProtocol(typ []byte) string {
	switch string(typ) {
	case "dns", "http", "tls", "smtp", "quic", "ssh", "ftp", "smb", "dhcp", "ntp", "snmp", "sip", "rdp":
		return string(typ)
	case "ssl":
		return "tls"
	}
	return ""
}

// eventTime returns the event's own time, or the clock's when it has none.
func (s *Session) eventTime() time.Time {
	t := s.ev.Time
	switch s.ev.TimeFormat {
	case logparse.TimeText:
		for _, layout := range []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if pt, err := time.Parse(layout, string(t)); err == nil {
				return pt.UTC()
			}
		}
	case logparse.TimeEpoch:
		if et, ok := epochTime(t); ok {
			return et.UTC()
		}
	}
	return s.clock().UTC()
}
