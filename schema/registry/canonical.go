package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CanonicalJSON returns doc as compact JSON with object keys sorted, numbers
// kept as written and no HTML escaping. Two schemas are the same schema for
// this package when their canonical forms are equal, so whitespace and key
// order in a catalog file never create a new registry version.
func CanonicalJSON(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // keep 1e2 and 100 apart: the validator may treat them differently
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidSchema, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrInvalidSchema)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
