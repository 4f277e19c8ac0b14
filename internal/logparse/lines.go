package logparse

// ParseLine reads a line that holds one observable: a URL (with or without
// "scheme://"), an IP address, an e-mail address, a hex digest (file hash,
// certificate fingerprint with or without colons, JA3), a JA4 fingerprint,
// or a DNS name. Blank lines and lines starting with "#" are ErrEmpty.
// The type is told from the shape alone, cheaply; unlike indicator.Detect
// it does not refang or validate, since telemetry is not defanged and the
// index only matches what it holds.
func ParseLine(line []byte, ev *Event) error {
	ev.reset(line)
	s := trimSpace(line)
	if len(s) == 0 || s[0] == '#' {
		return ErrEmpty
	}
	ev.Type = lineType
	const field = "line"
	if schemeEnd(s) > 0 {
		ev.add(KindURL, field, s)
		ev.addNameOrIP(field, trimBrackets(urlHost(s)))
		return nil
	}
	if a, ok := parseAddr(s); ok {
		ev.Obs = append(ev.Obs, Observation{Kind: KindIP, Field: field, Value: s, Addr: a})
		return nil
	}
	if indexByte(s, '@') >= 0 {
		n := len(ev.Obs)
		ev.addEmails(field, s)
		if len(ev.Obs) > n {
			return nil
		}
		return ErrUnrecognised
	}
	if hexDigest(s) {
		ev.add(KindHash, field, s)
		return nil
	}
	if colonHex(s) {
		ev.addHash(field, s)
		return nil
	}
	if ja4Like(s) {
		ev.add(KindJA4, field, s)
		return nil
	}
	if k := indexAny(s, "/?"); k > 0 {
		if _, ok := parseAddr(s[:k]); ok && s[k] == '/' && allDigits(s[k+1:]) {
			return ErrUnrecognised // a CIDR block is not an observable
		}
		// "host/path" without a scheme, as proxies and lists write it.
		host, p := splitHostPort(s[:k])
		if indexByte(host, '.') > 0 && nameLike(host) {
			start := len(ev.buf)
			ev.buf = append(ev.buf, "http://"...)
			ev.buf = append(ev.buf, s...)
			ev.add(KindURL, field, ev.buf[start:])
			ev.addNameOrIP(field, host)
			if p >= 0 {
				ev.DestPort = p
			}
			return nil
		}
		return ErrUnrecognised
	}
	if indexByte(s, '.') >= 0 && nameLike(s) {
		ev.add(KindName, field, s)
		return nil
	}
	return ErrUnrecognised
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

func indexAny(b []byte, chars string) int {
	for i, c := range b {
		if containsByte(chars, c) {
			return i
		}
	}
	return -1
}

// hexDigest reports whether s is hex of a digest's length (MD5/JA3, SHA-1,
// SHA-256, SHA-512).
func hexDigest(s []byte) bool {
	switch len(s) {
	case 32, 40, 64, 128:
	default:
		return false
	}
	for _, c := range s {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

// colonHex reports whether s is "ab:cd:…" of 20 or 32 bytes.
func colonHex(s []byte) bool {
	if len(s) != 59 && len(s) != 95 {
		return false
	}
	for i, c := range s {
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

// ja4Like reports whether s has the JA4 shape: three parts of letters and
// digits joined by "_", the last two 12 hex digits each.
func ja4Like(s []byte) bool {
	if len(s) != 36 || s[10] != '_' || s[23] != '_' {
		return false
	}
	for i, c := range s {
		if i == 10 || i == 23 {
			continue
		}
		if !(isAlpha(c) || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
