package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func readAllUTF8(b []byte, chunk int) ([]byte, error) {
	var r io.Reader = bytes.NewReader(b)
	if chunk > 0 {
		r = iotest.OneByteReader(r)
	}
	return io.ReadAll(&utf8Reader{r: r})
}

func TestUTF8Reader(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"", true},
		{"plain ascii", true},
		{"bücher.example — ok ✓ 𝄞", true},
		{"bad \xff byte", false},
		{"truncated \xe2\x82", false},
		{"overlong \xc0\xaf", false},
		{"surrogate \xed\xa0\x80", false},
		{"\xe2\x82\xac at start", true},
	}
	for _, c := range cases {
		for _, chunk := range []int{0, 1} {
			out, err := readAllUTF8([]byte(c.in), chunk)
			if c.ok && (err != nil || string(out) != c.in) {
				t.Errorf("%q (chunk %d): got %q, %v", c.in, chunk, out, err)
			}
			var e *Error
			if !c.ok && !errors.As(err, &e) {
				t.Errorf("%q (chunk %d): accepted invalid UTF-8 (err %v)", c.in, chunk, err)
			}
		}
	}
}

func TestUTF8ReaderRefusesNUL(t *testing.T) {
	cases := []struct {
		in string
		at int64 // offset of the refused escape; -1: accepted
	}{
		{`{"description": "a\u0000b"}`, 18},
		{`\u0000`, 0},
		{`{"x": "\\\u0000"}`, 9}, // an escaped backslash, then the escape
		{`{"x": "\\u0000"}`, -1}, // an escaped backslash, then text
		{`{"x": "\u0001 \u000 \u00000"}`, 20},
		{`{"x": "\u00\u0000"}`, 11},
		{`{"x": "\U0000 \n\u0041"}`, -1},
		{`{"x": "\\\\u0000"}`, -1},
	}
	for _, c := range cases {
		for _, chunk := range []int{0, 1} {
			out, err := readAllUTF8([]byte(c.in), chunk)
			if c.at < 0 {
				if err != nil || string(out) != c.in {
					t.Errorf("%s (chunk %d): got %q, %v", c.in, chunk, out, err)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, fmt.Sprintf("NUL character (\\u0000) at byte offset %d", c.at)) {
				t.Errorf("%s (chunk %d): got %v, want the NUL refused at offset %d", c.in, chunk, err, c.at)
			}
		}
	}
}

// hasNULEscape is the reference for the reader's NUL check: a \u0000 whose
// backslash follows an even number of backslashes.
func hasNULEscape(b []byte) bool {
	for i := 0; i+len(nulEscape) <= len(b); i++ {
		if string(b[i:i+len(nulEscape)]) != nulEscape {
			continue
		}
		k := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			k++
		}
		if k%2 == 0 {
			return true
		}
	}
	return false
}

func FuzzUTF8Reader(f *testing.F) {
	f.Add([]byte("ok"), uint8(0))
	f.Add([]byte("b\xffad"), uint8(1))
	f.Add([]byte("€€€"), uint8(1))
	f.Add([]byte(`"\\\u0000"`), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		out, err := readAllUTF8(b, int(mode%2))
		if utf8.Valid(b) && !hasNULEscape(b) {
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("valid input %q: got %q, %v", b, out, err)
			}
		} else if err == nil {
			t.Fatalf("invalid input %q accepted", b)
		}
	})
}

func FuzzDecodeItems(f *testing.F) {
	f.Add([]byte(`{"indicators": [{"value": "a.example.com", "tlp": "amber", "labels": ["x"]}]}`))
	f.Add([]byte(`{"indicators": [{"value": 1}, {"colour": 2}]}`))
	f.Add([]byte(`{"indicators": [`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(&utf8Reader{r: bytes.NewReader(b)})
		dec.DisallowUnknownFields()
		n := 0
		err := decodeItems(dec, 50, func(i int, it *SubmitItem, itemErr error) error {
			if i != n {
				t.Fatalf("item index %d, want %d", i, n)
			}
			n++
			return nil
		})
		if n > 50 {
			t.Fatalf("%d items passed a limit of 50", n)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
				t.Fatalf("decode error is not a client error: %v", err)
			}
		}
	})
}
