package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const wait = 10 * time.Second // how long a test waits for a line; never reached when all is well

type line struct {
	text string
	off  int64
}

// follower runs Lines in the background and collects what it hands over.
type follower struct {
	t      *testing.T
	lines  chan line
	done   chan error
	cancel context.CancelFunc
	mu     sync.Mutex
	long   []int64
}

func follow(t *testing.T, path string, opts Options) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{t: t, lines: make(chan line, 1000), done: make(chan error, 1), cancel: cancel}
	opts.Poll = 5 * time.Millisecond
	opts.OnLongLine = func(n int64) {
		f.mu.Lock()
		f.long = append(f.long, n)
		f.mu.Unlock()
	}
	go func() {
		f.done <- Lines(ctx, path, opts, func(l []byte, off int64) error {
			f.lines <- line{string(l), off}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-f.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Lines returned %v, want context.Canceled", err)
			}
		case <-time.After(wait):
			t.Error("Lines did not return after cancel")
		}
	})
	return f
}

// expect waits for the next lines and checks them, passing over probes.
func (f *follower) expect(want ...string) {
	f.t.Helper()
	for _, w := range want {
		select {
		case l := <-f.lines:
			if strings.HasPrefix(l.text, "probe ") {
				f.expect(w)
				continue
			}
			if l.text != w {
				f.t.Fatalf("line %q, want %q", l.text, w)
			}
		case <-time.After(wait):
			f.t.Fatalf("no line %q within %v", w, wait)
		}
	}
}

// expectAt waits for the next line and checks it and its offset.
func (f *follower) expectAt(want string, off int64) {
	f.t.Helper()
	select {
	case l := <-f.lines:
		if strings.HasPrefix(l.text, "probe ") {
			f.expectAt(want, off)
			return
		}
		if l.text != want || l.off != off {
			f.t.Fatalf("line %q at %d, want %q at %d", l.text, l.off, want, off)
		}
	case <-time.After(wait):
		f.t.Fatalf("no line %q within %v", want, wait)
	}
}

// quiet checks that no line arrives for a while (a few polls).
func (f *follower) quiet() {
	f.t.Helper()
	select {
	case l := <-f.lines:
		if !strings.HasPrefix(l.text, "probe ") {
			f.t.Fatalf("unexpected line %q", l.text)
		}
		f.quiet()
	case <-time.After(50 * time.Millisecond):
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

// started waits until the follower has opened the file: with the default
// start at the end, lines written before then are not read. It writes probe
// lines until one arrives and returns it; the probes after it arrive too,
// and expect passes over them.
func started(t *testing.T, f *follower, path string) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for i := 0; time.Now().Before(deadline); i++ {
		write(t, path, fmt.Sprintf("probe %d\n", i))
		select {
		case l := <-f.lines:
			return l.text
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("the follower never started")
	return ""
}

func TestAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "old 1\nold 2\n")
	f := follow(t, path, Options{})
	started(t, f, path)
	write(t, path, "a\nb\r\n")
	f.expect("a", "b")
	write(t, path, "c\n")
	f.expect("c")
}

func TestFromStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "old 1\nold 2\n")
	f := follow(t, path, Options{FromStart: true})
	f.expect("old 1", "old 2")
	write(t, path, "new\n")
	f.expect("new")
}

// TestStartMidLine: starting at the end while a line is being written
// skips the fragment rather than hand over half a line.
func TestStartMidLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "old\n{\"half\":")
	f := follow(t, path, Options{})
	write(t, path, "1}\n")
	if first := started(t, f, path); !strings.HasPrefix(first, "probe ") {
		t.Fatalf("first line %q, want a probe", first)
	}
	write(t, path, "next\n")
	f.expect("next")
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	write(t, path, "")
	f := follow(t, path, Options{})
	started(t, f, path)
	write(t, path, "1\n2\n")
	f.expect("1", "2")
	// Rename away, then a last write to the old file, then a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// Until a new file appears, the old one is still followed; its last
	// line is held for its newline.
	write(t, path+".1", "3\nlast without newline")
	f.expect("3")
	f.quiet()
	write(t, path, "new 1\nnew 2\n")
	f.expect("last without newline")
	f.expectAt("new 1", 6) // offsets now count in the new file
	f.expectAt("new 2", 12)
	write(t, path, "new 3\n")
	f.expect("new 3")
	// Rotation by renaming a complete file over the path.
	tmp := filepath.Join(dir, "tmp")
	write(t, tmp, "replaced\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	f.expect("replaced")
}

func TestTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "")
	f := follow(t, path, Options{})
	started(t, f, path)
	write(t, path, "1\n2\nunfinished")
	f.expect("1", "2")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	f.quiet()
	write(t, path, "after\n")
	f.expect("after")
}

func TestPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "")
	f := follow(t, path, Options{})
	started(t, f, path)
	write(t, path, `{"a":`)
	f.quiet()
	write(t, path, `1}`)
	f.quiet()
	write(t, path, "\n")
	f.expect(`{"a":1}`)
}

func TestNotYetExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	f := follow(t, path, Options{})
	f.quiet()
	write(t, path, "first\nsecond\n")
	f.expect("first", "second")
}

func TestLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "")
	f := follow(t, path, Options{MaxLine: 10})
	started(t, f, path)
	write(t, path, "short\n"+strings.Repeat("x", 25))
	f.expect("short")
	write(t, path, strings.Repeat("y", 5)+"\n0123456789\n")
	f.expect("0123456789")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.long, []int64{30}) {
		t.Errorf("long lines %v, want one of 30 bytes", f.long)
	}
}

