package warninglist

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Set is a collection of compiled lists with their kinds. It is immutable
// once built and safe for concurrent use; With and WithKinds return new Sets
// that share the compiled lists.
type Set struct {
	lists []List      // shallow copies, for names, kinds and ListInfo
	comp  []*compiled // compiled state, shared with the Lists
	kinds []Kind
	deleg []bool

	// names maps every key of every string and hostname list to the head of
	// a chain in refs, so that one lookup serves all those lists.
	names  map[string]int32
	refs   []ref
	maxKey int // the longest key; longer suffixes need no lookup

	// parents maps every parent (of two labels or more) of every hostname
	// entry to the head of a chain in parentRefs: one ref per list, its
	// first entry under that parent (Set.under).
	parents    map[string]int32
	parentRefs []ref

	cidrs        []int32 // indices of cidr lists
	patternLists []int32 // indices of substring and regex lists
}

type ref struct {
	list  uint16
	mode  uint8
	entry int32
	next  int32
}

// maxLists bounds a Set so that a list index fits ref.list.
const maxLists = math.MaxUint16

// NewSet builds a set from lists made by Parse (or LoadDir, Default). Two
// lists of the same name are an error. A List's Name, Kind and Delegates
// are read now; later changes to the List do not affect the Set.
func NewSet(lists ...*List) (*Set, error) {
	if len(lists) > maxLists {
		return nil, fmt.Errorf("warninglist: %d lists in one set; at most %d are allowed", len(lists), maxLists)
	}
	s := &Set{}
	seen := make(map[string]bool, len(lists))
	for i, l := range lists {
		switch {
		case l == nil:
			return nil, fmt.Errorf("warninglist: list %d of the set is nil", i+1)
		case l.c == nil:
			return nil, fmt.Errorf("warninglist: list %q was not made by Parse", l.Name)
		case l.Name == "":
			return nil, fmt.Errorf("warninglist: list %d of the set has no name", i+1)
		case seen[l.Name]:
			return nil, fmt.Errorf("warninglist: two lists are named %q", l.Name)
		case !l.Kind.valid():
			return nil, fmt.Errorf("warninglist: list %q: kind %q is neither %q nor %q", l.Name, l.Kind, Refuse, Flag)
		case l.Type != l.c.typ:
			return nil, fmt.Errorf("warninglist: list %q: its Type was changed from %q to %q after Parse", l.Name, l.c.typ, l.Type)
		case l.Delegates && l.c.typ != typeHostname:
			return nil, fmt.Errorf("warninglist: list %q: only a hostname list can delegate, this one is %q", l.Name, l.c.typ)
		}
		seen[l.Name] = true
		s.lists = append(s.lists, *l)
		s.lists[i].c = nil
		s.comp = append(s.comp, l.c)
		s.kinds = append(s.kinds, l.Kind)
		s.deleg = append(s.deleg, l.Delegates)
	}
	s.index()
	return s, nil
}

// index builds the merged name map and the lists of cidr and pattern lists.
func (s *Set) index() {
	n := 0
	for _, c := range s.comp {
		n += len(c.keys)
	}
	s.names = make(map[string]int32, n)
	s.refs = make([]ref, 0, n)
	for li, c := range s.comp {
		switch c.typ {
		case typeCIDR:
			s.cidrs = append(s.cidrs, int32(li))
		case typeSubstring, typeRegex:
			s.patternLists = append(s.patternLists, int32(li))
		}
	keys:
		for _, k := range c.keys {
			head, ok := s.names[k.s]
			if !ok {
				head = -1
			}
			for r := head; r >= 0; r = s.refs[r].next {
				if int(s.refs[r].list) == li && s.refs[r].mode == k.mode {
					continue keys // a duplicate entry of the same list
				}
			}
			s.refs = append(s.refs, ref{list: uint16(li), mode: k.mode, entry: k.entry, next: head})
			s.names[k.s] = int32(len(s.refs) - 1)
			s.maxKey = max(s.maxKey, len(k.s))
			if k.mode == modeHostname {
				s.indexParents(li, k)
			}
		}
	}
}

