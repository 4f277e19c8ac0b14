// Package tail reads a log file line by line and, unless told to stop at
// the end, keeps following it the way `tail -F` does: it waits for a file
// that does not exist yet, notices when the file is rotated (the path now
// names another file) or truncated, and goes on with the new contents. It
// polls with os.Stat, which works on every platform and file system and
// costs one system call per file per interval.
//
// Lines hands each complete line to a callback together with the offset
// just after it, and tells of each file it reads (Options.OnFile), which
// the sensor stores so that it can resume where it stopped after a restart
// (Options.Resume).
package tail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"time"
)

// Defaults for Options.
const (
	DefaultPoll    = 250 * time.Millisecond
	DefaultMaxLine = 1 << 20
)

// readSize is how much is read from the file at a time.
const readSize = 64 << 10

// Options configure Lines. Zero values mean the defaults.
type Options struct {
	// FromStart reads a file that exists when Lines starts from its
	// beginning. By default a follower starts at its end, as a sensor that
	// starts up wants to see new events, not replay old ones; if the end is
	// in the middle of a line, that line is skipped. Files that appear or
	// replace the file later are always read from their start.
	FromStart bool
	// Resume resumes where an earlier follower stopped: at Resume.Offset
	// of the file that exists when Lines starts if that file is
	// Resume.File (FileID.Same) and still has a newline just before the
	// offset. Any other file — a new one took the path while nobody
	// followed it, or the file was truncated — is read from its start.
	// It takes precedence over FromStart. A position whose FileID saw
	// fewer of the file's first bytes than the offset passes (a file just
	// rotated in) could be taken for a later file that reuses the inode:
	// it is not trusted, and the file is read from its start.
	Resume *Position
	// OnFile, if set, is told which file the lines that follow come from:
	// when Lines starts on a file, when another file takes the path's
	// place, when a truncated file is read again from its start, and when
	// more of the file's first bytes have been read (the FileID is then
	// surer). off is where reading goes on in it when that is the start of
	// a line — a Position to resume from even before any line comes — and
	// -1 otherwise (a surer FileID of the file being read; a start at an
	// end in the middle of a line). It is called on Lines' goroutine,
	// before the first line it concerns; with the offsets fn is given, it
	// makes the Position to resume from.
	OnFile func(id FileID, off int64)
	// OnHeader, if set, is handed the header of a file whose reading
	// starts after its beginning (at its end, or at a resumed offset):
	// the lines at its start that begin with "#", as a Zeek log's
	// "#separator" … "#types" are, before any other line, so that their
	// reader knows the columns of the lines that follow. At most MaxLine
	// bytes of header are read; a file read from its start hands its
	// header to fn like any other lines.
	OnHeader func(line []byte)
	// Once reads the file from its start (or Offset) to its end and
	// returns, handing over a last line that lacks its newline; a file that
	// does not exist is an error. Otherwise Lines follows the file until
	// ctx is done.
	Once bool
	// Poll is how often a follower looks for new data, rotation and
	// truncation once it has read everything (default 250 ms).
	Poll time.Duration
	// MaxLine is the longest line, in bytes without the newline, that is
	// handed over (default 1 MiB). Longer lines are skipped, whole, and
	// reported to OnLongLine; they never make Lines hold more than MaxLine
	// bytes.
	MaxLine int
	// OnLongLine, if set, is called with the length of each skipped line.
	OnLongLine func(length int64)
	// OnError, if set, is told of each error that keeps a follower from
	// the file for now (it cannot be opened, looked at or read: no
	// permission after a rotation, a network file system's I/O error). A
	// follower does not stop for these: it tries again at every poll and
	// goes on where it was (from the start of a file that replaced it). A
	// reader with Once returns them instead.
	OnError func(err error)
	// Stdin is what the path "-" reads (default os.Stdin).
	Stdin io.Reader
}

