package export

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// parseZone reads a zone with miekg/dns's parser, as a resolver would, and
// returns its records by owner name.
func parseZone(t testing.TB, zone []byte, origin string) (map[string][]dns.RR, *dns.SOA) {
	t.Helper()
	zp := dns.NewZoneParser(bytes.NewReader(zone), origin+".", "hdn.rpz")
	byName := map[string][]dns.RR{}
	var soa *dns.SOA
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		byName[h.Name] = append(byName[h.Name], rr)
		if s, ok := rr.(*dns.SOA); ok {
			soa = s
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone does not parse: %v\n%s", err, zone)
	}
	return byName, soa
}

func TestRPZZone(t *testing.T) {
	for _, c := range []struct {
		opt    func(*Options)
		origin string
		target string
	}{
		{nil, "rpz.hdn.local", "."},
		{func(o *Options) { o.RPZAction = "nodata" }, "rpz.hdn.local", "*."},
		{func(o *Options) { o.RPZAction = "drop"; o.RPZOrigin = "RPZ.Z-Cert.Example." }, "rpz.z-cert.example", "rpz-drop."},
		{func(o *Options) { o.RPZAction = "passthru" }, "rpz.hdn.local", "rpz-passthru."},
	} {
		out, st := goldenCase{format: RPZ, opt: c.opt}.export(t)
		zone, soa := parseZone(t, out, c.origin)
		if soa == nil || soa.Hdr.Name != c.origin+"." || soa.Serial != uint32(testNow.Unix()) {
			t.Fatalf("SOA %v", soa)
		}
		if ns := zone[c.origin+"."]; len(ns) != 2 {
			t.Errorf("apex records %v", ns)
		}
		want := map[string]bool{}
		for _, ind := range live(fixture()) {
			var owners []string
			switch ind.Type {
			case indicator.Domain:
				owners = []string{ind.Value, "*." + ind.Value}
			case indicator.Hostname:
				owners = []string{ind.Value}
			case indicator.IPv4, indicator.IPv6, indicator.CIDR:
				o, _ := rpzIP(&ind)
				owners = []string{o}
			}
			for _, o := range owners {
				want[o+"."+c.origin+"."] = true
			}
		}
		records := 0
		for name, rrs := range zone {
			if name == c.origin+"." {
				continue
			}
			records += len(rrs)
			if !want[name] {
				t.Errorf("unexpected owner %s", name)
			}
			for _, rr := range rrs {
				cn, ok := rr.(*dns.CNAME)
				if !ok || cn.Target != c.target {
					t.Errorf("%s: %v, want CNAME %s", name, rr, c.target)
				}
			}
		}
		for name := range want {
			if len(zone[name]) != 1 {
				t.Errorf("owner %s: %v", name, zone[name])
			}
		}
		if records != st.Records {
			t.Errorf("%d records, stats say %d", records, st.Records)
		}
	}
}

// TestRPZIPOwners checks the rpz-ip owner names against the RPZ draft's
// examples and RFC 5952 zero compression.
func TestRPZIPOwners(t *testing.T) {
	for in, want := range map[string]string{
		"ipv4 192.0.2.1":            "32.1.2.0.192.rpz-ip",
		"cidr 10.0.0.0/8":           "8.0.0.0.10.rpz-ip",
		"ipv6 2001:db8::1":          "128.1.zz.db8.2001.rpz-ip",
		"cidr 2001:db8::/32":        "32.zz.db8.2001.rpz-ip",
		"ipv6 2001:db8:0:1:0:0:0:1": "128.1.zz.1.0.db8.2001.rpz-ip",    // the longer zero run
		"ipv6 2001:0:0:1:0:0:1:1":   "128.1.1.0.0.1.zz.2001.rpz-ip",    // the first of equal runs
		"ipv6 2001:db8:1:0:1:1:1:1": "128.1.1.1.1.0.1.db8.2001.rpz-ip", // a single zero word stays
		"ipv6 ::1":                  "128.1.zz.rpz-ip",
		"cidr ::ffff:0:0/96":        "96.0.0.ffff.zz.rpz-ip",
	} {
		typ, v, _ := strings.Cut(in, " ")
		got, ok := rpzIP(&model.Indicator{Type: indicator.Type(typ), Value: v})
		if !ok || got != want {
			t.Errorf("rpzIP(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestRPZNamedCheckzone runs BIND's named-checkzone on the zone when it is
// installed (Debian package bind9-utils).
func TestRPZNamedCheckzone(t *testing.T) {
	bin, err := exec.LookPath("named-checkzone")
	if err != nil {
		t.Skip("named-checkzone not found; install the Debian package bind9-utils to check the zone with BIND")
	}
	out, _ := goldenCase{format: RPZ}.export(t)
	path := filepath.Join(t.TempDir(), "hdn.rpz")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(bin, "-i", "none", DefaultRPZOrigin, path).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "OK") {
		t.Fatalf("named-checkzone: %v\n%s", err, res)
	}
}

// TestRPZLongNames checks that a name too long for the zone is skipped
// rather than written as a record no server would load.
func TestRPZLongNames(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 50) + ".example"
	var buf bytes.Buffer
	st, err := Write(&buf, RPZ, seq([]model.Indicator{{ID: "1", Type: indicator.Domain, Value: long, TLP: policy.Green}}), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 {
		t.Errorf("stats %+v", st)
	}
	parseZone(t, buf.Bytes(), DefaultRPZOrigin)
}

// TestRPZReservedLabels: a name with a label the zone format reserves for
// other triggers ("rpz-ip", "rpz-client-ip", "rpz-nsdname") is left out —
// "8.0.0.0.10.rpz-ip" would block every answer in 10.0.0.0/8, and
// "…rpz-client-ip" every query of a client. The hub refuses such domains
// (TestDomainTopLevelLabel); this holds for any stored before.
func TestRPZReservedLabels(t *testing.T) {
	inds := []model.Indicator{
		{ID: "1", Type: indicator.Domain, Value: "8.0.0.0.10.rpz-ip", TLP: policy.Green},
		{ID: "2", Type: indicator.Domain, Value: "32.1.0.0.127.rpz-client-ip", TLP: policy.Green},
		{ID: "3", Type: indicator.Hostname, Value: "cloudflare.com.rpz-nsdname", TLP: policy.Green},
		{ID: "4", Type: indicator.Domain, Value: "evil.example.org", TLP: policy.Green},
	}
	var buf bytes.Buffer
	st, err := Write(&buf, RPZ, seq(inds), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 3 || strings.Contains(buf.String(), "rpz-") || !strings.Contains(buf.String(), "evil.example.org") {
		t.Errorf("stats %+v, zone:\n%s", st, buf.String())
	}
}
