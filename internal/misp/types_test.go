package misp

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// TestTypeTableBothWays: every hdn type has a MISP type whose category
// admits it, and that MISP type (with the hdn:type tag for ja3s and ja4)
// comes back as the same hdn type.
func TestTypeTableBothWays(t *testing.T) {
	samples := map[indicator.Type]string{
		indicator.IPv4: "198.51.100.1", indicator.IPv6: "2001:db8::1", indicator.CIDR: "198.51.100.0/24",
		indicator.Domain: "evil.example.com", indicator.Hostname: "host.evil.example.com",
		indicator.URL: "https://evil.example.com/a?b=c", indicator.Email: "bad@evil.example.com",
		indicator.MD5: strings.Repeat("a", 32), indicator.SHA1: strings.Repeat("b", 40),
		indicator.SHA256: strings.Repeat("c", 64), indicator.SHA512: strings.Repeat("d", 128),
		indicator.X509SHA1: strings.Repeat("e", 40), indicator.X509SHA256: strings.Repeat("f", 64),
		indicator.JA3: strings.Repeat("1", 32), indicator.JA3S: strings.Repeat("2", 32),
		indicator.JA4:         "t13d1516h2_8daaf6152771_b186095e22b6",
		indicator.STIXPattern: "[file:name = 'invoice.exe' AND file:size > 1000]",
	}
	for _, ht := range indicator.Types {
		mt, cat := MISPType(ht)
		if !slices.Contains(categoryTypes[cat], mt) {
			t.Errorf("%s: MISP type %q is not allowed in category %q", ht, mt, cat)
		}
		if _, ok := types[mt]; !ok {
			t.Errorf("%s: MISP type %q is not in the table", ht, mt)
		}
		v, ok := samples[ht]
		if !ok {
			t.Fatalf("no sample for %s", ht)
		}
		// Through Import, as a MISP tool would send it back.
		ind := testIndicator(ht, v)
		ev := &Event{Info: "x", Attribute: []Attribute{AttributeFromIndicator(ind, ExportOptions{})}}
		im, err := Import(ev, ImportOptions{Now: fixedNow})
		if err != nil || len(im.Indicators) != 1 || len(im.Problems) != 0 {
			t.Errorf("%s as %s: %v, %d indicators, problems %v", ht, mt, err, len(im.Indicators), im.Problems)
			continue
		}
		if s := im.Indicators[0].Sub; s.Type != ht || s.Value != v {
			t.Errorf("%s %s came back as %s %s", ht, v, s.Type, s.Value)
		}
		if ht != indicator.JA3S && ht != indicator.JA4 {
			if got, ok := HDNType(mt); !ok || got != ht && !isAddress(ht) {
				t.Errorf("HDNType(%q) = %s, %v; want %s", mt, got, ok, ht)
			}
		}
	}
}

func isAddress(t indicator.Type) bool {
	return t == indicator.IPv4 || t == indicator.IPv6 || t == indicator.CIDR
}

