package payload

// Payload is implemented by every generated payload type. The publish helper
// reads the event name and schema version from it, so a payload cannot be
// sent under the wrong event or announce a version it was not built from.
type Payload interface {
	// EventName returns the catalog name, e.g. "lead.created".
	EventName() string
	// SchemaVersion returns the semver of the schema the type was generated
	// from, e.g. "1.0.0"; it goes in the header's version field.
	SchemaVersion() string
}
