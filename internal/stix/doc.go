// Package stix holds small, exact pieces of STIX 2.1 that the hub's STIX
// import and export and its TAXII server build on: deterministic identifiers
// of cyber-observable objects (STIX 2.1 section 2.9) with the JSON
// Canonicalization Scheme (RFC 8785) they rest on, and the TLP marking
// definitions of both generations (TLP 1.0 as predefined in STIX 2.1, TLP 2.0
// as the OASIS extension defines it) mapped to the network's TLP 2.0 levels.
// It is pure: no I/O, no state.
package stix
