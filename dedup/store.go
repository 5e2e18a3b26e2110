package dedup

import (
	"context"
	"errors"
	"time"
)

// Store remembers which events a consumer group has handled. Implementations
// are safe for concurrent use.
type Store interface {
	// Begin claims (group, eventID) for handling; see the package
	// documentation for the protocol. An error means the store could not
	// answer; the caller must not run the handler.
	Begin(ctx context.Context, group, eventID string) (Claim, error)
}

// Status is what Begin found.
type Status uint8

// Begin's answers.
const (
	// Claimed: run the handler, then call exactly one of Token.Done and
	// Token.Abort.
	Claimed Status = iota + 1
	// Duplicate: the event was handled already; skip it.
	Duplicate
	// InProgress: another consumer is handling the event; try again later.
	InProgress
)

func (s Status) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Duplicate:
		return "duplicate"
	case InProgress:
		return "in progress"
	}
	return "unknown"
}

// Claim is the outcome of Begin.
type Claim struct {
	Status Status
	// Token finishes a Claimed claim; nil for any other status.
	Token Token
}

// Token is one claim in progress. Exactly one of its methods is called,
// once.
type Token interface {
	// Done records the event as handled for the store's TTL. It returns an
	// error wrapping ErrLeaseLost when the claim had expired or been evicted
	// before (the event is recorded as done all the same).
	Done(ctx context.Context) error
	// Abort forgets the claim, if it is still ours, so that the event can
	// be handled again.
	Abort(ctx context.Context) error
}

// Defaults.
const (
	// DefaultTTL is how long a handled event is remembered: at least the
	// retention of the dead-letter topics (seven days), so a replay of a
	// dead letter that had been handled meanwhile is still recognised.
	DefaultTTL = 7 * 24 * time.Hour
	// DefaultLease is how long an in-progress claim lives: when the consumer
	// holding it crashed, another may handle the event after this.
	DefaultLease = 5 * time.Minute
	// DefaultMaxEntries bounds the memory store (about 200 bytes an entry).
	DefaultMaxEntries = 100_000
)

var (
	// ErrInProgress is wrapped by the middleware's error for an event
	// another consumer is handling: the event is delivered again later.
	ErrInProgress = errors.New("dedup: event is being handled by another consumer")
	// ErrLeaseLost is wrapped by Token.Done when the claim had expired
	// before the handler finished: another consumer may have handled the
	// event too.
	ErrLeaseLost = errors.New("dedup: claim expired before the handler finished")
	// ErrTTLTooShort is wrapped by NewRedis for a TTL under DefaultTTL.
	ErrTTLTooShort = errors.New("dedup: TTL shorter than the dead-letter retention")
)

// StoreOption configures NewMemory and NewRedis.
type StoreOption func(*storeConfig)

type storeConfig struct {
	lease         time.Duration
	maxEntries    int
	allowShortTTL bool
	now           func() time.Time
}

func newStoreConfig(opts []StoreOption) storeConfig {
	c := storeConfig{lease: DefaultLease, maxEntries: DefaultMaxEntries, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithLease sets how long an in-progress claim lives (default DefaultLease).
// Choose it above the slowest handler's run.
func WithLease(d time.Duration) StoreOption { return func(c *storeConfig) { c.lease = d } }

// WithMaxEntries bounds the memory store: beyond n entries the oldest is
// evicted (default DefaultMaxEntries). Ignored by the Redis store, which
// Redis's own maxmemory policy bounds.
func WithMaxEntries(n int) StoreOption { return func(c *storeConfig) { c.maxEntries = n } }

// AllowShortTTL lets NewRedis accept a TTL under DefaultTTL: for tests, or a
// deployment whose dead letters are kept for less.
func AllowShortTTL() StoreOption { return func(c *storeConfig) { c.allowShortTTL = true } }
