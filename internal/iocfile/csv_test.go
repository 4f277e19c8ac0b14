package iocfile

import (
	"errors"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	runReadCases(t, FormatCSV, []readCase{
		{name: "empty", in: "", want: nil},
		{name: "header only", in: "type,value\n", want: nil},
		{
			name: "header, foreign type names",
			in: "type,value\n" +
				"ip-dst,1.2.3.4\nipv4,2001:db8::1\nip,10.0.0.0/8\nipv4-addr,192.0.2.1/32\n" +
				"domain-name,Evil.Example.COM.\nfqdn,b.example.com\nhostname,host.example.com\n" +
				"uri,http://x.example.com\nlink,hxxp://y[.]example[.]com/a\n" +
				"MD5,D41D8CD98F00B204E9800998ECF8427E\nsha-1,da39a3ee5e6b4b0d3255bfef95601890afd80709\n" +
				"email-src,A@Example.com\nemail-addr,b@example.com\n" +
				"ja3-fingerprint-md5,E7D705A3286E19EA42F587B344EE6865\n" +
				"FileHash-SHA256,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
				"ip:port,198.51.100.7:8080\nx509-fingerprint-sha1,DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09\n" +
				"ja4,t13d1516h2_8daaf6152771_b186095e22b6\n",
			want: []string{
				"line 2 ipv4 1.2.3.4",
				"line 3 ipv6 2001:db8::1",
				"line 4 cidr 10.0.0.0/8",
				"line 5 ipv4 192.0.2.1",
				"line 6 domain evil.example.com",
				"line 7 domain b.example.com",
				"line 8 hostname host.example.com",
				"line 9 url http://x.example.com/",
				"line 10 url http://y.example.com/a",
				"line 11 md5 d41d8cd98f00b204e9800998ecf8427e",
				"line 12 sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
				"line 13 email a@example.com",
				"line 14 email b@example.com",
				"line 15 ja3 e7d705a3286e19ea42f587b344ee6865",
				"line 16 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"line 17 ipv4 198.51.100.7",
				"line 18 x509-sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
				"line 19 ja4 t13d1516h2_8daaf6152771_b186095e22b6",
			},
		},
		{
			name: "columns in any order, other names, quoted fields with commas",
			in: "\uFEFF# exported 2026-01-01\r\n" +
				"Description,Indicator,Attribute_Type,Confidence,Labels\r\n" +
				"\"C2, seen twice\",\"http://evil.example.com/a,b\",url,80,\"malware|C2; Cobalt Strike,TLP:AMBER\"\r\n" +
				"# a comment row\r\n" +
				"\"multi\nline\",evil.example.com,domain,,\r\n",
			want: []string{
				`line 3 url http://evil.example.com/a,b labels=malware,c2,cobalt strike conf=80 desc="C2, seen twice"`,
				`line 6 domain evil.example.com desc="multi\nline"`,
			},
		},
		{
			name: "OTX header names",
			in:   "Indicator type,Indicator,Description\nIPv4,203.0.113.9,scanner\nFileHash-MD5,d41d8cd98f00b204e9800998ecf8427e,\n",
			want: []string{`line 2 ipv4 203.0.113.9 desc="scanner"`, "line 3 md5 d41d8cd98f00b204e9800998ecf8427e"},
		},
		{
			name: "no type column or empty type: detected",
			in:   "value,tags\nevil.example.com,#phishing #scam\n1.2.3.4,\n",
			want: []string{"line 2 domain evil.example.com labels=phishing,scam", "line 3 ipv4 1.2.3.4"},
		},
		{
			name: "empty type cell: detected",
			in:   "type,value\n,evil[.]example[.]com\n",
			want: []string{"line 2 domain evil.example.com"},
		},
		{
			name: "problems",
			in: "type,value,confidence\n" +
				"domain,co.uk,\n" +
				"regkey,HKLM\\Software,\n" +
				"domain,evil.example.com,high\n" +
				"domain,evil.example.com,101\n" +
				"ipv4,\n" +
				"domain\n" +
				"ip-src,1.2.3.4.5,\n" +
				"md5,abc,\n" +
				"domain,ok.example.com,-0\n",
			want: []string{
				"line 10 domain ok.example.com",
				"line 2 ! refused:domain",
				"line 3 ! unsupported-type",
				"line 4 ! invalid-field",
				"line 5 ! invalid-field",
				"line 6 ! refused:ipv4",
				"line 7 ! invalid-field",
				"line 8 ! refused:ipv4",
				"line 9 ! refused:md5",
			},
			msgs: []string{"public suffix", `"regkey"`, `"high"`, "outside 0–100", "empty", "too few"},
		},
		{
			name: "headerless TweetFeed layout",
			in: "2026-07-23 01:31:00,masaomi346,domain,biglobemailsjp.vercel.app,#phishing,https://x.com/masaomi346/status/2080103456434725042\n" +
				"2026-07-24 08:35:00,skocherhan,url,\"http://anavip.com.br/Kitchen_and_Bath_Beyond,_Inc/\",#phishing,https://x.com/s/1\n" +
				"2026-07-24 08:35:00,someone,ip,203.0.113.5,,https://x.com/s/2\n" +
				"2026-07-24 08:35:00,someone,sha256,E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,#malware #AsyncRAT,https://x.com/s/3\n",
			want: []string{
				`line 1 domain biglobemailsjp.vercel.app labels=phishing desc="https://x.com/masaomi346/status/2080103456434725042"`,
				`line 2 url http://anavip.com.br/Kitchen_and_Bath_Beyond,_Inc/ labels=phishing desc="https://x.com/s/1"`,
				`line 3 ipv4 203.0.113.5 desc="https://x.com/s/2"`,
				`line 4 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 labels=malware,asyncrat desc="https://x.com/s/3"`,
			},
		},
		{
			name: "no header",
			in:   "a,b,c\nevil.example.com,1,2\n",
			err:  "line 1: no header row",
		},
		{
			name: "header without value column",
			in:   "type,name\ndomain,evil.example.com\n",
			err:  "no value column",
		},
		{
			name: "bad quoting",
			in:   "type,value\ndomain,evil.example.com\ndomain,\"unterminated\n",
			err:  "line 3",
		},
		{
			name: "bare quote",
			in:   "type,value\ndomain,evil.example.com\ndomain,ev\"il.example.com\n",
			err:  "line 3, column 10",
		},
	})
}

