package match

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// gzipMagic is how a gzip stream begins (RFC 1952: ID1 0x1f, ID2 0x8b).
var gzipMagic = []byte{0x1f, 0x8b}

// IsGzip says whether data, the first bytes of a file, begins as a gzip
// stream does.
func IsGzip(data []byte) bool { return bytes.HasPrefix(data, gzipMagic) }

// Decompressed returns what to read of r: its content decompressed when it
// begins with gzip's magic bytes (as Zeek's archived logs and logrotate's
// compressed ones do), r's content as it is otherwise; gzipped says which.
// Concatenated gzip members are read one after the other, as zcat does.
//
// The decompressed stream has no bound of its own: whoever reads it cuts it
// into lines as it cuts a plain file, with the same longest line (Run's
// MaxLine, the sensor's follower's 1 MiB), so that a small file of
// gigabytes without a newline (a gzip bomb) costs reading time, not
// memory. A read of a damaged or cut stream fails with an error that says
// it was decompressing.
func Decompressed(r io.Reader) (rd io.Reader, gzipped bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if !IsGzip(head) {
		return br, false, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, true, fmt.Errorf("decompressing gzip: %w", err)
	}
	return gzipReader{zr}, true, nil
}

// gzipReader says which reads failed while decompressing.
type gzipReader struct{ zr *gzip.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("decompressing gzip: %w", err)
	}
	return n, err
}
