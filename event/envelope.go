package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Envelope is one event: the header and the JSON payload it describes. Its
// JSON form, {"header":{…},"payload":{…}}, is what `spine tail` prints and
// `spine consume` hands to commands.
type Envelope struct {
	Header  Header          `json:"header"`
	Payload json.RawMessage `json:"payload"`
}

// FormatTimestamp writes t the way every wire carries it.
func FormatTimestamp(t time.Time) string { return t.UTC().Format(TimestampLayout) }

// ParseTimestamp reads a wire timestamp. It must be RFC 3339 and in UTC
// (suffix "Z"): an offset, even +00:00, is rejected so every stack writes the
// same bytes.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", clip(s))
	}
	if s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("timestamp %q is not in UTC (want the suffix Z)", clip(s))
	}
	return t.UTC(), nil
}
