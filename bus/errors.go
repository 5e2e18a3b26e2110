package bus

import (
	"errors"
	"fmt"
)

// ErrPermanent marks a failure that no retry can fix: the event goes
// straight to its dead-letter topic. Wrap it (Permanent) or match it
// (errors.Is).
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as permanent: handlers return Permanent(err) for an
// event they can never handle, such as one that refers to a deleted record.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err is marked permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// GrantError reports an attempt to publish an event the client's service may
// not produce.
type GrantError struct {
	Event, Source, Producer string
}

func (e *GrantError) Error() string {
	return fmt.Sprintf("publish %s: service %q may not produce it; the catalog names %q", e.Event, e.Source, e.Producer)
}

// ConsumeGrantError reports a subscription to a topic whose events the
// client's service may not consume.
type ConsumeGrantError struct {
	Topic, Event, Service string
	Consumers             []string
}

func (e *ConsumeGrantError) Error() string {
	return fmt.Sprintf("subscribe %s: service %q may not consume %s; the catalog names %v", e.Topic, e.Service, e.Event, e.Consumers)
}

// Error kinds written to dead letters (header spine-error-kind).
const (
	KindDecode   = "decode"   // the record is not a Spine event
	KindUnknown  = "unknown"  // event or schema not in the catalog
	KindSchema   = "schema"   // the payload breaks its schema
	KindMismatch = "mismatch" // header and payload or topic disagree
	KindHandler  = "handler"  // the handler failed permanently
	KindPanic    = "panic"    // the handler panicked
)
