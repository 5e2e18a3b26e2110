package schema

import (
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxReasonBytes bounds a violation's reason: reasons travel into logs and
// dead-letter headers, and hostile payloads can be a megabyte long.
const maxReasonBytes = 256

// piiSet holds the dotted paths of a schema version's PII fields.
type piiSet map[string]bool

func newPIISet(paths []string) piiSet {
	s := piiSet{}
	for _, p := range paths {
		s[p] = true
	}
	return s
}

// covers reports whether an instance location is a PII field or lies inside
// one.
func (s piiSet) covers(loc []string) bool {
	for i := range loc {
		if s[strings.Join(loc[:i+1], ".")] {
			return true
		}
	}
	return false
}

// withheldReason describes a violation at a PII field without its value:
// the value must never reach a log or a dead letter in plaintext.
func withheldReason(field string, k any) string {
	switch k := k.(type) {
	case *kind.Type, *kind.MinLength, *kind.MaxLength:
		return "" // these messages carry no value; the caller keeps them
	case *kind.Format:
		return fmt.Sprintf("%s: is not a valid %s (value withheld: PII)", field, k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("%s: does not match pattern %q (value withheld: PII)", field, k.Want)
	case interface{ KeywordPath() []string }:
		return fmt.Sprintf("%s: %s failed (value withheld: PII)", field, strings.Join(k.KeywordPath(), "/"))
	}
	return field + ": invalid (value withheld: PII)"
}

func clipReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
