package codec

import "strings"

// Record is one message as every transport carries it. Its shape is that of
// a Kafka record: headers are ordered and a name may repeat on the wire,
// which is why Decode insists that the names it relies on occur once.
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
}

// Header is one record header. Spine writes only UTF-8 values.
type Header struct {
	Key   string
	Value []byte
}

// Names of the extra headers Spine reserves; docs/wire-format.md gives the
// meaning and value format of each. The eight envelope headers are named by
// event.HeaderFields.
const (
	// W3C Trace Context, propagated as on HTTP.
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	// HeaderAuthorization carries the producer's service token, "Bearer <jwt>".
	HeaderAuthorization = "authorization"

	// HeaderPrefix starts every header Spine itself defines. Each such name,
	// listed here or added later, may occur at most once in a record.
	HeaderPrefix = "spine-"

	HeaderAttempt           = "spine-attempt"            // decimal: delivery attempts that failed so far
	HeaderDueAt             = "spine-due-at"             // RFC 3339 UTC: when a parked retry is due
	HeaderOriginalTopic     = "spine-original-topic"     // topic the record was first consumed from
	HeaderOriginalPartition = "spine-original-partition" // decimal partition there
	HeaderOriginalOffset    = "spine-original-offset"    // position there (Kafka offset or Redis entry id)
	HeaderOriginalTimestamp = "spine-original-timestamp" // RFC 3339 UTC: the original record's timestamp
	HeaderConsumerGroup     = "spine-consumer-group"     // consumer group whose handling failed
	HeaderErrorKind         = "spine-error-kind"         // short lower-case token classifying the failure
	HeaderErrorMessage      = "spine-error-message"      // UTF-8 text of the last failure
	HeaderFirstFailure      = "spine-first-failure"      // RFC 3339 UTC
	HeaderLastFailure       = "spine-last-failure"       // RFC 3339 UTC
	HeaderReplayCount       = "spine-replay-count"       // decimal: times replayed out of the DLQ
	HeaderEncryption        = "spine-encryption"         // reserved for PII encryption metadata
)

// Header returns the value of the header called name when it occurs exactly
// once. A repeated header reports false: picking the first or the last would
// let two readers of the same record disagree. Header names are
// case-sensitive, as on Kafka.
func (r Record) Header(name string) ([]byte, bool) { return lookup(r.Headers, name) }

// Header is Record.Header over the extra headers.
func (d Decoded) Header(name string) ([]byte, bool) { return lookup(d.Extra, name) }

func lookup(hs []Header, name string) ([]byte, bool) {
	var v []byte
	n := 0
	for _, h := range hs {
		if h.Key == name {
			v = h.Value
			n++
		}
	}
	return v, n == 1
}

// envelopeIndex returns the position of name in event.HeaderFields, or -1.
// A switch keeps this allocation-free and faster than a map on the hot path.
func envelopeIndex(name string) int {
	switch name {
	case "event_id":
		return 0
	case "event_name":
		return 1
	case "source":
		return 2
	case "timestamp":
		return 3
	case "tenant_id":
		return 4
	case "trace_id":
		return 5
	case "version":
		return 6
	case "schema":
		return 7
	}
	return -1
}

// mustBeUnique reports the extra headers that may occur at most once: the
// service token, whose ambiguity would be a security hole, and everything
// Spine defines. traceparent and tracestate are not among them: W3C Trace
// Context treats a repeated traceparent as absent (a new trace starts), and a
// tracing glitch must not send a business event to the DLQ.
func mustBeUnique(name string) bool {
	return name == HeaderAuthorization || strings.HasPrefix(name, HeaderPrefix)
}

// forbiddenName reports header names no record may carry: the Redis
// transport stores the key and the value as stream fields of these names,
// next to the headers, and many Redis clients read an entry as a map.
func forbiddenName(name string) bool { return name == "key" || name == "value" }
