package schema

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// fastState is the per-call state of the walk, pooled: a jsontext.Decoder
// keeps its token and name stacks (for the duplicate-name check) between
// Resets, so a pooled one decodes without allocating.
type fastState struct {
	in      bytes.Buffer // aliases the payload: no copy, and never written
	dec     jsontext.Decoder
	scratch []byte // unescaped strings that contain escapes
	keyNode *fastNode
	key     string // the value of keyNode's property, once read
}

var fastStates = sync.Pool{New: func() any { return new(fastState) }}

// valid reports whether payload is certainly valid; false means "ask the
// reference path". The decoder has the reference decoder's defaults
// (jsonv2.Unmarshal reads through the same jsontext code): duplicate names,
// invalid UTF-8, excessive nesting and trailing data are all errors, so the
// walk fails on exactly the inputs the strict decode rejects, and more.
func (c *fastChecker) valid(payload []byte) bool {
	_, ok := c.validKey(payload)
	return ok
}

// validKey is valid, also returning the partition key's value when the
// schema has one.
func (c *fastChecker) validKey(payload []byte) (string, bool) {
	st := fastStates.Get().(*fastState)
	st.keyNode, st.key = c.key, ""
	// A *bytes.Buffer lets the decoder parse the payload in place; it only
	// advances the buffer's read offset and does not write to it.
	st.in = *bytes.NewBuffer(payload)
	st.dec.Reset(&st.in)
	ok := st.value(c.root) && st.atEOF()
	key := st.key
	// Forget the payload, so the pool does not keep it alive.
	st.in = bytes.Buffer{}
	st.dec.Reset(&st.in)
	if cap(st.scratch) > 64<<10 {
		st.scratch = nil
	}
	fastStates.Put(st)
	return key, ok
}

// atEOF checks that nothing but whitespace follows the top-level value.
func (st *fastState) atEOF() bool {
	_, err := st.dec.ReadToken()
	return err == io.EOF
}

// value reads the next value and checks it against n. Every decoder error
// ends the walk with false; PeekKind reports one as kind 0, which no case
// accepts.
func (st *fastState) value(n *fastNode) bool {
	switch n.typ {
	case fastObject:
		return st.object(n)
	case fastArray:
		return st.array(n)
	case fastString:
		if st.dec.PeekKind() != '"' {
			return false
		}
		raw, err := st.dec.ReadValue()
		if err != nil {
			return false
		}
		s, ok := st.unquote(raw)
		if !ok || !n.validString(s) {
			return false
		}
		if n == st.keyNode {
			st.key = string(s)
		}
		return true
	case fastNumber, fastInteger:
		if st.dec.PeekKind() != '0' {
			return false
		}
		raw, err := st.dec.ReadValue()
		return err == nil && n.validNumber(raw)
	case fastBoolean:
		if k := st.dec.PeekKind(); k != 't' && k != 'f' {
			return false
		}
		_, err := st.dec.ReadValue()
		return err == nil
	default: // fastAny
		return st.dec.SkipValue() == nil
	}
}

func (st *fastState) object(n *fastNode) bool {
	if st.dec.PeekKind() != '{' {
		return false
	}
	if _, err := st.dec.ReadToken(); err != nil {
		return false
	}
	var seen uint64
	for st.dec.PeekKind() != '}' {
		raw, err := st.dec.ReadValue() // a name; the decoder rejects duplicates
		if err != nil {
			return false
		}
		name, ok := st.unquote(raw)
		if !ok {
			return false
		}
		p, known := n.props[string(name)]
		if !known {
			// Open content model: any value, but it must be well-formed
			// (SkipValue checks syntax, UTF-8 and duplicate names).
			if st.dec.SkipValue() != nil {
				return false
			}
			continue
		}
		if !st.value(p.node) {
			return false
		}
		seen |= p.bit
	}
	if _, err := st.dec.ReadToken(); err != nil {
		return false
	}
	return seen&n.required == n.required
}

func (st *fastState) array(n *fastNode) bool {
	if st.dec.PeekKind() != '[' {
		return false
	}
	if _, err := st.dec.ReadToken(); err != nil {
		return false
	}
	count := 0
	for st.dec.PeekKind() != ']' {
		if n.maxItems >= 0 && count == n.maxItems {
			return false
		}
		if n.items == nil {
			if st.dec.SkipValue() != nil {
				return false
			}
		} else if !st.value(n.items) {
			return false
		}
		count++
	}
	if _, err := st.dec.ReadToken(); err != nil {
		return false
	}
	return count >= n.minItems
}

// unquote returns the content of a raw JSON string: a slice of the payload
// when it has no escapes (the common case), else the unescaped text in
// scratch, valid until the next unquote.
func (st *fastState) unquote(raw []byte) ([]byte, bool) {
	if len(raw) < 2 {
		return nil, false
	}
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 {
		return body, true
	}
	var err error
	st.scratch, err = jsontext.AppendUnquote(st.scratch[:0], raw)
	return st.scratch, err == nil
}

func (n *fastNode) validString(s []byte) bool {
	// Lengths count code points (utf8.RuneCount, as the reference does). The
	// decoder has checked the UTF-8, so len(s) bytes hold between ⌈len/4⌉ and
	// len code points: count only when that range does not settle it.
	if (n.minLen > 0 && (len(s)+3)/4 < n.minLen) || (n.maxLen >= 0 && len(s) > n.maxLen) {
		c := utf8.RuneCount(s)
		if c < n.minLen || (n.maxLen >= 0 && c > n.maxLen) {
			return false
		}
	}
	if n.enum != nil && !n.inEnum(s) {
		return false
	}
	if n.format != nil && !n.format(s) {
		return false
	}
	return n.pattern == nil || n.pattern.Match(s)
}

func (n *fastNode) inEnum(s []byte) bool {
	for _, e := range n.enum {
		if string(s) == e {
			return true
		}
	}
	return false
}

// maxExactDigits is the number of significant decimal digits every float64
// round-trips.
const maxExactDigits = 15

func (n *fastNode) validNumber(raw []byte) bool {
	// The reference decodes with the same strconv.ParseFloat, so it sees the
	// same float64 and exactBound's argument holds for any value. Longer
	// literals are refused anyway: that is where decoders differ, and such
	// numbers are rare enough in events to leave to the reference path.
	if significantDigits(raw) > maxExactDigits {
		return false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return false // out of range: the reference decoder rejects it
	}
	// A float64 with no fraction prints as an integer (fmt.Sprint), which is
	// what the reference's integer test looks at: 1.0 and 1e2 are integers.
	if n.typ == fastInteger && f != math.Trunc(f) {
		return false
	}
	return (!n.hasMin || f >= n.min) && (!n.hasMax || f <= n.max) &&
		(!n.hasExclMin || f > n.exclMin) && (!n.hasExclMax || f < n.exclMax)
}

// significantDigits counts the mantissa digits of a JSON number from the
// first non-zero one, trailing zeros included.
func significantDigits(num []byte) int {
	n, leading := 0, true
	for _, c := range num {
		switch {
		case c == 'e' || c == 'E':
			return n
		case c >= '1' && c <= '9':
			leading = false
			n++
		case c == '0' && !leading:
			n++
		}
	}
	return n
}
