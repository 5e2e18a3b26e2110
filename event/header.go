package event

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Header is the standard event header of spec §3. Field names on every wire
// (JSON, Kafka record headers, Redis stream fields) are the json tags.
type Header struct {
	EventID   string    `json:"event_id"`   // UUID v4, the deduplication key
	EventName string    `json:"event_name"` // catalog name, e.g. "lead.created"
	Source    string    `json:"source"`     // producing service, e.g. "crm-service"
	Timestamp time.Time `json:"timestamp"`  // RFC 3339, UTC
	TenantID  string    `json:"tenant_id"`  // UUID of the tenant; the partition key
	TraceID   string    `json:"trace_id"`   // W3C trace id: 32 lower-case hex digits
	Version   string    `json:"version"`    // semver of the payload schema
	Schema    string    `json:"schema"`     // schema name, e.g. "crm-lead-schema-v1"
}

// Header field names, as they appear on every wire.
const (
	FieldEventID   = "event_id"
	FieldEventName = "event_name"
	FieldSource    = "source"
	FieldTimestamp = "timestamp"
	FieldTenantID  = "tenant_id"
	FieldTraceID   = "trace_id"
	FieldVersion   = "version"
	FieldSchema    = "schema"
)

// HeaderFields lists the header field names in spec order.
var HeaderFields = [...]string{
	FieldEventID, FieldEventName, FieldSource, FieldTimestamp,
	FieldTenantID, FieldTraceID, FieldVersion, FieldSchema,
}

// TimestampLayout is how timestamps are written: RFC 3339 in UTC with the
// fractional seconds Go needs to round-trip, and none when they are zero.
const TimestampLayout = time.RFC3339Nano

// NewHeader completes h: a fresh event_id, the current UTC time and a fresh
// trace_id are filled in where h leaves them empty. Fields already set win.
// The result is validated.
func NewHeader(h Header) (Header, error) {
	if h.EventID == "" {
		h.EventID = NewEventID()
	}
	if h.Timestamp.IsZero() {
		h.Timestamp = time.Now()
	}
	h.Timestamp = h.Timestamp.UTC()
	if h.TraceID == "" {
		h.TraceID = NewTraceID()
	}
	if err := h.Validate(); err != nil {
		return Header{}, err
	}
	return h, nil
}

// NewEventID returns a fresh event_id: a random (version 4) UUID.
func NewEventID() string { return uuid.NewString() }

// NewTraceID returns a random W3C trace id.
func NewTraceID() string {
	var b [16]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		if b != [16]byte{} {
			return hex.EncodeToString(b[:])
		}
	}
}

const maxNameLen = 128

// Validate checks every header field and reports all violations at once as a
// *ValidationError whose pointers are relative to the header object.
func (h Header) Validate() error {
	var vs []Violation
	add := func(field, format string, args ...any) {
		vs = append(vs, Violation{Pointer: "/" + field, Reason: field + ": " + fmt.Sprintf(format, args...)})
	}

	if err := checkUUID(h.EventID, true); err != nil {
		add(FieldEventID, "%v", err)
	}
	switch {
	case h.EventName == "":
		add(FieldEventName, "is required")
	case len(h.EventName) > maxNameLen || !isEventName(h.EventName):
		add(FieldEventName, "%q is not an event name (lower-case dot-separated words, e.g. lead.created)", clip(h.EventName))
	}
	switch {
	case h.Source == "":
		add(FieldSource, "is required")
	case len(h.Source) > maxNameLen || !isServiceName(h.Source):
		add(FieldSource, "%q is not a service name (lower-case words joined by '-', e.g. crm-service)", clip(h.Source))
	}
	if h.Timestamp.IsZero() {
		add(FieldTimestamp, "is required")
	} else if _, off := h.Timestamp.Zone(); off != 0 {
		add(FieldTimestamp, "%s is not in UTC", h.Timestamp.Format(TimestampLayout))
	}
	if err := checkUUID(h.TenantID, false); err != nil {
		add(FieldTenantID, "%v", err)
	}
	if err := checkTraceID(h.TraceID); err != nil {
		add(FieldTraceID, "%v", err)
	}
	major, verr := checkVersion(h.Version)
	if verr != nil {
		add(FieldVersion, "%v", verr)
	}
	switch schemaMajor, ok := schemaMajor(h.Schema); {
	case h.Schema == "":
		add(FieldSchema, "is required")
	case !ok || len(h.Schema) > maxNameLen:
		add(FieldSchema, "%q is not a schema name (e.g. crm-lead-schema-v1)", clip(h.Schema))
	case verr == nil && schemaMajor != major:
		add(FieldSchema, "%q is for major version %s but version is %s", h.Schema, schemaMajor, h.Version)
	}

	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Event: h.EventName, Part: PartHeader, Violations: vs}
}

// checkUUID accepts only the canonical 36-character form; v4 demands a
// random (version 4, RFC 4122 variant) UUID.
func checkUUID(s string, v4 bool) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 || strings.ToLower(s) != s {
		return fmt.Errorf("%q is not a canonical lower-case UUID", clip(s))
	}
	if u.Variant() != uuid.RFC4122 {
		return fmt.Errorf("%q is not an RFC 4122 UUID", s)
	}
	if v4 && u.Version() != 4 {
		return fmt.Errorf("%q is a version %d UUID, want version 4", s, u.Version())
	}
	return nil
}

func checkTraceID(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	if len(s) != 32 {
		return fmt.Errorf("%q is not a W3C trace id (32 lower-case hex digits)", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%q is not a W3C trace id (32 lower-case hex digits)", s)
		}
	}
	if s == "00000000000000000000000000000000" {
		return fmt.Errorf("the all-zero trace id is invalid")
	}
	return nil
}

// checkVersion validates a semver and returns its major part.
func checkVersion(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("is required")
	}
	major, ok := semverMajor(s)
	if !ok || len(s) > maxNameLen {
		return "", fmt.Errorf("%q is not a semantic version (e.g. 1.0.0)", clip(s))
	}
	if _, err := strconv.Atoi(major); err != nil {
		return "", fmt.Errorf("%q has a major version out of range", s)
	}
	return major, nil
}

// clip keeps hostile input from flooding error messages and logs.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
