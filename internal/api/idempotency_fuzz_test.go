package api

import (
	"net/http"
	"testing"

	"github.com/hdnetwork/hdn/internal/model"
)

// FuzzIdempotencyKey: the Idempotency-Key header either gives a key of 1 to
// model.MaxReportKey printable ASCII characters, without quotes or
// backslashes, that reads back the same when sent quoted, or is a 400 that
// names the header; no header gives no key.
func FuzzIdempotencyKey(f *testing.F) {
	if k, err := idempotencyKey(&http.Request{Header: http.Header{}}); k != "" || err != nil {
		f.Fatalf("no header: %q, %v", k, err)
	}
	for _, s := range []string{"7f1c6a52-0b7e-4d8e-9f61-3f5b2b9d7a10", `"quoted"`, `""`, "a b", "clé", `a"b`, `a\b`, "\x7f", "x"} {
		f.Add(s, false)
	}
	f.Add("k", true)
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		r := &http.Request{Header: http.Header{}}
		r.Header.Add("Idempotency-Key", v)
		if twice {
			r.Header.Add("Idempotency-Key", v)
		}
		k, err := idempotencyKey(r)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status != http.StatusBadRequest || k != "" {
				t.Fatalf("%q: %v (key %q), want a 400 and no key", v, err, k)
			}
			return
		}
		if twice || k == "" || len(k) > model.MaxReportKey {
			t.Fatalf("%q (twice %v): key %q accepted", v, twice, k)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("%q: key %q holds byte %#x", v, k, c)
			}
		}
		if v != k && v != `"`+k+`"` {
			t.Fatalf("%q gave key %q", v, k)
		}
		q := &http.Request{Header: http.Header{"Idempotency-Key": {`"` + k + `"`}}}
		if again, err := idempotencyKey(q); err != nil || again != k {
			t.Fatalf("%q quoted reads back %q, %v", k, again, err)
		}
	})
}
