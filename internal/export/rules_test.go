package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// rule is a parsed rule line: its header and its options in order.
type rule struct {
	header string
	opts   []ruleOpt
}

type ruleOpt struct{ name, value string }

func (r rule) get(name string) []string {
	var vs []string
	for _, o := range r.opts {
		if o.name == name {
			vs = append(vs, o.value)
		}
	}
	return vs
}

func (r rule) sid(t *testing.T) int64 {
	t.Helper()
	s := r.get("sid")
	if len(s) != 1 {
		t.Fatalf("rule has %d sids", len(s))
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// parseRule splits a rule line as the engines do: the header up to "(",
// then options "name[:value];" where a value may hold quoted strings with
// backslash escapes, up to the closing ")" that ends the line.
func parseRule(line string) (rule, error) {
	open := strings.IndexByte(line, '(')
	if open < 0 || !strings.HasSuffix(line, ")") {
		return rule{}, fmt.Errorf("no (options)")
	}
	r := rule{header: strings.TrimSpace(line[:open])}
	body := line[open+1 : len(line)-1]
	for len(strings.TrimSpace(body)) > 0 {
		body = strings.TrimLeft(body, " ")
		var opt strings.Builder
		quoted, i := false, 0
		for ; i < len(body); i++ {
			c := body[i]
			if c == '\\' && quoted && i+1 < len(body) {
				opt.WriteByte(c)
				opt.WriteByte(body[i+1])
				i++
				continue
			}
			if c == '"' {
				quoted = !quoted
			}
			if c == ';' && !quoted {
				break
			}
			opt.WriteByte(c)
		}
		if i == len(body) {
			return rule{}, fmt.Errorf("option %q does not end in ;", opt.String())
		}
		body = body[i+1:]
		name, value, _ := strings.Cut(opt.String(), ":")
		r.opts = append(r.opts, ruleOpt{strings.TrimSpace(name), value})
	}
	return r, nil
}

// decodeContent reads a content:"…" value back into bytes, refusing
// characters that must not stand bare.
func decodeContent(v string) ([]byte, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, fmt.Errorf("content %s is not quoted", v)
	}
	v = v[1 : len(v)-1]
	var out []byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '|':
			end := strings.IndexByte(v[i+1:], '|')
			if end < 0 {
				return nil, fmt.Errorf("unclosed |hex| in %s", v)
			}
			b, err := hex.DecodeString(strings.ReplaceAll(v[i+1:i+1+end], " ", ""))
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
			i += end + 1
		case '"', ';', '\\', ':':
			return nil, fmt.Errorf("bare %q in content %s", c, v)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func parseRules(t *testing.T, out []byte) []rule {
	t.Helper()
	var rules []rule
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "alert ") {
			t.Fatalf("line %d is not a rule: %q", i+1, line)
		}
		r, err := parseRule(line)
		if err != nil {
			t.Fatalf("line %d: %v: %q", i+1, err, line)
		}
		rules = append(rules, r)
	}
	return rules
}

// checkRuleFacts checks what every rule of both engines must have: one
// msg naming HDN, metadata naming the indicator, a unique sid within the
// sid range, a rev, decodable contents.
func checkRuleFacts(t *testing.T, rules []rule, base int64) map[string][]rule {
	t.Helper()
	sids := map[int64]bool{}
	byID := map[string][]rule{}
	meta := regexp.MustCompile(`(?:^|, )hdn_id ([^,]+), hdn_type ([^,]+), tlp ([^,]+)$`)
	for _, r := range rules {
		msg := r.get("msg")
		if len(msg) != 1 || !strings.HasPrefix(msg[0], `"HDN `) {
			t.Errorf("msg %q", msg)
		}
		m := meta.FindStringSubmatch(strings.Join(r.get("metadata"), ""))
		if m == nil {
			t.Errorf("metadata %q does not name the indicator", r.get("metadata"))
			continue
		}
		byID[m[1]] = append(byID[m[1]], r)
		sid := r.sid(t)
		if sids[sid] {
			t.Errorf("sid %d used twice", sid)
		}
		sids[sid] = true
		if sid < base || sid >= base+sidSpan {
			t.Errorf("sid %d outside [%d, %d)", sid, base, base+sidSpan)
		}
		if rev := r.get("rev"); len(rev) != 1 {
			t.Errorf("rev %q", rev)
		}
		for _, c := range r.get("content") {
			if _, err := decodeContent(c); err != nil {
				t.Error(err)
			}
		}
	}
	return byID
}

