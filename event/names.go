package event

import "strings"

// The header's name checks are hand-written rather than regular expressions:
// they run for every event published and consumed, and the regexp engine
// made up most of the cost of encoding a record. names_test.go holds the
// equivalent regular expressions and fuzzes the two against each other.

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isEventName: lower-case words of [a-z][a-z0-9_]*, at least two, joined by '.'.
func isEventName(s string) bool {
	segments := 0
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" || !isLower(seg[0]) {
			return false
		}
		for i := 1; i < len(seg); i++ {
			if c := seg[i]; !isLower(c) && !isDigit(c) && c != '_' {
				return false
			}
		}
		segments++
	}
	return segments >= 2
}

// isServiceName: words of [a-z0-9]+ joined by single '-', starting with a
// letter, e.g. "crm-service".
func isServiceName(s string) bool {
	if s == "" || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case isLower(c) || isDigit(c):
		case c == '-' && s[i-1] != '-' && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// schemaMajor splits "crm-lead-schema-v1" into its major version "1"; ok is
// false when s is not a schema name.
func schemaMajor(s string) (major string, ok bool) {
	const marker = "-schema-v"
	i := strings.LastIndex(s, marker)
	if i <= 0 || !isServiceName(s[:i]) {
		return "", false
	}
	major = s[i+len(marker):]
	if major == "" {
		return "", false
	}
	for j := 0; j < len(major); j++ {
		if !isDigit(major[j]) {
			return "", false
		}
	}
	return major, true
}

// semverMajor checks a semantic version (semver.org 2.0.0) and returns its
// major part.
func semverMajor(s string) (major string, ok bool) {
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !dotIdentifiers(build, false) {
		return "", false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre && !dotIdentifiers(pre, true) {
		return "", false
	}
	parts := 0
	for n := range strings.SplitSeq(core, ".") {
		if !isNumericIdentifier(n) {
			return "", false
		}
		if parts == 0 {
			major = n
		}
		parts++
	}
	return major, parts == 3
}

// isNumericIdentifier: digits without a leading zero.
func isNumericIdentifier(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// dotIdentifiers checks dot-separated [0-9A-Za-z-]+ identifiers; in a
// pre-release, purely numeric ones may not have leading zeros.
func dotIdentifiers(s string, prerelease bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case isDigit(c):
			case isLower(c) || ('A' <= c && c <= 'Z') || c == '-':
				numeric = false
			default:
				return false
			}
		}
		if prerelease && numeric && !isNumericIdentifier(id) {
			return false
		}
	}
	return true
}
