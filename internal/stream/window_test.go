package stream

import (
	"math/rand/v2"
	"testing"

	"github.com/hdnetwork/hdn/internal/model"
)

// TestWindowTrim appends batches of random sizes the way fill does and
// checks after each: the window is contiguous and ends at the newest
// change, it holds at least the newest Window changes (all of them while
// fewer arrived), floor is just below its first change, it never holds more
// than twice Window plus a batch, and append never had to grow the slice
// past the capacity trimmed chose (growing copied the whole window once
// more on every trim, and several times while it first filled).
func TestWindowTrim(t *testing.T) {
	const window = 64
	b := NewBroker(nil, nil, Options{Window: window})
	rng := rand.New(rand.NewPCG(1, 2))
	seq := int64(0)
	for round := range 2000 {
		n := 1 + rng.IntN(2*window)
		if round%3 == 0 {
			n = 1 + rng.IntN(8)
		}
		chs := make([]model.Change, n)
		for i := range chs {
			seq++
			chs[i].Seq = seq
		}
		w := b.trimmed(n)
		capBefore := cap(w)
		w = append(w, chs...)
		if cap(w) != capBefore {
			t.Fatalf("round %d: append grew the window from capacity %d to %d", round, capBefore, cap(w))
		}
		b.window = w
		for i := 1; i < len(w); i++ {
			if w[i].Seq != w[i-1].Seq+1 {
				t.Fatalf("round %d: window not contiguous at %d: %d after %d", round, i, w[i].Seq, w[i-1].Seq)
			}
		}
		if w[len(w)-1].Seq != seq {
			t.Fatalf("round %d: window ends at %d, newest is %d", round, w[len(w)-1].Seq, seq)
		}
		if want := min(seq, window); int64(len(w)) < want {
			t.Fatalf("round %d: window holds %d changes, want at least %d", round, len(w), want)
		}
		if len(w) > 2*window+n {
			t.Fatalf("round %d: window holds %d changes, more than twice %d plus the batch of %d", round, len(w), window, n)
		}
		if b.floor != w[0].Seq-1 {
			t.Fatalf("round %d: floor %d, first change in the window %d", round, b.floor, w[0].Seq)
		}
	}
}
