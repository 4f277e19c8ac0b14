package warninglist

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// The shipped lists (lists/README.md says where they come from) and the
// table of their kinds.
var (
	//go:embed lists/*.json
	shippedFiles embed.FS
	//go:embed lists/kinds.txt
	kindsTable string
)

// MaxFileSize bounds a list file read by LoadDir.
const MaxFileSize = 256 << 20

// Default returns the shipped, curated set: the lists embedded in the binary
// with the kinds of lists/kinds.txt (see docs/WARNINGLISTS.md). It is built
// once per process; the Set is immutable, so every caller shares it.
func Default() (*Set, error) { return defaultSet() }

var defaultSet = sync.OnceValues(func() (*Set, error) {
	rows, err := shippedKinds()
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(shippedFiles, "lists/*.json")
	if err != nil {
		return nil, err
	}
	embedded := make(map[string]bool, len(files))
	for _, f := range files {
		embedded[strings.TrimSuffix(path.Base(f), ".json")] = true
	}
	var lists []*List
	for _, r := range rows {
		if !embedded[r.name] {
			continue
		}
		delete(embedded, r.name)
		data, err := shippedFiles.ReadFile("lists/" + r.name + ".json")
		if err != nil {
			return nil, err
		}
		l, err := parse(data, r.kind, r)
		if err != nil {
			return nil, fmt.Errorf("shipped warninglist %s.json: %w", r.name, err)
		}
		lists = append(lists, l)
	}
	for name := range embedded {
		return nil, fmt.Errorf("shipped warninglist %s.json has no line in lists/kinds.txt", name)
	}
	return NewSet(lists...)
})

var shippedKinds = sync.OnceValues(func() ([]listSpec, error) { return parseKinds(kindsTable) })

// parseKinds reads the kinds table: "name kind [match=TYPE] [delegates]" a
// line, "#" comments.
func parseKinds(text string) ([]listSpec, error) {
	var rows []listSpec
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("warninglist kinds table, line %d: %s", n+1, fmt.Sprintf(format, a...))
		}
		if len(f) < 2 {
			return nil, bad("want \"name kind [match=TYPE] [delegates]\"")
		}
		r := listSpec{name: f[0], kind: Kind(f[1])}
		if !r.kind.valid() {
			return nil, bad("kind %q is neither %q nor %q", f[1], Refuse, Flag)
		}
		if seen[r.name] {
			return nil, bad("list %q has a line already", r.name)
		}
		seen[r.name] = true
		for _, opt := range f[2:] {
			switch m, ok := strings.CutPrefix(opt, "match="); {
			case ok && knownType(m):
				r.match = m
			case opt == "delegates":
				r.delegates = true
			default:
				return nil, bad("option %q is neither match=TYPE nor delegates", opt)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// LoadDir reads every warninglist in dir: the files NAME.json, and
// NAME/list.json as in the lists/ folder of MISP's misp-warninglists
// repository. A list is named after its file (NAME). Lists named in the
// shipped kinds table (lists/kinds.txt) get the kind and matching given
// there; the others are of the given kind. A directory without lists is an
// error, as is a name found twice; files whose names start with "." are
// skipped. Errors name the file.
func LoadDir(dir string, kind Kind) ([]*List, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("warninglist: kind %q is neither %q nor %q", kind, Refuse, Flag)
	}
	rows, err := shippedKinds()
	if err != nil {
		return nil, err
	}
	specs := make(map[string]listSpec, len(rows))
	for _, r := range rows {
		specs[r.name] = r
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("warninglists: %w", err)
	}
	type file struct{ name, path string }
	var files []file
	where := map[string]string{}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p) // follows symbolic links
		if err != nil {
			return nil, fmt.Errorf("warninglists: %w", err)
		}
		var f file
		switch {
		case st.IsDir():
			lp := filepath.Join(p, "list.json")
			lst, err := os.Stat(lp)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("warninglists: %w", err)
			}
			if !lst.Mode().IsRegular() {
				continue
			}
			f = file{n, lp}
		case st.Mode().IsRegular() && strings.HasSuffix(n, ".json"):
			f = file{strings.TrimSuffix(n, ".json"), p}
		default:
			continue
		}
		if f.name == "" {
			continue
		}
		if prev, ok := where[f.name]; ok {
			return nil, fmt.Errorf("warninglists: %s and %s both hold a list named %q", prev, f.path, f.name)
		}
		where[f.name] = f.path
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("warninglists: %s holds no NAME.json or NAME/list.json (for MISP's repository, give its lists/ folder)", dir)
	}
	lists := make([]*List, 0, len(files))
	for _, f := range files {
		data, err := readFile(f.path)
		if err != nil {
			return nil, err
		}
		spec := specs[f.name]
		spec.name = f.name
		l, err := parse(data, kind, spec)
		if err != nil {
			return nil, fmt.Errorf("warninglist file %s: %w", f.path, err)
		}
		lists = append(lists, l)
	}
	return lists, nil
}

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("warninglists: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("warninglists: %s: %w", p, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("warninglists: %s is larger than %d bytes", p, MaxFileSize)
	}
	return data, nil
}
