package stixpattern

import (
	"strconv"
	"strings"
	"testing"
)

var benchPatterns = []string{
	"[domain-name:value = 'evil.example.com']",
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']",
	"([network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_port IN (443, 8443)] FOLLOWEDBY [file:name MATCHES '^[a-z]+\\\\.exe$']) WITHIN 300 SECONDS",
	"[process:command_line LIKE '%powershell%-enc%'] REPEATS 3 TIMES START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00Z'",
}

func BenchmarkParse(b *testing.B) {
	n := 0
	for _, p := range benchPatterns {
		n += len(p)
	}
	b.SetBytes(int64(n / len(benchPatterns)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(benchPatterns[i%len(benchPatterns)]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchObservations builds n observed-data objects a second apart, each with
// a domain name and a network-traffic object.
func benchObservations(b *testing.B, n int) []Observation {
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		ts := "2024-01-01T00:" + twoDigits(i/60%60) + ":" + twoDigits(i%60) + "Z"
		sb.WriteString(`{"type": "observed-data", "first_observed": "` + ts + `", "last_observed": "` + ts + `", "number_observed": 1, "objects": {
		  "0": {"type": "domain-name", "value": "host` + twoDigits(i%100) + `.example.com"},
		  "1": {"type": "ipv4-addr", "value": "198.51.100.` + strconv.Itoa(i%100) + `"},
		  "2": {"type": "network-traffic", "dst_ref": "1", "dst_port": 443}}}`)
	}
	sb.WriteString("]")
	obs, err := DecodeObservations([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return obs
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

func BenchmarkMatch(b *testing.B) {
	obs := benchObservations(b, 1000)
	for _, bc := range []struct{ name, pattern string }{
		{"simple", "[domain-name:value = 'host42.example.com']"},
		{"refs-cidr", "[network-traffic:dst_ref.value ISSUBSET '198.51.100.96/30' AND network-traffic:dst_port = 443]"},
		{"followedby-within", "([domain-name:value LIKE 'host1%'] FOLLOWEDBY [network-traffic:dst_ref.value = '198.51.100.99']) WITHIN 10 SECONDS"},
		{"repeats", "[domain-name:value MATCHES '^host0[0-9]'] REPEATS 5 TIMES WITHIN 60 SECONDS"},
	} {
		p, err := Parse(bc.pattern)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Match(obs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
