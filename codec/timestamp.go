package codec

import (
	"errors"
	"strconv"
	"time"

	"github.com/inopsio/spine/event"
)

// parseTimestamp reads the timestamp header. Before event.ParseTimestamp
// checks the date, the text must match the RFC 3339 profile every
// implementation shares, YYYY-MM-DDTHH:MM:SS[.F]Z with 1 to 9 fraction digits
// and upper-case T and Z: Go's parser alone would also take a comma before
// the fraction, which other languages refuse.
func parseTimestamp(s string) (time.Time, error) {
	if !timestampSyntax(s) {
		return time.Time{}, errTimestampSyntax(s)
	}
	return event.ParseTimestamp(s)
}

func timestampSyntax(s string) bool {
	if len(s) < 20 || len(s) > maxTimestampLen || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < 19; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	frac := s[19 : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}

func errTimestampSyntax(s string) error {
	return errors.New("timestamp " + strconv.Quote(clip(s)) + " is not RFC 3339 UTC of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z")
}
