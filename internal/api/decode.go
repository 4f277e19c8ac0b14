package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// requireJSON refuses a request body that is not declared as JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return errf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json, none given")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/stix+json" && mt != "application/taxii+json") {
		return errf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json, got %q", ct)
	}
	return nil
}

// Request body limits. Only the bulk endpoints (indicator submissions,
// imports, TAXII and MISP adds, federation pushes, sightings) take bodies up
// to Limits.MaxBodyBytes; every other JSON body is small, and a client, or
// anyone at all for the enrolment that needs no key, must not make the hub
// read megabytes to refuse it.
const (
	// MaxSmallBodyBytes bounds the body of every endpoint that is not a
	// bulk one (heartbeats, proposals, groups, keys, users, reports, MISP
	// searches…).
	MaxSmallBodyBytes = 1 << 20
	// MaxEnrolBodyBytes bounds the body of POST /api/v1/enrol, which
	// needs no key: a token and a sensor name.
	MaxEnrolBodyBytes = 4 << 10
)

// body wraps a bulk request body with the size limit (Limits.MaxBodyBytes)
// and a UTF-8 check, so that an over-long or mis-encoded body is refused
// with a clear error instead of being silently cut or having its bytes
// replaced by encoding/json.
func (s *Server) body(w http.ResponseWriter, r *http.Request) io.Reader {
	return s.bodyUpTo(w, r, s.limits.MaxBodyBytes)
}

// bodyUpTo is body with a smaller limit: the smaller of limit and
// Limits.MaxBodyBytes.
func (s *Server) bodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) io.Reader {
	return &utf8Reader{r: http.MaxBytesReader(w, r.Body, min(limit, s.limits.MaxBodyBytes))}
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// utf8Reader fails at the first byte that is not valid UTF-8, and at the
// first JSON escape of the NUL character (\u0000): no text of hdn may hold
// one (PostgreSQL cannot store it, in text nor in JSON), and refusing the
// body here keeps it from every field at once. (A raw NUL byte is not valid
// JSON anyway.) It holds back an incomplete sequence at the end of a read
// until the next read completes it.
type utf8Reader struct {
	r       io.Reader
	pending []byte // start of an incomplete sequence, not yet returned
	offset  int64  // bytes returned so far
	err     error
	escaped bool // the last byte was a backslash that escapes the next
	nul     int  // bytes of nulEscape matched so far (0: none)
}

// nulEscape is the JSON escape of the NUL character.
const nulEscape = `\u0000`

// scanNUL follows JSON escapes through b, which starts at body offset at,
// and returns the offset at which a NUL escape starts, or -1.
func (u *utf8Reader) scanNUL(b []byte, at int64) int64 {
	for i, c := range b {
		if u.nul > 0 {
			if c == nulEscape[u.nul] {
				if u.nul++; u.nul == len(nulEscape) {
					return at + int64(i) - int64(len(nulEscape)-1)
				}
				continue
			}
			u.nul = 0
		}
		switch {
		case u.escaped:
			u.escaped = false
			if c == 'u' {
				u.nul = 2
			}
		case c == '\\':
			u.escaped = true
		}
	}
	return -1
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if len(p) < utf8.UTFMax+1 {
		return 0, io.ErrShortBuffer
	}
	n := copy(p, u.pending)
	u.pending = u.pending[:0]
	m, err := u.r.Read(p[n:])
	n += m
	// Find the last complete position.
	end := n
	if err == nil {
		// hold back a trailing incomplete rune
		for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
			if utf8.RuneStart(p[i]) {
				if !utf8.FullRune(p[i:n]) {
					end = i
				}
				break
			}
		}
	}
	for i := 0; i < end; {
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		rn, size := utf8.DecodeRune(p[i:end])
		if rn == utf8.RuneError && size <= 1 {
			u.err = &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON,
				Message: fmt.Sprintf("request body is not valid UTF-8 at byte offset %d", u.offset+int64(i))}
			return 0, u.err
		}
		i += size
	}
	if at := u.scanNUL(p[:end], u.offset); at >= 0 {
		u.err = &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON,
			Message: fmt.Sprintf("request body holds the NUL character (\\u0000) at byte offset %d: no text may hold it", at)}
		return 0, u.err
	}
	u.pending = append(u.pending, p[end:n]...)
	u.offset += int64(end)
	if err == io.EOF && len(u.pending) > 0 {
		u.err = &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON,
			Message: fmt.Sprintf("request body is not valid UTF-8 at byte offset %d (truncated sequence)", u.offset)}
		return end, nil
	}
	if end == 0 && err == nil {
		// Only an incomplete sequence so far: read more before returning.
		return u.Read(p)
	}
	return end, err
}

// jsonError turns a decoding error into a client error that says what and
// where. at names the place in the request ("indicators[3]").
func jsonError(err error, at string) error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than the limit of %d bytes for this endpoint", tooBig.Limit)
	}
	where := ""
	if at != "" {
		where = at + ": "
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return errf(http.StatusBadRequest, CodeMalformedJSON, "%smalformed JSON at byte offset %d: %s", where, syn.Offset, syn.Error())
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := typ.Field
		if field == "" {
			field = "value"
		}
		want := jsonKind(typ.Type.Kind().String())
		if k := typ.Type.Kind().String(); strings.HasPrefix(typ.Value, "number") && (strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint")) {
			// A number that does not fit: too large, or a fraction for a count.
			want = "a whole number in range"
		}
		return errf(http.StatusBadRequest, CodeMalformedJSON, "%sfield %q must be %s, got JSON %s (byte offset %d)", where, field, want, typ.Value, typ.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errf(http.StatusBadRequest, CodeMalformedJSON, "%srequest body ends before the JSON document does", where)
	}
	msg := err.Error()
	if rest, ok := cutPrefix(msg, "json: unknown field "); ok {
		return errf(http.StatusBadRequest, CodeMalformedJSON, "%sunknown field %s", where, rest)
	}
	return errf(http.StatusBadRequest, CodeMalformedJSON, "%sinvalid JSON: %s", where, msg)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return goKind
}

// decodeStrict decodes a whole small JSON body (at most MaxSmallBodyBytes)
// into v, refusing unknown fields and trailing data.
func (s *Server) decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeStrictUpTo(w, r, v, MaxSmallBodyBytes)
}

// decodeBulk is decodeStrict for the bulk endpoints, whose bodies may be
// as large as Limits.MaxBodyBytes.
func (s *Server) decodeBulk(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeStrictUpTo(w, r, v, s.limits.MaxBodyBytes)
}

// decodeStrictUpTo is decodeStrict with a body of at most limit bytes (and
// never more than Limits.MaxBodyBytes).
func (s *Server) decodeStrictUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(s.bodyUpTo(w, r, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, "")
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errf(http.StatusBadRequest, CodeMalformedJSON, "unexpected data after the JSON document")
		}
		return jsonError(err, "")
	}
	return nil
}