// collect runs Lines to its end.
func collect(t *testing.T, path string, opts Options) ([]line, []int64, error) {
	t.Helper()
	var lines []line
	var long []int64
	opts.OnLongLine = func(n int64) { long = append(long, n) }
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := Lines(ctx, path, opts, func(l []byte, off int64) error {
		lines = append(lines, line{string(l), off})
		return nil
	})
	return lines, long, err
}

func TestOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	long := strings.Repeat("z", readSize+100) // spans reads
	write(t, path, "a\n\nbb\r\n"+long+"\nlast")
	lines, skipped, err := collect(t, path, Options{Once: true, MaxLine: readSize})
	want := []line{{"a", 2}, {"", 3}, {"bb", 7}, {"last", int64(12 + len(long))}}
	if err != nil || !slices.Equal(lines, want) {
		t.Errorf("Once: %v, %v; want %v", lines, err, want)
	}
	if !slices.Equal(skipped, []int64{int64(len(long))}) {
		t.Errorf("skipped %v", skipped)
	}
	// Lines longer than a read are assembled.
	lines, _, err = collect(t, path, Options{Once: true})
	if err != nil || len(lines) != 5 || lines[3].text != long {
		t.Errorf("long line not handed over whole: %d lines, %v", len(lines), err)
	}
	_, _, err = collect(t, filepath.Join(dir, "missing"), Options{Once: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestStdin(t *testing.T) {
	lines, _, err := collect(t, "-", Options{Stdin: strings.NewReader("x\ny")})
	want := []line{{"x", 2}, {"y", 3}}
	if err != nil || !slices.Equal(lines, want) {
		t.Errorf("stdin: %v, %v; want %v", lines, err, want)
	}
}

func TestCallbackError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	write(t, path, "1\n2\n")
	stop := errors.New("stop")
	n := 0
	err := Lines(context.Background(), path, Options{Once: true}, func([]byte, int64) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Lines = %v after %d lines, want stop after 1", err, n)
	}
}

// FuzzLines checks the line cutter against a plain split, with the input
// arriving in chunks of every size.
func FuzzLines(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nlong line here\nlast"), uint8(3), uint8(5))
	f.Add([]byte("\n\n\r\n"), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk, maxLine uint8) {
		max := int(maxLine%16) + 1
		var want []line
		var wantLong []int64
		off := int64(0)
		parts := bytes.Split(data, []byte("\n"))
		for i, p := range parts {
			last := i == len(parts)-1
			if last && len(p) == 0 {
				break
			}
			off += int64(len(p))
			if !last {
				off++
			}
			if len(p) > max {
				wantLong = append(wantLong, int64(len(p)))
				continue
			}
			want = append(want, line{string(bytes.TrimSuffix(p, []byte("\r"))), off})
		}
		var got []line
		var gotLong []int64
		in := &chunked{data: data, n: int(chunk%17) + 1}
		err := Lines(context.Background(), "-", Options{Stdin: in, MaxLine: max, OnLongLine: func(n int64) { gotLong = append(gotLong, n) }},
			func(l []byte, off int64) error {
				got = append(got, line{string(l), off})
				return nil
			})
		if err != nil || !slices.Equal(got, want) || !slices.Equal(gotLong, wantLong) {
			t.Fatalf("got %v %v %v, want %v %v", got, gotLong, err, want, wantLong)
		}
	})
}

// chunked reads data n bytes at a time.
type chunked struct {
	data []byte
	n    int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func BenchmarkLines(b *testing.B) {
	path := filepath.Join(b.TempDir(), "eve.json")
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, `{"timestamp":"2026-11-27T08:00:00.000000+0000","event_type":"dns","n":%d}`+"\n", i)
	}
	os.WriteFile(path, []byte(sb.String()), 0o600)
	b.SetBytes(int64(sb.Len()))
	b.ReportAllocs()
	for b.Loop() {
		Lines(context.Background(), path, Options{Once: true}, func([]byte, int64) error { return nil })
	}
}

// TestFollowerOutlastsErrors: a follower kept from its file (the path is
// replaced by something that cannot be read, or names a file under a
// regular file) reports each error to OnError and goes on trying; when a
// readable file is back, it reads it from its start. Before, the first such
// error ended Lines, and a sensor's input with it.
func TestFollowerOutlastsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	write(t, path, "")
	var mu sync.Mutex
	var errs []error
	f := follow(t, path, Options{OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	started(t, f, path)
	write(t, path, "1\n")
	f.expect("1")
	// Rotated to something that cannot be read: a directory.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		n := len(errs)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error reported while the path is a directory")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-f.done:
		t.Fatalf("Lines ended on %v", err)
	default:
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	write(t, path, "after 1\nafter 2\n")
	f.expectAt("after 1", 8)
	f.expect("after 2")

	// A path under a regular file cannot be opened at all (not "does not
	// exist"): reported, and waited for.
	blocked := filepath.Join(dir, "file")
	write(t, blocked, "x\n")
	g := follow(t, filepath.Join(blocked, "eve.json"), Options{FromStart: true, OnError: func(error) {}})
	g.quiet()
	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blocked, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(blocked, "eve.json"), "under 1\n")
	g.expect("under 1")
}