// Lines reads the file at path and calls fn for each complete line, without
// its "\n" (or "\r\n"), and with the offset in the file just after the
// line. line is only valid during the call; Lines reuses its buffers.
//
// The path "-" reads Options.Stdin to its end, like Once; offsets count
// from its first byte. Otherwise the file is followed unless Options.Once
// is set:
//   - a file that does not exist yet is waited for;
//   - when the path names another file than the one being read (it was
//     renamed away and a new one created, or replaced by a rename), the old
//     file is read to its end, its last line handed over even without a
//     newline, and the new file is read from its start; offsets then refer
//     to the new file;
//   - when the file is shorter than what has been read (truncated in place,
//     as logrotate's copytruncate does), it is read again from its start,
//     and an unfinished line is dropped;
//   - a last line without its newline is held until the newline arrives.
//
// A file truncated and then written past the old offset between two polls
// cannot be told from one that grew; its first bytes are then missed.
//
// Lines returns fn's error if fn fails, ctx.Err() when ctx is done (between
// reads: a read from a pipe that blocks is not interrupted), nil when a
// read to the end finishes, or the error that prevents reading the file.
func Lines(ctx context.Context, path string, opts Options, fn func(line []byte, off int64) error) error {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	r := &reader{opts: opts, fn: fn, buf: make([]byte, readSize)}
	if path == "-" {
		return r.readAll(ctx, opts.Stdin)
	}
	return r.follow(ctx, path)
}

// A Position is where a follower is, as it can be stored to resume from
// after a restart (Options.Resume): a file, and the offset in it just
// after the last line handed over.
type Position struct {
	File   FileID
	Offset int64
}

// A FileID tells a file from others that take its path later: its device
// and inode numbers (zero where the platform has none), and a hash of its
// first bytes, since a file system may give a new file the inode of one
// deleted meanwhile (Zeek's rotated logs are deleted once compressed).
type FileID struct {
	Dev, Ino uint64
	// HeadLen is how many of the file's first bytes Head covers: up to
	// headSize, fewer while the file is shorter.
	HeadLen int64
	Head    uint64 // FNV-1a hash of the first HeadLen bytes
}

// headSize is how many of a file's first bytes its FileID covers.
const headSize = 1024

// Same reports whether f, an open file whose FileInfo is fi, is the file
// id was taken of: the same device and inode, and the same first
// id.HeadLen bytes.
func (id FileID) Same(f *os.File, fi os.FileInfo) bool {
	dev, ino := sysID(fi)
	if dev != id.Dev || ino != id.Ino || fi.Size() < id.HeadLen {
		return false
	}
	h, err := headHash(f, id.HeadLen)
	return err == nil && h == id.Head
}

// identify returns the FileID of f, whose FileInfo is fi.
func identify(f *os.File, fi os.FileInfo) (FileID, error) {
	dev, ino := sysID(fi)
	n := min(fi.Size(), headSize)
	h, err := headHash(f, n)
	if err != nil {
		return FileID{}, err
	}
	return FileID{Dev: dev, Ino: ino, HeadLen: n, Head: h}, nil
}

// headHash hashes the first n bytes of f.
func headHash(f *os.File, n int64) (uint64, error) {
	var buf [headSize]byte
	if n > headSize {
		n = headSize
	}
	if _, err := f.ReadAt(buf[:n], 0); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return 0, fmt.Errorf("tail: %w", err)
	}
	h := fnv.New64a()
	h.Write(buf[:n])
	return h.Sum64(), nil
}

// reader cuts bytes into lines.
type reader struct {
	opts Options
	fn   func([]byte, int64) error
	buf  []byte // what was read
	line []byte // the start of an unfinished line
	off  int64  // offset of the next byte to read
	id   FileID // the file being read, once OnFile was told of it

	long     bool  // the current line is longer than MaxLine: skip it
	longLen  int64 // its length so far
	fragment bool  // the current line began before where reading started
}

func (r *reader) readAll(ctx context.Context, src io.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := src.Read(r.buf)
		if err := r.consume(r.buf[:n]); err != nil {
			return err
		}
		if err == io.EOF {
			return r.endLine()
		}
		if err != nil {
			return fmt.Errorf("tail: reading: %w", err)
		}
	}
}

