// Package iocfile reads files of indicators of compromise for the offline
// matcher (`hdn match --iocs FILE`) and for imports: plain lists with one
// value per line, CSV with a type column, STIX 2.1 bundles and MISP event
// JSON (DESIGN.md sections 3 and 8).
//
// Every value comes out canonical (package indicator) with its type; a cidr
// block of one address (/32, /128) comes out as that address. What
// cannot be used — a refused value, an unknown type, a STIX pattern the
// matcher cannot evaluate, a MISP attribute that is context rather than
// detection — is reported as a Problem saying where it was and why; nothing
// is dropped silently. Only input that cannot be read as its format at all
// (broken JSON or CSV quoting, a file or line over the size limits) is an
// error, and the error names the line or byte offset.
//
// Read does not de-duplicate across the file: two lines with the same value
// give two entries, each with its own Source.
package iocfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Entry is one indicator read from a file.
type Entry struct {
	Type indicator.Type
	// Value is the canonical form (indicator.Canonicalize).
	Value string
	// Labels are lower-case, without a leading "#", de-duplicated, and never
	// a TLP marking ("tlp:…" tags are dropped: TLP is a sharing rule, not a
	// threat label). Sources: CSV tags/labels column; MISP event and
	// attribute tags and the attribute category; STIX indicator_types and
	// labels.
	Labels      []string
	Description string
	// Confidence is 0–100, or 0 when the file does not say.
	Confidence int
	// ValidUntil is zero when the file does not say.
	ValidUntil time.Time
	// Source says where in the file the entry came from: "line 12",
	// "indicator--<uuid>", "attribute 3", "object 2 attribute 1" (MISP
	// files with several events prefix "event N ").
	Source string
}

// Problem is a value or record that could not be used. Problems are reported
// alongside the entries; they do not stop the read.
type Problem struct {
	// Where is in the terms of Entry.Source.
	Where string
	// Err says why. It is an *indicator.Error when a value was refused by
	// canonicalisation, or wraps one of ErrUnsupportedType,
	// ErrUnsupportedPattern, ErrInvalidPattern, ErrContextOnly,
	// ErrRevoked or ErrInvalidField; test with errors.Is and errors.As.
	Err error
}

func (p Problem) String() string { return p.Where + ": " + p.Err.Error() }

// Reasons for a Problem.
var (
	// ErrUnsupportedType: a type name (CSV type column, MISP attribute
	// type) that names no indicator type the matcher knows.
	ErrUnsupportedType = errors.New("type not supported by the offline matcher")
	// ErrUnsupportedPattern: a STIX pattern other than one comparison, or
	// an OR of comparisons, of the form [object:path = 'value'] on a
	// supported observable, or a pattern_type other than "stix".
	ErrUnsupportedPattern = errors.New("pattern not supported by the offline matcher")
	// ErrInvalidPattern: a STIX pattern that is not valid STIX patterning.
	ErrInvalidPattern = errors.New("pattern is not valid STIX patterning")
	// ErrContextOnly: a MISP attribute meant as context, not detection
	// (to_ids false, or a link).
	ErrContextOnly = errors.New("context only")
	// ErrRevoked: a revoked STIX indicator or a deleted MISP attribute.
	ErrRevoked = errors.New("revoked or deleted")
	// ErrInvalidField: a record whose other fields (confidence,
	// valid_until, shape of the JSON object) are unusable.
	ErrInvalidField = errors.New("invalid field")
)

// Errors that stop a read.
var (
	ErrTooLarge    = errors.New("file is larger than 1 GiB")
	ErrLineTooLong = errors.New("line is longer than 1 MiB")
)

// Limits. A line-based file (lines, CSV) may not have a line over
// MaxLineLen bytes, not counting the line end; JSON files have no line
// limit, since a minified bundle is one long line. JSON nesting is limited by
// encoding/json.
const (
	MaxFileSize = 1 << 30
	MaxLineLen  = 1 << 20
)

// The limits as variables, so that tests can lower them.
var (
	maxFileSize int64 = MaxFileSize
	maxLineLen        = MaxLineLen
)

// Format is the layout of an IOC file.
type Format string

