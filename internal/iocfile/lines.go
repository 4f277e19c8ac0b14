package iocfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// readLines reads FormatLines.
func readLines(r io.Reader) ([]Entry, []Problem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen+2) // + CR LF
	var (
		es []Entry
		ps []Problem
		n  int
	)
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if len(line) > maxLineLen {
			return nil, nil, lineError(FormatLines, n, ErrLineTooLong)
		}
		for _, v := range lineValues(string(line)) {
			t, c, err := detect(v)
			if err != nil {
				ps = append(ps, Problem{Where: where(n), Err: err})
				continue
			}
			es = append(es, Entry{Type: t, Value: c, Source: where(n)})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = ErrLineTooLong
		}
		return nil, nil, lineError(FormatLines, n+1, err)
	}
	return es, ps, nil
}

// lineValues returns the values of one line (usually one, none for blank
// and comment lines, several for a hosts line with aliases).
func lineValues(line string) []string {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return nil
	}
	if i := trailingComment(s); i >= 0 {
		s = s[:i]
	}
	fields := strings.Fields(s)
	if len(fields) >= 2 && sinkAddress(fields[0]) {
		return fields[1:]
	}
	if len(fields) == 0 {
		return nil
	}
	return fields[:1]
}

// trailingComment returns the index of a " #" or "\t#" comment, or -1.
func trailingComment(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// sinkAddress reports whether s is an address that hosts files and DNS
// block lists map unwanted names to.
func sinkAddress(s string) bool {
	switch s {
	case "0.0.0.0", "127.0.0.1", "::", "::1":
		return true
	}
	return false
}