// consume cuts p, read at r.off, into lines.
func (r *reader) consume(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.hold(p)
			r.off += int64(len(p))
			return nil
		}
		r.off += int64(i) + 1
		if err := r.finish(p[:i]); err != nil {
			return err
		}
		p = p[i+1:]
	}
	return nil
}

// hold keeps the start of an unfinished line.
func (r *reader) hold(p []byte) {
	switch {
	case r.fragment:
	case r.long:
		r.longLen += int64(len(p))
	case len(r.line)+len(p) > r.opts.MaxLine:
		r.long, r.longLen = true, int64(len(r.line)+len(p))
		r.line = r.line[:0]
	default:
		r.line = append(r.line, p...)
	}
}

// finish ends the current line with rest, its last bytes.
func (r *reader) finish(rest []byte) error {
	switch {
	case r.fragment:
		r.fragment = false
		return nil
	case r.long:
		r.skip(r.longLen + int64(len(rest)))
		return nil
	case len(r.line)+len(rest) > r.opts.MaxLine:
		r.skip(int64(len(r.line) + len(rest)))
		return nil
	}
	line := rest
	if len(r.line) > 0 {
		r.line = append(r.line, rest...)
		line = r.line
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	err := r.fn(line, r.off)
	r.line = r.line[:0]
	return err
}

func (r *reader) skip(n int64) {
	r.long, r.longLen = false, 0
	r.line = r.line[:0]
	if r.opts.OnLongLine != nil {
		r.opts.OnLongLine(n)
	}
}

// endLine hands over a last line that has no newline: the file ended.
func (r *reader) endLine() error {
	if len(r.line) == 0 && !r.long && !r.fragment {
		return nil
	}
	return r.finish(nil)
}

// dropLine forgets an unfinished line.
func (r *reader) dropLine() {
	r.line = r.line[:0]
	r.long, r.longLen, r.fragment = false, 0, false
}

func (r *reader) follow(ctx context.Context, path string) error {
	timer := time.NewTimer(r.opts.Poll)
	defer timer.Stop()
	sleep := func() error {
		timer.Reset(r.opts.Poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		}
	}

	// failed reports an error that keeps a follower from the file for now;
	// it tries again at the next poll.
	failed := func(err error) {
		if r.opts.OnError != nil {
			r.opts.OnError(err)
		}
	}
	f, fi, err := open(path)
	// The file exists but cannot be opened yet (no permission, an I/O
	// error): once it can, it is started on as it would have been now
	// (Resume, its end), not read from its start as a file that appears.
	unstarted := false
	switch {
	case errors.Is(err, fs.ErrNotExist) && !r.opts.Once:
		// Waited for below; read from its start once it appears.
	case err != nil && r.opts.Once:
		return fmt.Errorf("tail: %w", err)
	case err != nil:
		unstarted = true
		failed(fmt.Errorf("tail: %w", err))
	default:
		if err := r.start(f, fi); err != nil {
			f.Close()
			return err
		}
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()

	for {
		if f == nil {
			if err := sleep(); err != nil {
				return err
			}
			nf, nfi, err := open(path)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					failed(fmt.Errorf("tail: %w", err))
				}
				continue
			}
			if unstarted {
				if err := r.start(nf, nfi); err != nil {
					nf.Close()
					failed(err)
					continue
				}
				unstarted = false
			} else if fi != nil && os.SameFile(nfi, fi) && nfi.Size() >= r.off {
				// The same file again, after an error: go on where it was.
				if _, err := nf.Seek(r.off, io.SeekStart); err != nil {
					nf.Close()
					failed(fmt.Errorf("tail: %w", err))
					continue
				}
			} else {
				r.off = 0
				r.dropLine()
				r.tell(nf, 0)
			}
			f, fi = nf, nfi
		}
		if err := r.drain(ctx, f); err != nil {
			var re *readError
			if r.opts.Once || !errors.As(err, &re) {
				return err
			}
			failed(err)
			f.Close()
			f = nil
			continue
		}
		if r.opts.Once {
			return r.endLine()
		}
		if err := sleep(); err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			failed(fmt.Errorf("tail: %w", err))
			continue
		}
		if err == nil && !os.SameFile(st, fi) {
			// Rotated: what was written to the old file before the new one
			// took its place is read first.
			if err := r.drain(ctx, f); err != nil {
				var re *readError
				if !errors.As(err, &re) {
					return err
				}
				failed(err) // what is left of the old file is lost
			}
			if err := r.endLine(); err != nil {
				return err
			}
			f.Close()
			f = nil
			continue
		}
		cur, err := f.Stat()
		if err != nil {
			failed(fmt.Errorf("tail: %w", err))
			f.Close()
			f = nil
			continue
		}
		if cur.Size() < r.off {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				failed(fmt.Errorf("tail: %w", err))
				f.Close()
				f = nil
				continue
			}
			r.off = 0
			r.dropLine()
			r.tell(f, 0)
		}
	}
}