// The formats.
const (
	// FormatLines is one value per line, its type detected
	// (indicator.Detect) after refanging. A byte order mark at the start
	// and CRs at line ends are dropped; blank lines and "#" comment lines
	// are skipped, and so is a trailing comment starting with " #" or
	// "\t#" (a "#" right after a value is part of it: a URL fragment).
	// The first whitespace-separated field is the value and the rest of
	// the line is ignored (ipsum's "IP<TAB>count"), except that a
	// hosts-file line whose first field is a sink address (0.0.0.0,
	// 127.0.0.1, ::, ::1) gives each name after it instead.
	FormatLines Format = "lines"

	// FormatCSV is CSV (RFC 4180 quoting, "#" comment lines) with a header
	// row. Column names are matched in lower case with spaces and hyphens
	// read as "_": the value column is value, indicator, ioc or ioc_value
	// (required); the type column type, attribute_type, indicator_type or
	// ioc_type (optional: a missing or empty type is detected from the
	// value); tags or labels (split at "|", ";" and ",", and
	// "#a #b" at the spaces), description or comment, confidence or
	// confidence_level (0–100, else the row is a Problem). Type names of
	// other tools are mapped (ip, ip-dst, ipv4-addr, domain-name, fqdn,
	// uri, link, FileHash-SHA256, md5_hash, email-src, ja3-fingerprint-md5,
	// ThreatFox's ip:port, …); an address type gives ipv4, ipv6 or cidr by
	// the value.
	//
	// A file without a header is read only when its first row has at least
	// four fields and a known type name in the third: TweetFeed's
	// date,user,type,value,tags,tweet, whose tweet address becomes the
	// description. Any other headerless file is an error.
	FormatCSV Format = "csv"

	// FormatSTIX is a STIX 2.1 bundle (or a TAXII envelope). Only
	// indicator objects are read: SCOs lying in the bundle (domain-name,
	// ipv4-addr, file…) are observations, not detection indicators, and
	// are passed over like every other object, without a Problem.
	//
	// An indicator gives one entry per comparison when its pattern is
	// "[object:path = 'value']" on a supported path, or an OR of such
	// comparisons inside one bracket or across "[…] OR […]":
	// domain-name:value, ipv4-addr:value and ipv6-addr:value (a prefix
	// length makes a cidr), url:value, email-addr:value, file:hashes MD5,
	// SHA-1, SHA-256 and SHA-512 (quoted or not, any case, with or without
	// the hyphen: 'SHA-256', sha256), and x509-certificate:hashes SHA-1 and
	// SHA-256. Anything else — AND, FOLLOWEDBY, qualifiers, other
	// operators, NOT, other paths (app:id, process:name, file:name…) — is a
	// Problem wrapping ErrUnsupportedPattern, never dropped silently; the
	// supported comparisons of an OR are still taken, since any one of
	// them matching means the pattern matches. A pattern that does not
	// parse is a Problem wrapping ErrInvalidPattern.
	//
	// pattern_type must be "stix" (missing is read as "stix", as in STIX
	// 2.0). A revoked indicator is a Problem; so is one with a confidence
	// outside 0–100 or an unreadable valid_until. Labels are
	// indicator_types then labels; the description is the description, or
	// the name.
	FormatSTIX Format = "stix"

	// FormatMISP is MISP event JSON: {"Event": {…}}, an array of those, or
	// the REST API's {"response": [{"Event": {…}}, …]}. The attributes of
	// the event and of its objects are read; labels are the event's tags,
	// the attribute's tags and the attribute's category; the description
	// is the attribute's comment.
	//
	// Types taken: ip-src and ip-dst (ipv4, ipv6 or cidr), ip-src|port and
	// ip-dst|port (the address), domain, hostname, hostname|port,
	// domain|ip (two entries), url, md5, sha1, sha256, sha512,
	// filename|md5, |sha1, |sha256, |sha512 and malware-sample (the hash),
	// email, email-src, email-dst, x509-fingerprint-sha1 and -sha256,
	// ja3-fingerprint-md5. Problems: to_ids false and type link are
	// context, not detection (ErrContextOnly; a missing to_ids counts as
	// true); uri (a path without a host) and every other type are
	// ErrUnsupportedType; a deleted attribute or object is ErrRevoked.
	FormatMISP Format = "misp"
)

