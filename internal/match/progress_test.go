package match

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// TestRunReportsHandled: RunObserved's handled reports, in input order
// although batches finish out of order, how much of the input is matched
// with its alerts written: never more than that, growing, and all of it at
// the end — Zeek headers taken out by the reader included.
func TestRunReportsHandled(t *testing.T) {
	for _, f := range []Format{FormatEVE, FormatZeek} {
		t.Run(string(f), func(t *testing.T) {
			var in strings.Builder
			var hitEnds []int64 // where each line with a hit ends
			const n = 20000
			for i := range n {
				if f == FormatZeek && i%5000 == 0 {
					in.WriteString("#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\n")
				}
				name := "ok.example"
				if i%7 == 0 {
					name = fmt.Sprintf("h%d.evil.example", i)
				}
				if f == FormatZeek {
					fmt.Fprintf(&in, "1521911720.%06d\tC%d\t10.0.0.1\t41772\t10.0.0.53\t53\tudp\t%s\n", i, i, name)
				} else {
					in.WriteString(eveLine(i, name) + "\n")
				}
				if i%7 == 0 {
					hitEnds = append(hitEnds, int64(in.Len()))
				}
			}
			var out syncBuffer
			var mu sync.Mutex
			var reported []int64
			handled := func(got int64) {
				out.mu.Lock()
				alerts := bytes.Count(out.Bytes(), []byte{'\n'})
				out.mu.Unlock()
				want := 0 // alerts of the lines in the first got bytes
				for want < len(hitEnds) && hitEnds[want] <= got {
					want++
				}
				if alerts < want {
					t.Errorf("handled %d with %d alerts written, want %d at least", got, alerts, want)
				}
				mu.Lock()
				reported = append(reported, got)
				mu.Unlock()
			}
			r := iotest.HalfReader(strings.NewReader(in.String()))
			st, err := RunObserved(context.Background(), r, f, testMatcher(t), &out, 4, nil, nil, handled)
			if err != nil || st.Alerts != int64(len(hitEnds)) {
				t.Fatalf("%+v, %v", st, err)
			}
			for i := 1; i < len(reported); i++ {
				if reported[i] <= reported[i-1] {
					t.Fatalf("handled %d after %d", reported[i], reported[i-1])
				}
			}
			if len(reported) < 2 || reported[len(reported)-1] != int64(in.Len()) {
				t.Errorf("handled %v…, want to end at %d", reported[:min(3, len(reported))], in.Len())
			}
		})
	}
}