// open opens a file and describes it.
func open(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// tell identifies f, the file now read, and tells OnFile of it and of
// off (Options.OnFile). A file
// that cannot be identified is told as the zero FileID, which no file is
// the Same as where files have inodes: a position in it is resumed from
// the start of the file.
func (r *reader) tell(f *os.File, off int64) {
	if r.opts.OnFile == nil {
		return
	}
	var id FileID
	if fi, err := f.Stat(); err == nil {
		id, _ = identify(f, fi)
	}
	r.id = id
	r.opts.OnFile(id, off)
}

// header hands the lines beginning with "#" at the start of f, before
// offset end, to OnHeader.
func (r *reader) header(f *os.File, end int64) {
	if r.opts.OnHeader == nil || end <= 0 {
		return
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, min(end, int64(r.opts.MaxLine))), readSize)
	for {
		// A line longer than the buffer ends the header (ErrBufferFull),
		// as does one cut off by end (io.EOF).
		line, err := br.ReadSlice('\n')
		if err != nil || line[0] != '#' {
			return
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		r.opts.OnHeader(line)
	}
}

// start positions r in the file that exists when Lines starts.
func (r *reader) start(f *os.File, fi os.FileInfo) error {
	size := fi.Size()
	var at int64
	switch {
	case r.opts.Resume != nil:
		// Another file, or this one truncated: read from its start.
		if p := r.opts.Resume; p.Offset <= size && p.File.HeadLen >= min(p.Offset, headSize) && p.File.Same(f, fi) &&
			(p.Offset == 0 || endsLine(f, p.Offset)) {
			at = p.Offset
		}
	case r.opts.FromStart || r.opts.Once:
	default:
		at = size
		r.fragment = size > 0 && !endsLine(f, size)
	}
	if r.fragment {
		r.tell(f, -1)
	} else {
		r.tell(f, at)
	}
	r.header(f, at)
	if _, err := f.Seek(at, io.SeekStart); err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	r.off = at
	return nil
}

// endsLine reports whether the byte before off is a newline.
func endsLine(f *os.File, off int64) bool {
	var b [1]byte
	_, err := f.ReadAt(b[:], off-1)
	return err == nil && b[0] == '\n'
}

// readError is a failure to read the file, as opposed to fn's.
type readError struct{ err error }

func (e *readError) Error() string { return "tail: reading: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// drain reads f to its current end.
func (r *reader) drain(ctx context.Context, f *os.File) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(r.buf)
		if r.opts.OnFile != nil && r.id.HeadLen < headSize && r.off+int64(n) > r.id.HeadLen {
			// Lines ending past what the FileID covers are about to be
			// handed over: a surer FileID first, so that no position is
			// ever told with one that saw less of the file than it passes
			// (start refuses those).
			r.tell(f, -1)
		}
		if err := r.consume(r.buf[:n]); err != nil {
			return err
		}
		if err == io.EOF || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return &readError{err}
		}
	}
}
