package api

import (
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// statusOf makes a status listing n stored objects and one failure.
func statusOf(n int) *taxiiStatus {
	st := &taxiiStatus{ID: uuid.NewString(), Status: "complete", RequestTimestamp: "2026-11-28T09:00:00.000000Z",
		Failures: []taxiiStatusDetail{{ID: "indicator--x", Message: "the pattern cannot be read: \"<\" at 3"}}, Pendings: []taxiiStatusDetail{}}
	for range n {
		st.Successes = append(st.Successes, taxiiStatusDetail{ID: "indicator--" + uuid.NewString(), Version: "2026-11-27T12:00:00.000Z", Message: "1 indicator value(s) stored"})
	}
	st.TotalCount, st.SuccessCount, st.FailureCount = n+1, n, 1
	return st
}

// TestTAXIIStatusEncoding: a status comes back from its stored form as it
// was, and what is not a stored status is an error.
func TestTAXIIStatusEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		st := statusOf(n)
		b, err := encodeTAXIIStatus(st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTAXIIStatus(b)
		if err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("%d objects: decoded %+v, %v", n, got, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("{}"), []byte("\x1f\x8b\x08\x00garbage")} {
		if _, err := decodeTAXIIStatus(bad); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

// BenchmarkTAXIIStatusEncode: the cost and size of storing the status of a
// request of 100,000 objects.
func BenchmarkTAXIIStatusEncode(b *testing.B) {
	st := statusOf(100_000)
	var size int
	for b.Loop() {
		enc, err := encodeTAXIIStatus(st)
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
	}
	b.ReportMetric(float64(size), "bytes-stored")
}
