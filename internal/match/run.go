package match

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hdnetwork/hdn/internal/logparse"
)

// Limits of Run.
const (
	// batchSize is how much input one batch holds (whole lines).
	batchSize = 1 << 20
	// MaxLine is the longest line Run reads; a longer line is counted as
	// an error and skipped.
	MaxLine = 16 << 20
)

// maxLine is MaxLine, lowered by tests.
var maxLine = MaxLine

// batch is a run of whole lines, the unit of work of Run.
type batch struct {
	data []byte
	zeek *logparse.ZeekHeader // header in force at the batch's first line
	out  []byte
	seq  uint64 // its piece of the input, for RunObserved's handled
}

// Run reads lines of format f from r until EOF (or ctx is done), matches
// them against m on workers goroutines (GOMAXPROCS when workers <= 0), and
// writes alert lines to out. The input is cut into batches of whole lines
// (about 1 MiB); each worker matches every event with the index current
// once the event is handed to the observer (Session.match says why), and
// writes a batch's alerts in one Write call, so alerts of one batch keep
// their input order but batches may finish out of order: alert order is
// not input order. Writes to out are serialised. Buffers
// are recycled, so a long run allocates nothing per line.
//
// Malformed lines are counted (Stats.Errors) and skipped. Run returns the
// counts and the first error of reading or writing, or ctx's error. A Read
// that blocks (a pipe, a tailed file) is not interrupted by ctx: close the
// reader to stop such a run at once.
func Run(ctx context.Context, r io.Reader, f Format, m *Matcher, out io.Writer, workers int) (Stats, error) {
	return RunObserved(ctx, r, f, m, out, workers, nil, nil, nil)
}

// RunObserved is Run that also tells observe of every observation of every
// event (the sensor's retro-hunt record; observe is called from several
// goroutines at once), and adds each batch's counts to live as it goes
// (read it with LoadStats; nil for none).
//
// handled, if not nil, is told how far the input is handled: every line in
// the first n bytes read from r has been matched and its alerts written to
// out (or it was a Zeek header, or too long and skipped). n only grows; the
// calls come one at a time, from the workers' goroutines, and should be
// quick. When ctx ends the reader stops, and the batches it had handed on
// are still matched (a few MiB): skipping one while a later one was
// matched would report neither, and a caller storing n (the sensor's
// position in a file) would match the later one again at its next start.
// Only after a failed write are batches left unmatched, never reported
// handled, so that such a caller reads them again rather than losing them.
func RunObserved(ctx context.Context, r io.Reader, f Format, m *Matcher, out io.Writer, workers int, observe Observer, live *Stats, handled func(n int64)) (Stats, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return Stats{}, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	nbatch := 2*workers + 2
	free := make(chan *batch, nbatch)
	for range nbatch {
		free <- &batch{}
	}
	work := make(chan *batch, nbatch)
	var prog *progress
	if handled != nil {
		prog = &progress{fn: handled}
	}

	var (
		total   Stats
		outMu   sync.Mutex
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	var failed atomic.Bool // a write failed: the rest is not matched
	fail := func(err error) {
		errOnce.Do(func() { runErr = err })
		failed.Store(true)
		cancel(err)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := m.NewSession(f)
			s.SetObserver(observe)
			for b := range work {
				if !failed.Load() {
					s.stats = Stats{}
					s.matchBatch(b)
					total.addAtomic(&s.stats)
					if live != nil {
						live.addAtomic(&s.stats)
					}
					var err error
					if len(b.out) > 0 {
						outMu.Lock()
						_, err = out.Write(b.out)
						outMu.Unlock()
						if err != nil {
							fail(err)
						}
					}
					if err == nil {
						prog.done(b.seq)
					}
				}
				b.out = b.out[:0]
				free <- b
			}
		}()
	}

	rd := reader{r: r, format: f, zeek: logparse.NewZeekHeader(), free: free, work: work, ctx: ctx, prog: prog}
	if err := rd.run(); err != nil {
		fail(err)
	}
	close(work)
	wg.Wait()
	total.add(rd.stats)
	if live != nil {
		live.addAtomic(&rd.stats)
	}
	if runErr == nil {
		if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
			// Only the caller's context can have been cancelled here.
			runErr = err
		}
	}
	return total, runErr
}

// matchBatch matches every line of a batch, appending alerts to b.out.
// Each line loads the index itself, after it is filed with the observer
// (Session.match says why), not once for the batch.
func (s *Session) matchBatch(b *batch) {
	if b.zeek != nil {
		s.zeek = b.zeek
	}
	data := b.data
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		b.out, _ = s.match(b.out, line)
	}
}

