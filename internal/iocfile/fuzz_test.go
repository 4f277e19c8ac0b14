package iocfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenSeeds adds the golden samples whose names end in suffix.
func goldenSeeds(f *testing.F, suffix string, add func([]byte)) {
	files, _ := filepath.Glob("testdata/golden/*" + suffix)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

// fuzzRead reads data as format and checks what every read must give: no
// panic, canonical values, problems with a place and a reason, and no
// entries or problems alongside an error.
func fuzzRead(t *testing.T, data []byte, format Format) {
	es, ps, err := Read(bytes.NewReader(data), format)
	if err != nil {
		if es != nil || ps != nil {
			t.Fatalf("entries or problems returned with error %v", err)
		}
		return
	}
	checkCanonical(t, es, ps)
}

func FuzzLines(f *testing.F) {
	for _, s := range []string{
		"", "evil.example.com\n", "\uFEFF# c\r\n1.2.3.4\t5\r\n", "0.0.0.0 a.example.com b.example.com # x\n",
		"hxxp[://]evil[.]example[.]com/a#b\n", "10.0.0.0/8\n1.2.3.4/32\n::ffff:1.2.3.4\n", "co.uk\n\xff\n",
	} {
		f.Add([]byte(s))
	}
	goldenSeeds(f, ".txt", func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, FormatLines) })
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"", "type,value\ndomain,evil.example.com\n", "value\n1.2.3.4\n",
		"type,value,tags,confidence\nip,\"1.2.3.4\",\"a|b;c\",50\n",
		"2026-07-23 01:31:00,u,url,\"http://a.example.com/x,y\",#phishing #scam,https://x.com/1\n",
		"type,value\ndomain,\"unterminated\n", "type,value\nip:port,[2001:db8::1]:80\n",
	} {
		f.Add([]byte(s))
	}
	goldenSeeds(f, ".csv", func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, FormatCSV) })
}

// FuzzSTIX reads data as a bundle, and a bundle with one indicator whose
// pattern is pattern, so that the pattern parser is fuzzed directly too.
func FuzzSTIX(f *testing.F) {
	bundle := []byte(stixBundleOf(stixInd("1", `[domain-name:value = 'a.example.com']`, `"confidence":5`)))
	for _, p := range []string{
		`[domain-name:value = 'a.example.com']`,
		`[ipv4-addr:value = '198.51.100.0/24' OR url:value = 'http://a.example.com/it\'s\\']`,
		`([file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'] OR [x:y = 1]) AND [a:b IN ('c', 2)]`,
		`[a:b[*].'c'.d = 'x'] REPEATS 2 TIMES WITHIN 5.5 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'`,
		`[NOT x:y = 'z']`, `[EXISTS a:b]`, `[a:b = h'00ff']`, `[(a:b = 'x' AND (c:d = 'y' OR e:f != 'z'))]`,
	} {
		f.Add(bundle, p)
	}
	goldenSeeds(f, ".stix.json", func(b []byte) { f.Add(b, `[domain-name:value = 'a.example.com']`) })
	f.Add([]byte(`{"more":true,"objects":[1,"x",{"type":"indicator","pattern":5}]}`), "")
	f.Fuzz(func(t *testing.T, data []byte, pattern string) {
		fuzzRead(t, data, FormatSTIX)
		p, _ := json.Marshal(pattern)
		fuzzRead(t, []byte(stixBundleOf(`{"type":"indicator","id":"indicator--1","pattern":`+string(p)+`}`)), FormatSTIX)
		if n, err := parsePattern(pattern); err == nil {
			cs, reasons := disjunction(n)
			if len(cs) == 0 && len(reasons) == 0 {
				t.Errorf("%q: neither comparisons nor reasons", pattern)
			}
		}
	})
}

// FuzzMISP reads data as MISP JSON, and an event with one attribute of the
// given type and value, so that the attribute mapping is fuzzed directly.
func FuzzMISP(f *testing.F) {
	event := []byte(mispEventOf(`{"type":"domain","value":"a.example.com"}`))
	for _, tv := range [][2]string{
		{"ip-dst", "198.51.100.1"}, {"ip-src|port", "2001:db8::1|443"}, {"domain|ip", "a.example.com|1.2.3.4"},
		{"filename|md5", "a|b|d41d8cd98f00b204e9800998ecf8427e"}, {"hostname|port", "h.example.com"},
		{"url", "hxxp://a[.]example[.]com"}, {"link", "x"}, {"uri", "/x"}, {"malware-sample", "x|y"}, {"ip-dst", "10.0.0.0/8"},
	} {
		f.Add(event, tv[0], tv[1])
	}
	goldenSeeds(f, ".misp.json", func(b []byte) { f.Add(b, "md5", "d41d8cd98f00b204e9800998ecf8427e") })
	f.Add([]byte(`{"response":[{"Event":{"Object":[{"Attribute":[{"type":"ip-dst","value":"1.2.3.4","to_ids":"1"}]}]}}]}`), "", "")
	f.Add([]byte(`[{"Event":{"Tag":[{"name":"tlp:red"}],"Attribute":[5,{"deleted":1}]}}]`), "", "")
	f.Fuzz(func(t *testing.T, data []byte, typ, value string) {
		fuzzRead(t, data, FormatMISP)
		attr, _ := json.Marshal(map[string]any{"type": typ, "value": value, "to_ids": true})
		fuzzRead(t, []byte(mispEventOf(string(attr))), FormatMISP)
	})
}

// FuzzDetect checks that Detect takes any head, cut anywhere, and that
// reading the input as whatever Detect said does not panic.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"", "{", "[", `{"type":"bundle"`, `{"objects":[`, `{"Event":`, `[{"Event":{}}]`, `{"response":[]}`,
		"type,value\n", "a,b,domain,x.example.com\n", "# c\n\n1.2.3.4\n", "\uFEFF{\"Event\":{}}", `[{"x":[{"y":"z"}],"Event":1}]`,
	} {
		f.Add([]byte(s))
	}
	goldenSeeds(f, "", func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		format := Detect(data)
		if !slices.Contains(Formats, format) {
			t.Fatalf("Detect = %q", format)
		}
		for _, n := range []int{len(data) / 2, len(data) / 3} {
			if g := Detect(data[:n]); !slices.Contains(Formats, g) {
				t.Fatalf("Detect(prefix) = %q", g)
			}
		}
		fuzzRead(t, data, format)
	})
}