func TestSuricataRuleFacts(t *testing.T) {
	out, st := goldenCase{format: Suricata}.export(t)
	rules := parseRules(t, out)
	if len(rules) != st.Records {
		t.Fatalf("%d rules, stats say %d", len(rules), st.Records)
	}
	byID := checkRuleFacts(t, rules, DefaultSIDBase)
	for _, ind := range fixture() {
		rs := byID[ind.ID]
		switch ind.Type {
		case indicator.Domain, indicator.Hostname:
			if !ind.Live(testNow) {
				continue
			}
			if len(rs) != 3 {
				t.Fatalf("%s: %d rules", ind.Value, len(rs))
			}
			for i, buf := range []string{"dns.query", "tls.sni", "http.host"} {
				r := rs[i]
				if r.opts[1].name != buf {
					t.Errorf("%s: rule %d buffer %q", ind.Value, i, r.opts[1].name)
				}
				c, _ := decodeContent(r.get("content")[0])
				if ind.Type == indicator.Domain {
					// dotprefix + ".name" + endswith: the name and its sub-domains.
					if r.opts[2].name != "dotprefix" || string(c) != "."+ind.Value || len(r.get("endswith")) != 1 {
						t.Errorf("%s: %v", ind.Value, r.opts)
					}
				} else if string(c) != ind.Value || r.get("bsize")[0] != strconv.Itoa(len(ind.Value)) {
					t.Errorf("%s: %v", ind.Value, r.opts)
				}
				if sid := r.sid(t); sid != rs[0].sid(t)+int64(i) {
					t.Errorf("%s: sids %d, %d not consecutive", ind.Value, rs[0].sid(t), sid)
				}
			}
		case indicator.URL:
			if len(rs) != 1 {
				t.Fatalf("%s: %d rules", ind.Value, len(rs))
			}
			r := rs[0]
			cs := r.get("content")
			host, _ := decodeContent(cs[0])
			target, _ := decodeContent(cs[1])
			tgt, _ := parseHTTPURL(ind.Value)
			if string(host) != tgt.host || string(target) != tgt.target || !strings.HasSuffix(ind.Value, string(target)) {
				t.Errorf("%s: host %q target %q", ind.Value, host, target)
			}
			if strings.Contains(ind.Value, "?") == (len(r.get("pcre")) == 1) {
				t.Errorf("%s: a URL with a query is matched exactly, one without by pcre: %v", ind.Value, r.opts)
			}
		case indicator.IPv4, indicator.IPv6, indicator.CIDR:
			if len(rs) != 1 || !strings.HasPrefix(rs[0].header, "alert ip any any <> ["+ind.Value+"] any") {
				t.Errorf("%s: %v", ind.Value, rs)
			}
		case indicator.JA3, indicator.JA3S, indicator.JA4:
			if len(rs) != 1 || rs[0].opts[1].name != string(ind.Type)+".hash" {
				t.Errorf("%s: %v", ind.Value, rs)
			}
		default:
			if len(rs) != 0 {
				t.Errorf("%s %s has rules", ind.Type, ind.Value)
			}
		}
		for _, r := range rs {
			if rev := r.get("rev")[0]; rev != strconv.FormatInt(revision(ind.Seq), 10) {
				t.Errorf("%s: rev %s, seq %d", ind.Value, rev, ind.Seq)
			}
		}
	}
}

func TestSnortRuleFacts(t *testing.T) {
	out, st := goldenCase{format: Snort}.export(t)
	rules := parseRules(t, out)
	if len(rules) != st.Records {
		t.Fatalf("%d rules, stats say %d", len(rules), st.Records)
	}
	byID := checkRuleFacts(t, rules, DefaultSIDBase)
	for _, ind := range fixture() {
		rs := byID[ind.ID]
		if !ind.Live(testNow) {
			continue
		}
		switch ind.Type {
		case indicator.Domain, indicator.Hostname:
			if len(rs) != 1 {
				t.Fatalf("%s: %d rules", ind.Value, len(rs))
			}
			c, _ := decodeContent(rs[0].get("content")[0])
			if string(c) != dnsWire(ind.Value) {
				t.Errorf("%s: content %q", ind.Value, c)
			}
			if (ind.Type == indicator.Hostname) != (len(rs[0].get("offset")) == 1) {
				t.Errorf("%s: a hostname is anchored at the question, a domain is not: %v", ind.Value, rs[0].opts)
			}
		case indicator.URL, indicator.IPv4, indicator.IPv6, indicator.CIDR:
			if len(rs) != 1 {
				t.Errorf("%s: %d rules", ind.Value, len(rs))
			}
		default:
			if len(rs) != 0 {
				t.Errorf("%s %s has rules", ind.Type, ind.Value)
			}
		}
	}
}

func TestDNSWire(t *testing.T) {
	if got := dnsWire("c2.bad-actor.example"); got != "\x02c2\x09bad-actor\x07example\x00" {
		t.Errorf("dnsWire = %q", got)
	}
}

