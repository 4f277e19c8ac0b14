package sqlstore

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

// ToNano is t as stored.
func ToNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// FromNano reads what ToNano wrote.
func FromNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// NowNano is the time now, as stored.
func NowNano() int64 { return time.Now().UnixNano() }

// Stamp is the time a change written now is stamped with: at, or the
// clock if it is later. Writers of changes call it inside their
// transaction, once they hold the change log's lock, so that within one
// clock a later change never carries an earlier time than one committed
// before it (TAXII's added_after pages by these times; a time taken before
// waiting for the lock made a revocation look older than a change committed
// ahead of it, and a poller skipped it).
func Stamp(at time.Time) int64 { return max(ToNano(at), NowNano()) }

// OptNano stores an optional time: the zero time is NULL.
func OptNano(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ToNano(t)
}

// FromOptNano reads what OptNano wrote.
func FromOptNano(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return FromNano(n.Int64)
}

// OptString stores an optional reference: "" is NULL.
func OptString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// BoolInt is a flag as stored: 1 or 0.
func BoolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// EncodeList stores a list of strings as a JSON array (so that SQL can look
// inside: json_each, jsonb_array_elements_text), NULL when empty. Labels and
// tags are short plain words, so the array is written by hand; anything
// that needs escaping goes through encoding/json.
func EncodeList(xs []string) any {
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

// DecodeList reads what EncodeList wrote.
func DecodeList(s sql.NullString) ([]string, error) {
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

// JSONStrings encodes a list of ids as a JSON array for Dialect.TextArray.
func JSONStrings(xs []string) string {
	if v, ok := EncodeList(xs).(string); ok {
		return v
	}
	return "[]"
}

// JSONInts encodes integers as a JSON array for Dialect.IntArray.
func JSONInts(ns []int64) string {
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

// FoldName is the key under which names are unique: two names have the same
// key exactly when strings.EqualFold says they are equal.
func FoldName(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

// NewID returns a new id: a UUID of version 7, whose leading bits are its
// creation time, so that new rows land at the end of the id index instead of
// on a random page of it (which at millions of indicators is the difference
// between appending and rewriting the index), and ids sort by creation.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// IDSource makes many ids (as NewID's) from one buffered random source.
type IDSource struct{ r io.Reader }

// NewIDSource makes ids from the random bytes of r.
func NewIDSource(r io.Reader) IDSource { return IDSource{r} }

// Next returns a new id.
func (g IDSource) Next() (string, error) {
	u, err := uuid.NewV7FromReader(g.r)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
