// Package stixpattern parses, validates and matches STIX 2.1 patterns
// (STIX 2.1 part 9, the grammar of the OASIS STIXPattern.g4): comparison
// expressions with =, !=, <, >, <=, >=, IN, LIKE, MATCHES, ISSUBSET,
// ISSUPERSET, EXISTS and NOT, joined by AND and OR inside [ ]; observation
// expressions joined by AND, OR and FOLLOWEDBY; and the qualifiers WITHIN n
// SECONDS, REPEATS n TIMES and START t'…' STOP t'…'.
//
// It is pure: no I/O, standard library only.
//
//	p, err := stixpattern.Parse("[domain-name:value = 'evil.com']")
//	typ, path, value, ok := p.Simple()  // "domain-name", "value", "evil.com", true
//	p.ObjectTypes()                     // ["domain-name"]
//	obs, err := stixpattern.DecodeObservations(observedDataJSON)
//	matched, err := p.Match(obs)
//
// A pattern that Simple accepts (one '=' comparison with a string, in one
// observation expression without qualifiers) becomes a plain hdn indicator;
// any other is kept as a pattern indicator, and a sensor evaluates it with
// Match where it can observe the object types ObjectTypes names.
//
// # Validation
//
// Parse follows the OASIS cti-pattern-validator: the grammar, plus the
// checks that a known hash algorithm is compared with a string of the right
// length of hex, that a qualifier does not repeat directly on a bracketed
// expression ("[…] WITHIN 5 SECONDS WITHIN 6 SECONDS"; parenthesized it may),
// that the members of a set literal are of one kind (numbers may mix
// integers and floats), that WITHIN is above 0 and REPEATS at least 1, that
// START and STOP are real instants, that MATCHES compiles and that ISSUBSET
// and ISSUPERSET name an IP address or CIDR. STIX 2.0 patterns parse too:
// the one difference, a plain string after START and STOP, is accepted and
// printed in the 2.1 form t'…'. Errors are *ParseError, with the byte
// offset. Patterns are limited to MaxPatternLen bytes and MaxDepth nested
// brackets and parentheses, LIKE and MATCHES operands to MaxRegexLen bytes.
//
// # Matching
//
// A Pattern is immutable and safe for concurrent use. Match follows the
// OASIS cti-pattern-matcher:
//
//   - An observed-data object with number_observed n stands for n
//     observations, each spanning [first_observed, last_observed]. A
//     comparison expression holds for an observation when it holds for one
//     of its objects; AND and OR inside [ ] therefore combine tests on the
//     same object. Observation-level AND needs distinct observations, OR
//     either, FOLLOWEDBY distinct observations where instants can be chosen
//     so the left side is not later than the right side.
//   - WITHIN d: instants can be chosen, one in each observation's interval,
//     that lie within d seconds. START a STOP b: each observation's interval
//     overlaps [a, b) (first_observed < b and last_observed >= a).
//     REPEATS n: n pairwise disjoint matches of the expression.
//   - Types compare as in the matcher: integers and floats numerically,
//     strings by code point, binary values (h'…', b'…', and properties
//     ending in _hex and _bin) bytewise and with strings whose characters are
//     all below U+0100; booleans only with booleans. A timestamp literal
//     makes a JSON string be read as a timestamp, and an error if it is not
//     one. Values of other kinds are unequal and unordered (so != holds).
//   - Paths: *_ref and *_refs properties are followed to the objects they
//     name (the observation's objects in STIX 2.0, every object of the input
//     by id in 2.1), [*] takes every list element and a negative index
//     counts from the end. NOT negates a test for each value the path
//     selects; an object without the property never matches, with or
//     without NOT.
//   - LIKE (% any run, _ one character) and MATCHES compare text in Unicode
//     NFC; MATCHES is unanchored. Binary values are matched as Latin-1 text.
//     MATCHES uses Go's RE2 syntax, not the PCRE of the specification: there
//     are no back-references, look-around or possessive quantifiers, and a
//     pattern using them fails Parse; matching runs in linear time. (Also,
//     Python's $ matches before a final newline, RE2's only at the end.)
//     NFC comes from golang.org/x/text/unicode/norm.
//   - ISSUBSET and ISSUPERSET compare IPv4 or IPv6 addresses and CIDRs.
//
// Match evaluates every comparison against every observation first, so an
// error is reported wherever it occurs, then searches for one set of
// observations that satisfies the pattern, pruning partial sets with the
// temporal and disjointness constraints. Its work is bounded: past a fixed
// number of steps it returns ErrTooComplex.
package stixpattern
