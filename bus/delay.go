package bus

import (
	"errors"
	"fmt"
	"time"
)

// DelayError is a handler failure whose retry is scheduled: the transport
// delivers the record again not before Until, with later records of the
// same key waiting behind it. Records of other keys keep flowing. It takes
// the place of the subscription's RedeliveryDelay.
type DelayError struct {
	Until time.Time
	Err   error
}

func (e *DelayError) Error() string {
	return fmt.Sprintf("%v (retry at %s)", e.Err, e.Until.UTC().Format(time.RFC3339Nano))
}

func (e *DelayError) Unwrap() error { return e.Err }

// NotDueError says a record is not due before Until, and neither is any
// record behind it on its partition: a parked retry at the head of a retry
// topic, whose records are due in the order they were written. It is not a
// failure. A transport with partitions stops fetching the partition until
// Until and then delivers the record again; one without treats it as a
// DelayError.
type NotDueError struct {
	Until time.Time
}

func (e *NotDueError) Error() string {
	return "not due before " + e.Until.UTC().Format(time.RFC3339Nano)
}

// RedeliverAt returns when a record whose handler returned err comes back:
// the DelayError's or NotDueError's time, or now plus fallback.
func RedeliverAt(err error, fallback time.Duration) time.Time {
	var de *DelayError
	if errors.As(err, &de) {
		return de.Until
	}
	var nd *NotDueError
	if errors.As(err, &nd) {
		return nd.Until
	}
	return time.Now().Add(fallback)
}

// IsNotDue reports whether err says the record's partition must wait.
func IsNotDue(err error) bool {
	var nd *NotDueError
	return errors.As(err, &nd)
}
