package codec

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/inopsio/spine/event"
)

// DecodeError says why a record is not a Spine event. Every decode failure
// breaks the wire contract, so Err always matches event.ErrInvalid
// (errors.Is): the record is poison and retrying cannot help.
type DecodeError struct {
	Topic string // the record's topic, "" from Unframe
	// Field is where the record is wrong: "value" (size, frame or payload),
	// "key", "header" (a header name), or "header:<name>" (that header).
	// docs/wire-format.md lists the field each rule reports.
	Field  string
	Reason string // what is wrong, for people
	// Err is event.ErrInvalid, or the *event.ValidationError listing every
	// violation when the header fails event.Header.Validate.
	Err error
}

func (e *DecodeError) Error() string { return message("decode", e.Topic, e.Field, e.Reason) }

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError says why an envelope cannot be encoded. Like DecodeError it
// matches event.ErrInvalid: the caller's input, not the transport, is wrong.
type EncodeError struct {
	Topic string
	// Field is "topic", "schema_id", "payload" or "header:<name>" (an envelope
	// field, or an extra header).
	Field  string
	Reason string
	Err    error // event.ErrInvalid or the *event.ValidationError
}

func (e *EncodeError) Error() string { return message("encode", e.Topic, e.Field, e.Reason) }

func (e *EncodeError) Unwrap() error { return e.Err }

func message(op, topic, field, reason string) string {
	var b strings.Builder
	b.WriteString("codec: cannot ")
	b.WriteString(op)
	b.WriteString(" record")
	if topic != "" {
		fmt.Fprintf(&b, " of topic %q", clip(topic))
	}
	b.WriteString(": ")
	b.WriteString(field)
	b.WriteString(": ")
	b.WriteString(reason)
	return b.String()
}

func decodeError(topic, field, format string, args ...any) *DecodeError {
	return &DecodeError{Topic: topic, Field: field, Reason: fmt.Sprintf(format, args...), Err: event.ErrInvalid}
}

func valueError(format string, args ...any) *DecodeError {
	return decodeError("", "value", format, args...)
}

// headerField names a header in an error; hostile names are clipped so they
// cannot flood logs.
func headerField(name string) string { return "header:" + clip(name) }

// fromValidation turns a header validation failure into the field of its
// first violation (Validate reports in spec order, so this is deterministic)
// and a reason listing them all.
func fromValidation(err error) (field, reason string) {
	var ve *event.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) == 0 {
		return "header", err.Error()
	}
	rs := make([]string, len(ve.Violations))
	for i, v := range ve.Violations {
		rs[i] = v.Reason
	}
	return "header:" + strings.TrimPrefix(ve.Violations[0].Pointer, "/"), strings.Join(rs, "; ")
}

// clip bounds attacker-controlled text in messages, at a rune boundary.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
