package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/registry"
)

// Client publishes and consumes events through a Transport. It is safe for
// concurrent use. It does not own the transport: whoever created the
// transport closes it, after the client's last call returned.
type Client struct {
	transport Transport
	cat       *catalog.Catalog
	validator *schema.Validator
	ids       SchemaIDs
	source    string
	tracer    trace.Tracer
	tracing   bool // a TracerProvider was given: spans are recorded
	log       *slog.Logger
	// retryDelays replaces every event's catalog retry schedule when set.
	retryDelays []time.Duration
	stats       stats
	firsts      firstFailures // of events retried in place

	pii          PIICipher
	plaintextPII bool
	tokens       TokenSource
	verifier     TokenVerifier
	audit        audit.Store
	actor        string
	redactor     *pii.Cipher // redaction only: no keys
}

// Option configures a Client.
type Option func(*Client)

// WithSource names the service the client works for: it may publish only
// the events the catalog says it produces, and subscribe only to topics
// whose events list it as a consumer. Without it, each event is sent under
// its catalog producer's name and any topic may be read (tools and tests).
func WithSource(service string) Option { return func(c *Client) { c.source = service } }

// WithSchemaIDs sets how schema ids are resolved; the default is the local
// registry's catalog-derived ids, right for the embedded broker. Against a
// Confluent registry use NewRegistryIDs.
func WithSchemaIDs(ids SchemaIDs) Option { return func(c *Client) { c.ids = ids } }

// WithValidator sets the validator, and with it the catalog.
func WithValidator(v *schema.Validator) Option { return func(c *Client) { c.validator = v } }

// WithTracerProvider sets where spans go (default: none are recorded, but
// trace ids still propagate).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) {
		c.tracer = tp.Tracer("github.com/inopsio/spine/bus")
		c.tracing = true
	}
}

// WithRetryDelays replaces the catalog's retry schedule for every event:
// after the first failure the event is retried once after each delay, then
// dead-lettered. Tests use it to run the schedule scaled down.
func WithRetryDelays(delays ...time.Duration) Option {
	return func(c *Client) { c.retryDelays = append([]time.Duration{}, delays...) }
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New returns a client over t using the embedded catalog unless told
// otherwise.
func New(t Transport, opts ...Option) (*Client, error) {
	c := &Client{transport: t, tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.validator == nil {
		cat, err := catalog.Default()
		if err != nil {
			return nil, err
		}
		if c.validator, err = schema.NewValidator(cat); err != nil {
			return nil, err
		}
	}
	c.cat = c.validator.Catalog()
	var err error
	if c.redactor, err = pii.New(c.cat, noKeys{}); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if c.ids == nil {
		l, err := registry.NewLocal(c.cat)
		if err != nil {
			return nil, fmt.Errorf("bus: local schema ids: %w", err)
		}
		c.ids = localIDs{l}
	}
	return c, nil
}

// Catalog returns the catalog the client checks events against.
func (c *Client) Catalog() *catalog.Catalog { return c.cat }

// Publisher is what a service needs to send events; *Client implements it.
type Publisher interface {
	Publish(ctx context.Context, events ...Outgoing) ([]Published, error)
}

// Subscriber is what a service needs to receive events; *Client implements
// it.
type Subscriber interface {
	Subscribe(ctx context.Context, sub Subscription, h Handler) error
}

var (
	_ Publisher  = (*Client)(nil)
	_ Subscriber = (*Client)(nil)
)

// Handler handles one event. The context carries the event's header
// (HeaderFrom, TenantFrom) and its trace. Return nil when handled; an error
// marked Permanent sends the event to its dead-letter topic; any other error
// has it retried on the event's catalog schedule (0.5 s, 2 s, 8 s, 32 s;
// WithRetryDelays changes it) while later events of its key wait, and
// dead-lettered when the schedule is spent.
type Handler func(ctx context.Context, m *Message) error
