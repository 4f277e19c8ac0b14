package cli

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMatchGzippedInput: hdn match reads a gzip-compressed input (a Zeek
// log as Zeek archives it) decompressed, and says so; its lines are held
// to the longest line of a plain file, so that a line of 256 MiB (a gzip
// bomb of a few hundred kilobytes) is counted unparsable in bounded
// memory. Before, the compressed bytes were read as lines: "0 events,
// 5134 unparsable" and no alert.
func TestMatchGzippedInput(t *testing.T) {
	dir := t.TempDir()
	iocs := filepath.Join(dir, "iocs.txt")
	if err := os.WriteFile(iocs, []byte("videosearch.ubuntu.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zeek := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n" +
		"1521911720.865716\tCqKst53mF3det3eDV9\t10.47.1.100\t41772\t10.0.0.100\t53\tudp\tvideosearch.ubuntu.com\n" +
		"1521911720.865717\tCqKst53mF3det3eDV9\t10.47.1.100\t41772\t10.0.0.100\t53\tudp\tise.wrccdc.org\n"
	// The log, then 256 members of 1 MiB of "a" without a newline (one
	// line of 256 MiB), then one more query.
	var data bytes.Buffer
	data.Write(gzipBytes(t, []byte(zeek)))
	member := gzipBytes(t, bytes.Repeat([]byte("a"), 1<<20))
	for range 256 {
		data.Write(member)
	}
	data.Write(gzipBytes(t, []byte("\n1521911721.000000\tC2\t10.47.1.101\t41773\t10.0.0.100\t53\tudp\twww.videosearch.ubuntu.com\n")))
	logs := filepath.Join(dir, "dns.log.gz")
	if err := os.WriteFile(logs, data.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(dir, "alerts.json")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	code, _, stderr := run(t, "match", "--iocs", iocs, "--input", "zeek:"+logs, "--alerts", alerts, "--workers", "1")
	runtime.ReadMemStats(&after)
	if code != 0 {
		t.Fatalf("hdn match: %d %s", code, stderr)
	}
	if want := "zeek:" + logs + " (gzip): 11 lines, 3 events, 1 unparsable, 2 alerts"; !strings.Contains(stderr, want) {
		t.Errorf("summary:\n%s\nwant %q", stderr, want)
	}
	b, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Errorf("%d alerts, want 2:\n%s", n, b)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MiB for %d bytes decompressed to more than 256 MiB", float64(alloc)/(1<<20), data.Len())
	if alloc > 128<<20 {
		t.Errorf("a line of 256 MiB allocated %d MiB: not bounded by the longest line (16 MiB)", alloc>>20)
	}
}
