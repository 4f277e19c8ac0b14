package logparse

import "net/netip"

// parseAddr parses an IPv4 or IPv6 address from bytes without allocating
// (netip.ParseAddr needs a string). It accepts what netip.ParseAddr
// accepts except zones, and unmaps IPv4-mapped IPv6 addresses, because
// indicators are kept unmapped (DESIGN.md section 3).
func parseAddr(b []byte) (netip.Addr, bool) {
	// Most addresses are IPv4: one to three digits, then a dot.
	if len(b) >= 7 && isDigit(b[0]) && (b[1] == '.' || isDigit(b[1]) && (b[2] == '.' || isDigit(b[2]) && b[3] == '.')) {
		return parseIPv4(b)
	}
	for _, c := range b {
		switch c {
		case '.':
			return parseIPv4(b)
		case ':':
			a, ok := parseIPv6(b)
			return a.Unmap(), ok
		}
	}
	return netip.Addr{}, false
}

// parseIPv4 parses dotted decimal: four numbers up to 255, no leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	if !parseIPv4Fields(b, ip[:]) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

func parseIPv4Fields(b []byte, ip []byte) bool {
	i := 0
	for part := 0; part < 4; part++ {
		if i >= len(b) {
			return false
		}
		d := b[i] - '0'
		if d > 9 {
			return false
		}
		v := uint(d)
		i++
		if i < len(b) && b[i]-'0' <= 9 {
			if d == 0 {
				return false // leading zero
			}
			v = v*10 + uint(b[i]-'0')
			i++
			if i < len(b) && b[i]-'0' <= 9 {
				v = v*10 + uint(b[i]-'0')
				i++
			}
		}
		if v > 255 {
			return false
		}
		ip[part] = byte(v)
		if part < 3 {
			if i >= len(b) || b[i] != '.' {
				return false
			}
			i++
		}
	}
	return i == len(b)
}

// parseIPv6 follows the grammar netip.ParseAddr accepts: up to eight
// groups of one to four hex digits, one "::", an embedded IPv4 address in
// the last 32 bits. Zones are refused.
func parseIPv6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // position in ip of the "::"
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	i := 0
	for len(s) > 0 {
		off, acc := 0, uint32(0)
		for ; off < len(s); off++ {
			c := s[off]
			switch {
			case '0' <= c && c <= '9':
				acc = acc<<4 + uint32(c-'0')
			case 'a' <= c && c <= 'f':
				acc = acc<<4 + uint32(c-'a'+10)
			case 'A' <= c && c <= 'F':
				acc = acc<<4 + uint32(c-'A'+10)
			default:
				goto done
			}
			if off > 3 {
				return netip.Addr{}, false
			}
		}
	done:
		if off == 0 {
			return netip.Addr{}, false
		}
		if off < len(s) && s[off] == '.' {
			// Embedded IPv4 in the last 32 bits.
			if ellipsis < 0 && i != 12 || i+4 > 16 {
				return netip.Addr{}, false
			}
			if !parseIPv4Fields(s, ip[i:i+4]) {
				return netip.Addr{}, false
			}
			s = nil
			i += 4
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
		if i == 16 {
			break
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
