// Command benchtable turns `go test -bench` output on standard input into the
// table that `make bench` prints and docs/BENCHMARKS.md records: one row per
// benchmark, one column per reported unit. Lines that are not benchmark
// results pass through to standard error.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type row struct {
	name    string
	metrics map[string]string
}

func main() {
	rows, units := parse(os.Stdin, os.Stderr)
	if err := render(os.Stdout, rows, units); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on standard input")
		os.Exit(1)
	}
}

// parse reads benchmark lines: "BenchmarkName-2   1   123 ns/op   4.5 unit".
func parse(r io.Reader, rest io.Writer) ([]row, []string) {
	var rows []row
	var units []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			fmt.Fprintln(rest, line)
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			fmt.Fprintln(rest, line)
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		rw := row{name: name, metrics: map[string]string{}}
		for i := 2; i+1 < len(f); i += 2 {
			unit := f[i+1]
			rw.metrics[unit] = f[i]
			if !seen[unit] {
				seen[unit] = true
				units = append(units, unit)
			}
		}
		rows = append(rows, rw)
	}
	return rows, units
}

func render(w io.Writer, rows []row, units []string) error {
	// ns/op of one-shot benchmarks says little; put the named metrics first.
	var cols []string
	for _, u := range units {
		if u != "ns/op" && u != "B/op" && u != "allocs/op" {
			cols = append(cols, u)
		}
	}
	cols = append(cols, "ns/op")
	fmt.Fprintf(w, "| benchmark | %s |\n", strings.Join(cols, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---|", len(cols)))
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			v, ok := r.metrics[c]
			if !ok {
				v = ""
			}
			vals[i] = v
		}
		if _, err := fmt.Fprintf(w, "| %s | %s |\n", r.name, strings.Join(vals, " | ")); err != nil {
			return err
		}
	}
	return nil
}