// TestHDNType lists what each MISP type gives.
func TestHDNType(t *testing.T) {
	for mt, want := range map[string]indicator.Type{
		"ip-src": indicator.IPv4, "ip-dst": indicator.IPv4, "ip-src|port": indicator.IPv4, "ip-dst|port": indicator.IPv4,
		"domain": indicator.Domain, "hostname": indicator.Hostname, "hostname|port": indicator.Hostname,
		"domain|ip": indicator.Domain, "url": indicator.URL,
		"email": indicator.Email, "email-src": indicator.Email, "email-dst": indicator.Email, "email-reply-to": indicator.Email,
		"md5": indicator.MD5, "sha1": indicator.SHA1, "sha256": indicator.SHA256, "sha512": indicator.SHA512,
		"filename|md5": indicator.MD5, "filename|sha1": indicator.SHA1, "filename|sha256": indicator.SHA256,
		"filename|sha512": indicator.SHA512, "malware-sample": indicator.MD5,
		"x509-fingerprint-sha1": indicator.X509SHA1, "x509-fingerprint-sha256": indicator.X509SHA256,
		"ja3-fingerprint-md5": indicator.JA3,
	} {
		if got, ok := HDNType(mt); !ok || got != want {
			t.Errorf("HDNType(%q) = %q, %v; want %q", mt, got, ok, want)
		}
	}
	for _, mt := range []string{"uri", "link", "text", "comment", "filename", "AS", "regkey", "yara", "snort", "mutex",
		"x509-fingerprint-md5", "jarm-fingerprint", "hassh-md5", "hasshserver-md5", "sha224", "filename|sha224",
		"whois-registrant-email", "target-email", "threat-actor", "no-such-type", ""} {
		if got, ok := HDNType(mt); ok {
			t.Errorf("HDNType(%q) = %q; want context", mt, got)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		typ, value string
		want       string // "type value" per part, "!type" for a refused part
		err        error
	}{
		{"ip-dst", "198.51.100.1", "ipv4 198.51.100.1", nil},
		{"ip-src", "2001:DB8::1", "ipv6 2001:db8::1", nil},
		{"ip-dst", "2001:db8::/32", "cidr 2001:db8::/32", nil},
		{"ip-dst", "198.51.100.7/32", "ipv4 198.51.100.7", nil},
		{"ip-dst", "2001:db8::7/128", "ipv6 2001:db8::7", nil},
		{"ip-dst", "::ffff:198.51.100.9", "ipv4 198.51.100.9", nil},
		{"ip-dst", "198.51.100[.]10", "ipv4 198.51.100.10", nil},
		{"ip-dst", "999.1.1.1", "!ipv4", nil},
		{"ip-dst|port", "198.51.100.2|443", "ipv4 198.51.100.2", nil},
		{"ip-src|port", "2001:db8::2|8080", "ipv6 2001:db8::2", nil},
		{"ip-dst|port", "198.51.100.2:443", "", ErrComposite},
		{"hostname|port", "Host.Example.com|8443", "hostname host.example.com", nil},
		{"domain|ip", "a.example.com|198.51.100.3", "domain a.example.com ipv4 198.51.100.3", nil},
		{"domain|ip", "co.uk|198.51.100.3", "!domain ipv4 198.51.100.3", nil},
		{"domain|ip", "a.example.com", "", ErrComposite},
		{"filename|md5", "a|b.exe|D41D8CD98F00B204E9800998ECF8427E", "md5 d41d8cd98f00b204e9800998ecf8427e", nil},
		{"malware-sample", "x.exe|d41d8cd98f00b204e9800998ecf8427e", "md5 d41d8cd98f00b204e9800998ecf8427e", nil},
		{"malware-sample", "x.exe", "", ErrComposite},
		{"url", "hxxp://evil[.]example[.]com/login", "url http://evil.example.com/login", nil},
		{"email-src", "Bad[at]Evil.example.com", "email bad@evil.example.com", nil},
		{"x509-fingerprint-sha1", "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09", "x509-sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", nil},
		{"ja3-fingerprint-md5", "E7D705A3286E19EA42F587B344EE6865", "ja3 e7d705a3286e19ea42f587b344ee6865", nil},
		{"uri", "/gate.php", "", ErrContextType},
		{"link", "https://x.example.com/", "", ErrContextType},
		{"nonsense", "x", "", ErrContextType},
	} {
		parts, err := Split(c.typ, c.value)
		if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("Split(%q, %q): error %v, want %v", c.typ, c.value, err, c.err)
			continue
		}
		var got []string
		for _, p := range parts {
			if p.Err != nil {
				var ie *indicator.Error
				if !errors.As(p.Err, &ie) {
					t.Errorf("Split(%q, %q): part error %v is not an *indicator.Error", c.typ, c.value, p.Err)
				}
				got = append(got, "!"+string(p.Type))
				continue
			}
			got = append(got, string(p.Type)+" "+p.Value)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("Split(%q, %q) = %q, want %q", c.typ, c.value, g, c.want)
		}
	}
}

// TestDescribeTypes checks the table against itself: every type's default
// category admits it, every type of a mapping is in the table, and the
// result has MISP's JSON shape.
func TestDescribeTypes(t *testing.T) {
	r := DescribeTypes()
	b := r.Result
	if len(b.Types) != len(types) || len(b.SaneDefaults) != len(types) || !slices.IsSorted(b.Types) {
		t.Errorf("%d types, %d defaults, want %d sorted", len(b.Types), len(b.SaneDefaults), len(types))
	}
	if len(b.Categories) != 16 {
		t.Errorf("%d categories, want MISP's 16", len(b.Categories))
	}
	for name, d := range b.SaneDefaults {
		if !slices.Contains(b.CategoryTypeMappings[d.DefaultCategory], name) {
			t.Errorf("%s: default category %q does not list it", name, d.DefaultCategory)
		}
	}
	for c, ts := range b.CategoryTypeMappings {
		for _, name := range ts {
			if _, ok := b.SaneDefaults[name]; !ok {
				t.Errorf("category %q lists %q, which is not in the table", c, name)
			}
		}
	}
	if d := b.SaneDefaults["ip-dst"]; d != (TypeDefault{"Network activity", 1}) {
		t.Errorf("ip-dst: %+v", d)
	}
	if d := b.SaneDefaults["link"]; d != (TypeDefault{"External analysis", 0}) {
		t.Errorf("link: %+v", d)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Result struct {
			SaneDefaults map[string]struct {
				DefaultCategory string `json:"default_category"`
				ToIDS           int    `json:"to_ids"`
			} `json:"sane_defaults"`
			Types                []string            `json:"types"`
			Categories           []string            `json:"categories"`
			CategoryTypeMappings map[string][]string `json:"category_type_mappings"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &shape); err != nil || shape.Result.SaneDefaults["md5"].DefaultCategory != "Payload delivery" {
		t.Errorf("JSON shape: %v %s", err, data[:120])
	}
}
