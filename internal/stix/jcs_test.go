package stix

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
)

// RFC 8785 Appendix B: IEEE 754 doubles and their canonical text.
func TestES6NumberRFC8785AppendixB(t *testing.T) {
	cases := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"}, // -0
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, c := range cases {
		got, err := Canonicalize(math.Float64frombits(c.bits))
		if err != nil {
			t.Errorf("%016x: %v", c.bits, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%016x: got %s, want %s", c.bits, got, c.want)
		}
	}
	// NaN and Infinity (0x7fffffffffffffff, 0x7ff0000000000000) have no form.
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000, 0xfff0000000000000} {
		if _, err := Canonicalize(math.Float64frombits(bits)); !errors.Is(err, ErrNotCanonicalizable) {
			t.Errorf("%016x: err = %v, want ErrNotCanonicalizable", bits, err)
		}
	}
}

func TestES6NumberMore(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{1, "1"}, {-1, "-1"}, {0.5, "0.5"}, {100, "100"}, {1e20, "100000000000000000000"},
		{1e21, "1e+21"}, {123e21, "1.23e+23"}, {1e-6, "0.000001"}, {1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"}, {0.1, "0.1"}, {0.000123, "0.000123"}, {64496, "64496"},
	}
	for _, c := range cases {
		if got := string(appendES6Number(nil, c.f)); got != c.want {
			t.Errorf("%v: got %s, want %s", c.f, got, c.want)
		}
	}
}

func TestCanonicalize(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			// RFC 8785 section 3.2.2: the whole transformation.
			name: "rfc8785 3.2.2",
			in: `{
			  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
			  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
			  "literals": [null, true, false]
			}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			// RFC 8785 section 3.2.3: sorting by UTF-16 code units.
			name: "rfc8785 3.2.3",
			in: `{
			  "\u20ac": "Euro Sign",
			  "\r": "Carriage Return",
			  "\ufb33": "Hebrew Letter Dalet With Dagesh",
			  "1": "One",
			  "\ud83d\ude00": "Emoji: Grinning Face",
			  "\u0080": "Control",
			  "\u00f6": "Latin Small Letter O With Diaeresis"
			}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00F6\":\"Latin Small Letter O With Diaeresis\",\"\u20AC\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\uFB33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{
			// cyberphone/json-canonicalization testdata weird.json.
			name: "weird",
			in: `{
			  "\u20ac": "Euro Sign",
			  "1": "One",
			  "\u0080": "Control\u007f",
			  "\ud83d\ude02": "Smiley",
			  "\u00f6": "Latin Small Letter O With Diaeresis",
			  "\ufb33": "Hebrew Letter Dalet With Dagesh",
			  "</script>": "Browser Challenge"
			}`,
			want: "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u0080\":\"Control\u007f\",\"\u00F6\":\"Latin Small Letter O With Diaeresis\",\"\u20AC\":\"Euro Sign\",\"\U0001F602\":\"Smiley\",\"\uFB33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{name: "nested", in: `{"b":[{"z":1,"a":2}],"a":{}}`, want: `{"a":{},"b":[{"a":2,"z":1}]}`},
		{name: "controls", in: `"\u0000\u001f\b\t\n\f\r\u007f"`, want: `"\u0000\u001f\b\t\n\f\r` + "\u007f" + `"`},
		{name: "empty array", in: `[ ]`, want: `[]`},
		{name: "scalar", in: ` -0.0 `, want: `0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Canonicalize(json.RawMessage(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			// The same via encoding/json's own decoding.
			var v any
			if err := json.Unmarshal([]byte(c.in), &v); err != nil {
				t.Fatal(err)
			}
			got2, err := Canonicalize(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got2) != c.want {
				t.Errorf("decoded: got %s, want %s", got2, c.want)
			}
		})
	}
}

func TestCanonicalizeGoValues(t *testing.T) {
	type pair struct {
		B int    `json:"b"`
		A string `json:"a"`
	}
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"ints", []any{int8(-1), uint16(2), int64(1 << 53), uint64(7)}, `[-1,2,9007199254740992,7]`},
		{"strings", map[string]string{"b": "x", "a": "y"}, `{"a":"y","b":"x"}`},
		{"string slice", []string{"b", "a"}, `["b","a"]`},
		{"number", json.Number("1.50"), `1.5`},
		{"struct", pair{B: 1, A: "<&>"}, `{"a":"<&>","b":1}`},
		{"float32", float32(0.5), `0.5`},
	}
	for _, c := range cases {
		got, err := Canonicalize(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	cases := []struct {
		name string
		in   any
	}{
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"big int", int64(1<<53 + 1)},
		{"big uint", uint64(math.MaxUint64)},
		{"number out of range", json.Number("1e400")},
		{"not a number", json.Number("0x10")},
		{"invalid UTF-8 string", "a\xffb"},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}},
		{"duplicate key", json.RawMessage(`{"a":1,"a":2}`)},
		{"bad JSON", json.RawMessage(`{"a":}`)},
		{"trailing data", json.RawMessage(`{} {}`)},
		{"cycle", cyclic},
		{"channel", make(chan int)},
	}
	for _, c := range cases {
		if _, err := Canonicalize(c.in); !errors.Is(err, ErrNotCanonicalizable) {
			t.Errorf("%s: err = %v, want ErrNotCanonicalizable", c.name, err)
		}
	}
}

func TestCompareUTF16(t *testing.T) {
	// U+10000 is D800 DC00 in UTF-16, below U+FFFD; in UTF-8 it sorts after.
	if compareUTF16("\U00010000", "\uFFFD") >= 0 {
		t.Error("U+10000 should sort before U+FFFD")
	}
	if compareUTF16("a", "ab") >= 0 || compareUTF16("ab", "a") <= 0 || compareUTF16("x", "x") != 0 {
		t.Error("prefix order wrong")
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"literals":[null,true,false]}`,
		`{"\u20ac":"Euro","\ud83d\ude00":"x","\ufb33":"y","1":"z"}`,
		`"\u0000\u001f\ud800"`, `[1e400]`, `{"a":1,"a":2}`, `-0`, `[[[[]]]]`, "\"\xff\"",
		`{"type":"file","hashes":{"SHA-256":"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		out, err := Canonicalize(json.RawMessage(data))
		if err != nil {
			if !errors.Is(err, ErrNotCanonicalizable) {
				t.Fatalf("error does not wrap ErrNotCanonicalizable: %v", err)
			}
			return // duplicate member names, numbers beyond a double
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %q", out)
		}
		var in, back any
		if err := json.Unmarshal(data, &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, back) {
			t.Fatalf("value changed:\n in  %q\n out %q", data, out)
		}
		again, err := Canonicalize(json.RawMessage(out))
		if err != nil {
			t.Fatalf("canonical form not accepted: %v", err)
		}
		if string(again) != string(out) {
			t.Fatalf("not idempotent:\n %q\n %q", out, again)
		}
		// Decoding with encoding/json first gives the same text.
		viaAny, err := Canonicalize(in)
		if err != nil {
			t.Fatalf("decoded value refused: %v", err)
		}
		if string(viaAny) != string(out) {
			t.Fatalf("differs from canonical form of decoded value:\n %q\n %q", out, viaAny)
		}
	})
}
