package dedup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/inopsio/spine/bus"
)

// Counters count what deduplication did. Read them with Stats; one Counters
// may be shared by several middlewares (and by dedup/pginbox).
type Counters struct {
	Duplicates  atomic.Uint64 // skipped: already handled
	InProgress  atomic.Uint64 // deferred: another consumer was handling it
	Handled     atomic.Uint64 // the handler ran and succeeded
	Failed      atomic.Uint64 // the handler ran and failed (or panicked)
	StoreErrors atomic.Uint64 // the store could not answer; the event is redelivered
}

// Stats is a snapshot of Counters.
type Stats struct {
	Duplicates, InProgress, Handled, Failed, StoreErrors uint64
}

// Stats returns the current counts.
func (c *Counters) Stats() Stats {
	return Stats{
		Duplicates:  c.Duplicates.Load(),
		InProgress:  c.InProgress.Load(),
		Handled:     c.Handled.Load(),
		Failed:      c.Failed.Load(),
		StoreErrors: c.StoreErrors.Load(),
	}
}

// Option configures Middleware.
type Option func(*middleware)

// WithCounters makes the middleware count into c.
func WithCounters(c *Counters) Option { return func(m *middleware) { m.counters = c } }

// WithLogger sets the logger (default slog.Default()). Duplicates are logged
// at debug level, store failures at warn.
func WithLogger(l *slog.Logger) Option { return func(m *middleware) { m.log = l } }

// finishTimeout bounds Done and Abort: they run even when the handler's
// context has ended (the outcome is worth recording), but not forever.
const finishTimeout = 10 * time.Second

type middleware struct {
	store    Store
	group    string
	counters *Counters
	log      *slog.Logger
}

// Middleware returns middleware that handles each event at most once to
// success per group, by event_id, using store. It panics if store is nil or
// group empty (a wiring mistake, found at start-up).
func Middleware(store Store, group string, opts ...Option) func(bus.Handler) bus.Handler {
	if store == nil || group == "" {
		panic("dedup: Middleware needs a store and a consumer group")
	}
	mw := &middleware{store: store, group: group}
	for _, o := range opts {
		o(mw)
	}
	if mw.counters == nil {
		mw.counters = new(Counters)
	}
	if mw.log == nil {
		mw.log = slog.Default()
	}
	return func(next bus.Handler) bus.Handler {
		return func(ctx context.Context, m *bus.Message) error { return mw.handle(ctx, next, m) }
	}
}

func (mw *middleware) handle(ctx context.Context, next bus.Handler, m *bus.Message) error {
	id := m.Header.EventID
	c, err := mw.store.Begin(ctx, mw.group, id)
	if err != nil {
		mw.counters.StoreErrors.Add(1)
		return fmt.Errorf("dedup: claim event %s for group %s: %w", id, mw.group, err)
	}
	switch c.Status {
	case Duplicate:
		mw.counters.Duplicates.Add(1)
		mw.log.DebugContext(ctx, "duplicate event skipped", "event_id", id,
			"event_name", m.Header.EventName, "group", mw.group, "position", m.ID)
		return nil
	case InProgress:
		mw.counters.InProgress.Add(1)
		return fmt.Errorf("event %s, group %s: %w", id, mw.group, ErrInProgress)
	case Claimed:
		if c.Token == nil {
			return fmt.Errorf("dedup: claim of event %s without a token", id)
		}
	default:
		return fmt.Errorf("dedup: claim of event %s: unknown status %d", id, c.Status)
	}

	// A panicking handler must give up its claim too: the bus turns the
	// panic into a dead letter, and a replay of it must not find the claim
	// in progress. No recover: the panic goes on with its own stack.
	finished := false
	defer func() {
		if !finished {
			mw.counters.Failed.Add(1)
			mw.abort(ctx, c.Token, m)
		}
	}()
	err = next(ctx, m)
	finished = true
	if err != nil {
		mw.counters.Failed.Add(1)
		mw.abort(ctx, c.Token, m)
		return err // unchanged: a Permanent mark must reach the bus
	}
	mw.counters.Handled.Add(1)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := c.Token.Done(fctx); err != nil {
		// The handler's work is done: acknowledge it either way. Without
		// the record a redelivery may run it again — at-least-once, as
		// without deduplication.
		msg := "could not record the event as handled; a redelivery would run it again"
		if errors.Is(err, ErrLeaseLost) {
			msg = "the claim expired while the handler ran; another consumer may have handled the event too"
		}
		mw.log.WarnContext(ctx, msg, "event_id", m.Header.EventID, "group", mw.group, "error", err)
	}
	return nil
}

func (mw *middleware) abort(ctx context.Context, t Token, m *bus.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := t.Abort(ctx); err != nil {
		mw.log.WarnContext(ctx, "could not release the claim; the event waits for its lease to expire",
			"event_id", m.Header.EventID, "group", mw.group, "error", err)
	}
}
