package iocfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// csvLayout says which column holds what; -1 is absent.
type csvLayout struct {
	typ, value, tags, desc, conf int
}

var noColumns = csvLayout{typ: -1, value: -1, tags: -1, desc: -1, conf: -1}

// tweetFeedLayout is the headerless TweetFeed CSV, date,user,type,value,
// tags,tweet; the tweet's address becomes the description.
var tweetFeedLayout = csvLayout{typ: 2, value: 3, tags: 4, desc: 5, conf: -1}

// headerColumns reads a header row. Column names are compared in lower
// case, with spaces and hyphens read as "_" (OTX writes "Indicator type").
// It reports whether the row names a type or a value column.
func headerColumns(rec []string) (csvLayout, bool) {
	l := noColumns
	set := func(p *int, i int) {
		if *p < 0 {
			*p = i
		}
	}
	for i, h := range rec {
		h = strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(h)))
		switch h {
		case "type", "attribute_type", "indicator_type", "ioc_type":
			set(&l.typ, i)
		case "value", "indicator", "ioc", "ioc_value":
			set(&l.value, i)
		case "tags", "labels", "tag":
			set(&l.tags, i)
		case "description", "comment":
			set(&l.desc, i)
		case "confidence", "confidence_level":
			set(&l.conf, i)
		}
	}
	return l, l.typ >= 0 || l.value >= 0
}

// headerlessLayout reports whether a first row without a header is the
// TweetFeed layout: at least four fields, the third a known type name.
func headerlessLayout(rec []string) bool {
	if len(rec) < 4 {
		return false
	}
	_, ok := typeKind(rec[2])
	return ok
}

func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	return cr
}

// parseCSVLine parses one line as a CSV record, for Detect.
func parseCSVLine(line []byte) ([]string, error) {
	return newCSVReader(bytes.NewReader(line)).Read()
}

// readCSV reads FormatCSV.
func readCSV(r io.Reader) ([]Entry, []Problem, error) {
	ll := &lineLimiter{r: r}
	br := bufio.NewReader(ll)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		br.Discard(len(bom))
	}
	cr := newCSVReader(br)
	var (
		es     []Entry
		ps     []Problem
		layout csvLayout
	)
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return es, ps, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("iocfile: csv: %w", err)
			}
			if errors.Is(err, ErrLineTooLong) {
				return nil, nil, err
			}
			return nil, nil, lineError(FormatCSV, ll.line+1, err)
		}
		if row == 0 {
			var ok bool
			if layout, ok = headerColumns(rec); ok {
				if layout.value < 0 {
					return nil, nil, lineError(FormatCSV, 1, errors.New("the header has no value column (value, indicator, ioc or ioc_value)"))
				}
				continue
			}
			if !headerlessLayout(rec) {
				line, _ := cr.FieldPos(0)
				return nil, nil, lineError(FormatCSV, line, errors.New("no header row naming a type or value column, and not the headerless date,user,type,value,… layout"))
			}
			layout = tweetFeedLayout
		}
		es, ps = csvRow(es, ps, cr, rec, layout)
	}
}

// csvRow turns one record into an entry or a problem.
func csvRow(es []Entry, ps []Problem, cr *csv.Reader, rec []string, l csvLayout) ([]Entry, []Problem) {
	cell := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	if l.value >= len(rec) {
		line, _ := cr.FieldPos(0)
		return es, append(ps, Problem{Where: where(line), Err: fmt.Errorf("%w: the row has %d field(s), too few to reach the value column", ErrInvalidField, len(rec))})
	}
	line, _ := cr.FieldPos(l.value)
	w := where(line)
	conf, err := parseConfidence(cell(l.conf))
	if err != nil {
		return es, append(ps, Problem{Where: w, Err: err})
	}
	var (
		t indicator.Type
		c string
	)
	if name := cell(l.typ); name != "" {
		k, ok := typeKind(name)
		if !ok {
			return es, append(ps, Problem{Where: w, Err: fmt.Errorf("%w: %q", ErrUnsupportedType, name)})
		}
		t, c, err = canonical(k, rec[l.value])
	} else {
		t, c, err = detect(rec[l.value])
	}
	if err != nil {
		return es, append(ps, Problem{Where: w, Err: err})
	}
	e := Entry{Type: t, Value: c, Description: cell(l.desc), Confidence: conf, Source: w}
	if tags := cell(l.tags); tags != "" {
		e.Labels = slices.Clip(labels(nil, splitTags(tags)...))
	}
	return append(es, e), ps
}

// lineLimiter fails a read once a line is longer than maxLineLen bytes
// (not counting CR LF), so that encoding/csv, which has no limit, never
// buffers more.
type lineLimiter struct {
	r    io.Reader
	line int  // lines completed
	run  int  // bytes in the current line so far
	cr   bool // the last byte was a CR
	err  error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			if l.content() > maxLineLen {
				return i, l.fail()
			}
			l.line++
			l.run, l.cr = 0, false
			continue
		}
		l.run++
		l.cr = c == '\r'
		if l.run > maxLineLen+1 { // not even a CR LF could end it in time
			return i, l.fail()
		}
	}
	if errors.Is(err, io.EOF) && l.content() > maxLineLen {
		return n, l.fail()
	}
	return n, err
}

func (l *lineLimiter) content() int {
	if l.cr {
		return l.run - 1
	}
	return l.run
}

func (l *lineLimiter) fail() error {
	l.err = lineError(FormatCSV, l.line+1, ErrLineTooLong)
	return l.err
}
