package match

import "sync"

// progress tells RunObserved's caller how far its input is handled, in
// input order, although batches finish out of order: the reader registers
// each piece of the input as it passes it on (a batch for the workers, or
// what it handled itself: Zeek headers, skipped bytes), and the workers
// mark their batches done; the prefix of pieces all done is reported.
type progress struct {
	mu     sync.Mutex
	fn     func(n int64)
	pieces []piece // registered and not yet reported, oldest first
	first  uint64  // the number of pieces[0]
}

// A piece of the input: it ends at byte end of the input.
type piece struct {
	end  int64
	done bool
}

// add registers a piece ending at end, to be marked done later, and
// returns its number. A nil progress does nothing.
func (p *progress) add(end int64) uint64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pieces = append(p.pieces, piece{end: end})
	return p.first + uint64(len(p.pieces)-1)
}

// handled registers a piece ending at end that is done already.
func (p *progress) handled(end int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pieces) == 0 {
		p.fn(end)
		return
	}
	p.pieces = append(p.pieces, piece{end: end, done: true})
}

// done marks piece n done, and reports how far the input is handled when
// that moved.
func (p *progress) done(n uint64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pieces[n-p.first].done = true
	end := int64(-1)
	for len(p.pieces) > 0 && p.pieces[0].done {
		end = p.pieces[0].end
		p.pieces = p.pieces[1:]
		p.first++
	}
	if end >= 0 {
		p.fn(end)
	}
}
