package sensor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/tail"
)

// offsetSchema keeps, per followed file, where the sensor is in it: the
// file (device, inode, a hash of its first bytes: tail.FileID) and the
// offset just after the last line matched, so that a restarted sensor
// reads what was logged while it was down. Part of the state's schema.
const offsetSchema = `
CREATE TABLE IF NOT EXISTS input_offsets (
	path     TEXT PRIMARY KEY,
	dev      INTEGER NOT NULL,
	ino      INTEGER NOT NULL,
	head_len INTEGER NOT NULL,
	head     INTEGER NOT NULL,
	offset   INTEGER NOT NULL,
	saved    INTEGER NOT NULL
) WITHOUT ROWID;`

// offsetSaveEvery is how often a followed file's position is stored while
// it moves; a crash reads at most the lines of this last while again.
const offsetSaveEvery = time.Second

// InputOffset returns the position stored for the followed file at path,
// and whether there is one.
func (s *State) InputOffset(ctx context.Context, path string) (tail.Position, bool, error) {
	var p tail.Position
	var dev, ino, head int64
	err := s.db.QueryRowContext(ctx, `SELECT dev, ino, head_len, head, offset FROM input_offsets WHERE path = ?`, path).
		Scan(&dev, &ino, &p.File.HeadLen, &head, &p.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return tail.Position{}, false, nil
	}
	if err != nil {
		return tail.Position{}, false, fmt.Errorf("state: reading the position in %s: %w", path, err)
	}
	// SQLite's integers are signed: the unsigned numbers are stored as
	// their bits.
	p.File.Dev, p.File.Ino, p.File.Head = uint64(dev), uint64(ino), uint64(head)
	return p, true, nil
}

// SaveInputOffset stores the position in the followed file at path.
func (s *State) SaveInputOffset(ctx context.Context, path string, p tail.Position, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO input_offsets (path, dev, ino, head_len, head, offset, saved) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, head_len = excluded.head_len,
			head = excluded.head, offset = excluded.offset, saved = excluded.saved`,
		path, int64(p.File.Dev), int64(p.File.Ino), p.File.HeadLen, int64(p.File.Head), p.Offset, at.Unix())
	if err != nil {
		return fmt.Errorf("state: storing the position in %s: %w", path, err)
	}
	return nil
}

// offsetKey is the key of a followed file's position: its absolute path,
// so that the same file named from another directory is the same input.
func offsetKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// filePosition follows where one followed input is: which lines went to
// its matcher (a mark per line: where the line ends in what was written to
// the matcher, and in its file), and which of them the matcher has handled
// (RunObserved's handled). Only a handled line's position is stored, so a
// stored position is never ahead of what was matched.
type filePosition struct {
	mu      sync.Mutex
	file    tail.FileID // the file the next lines come from (tail's OnFile)
	written int64       // bytes written to the matcher
	done    int64       // bytes the matcher has handled
	marks   []positionMark
	handled tail.Position // after the last line handled
	valid   bool          // handled is a position (some line was handled)
	dirty   bool          // handled moved since it was last stored
}

// A positionMark is the end of a line: in what was written to the matcher,
// and in its file.
type positionMark struct {
	written int64
	pos     tail.Position
}

// onFile notes the file the next lines come from, and where in it they
// start (off, -1 when that is not a line's start): a position as good as
// a line's end once what was written before is handled. So a sensor
// stopped before any line came still resumes where it started.
func (p *filePosition) onFile(id tail.FileID, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.file = id
	if off < 0 {
		return
	}
	pos := tail.Position{File: id, Offset: off}
	if len(p.marks) == 0 && p.written <= p.done {
		p.handled, p.valid, p.dirty = pos, true, true
		return
	}
	p.marks = append(p.marks, positionMark{written: p.written, pos: pos})
}

// wrote notes n bytes written to the matcher: a line of the file ending at
// off (off < 0 for bytes of no position: a Zeek header read again).
func (p *filePosition) wrote(n int, off int64) {
	p.mu.Lock()
	p.written += int64(n)
	if off >= 0 {
		p.marks = append(p.marks, positionMark{written: p.written, pos: tail.Position{File: p.file, Offset: off}})
	}
	p.mu.Unlock()
}

// matched notes that the matcher has handled the first n bytes written to
// it.
func (p *filePosition) matched(n int64) {
	p.mu.Lock()
	p.done = n
	i := 0
	for i < len(p.marks) && p.marks[i].written <= n {
		i++
	}
	if i > 0 {
		p.handled, p.valid, p.dirty = p.marks[i-1].pos, true, true
		p.marks = append(p.marks[:0], p.marks[i:]...)
	}
	p.mu.Unlock()
}

// take returns the position to store, if it moved since the last take.
func (p *filePosition) take() (tail.Position, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.valid || !p.dirty {
		return tail.Position{}, false
	}
	p.dirty = false
	return p.handled, true
}

// resumeFrom returns where a followed input starts: the position stored
// for it, unless --from-start or --once read it from its start (nil).
func (s *Sensor) resumeFrom(ctx context.Context, in Input) *tail.Position {
	if s.cfg.Once || s.cfg.FromStart {
		return nil
	}
	p, ok, err := s.state.InputOffset(ctx, offsetKey(in.Path))
	if err != nil {
		s.log.Warn("the stored position in an input cannot be read; it is followed from its end", "input", string(in.Format)+":"+in.Path, "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	return &p
}

// keepPosition stores the position of a followed input every
// offsetSaveEvery while it moves, until stop is closed, and then once more.
func (s *Sensor) keepPosition(in Input, pos *filePosition, stop <-chan struct{}) {
	key := offsetKey(in.Path)
	save := func() {
		p, ok := pos.take()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.state.SaveInputOffset(ctx, key, p, s.cfg.Now()); err != nil {
			s.counters.stateFailures.Add(1)
			s.log.Warn("storing the position in an input failed; a restart may read some of its lines again", "input", string(in.Format)+":"+in.Path, "err", err)
			pos.mu.Lock()
			pos.dirty = true
			pos.mu.Unlock()
		}
	}
	t := time.NewTicker(offsetSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			save()
			return
		case <-t.C:
			save()
		}
	}
}
