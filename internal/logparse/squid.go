package logparse

// ParseSquid reads one line of Squid's native access.log format:
//
//	time elapsed client action/code size method URL user hierarchy/peer type
//
// It observes the client address (src_ip), the URL and its host (for
// CONNECT, "host:port" gives only the host), and the peer the request was
// forwarded to (dest_ip, or a name when Squid logged one).
func ParseSquid(line []byte, ev *Event) error {
	ev.reset(line)
	line = trimEOL(line)
	var f [10][]byte
	n := 0
	for i := 0; i < len(line) && n < len(f); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		f[n] = line[i:j]
		n++
		i = j
	}
	if n == 0 {
		return ErrEmpty
	}
	if f[0][0] == '#' {
		return ErrEmpty
	}
	if n < 7 {
		return ErrSyntax
	}
	if _, _, ok := number(f[0], 0); !ok {
		return ErrSyntax
	}
	ev.Type = squidType
	ev.Time, ev.TimeFormat = f[0], TimeEpoch
	if a, ok := ev.addIP("squid.client", f[2]); ok {
		ev.SrcIP = a
	}
	method, u := f[5], f[6]
	if string(method) == "CONNECT" || schemeEnd(u) == 0 {
		host, p := splitHostPort(u)
		if p >= 0 {
			ev.DestPort = p
			ev.addNameOrIP("squid.url", trimBrackets(host))
		}
	} else {
		ev.add(KindURL, "squid.url", u)
		ev.addNameOrIP("squid.url", trimBrackets(urlHost(u)))
		ev.DestPort = urlPort(u)
	}
	if n > 8 {
		if k := indexByte(f[8], '/'); k >= 0 {
			peer := f[8][k+1:]
			if a, ok := ev.addIP("squid.peer", peer); ok {
				ev.DestIP = a
			} else if string(peer) != "-" {
				ev.addName("squid.peer", peer)
			}
		}
	}
	ev.Proto = protoTCP
	return nil
}

var (
	squidType = []byte("squid")
	protoTCP  = []byte("TCP")
	lineType  = []byte("line")
)

// urlPort returns the port of an absolute URL, or its scheme's default.
func urlPort(u []byte) int32 {
	if _, p := urlHostPort(u); p >= 0 {
		return p
	}
	n := schemeEnd(u)
	switch {
	case equalFold(u[:n], "http://"):
		return 80
	case equalFold(u[:n], "https://"):
		return 443
	case equalFold(u[:n], "ftp://"):
		return 21
	}
	return -1
}

// equalFold compares ASCII b with lower-case s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