func TestContentEscaping(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{`a"b;c\d|e:f`, "tab\tnl\n", string(all), ""} {
		var b bytes.Buffer
		content(&b, s)
		got, err := decodeContent(`"` + b.String() + `"`)
		if err != nil || string(got) != s {
			t.Errorf("content(%q) = %q, decodes to %q, %v", s, b.String(), got, err)
		}
	}
	var b bytes.Buffer
	msgText(&b, "x\"y;z\\w\nv\u00e9", 100)
	if got := b.String(); got != `x\"y\;z\\w?v??` {
		t.Errorf("msgText = %q", got)
	}
}

// ids returns n indicator ids; two of them collide in the sid slots when
// collide is set.
func collidingIDs(t *testing.T) (string, string) {
	t.Helper()
	seen := map[uint64]string{}
	for i := 0; i < 1<<20; i++ {
		id := fmt.Sprintf("0195f3c0-0000-7000-8000-%012x", i)
		h := sha256.Sum256([]byte(id))
		s := binary.BigEndian.Uint64(h[:8]) % sidSlots
		if other, ok := seen[s]; ok {
			return other, id
		}
		seen[s] = id
	}
	t.Fatal("no collision found")
	return "", ""
}

// TestSIDStability checks that an indicator keeps its sids whatever else
// is in the export and in which order, and that two ids that hash to the
// same slot still get distinct sids within one export.
func TestSIDStability(t *testing.T) {
	sidsOf := func(inds []model.Indicator, f Format) map[string][]int64 {
		var buf bytes.Buffer
		if _, err := Write(&buf, f, seq(inds), testOptions()); err != nil {
			t.Fatal(err)
		}
		m := map[string][]int64{}
		meta := regexp.MustCompile(`hdn_id ([^,]+),`)
		for _, r := range parseRules(t, buf.Bytes()) {
			id := meta.FindStringSubmatch(r.get("metadata")[0])[1]
			m[id] = append(m[id], r.sid(t))
		}
		return m
	}
	for _, f := range []Format{Suricata, Snort} {
		all := fixture()
		full := sidsOf(all, f)
		var part []model.Indicator
		for i := len(all) - 1; i >= 0; i -= 2 {
			part = append(part, all[i])
		}
		for id, sids := range sidsOf(part, f) {
			if fmt.Sprint(sids) != fmt.Sprint(full[id]) {
				t.Errorf("%s: %s has sids %v alone, %v with the others", f, id, sids, full[id])
			}
		}
	}

	a, b := collidingIDs(t)
	mk := func(id, v string) model.Indicator {
		return model.Indicator{ID: id, Type: indicator.Domain, Value: v, TLP: policy.Green}
	}
	both := sidsOf([]model.Indicator{mk(a, "one.example"), mk(b, "two.example")}, Suricata)
	alone := sidsOf([]model.Indicator{mk(b, "two.example")}, Suricata)
	if both[a][0] != alone[b][0] {
		t.Errorf("colliding ids: the first keeps the slot: %v vs %v", both[a], alone[b])
	}
	if both[b][0] != both[a][0]+sidsPerSlot {
		t.Errorf("colliding ids: the second takes the next slot: %v, %v", both[a], both[b])
	}
}

func TestSIDBase(t *testing.T) {
	opt := testOptions()
	opt.SIDBase = 1_000_000
	var buf bytes.Buffer
	if _, err := Write(&buf, Suricata, seq(fixture()), opt); err != nil {
		t.Fatal(err)
	}
	checkRuleFacts(t, parseRules(t, buf.Bytes()), 1_000_000)
}

// TestSuricataLongURLSkipped: a URL whose rule would pass Suricata's 8 KiB
// line is left out (and counted as skipped): Suricata would not load it,
// would read its rest as another broken rule, and `suricata -T` would refuse
// the whole file for every sensor.
func TestSuricataLongURLSkipped(t *testing.T) {
	long := "http://phish.example.org/login/" + strings.Repeat("aB3dE", 800)
	inds := []model.Indicator{
		{ID: "1", Type: indicator.URL, Value: long, TLP: policy.Green, Seq: 1},
		{ID: "2", Type: indicator.URL, Value: "http://phish.example.org/short", TLP: policy.Green, Seq: 2},
	}
	var buf bytes.Buffer
	st, err := Write(&buf, Suricata, seq(inds), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 || st.Written != 1 {
		t.Errorf("stats %+v, want the long URL skipped and the short one written", st)
	}
	for line := range strings.SplitSeq(buf.String(), "\n") {
		if len(line)+1 > 8192 {
			t.Errorf("a line of %d bytes", len(line))
		}
	}
}
