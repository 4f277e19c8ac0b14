package iocfile

import (
	"strings"
	"testing"
)

func mispEventOf(attrs ...string) string {
	return `{"Event":{"uuid":"e1","info":"test","Tag":[{"name":"tlp:amber"},{"name":"Phishing"}],"Attribute":[` +
		strings.Join(attrs, ",") + `]}}`
}

func TestReadMISP(t *testing.T) {
	runReadCases(t, FormatMISP, []readCase{
		{
			name: "attribute types",
			in: mispEventOf(
				`{"type":"ip-dst","category":"Network activity","to_ids":true,"value":"198.51.100.1"}`,
				`{"type":"ip-src","value":"2001:DB8::/32"}`,
				`{"type":"ip-dst|port","value":"198.51.100.2|443"}`,
				`{"type":"ip-src|port","value":"2001:db8::2|8080"}`,
				`{"type":"domain","value":"Evil.Example.com"}`,
				`{"type":"hostname","value":"host.example.com"}`,
				`{"type":"hostname|port","value":"host2.example.com|8443"}`,
				`{"type":"domain|ip","value":"both.example.com|198.51.100.3"}`,
				`{"type":"url","value":"hxxp://evil[.]example[.]com/login"}`,
				`{"type":"md5","value":"D41D8CD98F00B204E9800998ECF8427E"}`,
				`{"type":"sha1","value":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}`,
				`{"type":"sha256","value":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
				`{"type":"sha512","value":"`+strings.Repeat("ab", 64)+`"}`,
				`{"type":"filename|md5","value":"a|b.exe|d41d8cd98f00b204e9800998ecf8427e"}`,
				`{"type":"filename|sha256","value":"x.dll|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
				`{"type":"malware-sample","value":"x.exe|d41d8cd98f00b204e9800998ecf8427e","data":"UEsDBA=="}`,
				`{"type":"email-src","value":"Bad@Evil.example.com"}`,
				`{"type":"email-dst","value":"victim@example.org"}`,
				`{"type":"email","value":"x@example.net"}`,
				`{"type":"x509-fingerprint-sha1","value":"DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09"}`,
				`{"type":"x509-fingerprint-sha256","value":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
				`{"type":"ja3-fingerprint-md5","value":"e7d705a3286e19ea42f587b344ee6865"}`,
			),
			want: []string{
				"attribute 1 ipv4 198.51.100.1 labels=phishing,network activity",
				"attribute 2 cidr 2001:db8::/32 labels=phishing",
				"attribute 3 ipv4 198.51.100.2 labels=phishing",
				"attribute 4 ipv6 2001:db8::2 labels=phishing",
				"attribute 5 domain evil.example.com labels=phishing",
				"attribute 6 hostname host.example.com labels=phishing",
				"attribute 7 hostname host2.example.com labels=phishing",
				"attribute 8 domain both.example.com labels=phishing",
				"attribute 8 ipv4 198.51.100.3 labels=phishing",
				"attribute 9 url http://evil.example.com/login labels=phishing",
				"attribute 10 md5 d41d8cd98f00b204e9800998ecf8427e labels=phishing",
				"attribute 11 sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 labels=phishing",
				"attribute 12 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 labels=phishing",
				"attribute 13 sha512 " + strings.Repeat("ab", 64) + " labels=phishing",
				"attribute 14 md5 d41d8cd98f00b204e9800998ecf8427e labels=phishing",
				"attribute 15 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 labels=phishing",
				"attribute 16 md5 d41d8cd98f00b204e9800998ecf8427e labels=phishing",
				"attribute 17 email bad@evil.example.com labels=phishing",
				"attribute 18 email victim@example.org labels=phishing",
				"attribute 19 email x@example.net labels=phishing",
				"attribute 20 x509-sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 labels=phishing",
				"attribute 21 x509-sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 labels=phishing",
				"attribute 22 ja3 e7d705a3286e19ea42f587b344ee6865 labels=phishing",
			},
		},
		{
			name: "context, unsupported, deleted, broken",
			in: mispEventOf(
				`{"type":"domain","to_ids":false,"value":"context.example.com"}`,
				`{"type":"link","to_ids":true,"value":"https://blog.example.com/report"}`,
				`{"type":"uri","value":"/wp-admin/x.php"}`,
				`{"type":"regkey","value":"HKLM\\Software\\Evil"}`,
				`{"type":"domain","value":"gone.example.com","deleted":true}`,
				`{"type":"domain|ip","value":"no-ip.example.com"}`,
				`{"type":"domain|ip","value":"co.uk|198.51.100.9"}`,
				`{"type":"ip-dst","value":"999.1.1.1"}`,
				`{"type":"domain","value":5}`,
				`{"type":"domain","value":"strings.example.com","to_ids":"0"}`,
				`{"type":"domain","value":"numbers.example.com","to_ids":1,"deleted":"0"}`,
				`{"type":"domain","value":"odd.example.com","to_ids":"maybe"}`,
				`"not an object"`,
			),
			want: []string{
				"attribute 7 ipv4 198.51.100.9 labels=phishing",
				"attribute 11 domain numbers.example.com labels=phishing",
				"attribute 1 ! context-only",
				"attribute 2 ! context-only",
				"attribute 3 ! unsupported-type",
				"attribute 4 ! unsupported-type",
				"attribute 5 ! revoked",
				"attribute 6 ! invalid-field",
				"attribute 7 ! refused:domain",
				"attribute 8 ! refused:ipv4",
				"attribute 9 ! invalid-field",
				"attribute 10 ! context-only",
				"attribute 12 ! invalid-field",
				"attribute 13 ! invalid-field",
			},
			msgs: []string{"to_ids=false: context only", "link is a reference", "uri", `"regkey"`, "deleted", `has no "|"`},
		},
		{
			name: "objects, attribute tags, comment",
			in: `{"Event":{"Tag":[{"name":"tlp:clear"},{"name":"TweetFeed"},{"name":"type:OSINT"}],` +
				`"Attribute":[{"type":"domain","category":"Network activity","value":"a.example.com","comment":" seen in a tweet ",` +
				`"Tag":[{"name":"Ransomware"},{"name":"tweetfeed"},{"name":"TLP:RED"}]}],` +
				`"Object":[{"name":"domain-ip","Attribute":[{"type":"domain","value":"o.example.com"},{"type":"ip-dst","value":"198.51.100.4","to_ids":false}]},` +
				`{"name":"file","deleted":true,"Attribute":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]},` +
				`{"name":"x","deleted":"maybe"},[]]}}`,
			want: []string{
				`attribute 1 domain a.example.com labels=tweetfeed,type:osint,ransomware,network activity desc="seen in a tweet"`,
				"object 1 attribute 1 domain o.example.com labels=tweetfeed,type:osint",
				"object 1 attribute 2 ! context-only",
				"object 2 ! revoked",
				"object 3 ! invalid-field",
				"object 4 ! invalid-field",
			},
		},
		{
			name: "REST response with two events",
			in: `{"response":[{"Event":{"Attribute":[{"type":"domain","value":"a.example.com"}]}},` +
				`{"Event":{"Attribute":[{"type":"domain","value":"b.example.com"}]}}]}`,
			want: []string{"event 1 attribute 1 domain a.example.com", "event 2 attribute 1 domain b.example.com"},
		},
		{
			name: "array of events",
			in:   "\uFEFF" + `[{"Event":{"Attribute":[{"type":"domain","value":"a.example.com"}]}}]`,
			want: []string{"attribute 1 domain a.example.com"},
		},
		{name: "empty event", in: `{"Event":{}}`, want: nil},
		{name: "neither", in: `{"Attribute":[]}`, err: `neither "Event" nor "response"`},
		{name: "array element without event", in: `[{"Event":{}},{"x":1}]`, err: `element 2 has no "Event"`},
		{name: "tags not a list", in: `{"Event":{"Tag":"x"}}`, err: "line 1, column 19 (byte 18)"},
		{name: "syntax error", in: "{\"Event\":\n{\"Attribute\":[\n{\"type\":\"domain\" \"value\":\"a\"}]}}", err: "line 3, column 18 (byte 42)"},
		{name: "string", in: `"x"`, err: "cannot unmarshal string"},
	})
}
