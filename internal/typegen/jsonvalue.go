package typegen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jkind is the JSON type of a jvalue.
type jkind int

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jvalue is a decoded JSON value that, unlike map[string]any, keeps the
// order of object members: generated fields follow the schema file's
// property order, which is the order its author chose to read best.
type jvalue struct {
	kind    jkind
	members []jmember // jObject, in document order
	elems   []*jvalue // jArray
	str     string    // jString
	num     json.Number
	b       bool
}

type jmember struct {
	key string
	val *jvalue
}

// get returns the member called key of an object, or nil.
func (v *jvalue) get(key string) *jvalue {
	for _, m := range v.members {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// pointerError is a problem at a JSON pointer; Generate adds the event and
// version to make it a *SchemaError.
type pointerError struct {
	ptr     string
	problem string
}

func (e *pointerError) Error() string { return fmt.Sprintf("#%s: %s", e.ptr, e.problem) }

func errAt(ptr, format string, args ...any) *pointerError {
	return &pointerError{ptr: ptr, problem: fmt.Sprintf(format, args...)}
}

// child returns the JSON pointer (RFC 6901) of member key under ptr.
func child(ptr, key string) string {
	return ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

func index(ptr string, i int) string { return ptr + "/" + strconv.Itoa(i) }

// decodeOrdered decodes one JSON document. Duplicate object keys are an
// error: JSON leaves their meaning open, and a schema must have one.
func decodeOrdered(data []byte) (*jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errAt("", "data after the top-level value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, ptr string) (*jvalue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errAt(ptr, "invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case nil:
		return &jvalue{kind: jNull}, nil
	case bool:
		return &jvalue{kind: jBool, b: t}, nil
	case json.Number:
		return &jvalue{kind: jNumber, num: t}, nil
	case string:
		return &jvalue{kind: jString, str: t}, nil
	case json.Delim:
		if t == '[' {
			v := &jvalue{kind: jArray}
			for dec.More() {
				e, err := decodeValue(dec, index(ptr, len(v.elems)))
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, e)
			}
			_, err := dec.Token() // ']'
			return v, err
		}
		v := &jvalue{kind: jObject}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, errAt(ptr, "invalid JSON: %v", err)
			}
			key := kt.(string) // the decoder only yields strings as keys
			if v.get(key) != nil {
				return nil, errAt(child(ptr, key), "duplicate key %q", key)
			}
			e, err := decodeValue(dec, child(ptr, key))
			if err != nil {
				return nil, err
			}
			v.members = append(v.members, jmember{key, e})
		}
		_, err := dec.Token() // '}'
		return v, err
	}
	return nil, errAt(ptr, "unexpected JSON token %v", tok)
}