// indexParents adds the parents of hostname entry k of list li that have
// two labels or more (a domain value has): "a.b.example.com" gives
// "b.example.com" and "example.com".
func (s *Set) indexParents(li int, k key) {
	if s.parents == nil {
		s.parents = map[string]int32{}
	}
parents:
	for i := strings.IndexByte(k.s, '.') + 1; i > 0 && strings.IndexByte(k.s[i:], '.') >= 0; {
		p := k.s[i:]
		i += strings.IndexByte(p, '.') + 1
		head, ok := s.parents[p]
		if !ok {
			head = -1
		}
		for r := head; r >= 0; r = s.parentRefs[r].next {
			if int(s.parentRefs[r].list) == li {
				continue parents // the list has an entry under p already
			}
		}
		s.parentRefs = append(s.parentRefs, ref{list: uint16(li), mode: k.mode, entry: k.entry, next: head})
		s.parents[p] = int32(len(s.parentRefs) - 1)
	}
}

// With returns a new set with more lists. A list whose name is already in
// the set replaces that one (in its place; its own Kind applies); the others
// are added at the end. Two of the given lists with one name are an error.
func (s *Set) With(lists ...*List) (*Set, error) {
	given := make(map[string]bool, len(lists))
	for _, l := range lists {
		if l == nil {
			return nil, errors.New("warninglist: a nil list given to With")
		}
		if given[l.Name] {
			return nil, fmt.Errorf("warninglist: two lists are named %q", l.Name)
		}
		given[l.Name] = true
	}
	all := make([]*List, 0, len(s.lists)+len(lists))
	added := make(map[string]bool, len(lists))
	for i := range s.lists {
		l := s.own(i)
		for _, n := range lists {
			if n.Name == l.Name {
				l = n
				added[n.Name] = true
				break
			}
		}
		all = append(all, l)
	}
	for _, l := range lists {
		if !added[l.Name] {
			all = append(all, l)
		}
	}
	return NewSet(all...)
}

// own returns list i of the set as a List with its kind in this set.
func (s *Set) own(i int) *List {
	l := s.lists[i]
	l.c, l.Kind = s.comp[i], s.kinds[i]
	return &l
}

// WithKinds returns a new set in which the named lists are of the given
// kinds (an operator's choice). A name the set does not hold, or a kind other
// than Refuse or Flag, is an error.
func (s *Set) WithKinds(kinds map[string]Kind) (*Set, error) {
	t := *s
	t.kinds = slices.Clone(s.kinds)
	for _, name := range slices.Sorted(maps.Keys(kinds)) {
		k := kinds[name]
		if !k.valid() {
			return nil, fmt.Errorf("warninglist: list %q: kind %q is neither %q nor %q", name, k, Refuse, Flag)
		}
		i := slices.IndexFunc(s.lists, func(l List) bool { return l.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("warninglist: there is no list named %q (known: %s)", name, s.nameList())
		}
		t.kinds[i] = k
	}
	return &t, nil
}

func (s *Set) nameList() string {
	names := make([]string, len(s.lists))
	for i := range s.lists {
		names[i] = s.lists[i].Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ListInfo describes one list of a set, for documentation and the API.
type ListInfo struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Version     int    `json:"version,omitempty"`
	// Type is how the list is matched (string, substring, hostname, cidr,
	// regex).
	Type string `json:"type"`
	Kind Kind   `json:"kind"`
	// Entries is the number of entries in the list.
	Entries   int  `json:"entries"`
	Delegates bool `json:"delegates,omitempty"`
	// Types are the indicator types whose values Check tries on the list:
	// those its matching_attributes name (all when it has none) and that
	// its type can match, plus url (for a URL's host) and, for hostname
	// lists, email (for an address's domain).
	Types []indicator.Type `json:"types"`
}

// Lists describes the set's lists, sorted by name.
func (s *Set) Lists() []ListInfo {
	out := make([]ListInfo, len(s.lists))
	for i := range s.lists {
		l := &s.lists[i]
		out[i] = ListInfo{Name: l.Name, Title: l.Title, Description: l.Description, Version: l.Version,
			Type: s.comp[i].typ, Kind: s.kinds[i], Entries: len(s.comp[i].entries), Delegates: s.deleg[i],
			Types: typesOf(consulted(s.comp[i].typ, s.comp[i].types))}
	}
	slices.SortFunc(out, func(a, b ListInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}
