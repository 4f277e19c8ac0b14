// Package match is the matching core of the sensor: it holds the indicators
// a sensor may see in an immutable Index, matches parsed telemetry
// (internal/logparse) against it, and writes alerts shaped like Suricata's.
// It does no network or hub I/O; hdn sensor and hdn match drive it.
//
// # Semantics (DESIGN.md section 5)
//
//   - domain: the observed name or any parent of it; hostname: the name
//     only. Case is ignored, one trailing dot dropped, Unicode names
//     compared in punycode. Names are looked for in DNS query names (EVE
//     dns v1/v2 "rrname", v3 "queries"), DNS answer names and the data of
//     CNAME, PTR, NS and MX answers, HTTP hosts, TLS and QUIC SNI,
//     certificate SAN names (a
//     wildcard "*.evil.example" is a sub-domain of evil.example), URL hosts.
//   - ipv4, ipv6: the address on either side of any event, and A/AAAA data
//     of DNS answers; IPv4-mapped IPv6 addresses count as IPv4. cidr: every
//     block that contains the address is reported (blocks nest).
//   - url: the observed URL is canonicalised exactly as
//     indicator.Canonicalize does; it matches an equal indicator, and an
//     indicator without a query matches it whatever its query. An HTTP
//     URL is built from host, port (http_port, else the flow's destination
//     port; 80 is implied) and path; a proxy's absolute-form target is
//     taken as it is.
//   - hashes (md5, sha1, sha256, sha512, x509-sha1, x509-sha256, ja3,
//     ja3s): lower-case hex, compared across types — equal digests are
//     digests of the same bytes (a certificate's fingerprint is the hash of
//     its file), and indicator.Detect files a JA3 hash as md5.
//   - email: case-insensitive, in SMTP envelopes and the From, To, Cc, Bcc
//     and Reply-To headers (display names and brackets are taken off).
//   - ja4: the same string.
//   - stix-pattern: the pattern is evaluated against STIX objects built
//     from the event, alone or over a window of recent events (pattern.go).
//
// One alert per (event, indicator): an indicator seen several times in one
// event is reported once, with the first field it was seen in.
//
// # Liveness
//
// A revoked indicator is simply absent from the next Index; the sensor
// builds one and swaps it in (Matcher.Swap), and matching goroutines pick it
// up with one atomic load, without locks. Expiry needs no rebuild: an
// indicator whose ValidUntil (kept to the second) is not after the
// Matcher's clock at match time does not match. The clock, not the event's
// time, decides, because DESIGN.md says expired indicators stop matching at
// once; replaying old logs therefore finds only indicators valid now.
//
// # Memory
//
// An Index keeps no Go object per indicator. Each kind of value (names,
// digests, e-mail addresses, JA4, URLs, addresses) has an arena of entries
// packed back to back in 1 MiB chunks — value, profile number, valid-until
// seconds, id (a canonical UUID in 16 bytes) — and an open-addressing table
// of 16-bit tags and 32-bit arena offsets, filled to 7/8. What many
// indicators share (type, TLP, labels, confidence, report) is stored once
// as a profile. A domain indicator of 21 bytes costs about 56 bytes in all
// (measured with 5,000,000: BenchmarkBuildDomains). CIDR blocks live in a
// sorted interval list per address family, with a 64 Ki jump table for
// IPv4; a bitmap of the IPv4 /16s (and, from 65,536 addresses, /24s) that
// hold any address indicator turns most traffic away before a lookup.
//
// # Throughput
//
// Lookups never allocate; a Session (one per goroutine) parses and matches
// a line without allocating, apart from rare observed values that need
// IDNA or full URL canonicalisation. Each Session remembers recent values
// that matched nothing (an exact, byte-compared cache tied to the Index it
// was filled from), since traffic repeats the same names and fingerprints
// all day. Run spreads batches of lines over GOMAXPROCS Sessions.
package match
