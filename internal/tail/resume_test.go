package tail

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestResume: a follower resumes at a stored Position only in the file it
// was taken in; a file that took the path meanwhile (rotation), one
// truncated, or one with another beginning in the same inode (a file
// system reusing a deleted file's inode) is read from its start. OnFile
// tells the FileID that makes the Position.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	write(t, path, "1\n22\n333\n")
	var mu sync.Mutex
	var ids []FileID
	f := follow(t, path, Options{FromStart: true, OnFile: func(id FileID, _ int64) { mu.Lock(); ids = append(ids, id); mu.Unlock() }})
	f.expect("1", "22", "333")
	mu.Lock()
	id := ids[len(ids)-1]
	mu.Unlock()
	if id.HeadLen != 9 || id.Ino == 0 {
		t.Fatalf("FileID %+v, want the 9 bytes of the file and its inode", id)
	}
	write(t, path, "4444\n")
	f.expect("4444")
	mu.Lock()
	whole := ids[len(ids)-1] // of the first 14 bytes, now the follower read them
	mu.Unlock()
	if whole.HeadLen != 14 {
		t.Fatalf("FileID after the append %+v, want the 14 bytes of the file", whole)
	}
	once := func(p Position) []string {
		t.Helper()
		lines, _, err := collect(t, path, Options{Once: true, Resume: &p})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lines {
			got = append(got, l.text)
		}
		return got
	}
	all := []string{"1", "22", "333", "4444"}
	for _, tc := range []struct {
		what string
		pos  Position
		want []string
	}{
		{"the same file", Position{id, 9}, []string{"4444"}},
		{"the same file, at its end", Position{whole, 14}, nil},
		// Known by fewer first bytes than the offset passes (the lines
		// that followed a rotation, stored before their FileID was made
		// surer): it could be a later file that took the inode, so read
		// again from its start rather than skip a new file's lines.
		{"a FileID weaker than its offset", Position{id, 14}, all},
		{"the same file, from its start", Position{id, 0}, all},
		{"beyond the end: truncated", Position{id, 99}, all},
		{"another inode", Position{FileID{Dev: id.Dev, Ino: id.Ino + 1, HeadLen: id.HeadLen, Head: id.Head}, 9}, all},
		{"another beginning", Position{FileID{Dev: id.Dev, Ino: id.Ino, HeadLen: id.HeadLen, Head: id.Head + 1}, 9}, all},
	} {
		if got := once(tc.pos); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
	// Rotated while nobody followed: the new file from its start.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "5\n")
	if got := once(Position{id, 9}); !slices.Equal(got, []string{"5"}) {
		t.Errorf("rotated: %q, want the new file's lines", got)
	}
}

// TestHeaderWhenStartingLater: a follower that starts after a file's
// beginning (at its end, or resuming) hands the file's "#" header lines to
// OnHeader first; one that starts at the beginning hands them to fn.
func TestHeaderWhenStartingLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dns.log")
	write(t, path, "#separator \\x09\n#fields\tts\tquery\r\n1\ta.example\n#not a header: after a line\n")
	var mu sync.Mutex
	var header []string
	f := follow(t, path, Options{OnHeader: func(l []byte) { mu.Lock(); header = append(header, string(l)); mu.Unlock() }})
	started(t, f, path)
	mu.Lock()
	got := slices.Clone(header)
	mu.Unlock()
	if want := []string{`#separator \x09`, "#fields\tts\tquery"}; !slices.Equal(got, want) {
		t.Errorf("header %q, want %q", got, want)
	}
	header = nil
	lines, _, err := collect(t, path, Options{Once: true, OnHeader: func(l []byte) { header = append(header, string(l)) }})
	if err != nil || len(lines) < 4 || lines[0].text != `#separator \x09` || header != nil {
		t.Errorf("from the start: lines %v, header %q, %v; want the header as lines", lines, header, err)
	}
}
