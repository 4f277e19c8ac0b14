package match_test

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestAlertSIDIsExportedRuleSID: an alert on an indicator carries, as its
// signature_id, the sid of the Suricata rule the hub's export gives the
// same indicator for what was seen (a name's DNS, TLS SNI or HTTP Host
// rule), and, in its signature, the TLP the rule's msg names — so that a
// SIEM correlates the sensor's alerts with Suricata's. Before, the alert's
// signature_id was a hash of its own (2,000,000,000 and up) that no rule
// had.
func TestAlertSIDIsExportedRuleSID(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	inds := []model.Indicator{
		{ID: "0195f3c0-7a00-7000-8000-000000000001", Type: indicator.Domain, Value: "c2.bad-actor.example", TLP: policy.Amber, Labels: []string{"c2"}},
		{ID: "0195f3c0-7a00-7000-8000-000000000002", Type: indicator.Hostname, Value: "login.micros0ft-support.example", TLP: policy.AmberStrict, Labels: []string{"phishing"}},
		{ID: "0195f3c0-7a00-7000-8000-000000000003", Type: indicator.URL, Value: "http://evil.example/dl/payload.exe", TLP: policy.Green},
		{ID: "0195f3c0-7a00-7000-8000-000000000004", Type: indicator.IPv4, Value: "198.51.100.23", TLP: policy.Red, Labels: []string{"ransomware"}},
		{ID: "0195f3c0-7a00-7000-8000-000000000005", Type: indicator.JA3, Value: "e7eca2baf4458d095b7f45da28c16c34", TLP: policy.Clear},
	}
	for i := range inds {
		inds[i].ValidFrom, inds[i].Created, inds[i].Modified, inds[i].Seq = now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-time.Hour), int64(i+1)
	}

	// The exported rules: (indicator id, what) -> sid, and the msg's TLP.
	var rules bytes.Buffer
	src := iter.Seq2[model.Indicator, error](func(yield func(model.Indicator, error) bool) {
		for _, ind := range inds {
			if !yield(ind, nil) {
				return
			}
		}
	})
	if _, err := export.Write(&rules, export.Suricata, src, export.Options{Now: now}); err != nil {
		t.Fatal(err)
	}
	ruleRE := regexp.MustCompile(`msg:"HDN \S+ \S+ ?(DNS query|TLS SNI|HTTP Host)? (TLP:[A-Z+]+).*hdn_id ([^,]+),.*; sid:(\d+);`)
	type ruleKey struct{ id, what string }
	sids := map[ruleKey]int64{}
	tlps := map[string]string{}
	for line := range strings.Lines(rules.String()) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := ruleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("rule not understood: %s", line)
		}
		sid, _ := strconv.ParseInt(m[4], 10, 64)
		sids[ruleKey{m[3], m[1]}] = sid
		tlps[m[3]] = m[2]
	}

	var mis []match.Indicator
	for _, ind := range inds {
		mis = append(mis, match.Indicator{ID: ind.ID, Type: ind.Type, Value: ind.Value, TLP: string(ind.TLP), Labels: ind.Labels})
	}
	idx, err := match.Build(mis)
	if err != nil {
		t.Fatal(err)
	}
	events := []struct{ line, id, what string }{
		{`{"timestamp":"2026-03-02T12:00:00.000001+0000","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","rrname":"x.c2.bad-actor.example"}}`, inds[0].ID, "DNS query"},
		{`{"timestamp":"2026-03-02T12:00:00.000002+0000","event_type":"tls","src_ip":"10.0.0.5","dest_ip":"192.0.2.30","proto":"TCP","tls":{"sni":"c2.bad-actor.example"}}`, inds[0].ID, "TLS SNI"},
		{`{"timestamp":"2026-03-02T12:00:00.000003+0000","event_type":"http","src_ip":"10.0.0.5","dest_ip":"192.0.2.10","dest_port":80,"proto":"TCP","http":{"hostname":"c2.bad-actor.example","url":"/"}}`, inds[0].ID, "HTTP Host"},
		{`{"timestamp":"2026-03-02T12:00:00.000004+0000","event_type":"tls","src_ip":"10.0.0.5","dest_ip":"192.0.2.31","proto":"TCP","tls":{"sni":"login.micros0ft-support.example"}}`, inds[1].ID, "TLS SNI"},
		{`{"timestamp":"2026-03-02T12:00:00.000005+0000","event_type":"http","src_ip":"10.0.0.5","dest_ip":"192.0.2.11","dest_port":80,"proto":"TCP","http":{"hostname":"evil.example","url":"/dl/payload.exe"}}`, inds[2].ID, ""},
		{`{"timestamp":"2026-03-02T12:00:00.000006+0000","event_type":"flow","src_ip":"10.0.0.5","src_port":1234,"dest_ip":"198.51.100.23","dest_port":443,"proto":"TCP"}`, inds[3].ID, ""},
		{`{"timestamp":"2026-03-02T12:00:00.000007+0000","event_type":"tls","src_ip":"10.0.0.5","dest_ip":"192.0.2.32","proto":"TCP","tls":{"ja3":{"hash":"e7eca2baf4458d095b7f45da28c16c34"}}}`, inds[4].ID, ""},
	}
	m := match.NewMatcher(idx)
	for _, ev := range events {
		var out bytes.Buffer
		if _, err := match.Run(context.Background(), strings.NewReader(ev.line+"\n"), match.FormatEVE, m, &out, 1); err != nil {
			t.Fatal(err)
		}
		found := false
		for line := range bytes.Lines(out.Bytes()) {
			var a struct {
				Alert struct {
					SignatureID int64  `json:"signature_id"`
					Signature   string `json:"signature"`
				} `json:"alert"`
				HDN struct{ ID, Field string } `json:"hdn"`
			}
			if err := json.Unmarshal(line, &a); err != nil {
				t.Fatal(err)
			}
			if a.HDN.ID != ev.id {
				continue
			}
			found = true
			want, ok := sids[ruleKey{ev.id, ev.what}]
			if !ok {
				t.Fatalf("no exported rule for %s %q", ev.id, ev.what)
			}
			if a.Alert.SignatureID != want {
				t.Errorf("%s seen in %s: signature_id %d, the exported rule (%q) has sid %d", ev.id, a.HDN.Field, a.Alert.SignatureID, ev.what, want)
			}
			if !strings.Contains(a.Alert.Signature, " "+tlps[ev.id]) {
				t.Errorf("%s: signature %q does not name %s as the rule's msg does", ev.id, a.Alert.Signature, tlps[ev.id])
			}
		}
		if !found {
			t.Errorf("no alert on %s for %s", ev.id, ev.line)
		}
	}
}