// reader cuts the input into batches of whole lines.
type reader struct {
	r      io.Reader
	format Format
	zeek   *logparse.ZeekHeader
	free   chan *batch
	work   chan *batch
	ctx    context.Context
	stats  Stats // lines the reader consumes itself: headers, overlong lines
	carry  []byte
	skip   bool      // discarding the rest of an overlong line
	pos    int64     // bytes read from r
	prog   *progress // nil unless the caller asked what is handled
}

func (rd *reader) get() (*batch, bool) {
	select {
	case b := <-rd.free:
		return b, true
	case <-rd.ctx.Done():
		return nil, false
	}
}

func (rd *reader) run() error {
	for {
		b, ok := rd.get()
		if !ok {
			return nil
		}
		if cap(b.data) < batchSize {
			b.data = make([]byte, 0, batchSize)
		}
		b.data = append(b.data[:0], rd.carry...)
		rd.carry = rd.carry[:0]
		hasNL := bytes.IndexByte(b.data, '\n') >= 0
		var rerr error
		eof := false
		for {
			if len(b.data) == cap(b.data) {
				// Full without a newline: one line longer than the buffer.
				if cap(b.data) >= maxLine {
					rd.stats.Lines++
					rd.stats.Errors++
					rd.skip = true
					b.data = b.data[:0]
				} else {
					b.data = append(make([]byte, 0, 2*cap(b.data)), b.data...)
				}
			}
			want := cap(b.data) - len(b.data)
			n, err := rd.r.Read(b.data[len(b.data):cap(b.data)])
			rd.pos += int64(n)
			part := b.data[len(b.data) : len(b.data)+n]
			b.data = b.data[:len(b.data)+n]
			if rd.skip && n > 0 {
				if i := bytes.IndexByte(part, '\n'); i < 0 {
					b.data = b.data[:len(b.data)-n]
					part = nil
				} else {
					k := len(b.data) - n
					b.data = append(b.data[:k], part[i+1:]...)
					part = b.data[k:]
					rd.skip = false
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					rerr = err
				}
				eof = true
				break
			}
			hasNL = hasNL || bytes.IndexByte(part, '\n') >= 0
			// Send when the batch is half full, or at once when the input
			// gives less than asked (a pipe, a tailed file), so that a slow
			// producer's lines are not held back.
			if hasNL && (len(b.data) >= cap(b.data)/2 || n < want) {
				break
			}
		}
		if !eof {
			i := bytes.LastIndexByte(b.data, '\n')
			rd.carry = append(rd.carry, b.data[i+1:]...)
			b.data = b.data[:i+1]
		} else if rd.skip {
			b.data = b.data[:0]
		}
		// The batch ends where the carried unfinished line begins.
		end := rd.pos - int64(len(rd.carry))
		if len(b.data) > 0 {
			rd.send(b, end)
		} else {
			rd.free <- b
			rd.prog.handled(end)
		}
		if eof {
			return rerr
		}
	}
}

// send passes a batch, ending at byte end of the input, to the workers.
// For Zeek, header lines are taken out here, in input order, so that every
// batch carries the header its lines were written under.
func (rd *reader) send(b *batch, end int64) {
	if rd.format != FormatZeek {
		rd.dispatch(b, end)
		return
	}
	// at is where data begins in the input.
	at := func(data []byte) int64 { return end - int64(len(data)) }
	data := b.data
	for {
		h := headerAt(data)
		part := data
		if h >= 0 {
			part = data[:h]
		}
		if len(part) == len(b.data) {
			b.zeek = rd.zeek
			rd.dispatch(b, end)
			return
		}
		if len(part) > 0 {
			nb, ok := rd.get()
			if !ok {
				break
			}
			nb.data = append(nb.data[:0], part...)
			nb.zeek = rd.zeek
			rd.dispatch(nb, at(data)+int64(len(part)))
		}
		if h < 0 {
			break
		}
		data = data[h:]
		for len(data) > 0 && data[0] == '#' {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			rd.stats.Lines++
			if z, err := rd.zeek.WithLine(line); err == nil {
				rd.zeek = z
				rd.stats.Skipped++
			} else {
				rd.stats.Errors++
			}
		}
		rd.prog.handled(at(data))
		if len(data) == 0 {
			break
		}
	}
	rd.free <- b
}

// dispatch passes a batch, ending at byte end of the input, to the
// workers.
func (rd *reader) dispatch(b *batch, end int64) {
	b.seq = rd.prog.add(end)
	rd.work <- b
}

// headerAt returns the position of the first line starting with "#", or -1.
func headerAt(data []byte) int {
	if len(data) > 0 && data[0] == '#' {
		return 0
	}
	if i := bytes.Index(data, []byte("\n#")); i >= 0 {
		return i + 1
	}
	return -1
}
