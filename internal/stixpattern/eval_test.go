package stixpattern

import (
	"strings"
	"testing"
	"time"
)

func TestSingleObservationAndWithin(t *testing.T) {
	tests := []struct {
		pattern string
		single  bool
		within  time.Duration // 0: none
	}{
		{"[domain-name:value = 'a.example' AND domain-name:value LIKE '%.example']", true, 0},
		{"[domain-name:value = 'a.example'] OR [url:value = 'http://b.example/']", false, 0},
		{"[domain-name:value = 'a.example'] FOLLOWEDBY [url:value = 'http://b.example/'] WITHIN 60 SECONDS", false, 0}, // WITHIN qualifies [url…] only
		{"([domain-name:value = 'a.example'] FOLLOWEDBY [url:value = 'http://b.example/']) WITHIN 60 SECONDS", false, time.Minute},
		{"[domain-name:value = 'a.example'] REPEATS 3 TIMES WITHIN 5 SECONDS", false, 5 * time.Second},
		{"([domain-name:value = 'a.example'] WITHIN 5 SECONDS) REPEATS 3 TIMES", false, 5 * time.Second},
		{"[domain-name:value = 'a.example'] START t'2024-01-01T00:00:00Z' STOP t'2024-01-02T00:00:00Z'", false, 0},
		{"([domain-name:value = 'a.example'] WITHIN 5 SECONDS) AND [url:value = 'http://b.example/']", false, 0},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.pattern, err)
		}
		if got := p.SingleObservation(); got != tt.single {
			t.Errorf("%q: SingleObservation = %v, want %v", tt.pattern, got, tt.single)
		}
		d, ok := p.Within()
		if ok != (tt.within != 0) || d != tt.within {
			t.Errorf("%q: Within = %v, %v, want %v", tt.pattern, d, ok, tt.within)
		}
	}
}

func TestMatchesAny(t *testing.T) {
	obs, err := DecodeObservations([]byte(obs21))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    [2]bool // for obs[0] (network traffic) and obs[1] (file)
	}{
		{"[network-traffic:dst_port = 443]", [2]bool{true, false}},
		{"[file:size = 1024] FOLLOWEDBY [network-traffic:dst_port = 443] WITHIN 5 SECONDS", [2]bool{true, true}},
		{"[file:size = 1024 AND network-traffic:dst_port = 443]", [2]bool{false, false}},
		{"[domain-name:value = 'not-observed.example'] AND [file:size = 2]", [2]bool{false, false}},
		{"([ipv6-addr:value = '2001:db8::1'] OR [file:name LIKE '%.exe']) REPEATS 2 TIMES", [2]bool{true, true}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.pattern, err)
		}
		for i := range obs {
			got, err := p.MatchesAny(&obs[i])
			if err != nil {
				t.Errorf("%q on observation %d: %v", tt.pattern, i, err)
			}
			if got != tt.want[i] {
				t.Errorf("%q on observation %d: MatchesAny = %v, want %v", tt.pattern, i, got, tt.want[i])
			}
		}
	}
	p, _ := Parse("[network-traffic:dst_port = 443]")
	if ok, err := p.MatchesAny(&Observation{}); ok || err != nil {
		t.Errorf("MatchesAny of an empty observation = %v, %v", ok, err)
	}
}

func TestPropertyRoots(t *testing.T) {
	p, err := Parse("([file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:name = 'a'] " +
		"FOLLOWEDBY [network-traffic:dst_ref.value = '192.0.2.1' OR network-traffic:protocols[*] = 'tcp']) WITHIN 5 SECONDS")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.PropertyRoots(), " ")
	if want := "file:hashes file:name network-traffic:dst_ref network-traffic:protocols"; got != want {
		t.Errorf("PropertyRoots = %s, want %s", got, want)
	}
}
