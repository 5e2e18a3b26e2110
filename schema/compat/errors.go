package compat

import (
	"errors"
	"fmt"
)

// Sentinel causes of a *SchemaError; match them with errors.Is. They let a
// caller tell input that must be fixed (ErrMalformedJSON, ErrNotSchema) from
// a schema this package cannot judge (ErrUnsupported, ErrTooDeep,
// ErrTooComplex), which a
// gate may decide to send to a real registry instead.
var (
	// ErrMalformedJSON: the document is not a single JSON value.
	ErrMalformedJSON = errors.New("malformed JSON")
	// ErrNotSchema: the document is JSON but not a JSON Schema, e.g. a
	// keyword has a value of the wrong type or a $ref points nowhere.
	ErrNotSchema = errors.New("not a JSON Schema")
	// ErrUnsupported: the schema uses something this package does not
	// resolve: a $ref outside the document, an $anchor reference, or a
	// patternProperties regex that Go's RE2 cannot compile.
	ErrUnsupported = errors.New("unsupported schema feature")
	// ErrTooDeep: the schema nests deeper than maxDepth, or comparing it
	// recursed deeper than maxCompareDepth.
	ErrTooDeep = errors.New("schema too deep")
	// ErrTooComplex: the comparison found more than maxDifferences
	// differences. Each use of a $ref is reported at its own location, so a
	// definition reused twice on each of n levels yields 2^n reports.
	ErrTooComplex = errors.New("schema comparison too complex")
)

// SchemaError says which document is at fault, where, and why.
type SchemaError struct {
	// Document names the document: "old" or "new" for Diff; "candidate" or
	// "history[i]" for Check; "<old> vs <new>" when the comparison itself
	// failed.
	Document string
	// Pointer is the RFC 6901 pointer of the offending value ("" is the
	// root). Empty for malformed JSON, which has Line and Column instead.
	Pointer string
	// Line and Column locate malformed JSON (1-based); 0 otherwise.
	Line, Column int
	// Err is one of the sentinel errors above.
	Err error
	// Detail explains the problem.
	Detail string
}

func (e *SchemaError) Error() string {
	var where string
	switch {
	case e.Line > 0:
		where = fmt.Sprintf("line %d, column %d", e.Line, e.Column)
	case e.Pointer == "":
		where = "the document root"
	default:
		where = e.Pointer
	}
	return fmt.Sprintf("compat: %s: %v at %s: %s", e.Document, e.Err, where, e.Detail)
}

func (e *SchemaError) Unwrap() error { return e.Err }
