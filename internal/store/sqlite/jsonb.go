package sqlite

import "strconv"

// jsonb builds SQLite's binary JSON (JSONB, https://sqlite.org/jsonb.html)
// for the bulk statements of an ingest: the change entries and audience
// lists of a whole batch travel as one blob parameter that the statement
// walks with jsonb_each, instead of as tens of thousands of bound
// parameters, and reading a JSONB element needs no parsing, only its header.
// (The upsert itself binds its rows: extracting 16 columns a row with ->>
// measured slower than binding them.)
//
// An element is a header and a payload. The header's low four bits are the
// type; its high four bits are the payload's size when it is below 12, or
// say that the size follows in 1, 2, 4 or 8 big-endian bytes (12–15).
type jsonb struct {
	buf []byte // the elements of the current array, without its header
	row []byte // the elements of the row being built (a nested array)
	out []byte // the last array made by blob
}

// JSONB element types.
const (
	jsonbInt     = 3
	jsonbTextRaw = 10 // text as it is, nothing escaped
	jsonbArray   = 11
)

func appendJSONBHeader(b []byte, typ byte, size int) []byte {
	switch {
	case size < 12:
		return append(b, byte(size)<<4|typ)
	case size <= 0xff:
		return append(b, 12<<4|typ, byte(size))
	case size <= 0xffff:
		return append(b, 13<<4|typ, byte(size>>8), byte(size))
	case size <= 0xffffffff:
		return append(b, 14<<4|typ, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	return append(b, 15<<4|typ, byte(size>>56), byte(size>>48), byte(size>>40), byte(size>>32),
		byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
}

func appendJSONBText(b []byte, s string) []byte {
	return append(appendJSONBHeader(b, jsonbTextRaw, len(s)), s...)
}

func appendJSONBInt(b []byte, n int64) []byte {
	var d [20]byte
	digits := strconv.AppendInt(d[:0], n, 10)
	return append(appendJSONBHeader(b, jsonbInt, len(digits)), digits...)
}

// text and int add an element to the row.
func (j *jsonb) text(s string) { j.row = appendJSONBText(j.row, s) }

func (j *jsonb) int(n int64) { j.row = appendJSONBInt(j.row, n) }

// endRow appends the row built so far to the array as a nested array.
func (j *jsonb) endRow() {
	j.buf = appendJSONBHeader(j.buf, jsonbArray, len(j.row))
	j.buf = append(j.buf, j.row...)
	j.row = j.row[:0]
}

// addInt appends an integer to the array itself (not to a row).
func (j *jsonb) addInt(n int64) { j.buf = appendJSONBInt(j.buf, n) }

// blob returns the array and starts a new one. The result is valid until
// the next call (the driver copies a bound blob, so a statement that has run
// no longer needs it).
func (j *jsonb) blob() []byte {
	j.out = appendJSONBHeader(j.out[:0], jsonbArray, len(j.buf))
	j.out = append(j.out, j.buf...)
	j.buf = j.buf[:0]
	return j.out
}