func TestReadCSVLineLimit(t *testing.T) {
	defer func(n int) { maxLineLen = n }(maxLineLen)
	maxLineLen = 40
	row := "domain," + strings.Repeat("a", 19) + ".example.com" // 38 bytes
	ok := "type,value\r\n" + row + "\r\n" + row + "xx\n" + row + "xx"
	if _, _, err := Read(strings.NewReader(ok), FormatCSV); err != nil {
		t.Fatalf("lines of exactly the limit: %v", err)
	}
	for _, in := range []string{
		"type,value\n" + row + "\n" + row + "xxx\n",
		"type,value\n" + row + "\n" + row + "xxx",
		"type,value\n" + row + "\n" + row + "xx\r\r\n",
		"type,value\n" + row + "\n\"" + strings.Repeat("x", 10000) + "\"\n",
	} {
		_, _, err := Read(strings.NewReader(in), FormatCSV)
		if !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("err = %v, want ErrLineTooLong at line 3", err)
		}
	}
}

func TestSplitTags(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"#phishing #scam":          "#phishing|#scam",
		"malware|c2":               "malware|c2",
		"a; b ,c":                  "a| b |c",
		"cobalt strike":            "cobalt strike",
		"#apt actor x":             "#apt actor x",
		"#phishing,#scam #golpe":   "#phishing|#scam|#golpe",
		"  ":                       "  ",
		"tlp:amber|#TLP:RED|Phish": "tlp:amber|#TLP:RED|Phish",
	} {
		if got := strings.Join(splitTags(in), "|"); got != want {
			t.Errorf("splitTags(%q) = %q, want %q", in, got, want)
		}
	}
	if got := strings.Join(labels(nil, splitTags("tlp:amber|#TLP:RED|Phish|phish| #C2 ")...), "|"); got != "phish|c2" {
		t.Errorf("labels = %q", got)
	}
}
