package compat

import (
	"encoding/json"
	"errors"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// maxExponent bounds the decimal exponent of numbers we turn into exact
// rationals: big.Rat.SetString("1e999999999") would compute 10^999999999,
// so a hostile schema could otherwise stall the gate. Real schemas stay far
// below; JSON Schema implementations disagree about such numbers anyway.
const maxExponent = 400

var errNumberRange = errors.New("number outside the supported range (|exponent| <= 400)")

// parseNumber turns a JSON number literal into an exact rational. Exact, not
// float64, so that multipleOf 0.1 vs 0.3 is judged correctly and 10 equals
// 10.0 (Confluent compares doubles, or BigDecimals with scale, and gets both
// wrong in places).
func parseNumber(n json.Number) (*big.Rat, error) {
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, errNumberRange
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errNumberRange
	}
	return r, nil
}

// canonical renders a decoded JSON value so that equal JSON values (in the
// sense of JSON Schema's "enum" and "const": object member order and number
// spelling do not matter) render equally. It is how enum values, defaults
// and subschemas are compared and de-duplicated.
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		if r, err := parseNumber(x); err == nil {
			b.WriteString(r.RatString())
		} else {
			b.WriteString(string(x))
		}
	case string:
		b.WriteString(strconv.Quote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	}
}
