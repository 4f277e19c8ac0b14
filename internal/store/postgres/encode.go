package postgres

import (
	"database/sql"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Times are stored as unix nanoseconds UTC. int64 nanoseconds cover the
// years 1678 to 2262; a time outside (a STIX valid_until of 9999-12-31, say)
// is clamped to the nearest end rather than wrapped around.
var (
	minTime = time.Unix(0, math.MinInt64+1).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

func toNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time { return time.Unix(0, n).UTC() }

func nowNano() int64 { return time.Now().UnixNano() }

// optNano stores an optional time: the zero time is NULL.
func optNano(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return toNano(t)
}

func fromOptNano(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNano(n.Int64)
}

// optString stores an optional reference: "" is NULL.
func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// encodeList stores a list of strings as a JSON array (so that SQL can look
// inside with jsonb_array_elements_text), NULL when empty. Labels and tags are short plain
// words, so the array is written by hand; anything that needs escaping goes
// through encoding/json.
func encodeList(xs []string) any {
	if len(xs) == 0 {
		return nil
	}
	n := 2
	for _, x := range xs {
		if !plainJSON(x) {
			b, err := json.Marshal(xs)
			if err != nil { // cannot happen for []string
				panic(err)
			}
			return string(b)
		}
		n += len(x) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(x)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plainJSON says whether s can go between JSON quotes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}

// decodeList reads what encodeList wrote.
func decodeList(s sql.NullString) ([]string, error) {
	if !s.Valid || s.String == "" || s.String == "[]" {
		return nil, nil
	}
	v := s.String
	if strings.IndexByte(v, '\\') < 0 && len(v) >= 4 && strings.HasPrefix(v, `["`) && strings.HasSuffix(v, `"]`) {
		// Without escapes no element holds a quote, so `","` only ever
		// separates elements.
		return strings.Split(v[2:len(v)-2], `","`), nil
	}
	var xs []string
	if err := json.Unmarshal([]byte(v), &xs); err != nil {
		return nil, err
	}
	return xs, nil
}

// jsonStrings encodes a list of ids as a JSON array for jsonb_array_elements_text(?::jsonb).
func jsonStrings(xs []string) string {
	if v, ok := encodeList(xs).(string); ok {
		return v
	}
	return "[]"
}

// jsonInts encodes integers as a JSON array for jsonb_array_elements_text(?::jsonb).
func jsonInts(ns []int64) string {
	b := make([]byte, 0, 2+len(ns)*8)
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, ']'))
}

// foldName is the key under which names are unique: two names have the same
// key exactly when strings.EqualFold says they are equal.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

// newID returns a new id: a UUID of version 7, whose leading bits are its
// creation time, so that new rows land at the end of the id index instead of
// on a random page of it (which at millions of indicators is the difference
// between appending and rewriting the index), and ids sort by creation.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// idSource makes many ids with one read of the random source.
type idSource struct{ r io.Reader }

func (g idSource) next() (string, error) {
	u, err := uuid.NewV7FromReader(g.r)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
