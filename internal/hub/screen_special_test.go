package hub_test

import (
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestScreenSpecialUseAndIPv6: what a member could get into every
// hospital's response policy zone and IDS rules before: reverse-DNS zones
// ("*.10.in-addr.arpa CNAME ." breaks reverse lookups of 10.0.0.0/8),
// localhost URLs, email addresses whose local part splits a blocklist line,
// IPv6 blocks of a quarter of a region, NAT64 and 6to4 addresses and public
// resolvers' IPv6 addresses. Each is rejected, and none reaches an export.
func TestScreenSpecialUseAndIPv6(t *testing.T) {
	h := hubtest.Start(t, hub.Config{Warninglists: shippedWarninglists(t)})
	member := h.Key(h.Org("Member", policy.Member, ""), policy.Analyst)
	reader := h.Key(h.Org("Reader", policy.Member, ""), policy.Sensor)
	items := []map[string]any{
		{"type": "domain", "value": "10.in-addr.arpa"},
		{"type": "domain", "value": "168.192.in-addr.arpa"},
		{"type": "domain", "value": "d.f.ip6.arpa"},
		{"type": "domain", "value": "resolver.arpa"},
		{"type": "hostname", "value": "nas.home.arpa"},
		{"type": "domain", "value": "printer.local"},
		{"type": "domain", "value": "dc01.hospital.internal"},
		{"type": "url", "value": "http://localhost/admin"},
		{"type": "url", "value": "http://app.localhost:8080/"},
		{"type": "email", "value": "it@intranet.local"},
		{"type": "email", "value": "x\u20290.0.0.0/0\u2029y@mail-phish.xyz"},
		{"type": "email", "value": "x\u00850.0.0.0/0\u0085y@mail-phish.xyz"},
		{"type": "cidr", "value": "2c00::/8"},
		{"type": "cidr", "value": "2a00::/8"},
		{"type": "cidr", "value": "64:ff9b::/96"},
		{"type": "ipv6", "value": "64:ff9b::a00:1"},
		{"type": "ipv6", "value": "2002:a00:1::1"},
		{"type": "ipv6", "value": "2001:4860:4860::8888"},
		{"type": "ipv6", "value": "2606:4700:4700::1111"},
	}
	for _, it := range items {
		it["tlp"] = "green"
	}
	res := submit(t, h, member, items...)
	for i, r := range res {
		if r.Status != "rejected" {
			t.Errorf("%s %q: %s (%+v), want rejected", items[i]["type"], items[i]["value"], r.Status, r.Warninglists)
		}
	}
	// Still accepted: a Tor service, a /29 (a whole provider's allocation).
	ok := submit(t, h, member,
		map[string]any{"type": "domain", "value": "abcdefghijklmnop.onion", "tlp": "green"},
		map[string]any{"type": "cidr", "value": "2a0d:1a40::/29", "tlp": "green"},
	)
	for _, r := range ok {
		if r.Status != "created" {
			t.Errorf("%s %q: %s %+v, want created", r.Type, r.Value, r.Status, r.Error)
		}
	}
	for _, f := range []string{"rpz", "suricata", "list"} {
		out := h.Do("GET", "/api/v1/export/"+f, reader, nil)
		if out.Status != 200 {
			t.Fatalf("export %s: %d %s", f, out.Status, out.Body)
		}
		body := string(out.Body)
		// (The zone's own SOA and NS name "localhost." and its origin is
		// "rpz.hdn.local".)
		for _, bad := range []string{"in-addr.arpa", "ip6.arpa", "resolver.arpa", "home.arpa", "printer.local", "intranet.local", "hospital.internal", "localhost/", "app.localhost", "ff9b", "2c00", "2a00::", "2002:", "4860", "4700", "0.0.0.0/0"} {
			if strings.Contains(body, bad) {
				t.Errorf("export %s holds %q", f, bad)
			}
		}
		if !strings.Contains(body, "abcdefghijklmnop.onion") {
			t.Errorf("export %s lacks the accepted .onion name", f)
		}
	}
}
