package pii

import (
	"errors"
	"fmt"
)

var (
	// ErrTampered says a ciphertext did not authenticate: its bytes were
	// changed, or it was moved from another tenant, event, field or key
	// version, or it was sealed under another key.
	ErrTampered = errors.New("pii: ciphertext failed authentication (tampered, or moved from another tenant, event or field)")
	// ErrMalformed says a value at a PII path is not a ciphertext string in
	// the spine:pii:v1 form, or decrypted to bytes that are not UTF-8 text.
	ErrMalformed = errors.New("pii: not a valid spine:pii:v1 ciphertext string")
	// ErrNotString says Encrypt found a value at a PII path that is not a JSON
	// string: only strings are encrypted, and leaving it plain would leak it.
	ErrNotString = errors.New("pii: PII field is not a JSON string")
	// ErrInvalidPayload says a payload is not one strict JSON object (syntax,
	// invalid UTF-8, duplicate names, trailing data).
	ErrInvalidPayload = errors.New("pii: payload is not a strict JSON object")
)

// FieldError reports the PII field that could not be encrypted or
// decrypted. Err is ErrTampered, ErrMalformed or ErrNotString (possibly
// wrapped with detail), or the key store's error wrapped with the key
// version. It never holds the field's value.
type FieldError struct {
	Path string // the field's dotted path, as in catalog.SchemaVersion.PII
	Err  error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %v", e.Path, e.Err) }

// Unwrap returns Err, for errors.Is and errors.As.
func (e *FieldError) Unwrap() error { return e.Err }
