package iocfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// readJSON reads a whole JSON file (within the size limit) and drops a byte
// order mark, which encoding/json does not accept.
func readJSON(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("iocfile: reading JSON: %w", err)
	}
	return bytes.TrimPrefix(data, bom), nil
}

// decodeJSON unmarshals data into v, and on failure says where in the file
// the problem is, as line, column and byte offset.
func decodeJSON(f Format, data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var (
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		off int64
	)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return fmt.Errorf("iocfile: %s: %w", f, err)
	}
	return fmt.Errorf("iocfile: %s: %s: %w", f, position(data, off), err)
}

// position renders the place of a JSON error as "line L, column C (byte
// B)": lines and columns count from 1, columns in bytes, the byte offset from
// 0. encoding/json's offsets count the bytes read up to and including the
// offending one: for a syntax error that is the bad character, for a value of
// the wrong type the value's last byte.
func position(data []byte, off int64) string {
	off--
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d (byte %d)", line, col, off)
}

// sniffJSON looks at the members of the top-level object (or of the first
// element of a top-level array) that fit in head, and returns stix, misp or
// "" for neither or can't tell.
func sniffJSON(head []byte) Format {
	dec := json.NewDecoder(bytes.NewReader(head))
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	switch tok {
	case json.Delim('{'):
		return sniffObject(dec, true)
	case json.Delim('['):
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return ""
		}
		return sniffObject(dec, false)
	}
	return ""
}

func sniffObject(dec *json.Decoder, top bool) Format {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case "Event":
			return FormatMISP
		case "response":
			if top {
				return FormatMISP
			}
		case "objects":
			if top {
				return FormatSTIX
			}
		case "type":
			v, err := dec.Token()
			if err != nil {
				return ""
			}
			if v == "bundle" && top {
				return FormatSTIX
			}
			if d, ok := v.(json.Delim); ok && !skipRest(dec, d) {
				return ""
			}
			continue
		}
		if !skipValue(dec) {
			return ""
		}
	}
	return ""
}

// skipValue skips one value; false if the head ends first or is not JSON.
func skipValue(dec *json.Decoder) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	if d, ok := tok.(json.Delim); ok {
		return skipRest(dec, d)
	}
	return true
}

// skipRest skips to the end of the object or array opened by d.
func skipRest(dec *json.Decoder, d json.Delim) bool {
	if d != '{' && d != '[' {
		return false
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}
