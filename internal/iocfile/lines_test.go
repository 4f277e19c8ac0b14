package iocfile

import (
	"errors"
	"strings"
	"testing"
)

func TestReadLines(t *testing.T) {
	runReadCases(t, FormatLines, []readCase{
		{name: "empty", in: "", want: nil},
		{
			name: "one of each type",
			in: "evil.example.com\n1.2.3.4\n2001:DB8::1\n10.0.0.0/8\nhttp://Evil.Example.com:80/a/../b\nMe@Example.ORG\n" +
				"D41D8CD98F00B204E9800998ECF8427E\nda39a3ee5e6b4b0d3255bfef95601890afd80709\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
				"t13d1516h2_8daaf6152771_b186095e22b6\n",
			want: []string{
				"line 1 domain evil.example.com",
				"line 2 ipv4 1.2.3.4",
				"line 3 ipv6 2001:db8::1",
				"line 4 cidr 10.0.0.0/8",
				"line 5 url http://evil.example.com/b",
				"line 6 email me@example.org",
				"line 7 md5 d41d8cd98f00b204e9800998ecf8427e",
				"line 8 sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
				"line 9 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"line 10 ja4 t13d1516h2_8daaf6152771_b186095e22b6",
			},
		},
		{
			name: "defanged",
			in:   "evil[.]example[.]com\nhxxps[://]bad(.)example(.)com/x\n1[.]2[.]3[.]4\nuser[at]evil[.]example[.]com\n",
			want: []string{
				"line 1 domain evil.example.com",
				"line 2 url https://bad.example.com/x",
				"line 3 ipv4 1.2.3.4",
				"line 4 email user@evil.example.com",
			},
		},
		{
			name: "BOM, CRLF, blank lines, comments",
			in:   "\uFEFF# header\r\n\r\nevil.example.com\r\n   \r\n  # indented comment\r\n1.2.3.4 # trailing comment\r\nhttp://a.example/#frag\r\nb.example.com\t# tab comment",
			want: []string{
				"line 3 domain evil.example.com",
				"line 6 ipv4 1.2.3.4",
				"line 7 url http://a.example/",
				"line 8 domain b.example.com",
			},
		},
		{
			// A BOM further on is not stripped here; UTS #46 maps U+FEFF
			// to nothing, so the name still comes out right.
			name: "BOM further on",
			in:   "a.example.com\n\uFEFFb.example.com\n\uFEFF1.2.3.4\n",
			want: []string{"line 1 domain a.example.com", "line 2 domain b.example.com", "line 3 ! refused:domain"},
		},
		{
			name: "ipsum IP TAB count",
			in:   "# IPsum\n# ...\n1.2.3.4\t10\n5.6.7.8\t1\n",
			want: []string{"line 3 ipv4 1.2.3.4", "line 4 ipv4 5.6.7.8"},
		},
		{
			name: "hosts file",
			in:   "127.0.0.1 localhost\n0.0.0.0 evil.example.com\n0.0.0.0\tads.example.com tracker.example.net # aliases\n:: v6.example.org\n1.2.3.4 not-a-sink.example.com\n0.0.0.0\n",
			want: []string{
				"line 2 domain evil.example.com",
				"line 3 domain ads.example.com",
				"line 3 domain tracker.example.net",
				"line 4 domain v6.example.org",
				"line 5 ipv4 1.2.3.4",
				"line 6 ipv4 0.0.0.0",
				"line 1 ! refused:",
			},
		},
		{
			name: "a block of one address is the address",
			in:   "1.2.3.4/32\n2001:db8::1/128\n10.1.2.3/8\n",
			want: []string{"line 1 ipv4 1.2.3.4", "line 2 ipv6 2001:db8::1", "line 3 cidr 10.0.0.0/8"},
		},
		{
			name: "refused values are problems",
			in:   "co.uk\ninvoice.pdf\nnot a value\n1.2.3.4:80\n10.0.0.0/4\nevil.example.com\n\xff\xfe.example.com\n",
			want: []string{
				"line 6 domain evil.example.com",
				"line 1 ! refused:domain",
				"line 2 ! refused:domain",
				"line 3 ! refused:",
				"line 4 ! refused:",
				"line 5 ! refused:cidr",
				"line 7 ! refused:",
			},
			msgs: []string{"public suffix", "unknown top-level domain", "not a recognised", "host:port", "", "UTF-8"},
		},
	})
}

func TestReadLinesLimits(t *testing.T) {
	defer func(n int) { maxLineLen = n }(maxLineLen)
	maxLineLen = 20
	ok := "a.example\n" + strings.Repeat("x", 20) + "\r\n" + strings.Repeat("y", 20)
	if _, _, err := Read(strings.NewReader(ok), FormatLines); err != nil {
		t.Fatalf("lines of exactly the limit: %v", err)
	}
	for _, in := range []string{
		"a.example\nb.example\n" + strings.Repeat("x", 21) + "\n",
		"a.example\nb.example\n" + strings.Repeat("x", 21),
		"a.example\nb.example\n" + strings.Repeat("x", 5000) + "\nc.example\n",
	} {
		_, _, err := Read(strings.NewReader(in), FormatLines)
		if !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("err = %v, want ErrLineTooLong at line 3", err)
		}
	}
}

func TestReadTooLarge(t *testing.T) {
	defer func(n int64) { maxFileSize = n }(maxFileSize)
	maxFileSize = 30
	inputs := map[Format]string{
		FormatLines: strings.Repeat("a.example.com\n", 4),
		FormatCSV:   "type,value\n" + strings.Repeat("domain,a.example.com\n", 2),
		FormatSTIX:  `{"type":"bundle","objects":[{"type":"indicator"}]}`,
		FormatMISP:  `{"Event":{"Attribute":[{"type":"domain","value":"a.example.com"}]}}`,
	}
	for f, in := range inputs {
		if _, _, err := Read(strings.NewReader(in), f); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", f, err)
		}
	}
	big := inputs[FormatLines]
	if _, _, err := Read(strings.NewReader(big[:30]), FormatLines); err != nil {
		t.Errorf("file of exactly the limit: %v", err)
	}
}
