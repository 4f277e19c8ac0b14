package warninglist

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// The benchmarks screen values against the shipped set plus MISP's
// cloudflare-top100k (about 145,000 host names and 7,000 cloud CIDR blocks
// besides 62,745 resolver addresses), the size the hub runs with when an
// operator loads the big top-sites list. Where the shared data folder is
// absent, 100,000 generated host names stand in for cloudflare-top100k and a
// built-in mix for the TweetFeed values.

type benchValue struct {
	t indicator.Type
	v string
}

func benchSet(b *testing.B) *Set {
	b.Helper()
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	var top *List
	if data, err := os.ReadFile(filepath.Join(sharedData, "iocs/misp_warninglists/cloudflare-top100k.json")); err == nil {
		top, err = parse(data, Refuse, listSpec{name: "cloudflare-top100k", match: typeHostname})
		if err != nil {
			b.Fatal(err)
		}
	} else {
		hosts := make([]string, 100_000)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("site%06d.example-top.net", i)
		}
		top = mustParse(b, listFile("cloudflare-top100k", "hostname", nil, hosts...), Refuse)
	}
	if s, err = s.With(top); err != nil {
		b.Fatal(err)
	}
	return s
}

// tweetFeedValues are the month of TweetFeed IOCs (domains, URLs, IPs,
// md5 and sha256 from public posts), canonicalised as the hub would.
func tweetFeedValues(b testing.TB) []benchValue {
	f, err := os.Open(filepath.Join(sharedData, "iocs/tweetfeed_month.csv"))
	if err != nil {
		return builtinMix()
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	var out []benchValue
	for _, rec := range recs {
		if len(rec) < 4 {
			continue
		}
		t := indicator.Type(rec[2])
		if t == "ip" {
			t = indicator.IPv4
		}
		v, err := indicator.Canonicalize(t, rec[3])
		if err != nil {
			continue
		}
		out = append(out, benchValue{t, v})
	}
	return out
}

func builtinMix() []benchValue {
	return []benchValue{
		{indicator.Domain, "secure-login-update.example-bank.info"}, {indicator.Domain, "biglobemailsjp.vercel.app"},
		{indicator.URL, "https://docs.google.com/forms/d/e/1FAIpQLS/viewform"}, {indicator.URL, "http://185.220.101.7/bins/x86"},
		{indicator.IPv4, "185.220.101.7"}, {indicator.IPv4, "52.95.110.1"}, {indicator.IPv4, "8.8.8.8"},
		{indicator.MD5, "0f343b0931126a20f133d67c2b018a3b"}, {indicator.SHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{indicator.Email, "payroll@mail-hr-portal.example"},
	}
}

func BenchmarkCheck(b *testing.B) {
	s := benchSet(b)
	mix := tweetFeedValues(b)
	cases := []struct {
		name   string
		values []benchValue
	}{
		{"tweetfeed-mix", mix},
		{"domain-miss", []benchValue{{indicator.Domain, "secure-login-update.example-bank.info"}}},
		{"domain-hit-subdomain", []benchValue{{indicator.Hostname, "r3---sn-abc.googlevideo.com"}}},
		{"domain-delegated", []benchValue{{indicator.Domain, "evil-login.duckdns.org"}}},
		{"url-miss", []benchValue{{indicator.URL, "https://secure-login-update.example-bank.info/auth/signin.php?session=8f2a"}}},
		{"url-path-flag", []benchValue{{indicator.URL, "https://docs.google.com/forms/d/e/1FAIpQLS/viewform"}}},
		{"url-ip-host", []benchValue{{indicator.URL, "http://185.220.101.7/bins/x86"}}},
		{"ipv4-miss", []benchValue{{indicator.IPv4, "185.220.101.7"}}},
		{"ipv4-cloud-flag", []benchValue{{indicator.IPv4, "52.95.110.1"}}},
		{"ipv6-miss", []benchValue{{indicator.IPv6, "2a01:4f8:c17:1234::1"}}},
		{"cidr-miss", []benchValue{{indicator.CIDR, "185.220.100.0/22"}}},
		{"sha256-miss", []benchValue{{indicator.SHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}},
		{"md5-refuse", []benchValue{{indicator.MD5, "d41d8cd98f00b204e9800998ecf8427e"}}},
		{"email-freemail-flag", []benchValue{{indicator.Email, "ceo-payroll@gmail.com"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				v := c.values[i%len(c.values)]
				n += len(s.Check(v.t, v.v))
			}
			_ = n
		})
	}
}

// BenchmarkDefault is the cost of building the shipped set (once per
// process; Default caches it).
func BenchmarkDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		lists := make([]*List, 0, 16)
		rows, err := shippedKinds()
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			data, err := shippedFiles.ReadFile("lists/" + r.name + ".json")
			if err != nil {
				continue
			}
			l, err := parse(data, r.kind, r)
			if err != nil {
				b.Fatal(err)
			}
			lists = append(lists, l)
		}
		if _, err := NewSet(lists...); err != nil {
			b.Fatal(err)
		}
	}
}
