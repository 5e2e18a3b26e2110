package event

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError, so callers can
// tell a contract violation — permanent, never worth a retry — from an I/O
// failure without inspecting the details.
var ErrInvalid = errors.New("invalid event")

// Violation is one reason a document breaks the contract.
type Violation struct {
	// Pointer is the RFC 6901 JSON pointer of the offending field within the
	// validated document ("" is the document itself).
	Pointer string `json:"pointer"`
	// Reason says what is wrong, naming the field.
	Reason string `json:"reason"`
}

func (v Violation) String() string { return v.Pointer + ": " + v.Reason }

// Part names which part of an event a ValidationError is about.
type Part string

const (
	PartHeader  Part = "header"
	PartPayload Part = "payload"
)

// ValidationError lists every violation found in one part of one event.
type ValidationError struct {
	Event      string // event name, as far as it is known
	Part       Part
	Violations []Violation
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	name := e.Event
	if name == "" {
		name = "event"
	}
	fmt.Fprintf(&b, "%s: invalid %s", name, e.Part)
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true for every validation error.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }
