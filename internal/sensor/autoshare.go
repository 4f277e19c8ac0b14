package sensor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// AutoShare turns local Suricata alerts into indicators: the alert's remote
// domain (HTTP host, TLS SNI, DNS name) or, failing that, its remote public
// address is either proposed to the organisation's analysts, who decide in
// the hub's approval queue what is shared with which TLP ("propose"), or,
// where the organisation chose so, shared at once with a fixed TLP
// ("share"; the sensor then needs an analyst key, since a sensor key may
// not submit).
type AutoShare struct {
	Mode        string // "" (off), "propose" or "share"
	MaxSeverity int    // alerts of this Suricata severity or more severe (1 is the most severe; default 2)
	TLP         string // for "share" (default amber)
}

// suricataAlert is what auto-share reads of an EVE alert.
type suricataAlert struct {
	SrcIP  string `json:"src_ip"`
	DestIP string `json:"dest_ip"`
	Alert  struct {
		Signature string `json:"signature"`
		Category  string `json:"category"`
		Severity  int    `json:"severity"`
	} `json:"alert"`
	HTTP struct {
		Hostname string `json:"hostname"`
	} `json:"http"`
	TLS struct {
		SNI string `json:"sni"`
	} `json:"tls"`
	DNS struct {
		RRName string `json:"rrname"`
	} `json:"dns"`
}

// candidate picks what to propose from an alert: a domain when there is
// one, else the address that is not private.
func (a *suricataAlert) candidate() (indicator.Type, string, bool) {
	for _, name := range []string{a.HTTP.Hostname, a.TLS.SNI, a.DNS.RRName} {
		if name == "" {
			continue
		}
		if v, err := indicator.Canonicalize(indicator.Domain, name); err == nil {
			return indicator.Domain, v, true
		}
	}
	for _, ip := range []string{a.DestIP, a.SrcIP} {
		addr, err := netip.ParseAddr(ip)
		if err != nil || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified() {
			continue
		}
		t := indicator.IPv4
		if addr.Unmap().Is6() {
			t = indicator.IPv6
		}
		return t, addr.Unmap().String(), true
	}
	return "", "", false
}

// autoShare proposes the candidate of a local alert line.
func (s *Sensor) autoShare(ctx context.Context, line []byte) {
	mode := s.cfg.AutoShare.Mode
	if s.hub == nil || (mode != "propose" && mode != "share") {
		return
	}
	var a suricataAlert
	if json.Unmarshal(line, &a) != nil || a.Alert.Severity == 0 {
		return
	}
	maxSev := s.cfg.AutoShare.MaxSeverity
	if maxSev == 0 {
		maxSev = 2
	}
	if a.Alert.Severity > maxSev {
		return
	}
	typ, value, ok := a.candidate()
	if !ok {
		return
	}
	desc := fmt.Sprintf("Suricata alert %q (severity %d)", a.Alert.Signature, a.Alert.Severity)
	if mode == "share" {
		tlp := s.cfg.AutoShare.TLP
		if tlp == "" {
			tlp = "amber"
		}
		var res struct {
			Results []struct {
				Status string
				Error  *struct{ Message string }
			}
		}
		body := map[string]any{"indicators": []any{map[string]any{"type": string(typ), "value": value, "tlp": tlp, "description": desc}}}
		if err := s.hub.postJSON(ctx, "/api/v1/indicators", body, &res); err != nil {
			s.log.Warn("auto-share failed", "value", value, "err", err)
			return
		}
		if len(res.Results) == 1 && res.Results[0].Error != nil {
			s.log.Warn("auto-share refused by the hub", "value", value, "reason", res.Results[0].Error.Message)
			return
		}
		s.counters.proposals.Add(1)
		return
	}
	body := map[string]any{"type": string(typ), "value": value, "evidence": string(line), "description": desc}
	if err := s.hub.postJSON(ctx, "/api/v1/proposals", body, nil); err != nil {
		s.log.Warn("auto-share proposal failed", "value", value, "err", err)
		return
	}
	s.counters.proposals.Add(1)
}
