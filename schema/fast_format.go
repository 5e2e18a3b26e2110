package schema

// Format checks of the fast path. Each accepts a subset of what the
// reference's validator (jsonschema/v6 format.go) accepts, never more: the
// common shapes producers emit. Anything unusual — leap seconds, quoted local
// parts, IP-literal domains — is left to the reference path, which decides.
var formatCheckers = map[string]func([]byte) bool{
	"uuid":      isUUID,
	"date":      isDate,
	"date-time": isDateTime,
	"email":     isEmail,
}

// isUUID accepts 8-4-4-4-12 hex digits of either case, exactly the
// reference's validateUUID.
func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isDate accepts YYYY-MM-DD with a real day of a year 0001-9999, a subset of
// the reference's time.Parse("2006-01-02", s).
func isDate(s []byte) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:10])
	return ok1 && ok2 && ok3 && y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isDateTime accepts RFC 3339 date-times
// YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) with seconds 00-59: the
// reference's validateDateTime also accepts a leap second (:60) at 23:59
// UTC, which is left to it.
func isDateTime(s []byte) bool {
	return len(s) >= 20 && (s[10] == 'T' || s[10] == 't') && isDate(s[:10]) && isTime(s[11:])
}

func isTime(s []byte) bool {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return false
	}
	h, ok1 := atoi(s[0:2])
	m, ok2 := atoi(s[3:5])
	sec, ok3 := atoi(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return false
	}
	s = s[8:]
	if s[0] == '.' {
		i := 1
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		s = s[i:]
	}
	switch {
	case len(s) == 1:
		return s[0] == 'Z' || s[0] == 'z'
	case len(s) == 6:
		zh, ok1 := atoi(s[1:3])
		zm, ok2 := atoi(s[4:6])
		return (s[0] == '+' || s[0] == '-') && s[3] == ':' && ok1 && ok2 && zh <= 23 && zm <= 59
	}
	return false
}

// atoi reads unsigned decimal digits only: no sign, unlike strconv.Atoi.
func atoi(s []byte) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// isEmail accepts local@domain where local is a dot-atom of 1-64 bytes and
// domain a host name of letters, digits and hyphens, at most 254 bytes in
// all: the unquoted, non-IP-literal part of the reference's validateEmail.
func isEmail(s []byte) bool {
	if len(s) > 254 {
		return false
	}
	at := -1
	for i, c := range s {
		if c == '@' {
			at = i
			break
		}
	}
	if at < 1 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' {
		return false
	}
	for i, c := range local {
		if c == '.' {
			if local[i-1] == '.' {
				return false
			}
			continue
		}
		if !isAtext(c) {
			return false
		}
	}
	return isHostname(domain)
}

// isAtext reports an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~':
		return true
	}
	return false
}

// isHostname accepts dot-separated labels of 1-63 letters, digits and
// hyphens, not starting or ending with a hyphen, at most 253 bytes, without
// a trailing dot.
func isHostname(s []byte) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		label := s[start:i]
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}
