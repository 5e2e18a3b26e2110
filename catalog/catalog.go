package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"
)

//go:embed catalog.yaml schemas
var embedded embed.FS

// Category groups events by the taxonomy of spec §2.
type Category string

const (
	Core      Category = "core"
	CRM       Category = "crm"
	ERP       Category = "erp"
	Workflow  Category = "workflow"
	InoSec    Category = "inosec"
	Analytics Category = "analytics"
	// Bridge events are what the WebSocket bridge (spec §7) pushes to
	// dashboards; they are fed by domain events.
	Bridge Category = "bridge"
)

// Ordering is how strictly events of one partition key must be handled in
// order when one of them fails and is retried.
type Ordering string

const (
	// NonBlocking parks a failed event on a retry topic and lets later events
	// of the same key go ahead: throughput first.
	NonBlocking Ordering = "non-blocking"
	// Strict holds later events of the same key until the failed one is
	// handled or dead-lettered; other keys keep flowing.
	Strict Ordering = "strict"
)

// Event is one catalog entry.
type Event struct {
	Name        string
	Category    Category
	Layer       string // taxonomy layer, e.g. "Sales pipeline"
	Description string
	Topic       string
	Source      string   // the one service allowed to produce it
	Consumers   []string // services allowed to consume it
	SchemaName  string   // e.g. "crm-lead-schema-v1"
	// Versions of the payload schema, oldest first; the last is current.
	Versions     []*SchemaVersion
	PartitionKey string // payload field whose value keys the record
	Retry        RetryPolicy
	// Bridge is the bridge event this event feeds, if any.
	Bridge string
	// Destination is, for bridge events, the dashboard that receives it.
	Destination string
	// FedBy lists, for bridge events, the events that feed it.
	FedBy []string
}

// SchemaVersion is one immutable version of an event's payload schema.
type SchemaVersion struct {
	Event   string
	Version string // semver, as carried in the header's version field
	Path    string // path of the schema file within the catalog FS
	Schema  []byte // the JSON Schema document
	// PII lists the paths of fields tagged "confluent:tags": ["PII"]: a
	// property name, with '.' between the names of nested objects.
	PII []string
}

// RetryPolicy says how failed handling of an event is retried.
type RetryPolicy struct {
	Ordering Ordering
	Delays   []time.Duration // delay before each retry; then the DLQ
	Why      string          // the domain reason for this choice
}

// Current returns the newest schema version.
func (e *Event) Current() *SchemaVersion { return e.Versions[len(e.Versions)-1] }

// Version returns the schema version v, or nil.
func (e *Event) Version(v string) *SchemaVersion {
	for _, sv := range e.Versions {
		if sv.Version == v {
			return sv
		}
	}
	return nil
}

// PII returns the PII fields of the current schema.
func (e *Event) PII() []string { return e.Current().PII }

// Catalog is a loaded, checked catalog. It is immutable.
type Catalog struct {
	events []*Event
	byName map[string]*Event
}

// Events returns every event in catalog order.
func (c *Catalog) Events() []*Event { return slices.Clone(c.events) }

// Lookup returns the event called name.
func (c *Catalog) Lookup(name string) (*Event, bool) {
	e, ok := c.byName[name]
	return e, ok
}

// Event returns the event called name or an *UnknownEventError.
func (c *Catalog) Event(name string) (*Event, error) {
	if e, ok := c.byName[name]; ok {
		return e, nil
	}
	return nil, &UnknownEventError{Name: name}
}

// UnknownEventError reports an event name that is not in the catalog.
type UnknownEventError struct{ Name string }

func (e *UnknownEventError) Error() string {
	return fmt.Sprintf("unknown event %q: not in the catalog (see `spine catalog list`)", e.Name)
}

var loadDefault = sync.OnceValues(func() (*Catalog, error) { return Load(embedded) })

// Default returns the catalog embedded in this build.
func Default() (*Catalog, error) { return loadDefault() }

// MustDefault is Default for program start-up and tests: the embedded catalog
// is checked by the test suite, so failing here is a build defect.
func MustDefault() *Catalog {
	c, err := Default()
	if err != nil {
		panic(err)
	}
	return c
}

// FS returns the embedded catalog files (catalog.yaml and schemas/).
func FS() fs.FS { return embedded }