// Formats lists every format.
var Formats = []Format{FormatLines, FormatCSV, FormatSTIX, FormatMISP}

// ParseFormat checks a format name, for a command-line flag.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Formats {
		if k == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("iocfile: unknown format %q (want lines, csv, stix or misp)", s)
}

// SniffLen is how much of a file ReadFile gives to Detect.
const SniffLen = 64 << 10

var bom = []byte("\uFEFF")

// Detect tells the format of a file from its first bytes (ReadFile passes
// SniffLen bytes; less is fine, and the head may end anywhere):
//   - a JSON object with "type": "bundle", or with an "objects" member (a
//     TAXII envelope), is stix;
//   - a JSON object with an "Event" or a "response" member, or an array
//     whose first element has an "Event" member, is misp;
//   - text whose first line that is neither blank nor a "#" comment has
//     commas and is a CSV header naming a type or a value column, or has a
//     known type name in its third field (the headerless TweetFeed layout,
//     see Read), is csv;
//   - anything else is lines, including JSON that is neither of the above.
func Detect(head []byte) Format {
	head = bytes.TrimPrefix(head, bom)
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		if f := sniffJSON(t); f != "" {
			return f
		}
		return FormatLines
	}
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if bytes.IndexByte(line, ',') >= 0 {
			if rec, err := parseCSVLine(line); err == nil {
				if _, ok := headerColumns(rec); ok || headerlessLayout(rec) {
					return FormatCSV
				}
			}
		}
		return FormatLines
	}
	return FormatLines
}

// looksJSON reports whether head starts like a JSON object or array, so
// that ReadFile can refuse JSON that Detect did not recognise rather than
// read it as a list of values.
func looksJSON(head []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n")
	if len(t) == 0 {
		return false
	}
	if t[0] == '{' {
		return true
	}
	if t[0] != '[' {
		return false
	}
	t = bytes.TrimLeft(t[1:], " \t\r\n")
	return len(t) == 0 || t[0] == '{' || t[0] == '"' || t[0] == ']' || t[0] == '['
}

// Read reads a whole file of the given format (see the Format constants for
// what each takes). It returns the entries and the problems in file order, or
// an error (and nothing else) when the input cannot be read as that format.
// JSON errors name the line, column and byte offset; CSV and line errors the
// line.
func Read(r io.Reader, f Format) ([]Entry, []Problem, error) {
	lr := &limitedReader{r: r, n: maxFileSize}
	switch f {
	case FormatLines:
		return readLines(lr)
	case FormatCSV:
		return readCSV(lr)
	case FormatSTIX:
		data, err := readJSON(lr)
		if err != nil {
			return nil, nil, err
		}
		return readSTIX(data)
	case FormatMISP:
		data, err := readJSON(lr)
		if err != nil {
			return nil, nil, err
		}
		return readMISP(data)
	}
	return nil, nil, fmt.Errorf("iocfile: unknown format %q", f)
}

// ReadFile reads the file at path, detecting its format.
func ReadFile(path string) ([]Entry, []Problem, Format, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, "", err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, "", err
	}
	if fi.IsDir() {
		return nil, nil, "", fmt.Errorf("iocfile: %s is a directory", path)
	}
	if fi.Mode().IsRegular() && fi.Size() > maxFileSize {
		return nil, nil, "", fmt.Errorf("iocfile: %s: %w", path, ErrTooLarge)
	}
	br := bufio.NewReaderSize(fh, SniffLen)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, "", err
	}
	f := Detect(head)
	if f == FormatLines && looksJSON(head) {
		return nil, nil, "", fmt.Errorf("iocfile: %s is JSON but neither a STIX bundle nor a MISP event", path)
	}
	es, ps, err := Read(br, f)
	if err != nil {
		return nil, nil, f, fmt.Errorf("%s: %w", path, err)
	}
	return es, ps, f, nil
}

// limitedReader fails with ErrTooLarge once more than n bytes are read.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

// lineError is an error at a line of a line-based file.
func lineError(f Format, line int, err error) error {
	return fmt.Errorf("iocfile: %s: line %d: %w", f, line, err)
}

// where returns the Source of a line.
func where(line int) string { return fmt.Sprintf("line %d", line) }
