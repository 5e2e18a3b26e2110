package bus

import (
	"errors"
	"fmt"
	"time"
)

// DelayError is a handler failure whose retry is scheduled: the transport
// delivers the record again not before Until, with records of the same key
// still waiting behind it. It takes the place of the subscription's
// RedeliveryDelay.
type DelayError struct {
	Until time.Time
	Err   error
}

func (e *DelayError) Error() string {
	return fmt.Sprintf("%v (retry at %s)", e.Err, e.Until.UTC().Format(time.RFC3339Nano))
}

func (e *DelayError) Unwrap() error { return e.Err }

// RedeliverAt returns when a record whose handler returned err comes back:
// the DelayError's time, or now plus fallback.
func RedeliverAt(err error, fallback time.Duration) time.Time {
	var de *DelayError
	if errors.As(err, &de) {
		return de.Until
	}
	return time.Now().Add(fallback)
}
