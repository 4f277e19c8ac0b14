package sensor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

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
	Timestamp string `json:"timestamp"`
	SrcIP     string `json:"src_ip"`
	DestIP    string `json:"dest_ip"`
	Alert     struct {
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

// local says whether an address is on this side of the sensor: private,
// loopback, link-local or unspecified.
func local(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified()
}

// candidate picks what to propose from an alert, by the direction of its
// connection, so that what an outside attacker writes into its own requests
// is never shared:
//   - from a local client to a public server (malware calling out): the
//     name the client asked for (HTTP host, TLS SNI, DNS name), else the
//     server's address;
//   - from a public address to a local one (an attack coming in): the
//     attacker's address only — the host name in its requests is its own
//     choice ("portal.other-hospital.example"), as is the target;
//   - anything else (both public: the organisation's own public server,
//     which the sensor cannot tell from the attacker; both local): nothing.
func (a *suricataAlert) candidate() (indicator.Type, string, bool) {
	src, serr := netip.ParseAddr(a.SrcIP)
	dst, derr := netip.ParseAddr(a.DestIP)
	if serr != nil || derr != nil {
		return "", "", false
	}
	var remote netip.Addr
	switch {
	case local(src) && !local(dst):
		for _, name := range []string{a.HTTP.Hostname, a.TLS.SNI, a.DNS.RRName} {
			if name == "" {
				continue
			}
			if v, err := indicator.Canonicalize(indicator.Domain, name); err == nil {
				return indicator.Domain, v, true
			}
		}
		remote = dst
	case !local(src) && local(dst):
		remote = src
	default:
		return "", "", false
	}
	remote = remote.Unmap()
	t := indicator.IPv4
	if remote.Is6() {
		t = indicator.IPv6
	}
	return t, remote.String(), true
}

// Auto-share runs beside the inputs, never in their way: a line is queued
// (autoShareQueue at most; the rest are dropped and counted) and one
// goroutine posts what it finds, each value at most once per
// autoShareRepeat. A slow or unreachable hub, or an attacker setting off
// alert after alert, must not hold up matching.
const (
	autoShareQueue  = 256
	autoShareRepeat = time.Hour
	autoShareSeen   = 10000 // values remembered for autoShareRepeat
	// autoShareDrain bounds how long a run over files (--once) waits at
	// its end for the queued proposals to be posted.
	autoShareDrain = 15 * time.Second
)

// queueAutoShare hands an alert line to the auto-share goroutine.
func (s *Sensor) queueAutoShare(line []byte) {
	select {
	case s.shareQ <- bytes.Clone(line):
	default:
		s.counters.autoShareDropped.Add(1)
	}
}

// autoShareLoop posts the candidates of the queued alert lines until ctx
// ends, or drain is closed and the queue is empty.
func (s *Sensor) autoShareLoop(ctx context.Context, drain <-chan struct{}) {
	seen := map[string]time.Time{}
	for {
		select {
		case line := <-s.shareQ:
			s.autoShare(ctx, line, seen)
		case <-drain:
			for {
				select {
				case line := <-s.shareQ:
					s.autoShare(ctx, line, seen)
				default:
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// autoShare proposes, or shares, the candidate of a local alert line,
// unless it did so within autoShareRepeat (seen).
func (s *Sensor) autoShare(ctx context.Context, line []byte, seen map[string]time.Time) {
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
	now := s.cfg.Now()
	if until, ok := seen[string(typ)+" "+value]; ok && now.Before(until) {
		return
	}
	if len(seen) >= autoShareSeen {
		clear(seen)
	}
	seen[string(typ)+" "+value] = now.Add(autoShareRepeat)
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
	// The evidence says what the alert was, not what the local network
	// did: no internal address, URL, user agent or payload leaves.
	evidence := fmt.Sprintf("Suricata alert %q, category %q, severity %d, at %s", a.Alert.Signature, a.Alert.Category, a.Alert.Severity, a.Timestamp)
	body := map[string]any{"type": string(typ), "value": value, "evidence": evidence, "description": desc}
	if err := s.hub.postJSON(ctx, "/api/v1/proposals", body, nil); err != nil {
		s.log.Warn("auto-share proposal failed", "value", value, "err", err)
		return
	}
	s.counters.proposals.Add(1)
}
