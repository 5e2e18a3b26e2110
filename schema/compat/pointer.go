package compat

import (
	"net/url"
	"strconv"
	"strings"
)

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")
var tokenUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

// pointer renders path segments as an RFC 6901 JSON pointer; no segments is
// the root, "".
func pointer(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(tokenEscaper.Replace(s))
	}
	return b.String()
}

// child extends pointer p by one (unescaped) segment.
func child(p, seg string) string {
	return p + "/" + tokenEscaper.Replace(seg)
}

// parseFragment splits the URI fragment of a local $ref ("#/$defs/a%20b")
// into unescaped pointer segments. ok is false for anything but "#" or
// "#/...": a relative or absolute URI, or a plain-name fragment ($anchor).
func parseFragment(ref string) (segs []string, ok bool) {
	if !strings.HasPrefix(ref, "#") {
		return nil, false
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil {
		return nil, false
	}
	if frag == "" {
		return nil, true
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, false
	}
	parts := strings.Split(frag[1:], "/")
	for i, p := range parts {
		parts[i] = tokenUnescaper.Replace(p)
	}
	return parts, true
}

// lookup walks segs from root. found is false when a segment names a member
// or index that does not exist.
func lookup(root any, segs []string) (v any, found bool) {
	v = root
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			if v, found = x[s]; !found {
				return nil, false
			}
		case []any:
			// RFC 6901 array indexes are plain decimals without leading zeros.
			i, err := strconv.Atoi(s)
			if err != nil || strings.Trim(s, "0123456789") != "" || i >= len(x) || (len(s) > 1 && s[0] == '0') {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
