package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

func FuzzUTF8Reader(f *testing.F) {
	f.Add([]byte("ok"), uint8(0))
	f.Add([]byte("b\xffad"), uint8(1))
	f.Add([]byte("€€€"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		out, err := readAllUTF8(b, int(mode%2))
		if utf8.Valid(b) {
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
