package pginbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/dedup"
)

// Beginner starts transactions: *pgxpool.Pool, *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// HandlerFunc handles one event inside tx. It must not commit or roll back
// tx; its error is returned to the bus unchanged.
type HandlerFunc func(ctx context.Context, tx pgx.Tx, m *bus.Message) error

// Option configures Handler.
type Option func(*inbox)

// WithCounters makes the handler count into c (Duplicates, Handled, Failed,
// StoreErrors; InProgress stays 0: a concurrent duplicate waits instead).
func WithCounters(c *dedup.Counters) Option { return func(in *inbox) { in.counters = c } }

// WithLogger sets the logger (default slog.Default()); duplicates are logged
// at debug level.
func WithLogger(l *slog.Logger) Option { return func(in *inbox) { in.log = l } }

type inbox struct {
	db       Beginner
	group    string
	h        HandlerFunc
	counters *dedup.Counters
	log      *slog.Logger
}

const insertSQL = `INSERT INTO ` + Table + ` (consumer_group, event_id, event_name, tenant_id, handled_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (consumer_group, event_id) DO NOTHING`

// rollbackTimeout bounds the rollback of a failed attempt, which runs even
// when the handler's context has ended.
const rollbackTimeout = 10 * time.Second

// Handler returns a bus.Handler that runs h at most once to success per
// event_id and group, in a transaction that also records the event in
// spine_inbox. It panics if db or h is nil or group empty (a wiring
// mistake, found at start-up).
func Handler(db Beginner, group string, h HandlerFunc, opts ...Option) bus.Handler {
	if db == nil || h == nil || group == "" {
		panic("pginbox: Handler needs a database, a consumer group and a handler")
	}
	in := &inbox{db: db, group: group, h: h}
	for _, o := range opts {
		o(in)
	}
	if in.counters == nil {
		in.counters = new(dedup.Counters)
	}
	if in.log == nil {
		in.log = slog.Default()
	}
	return in.handle
}

func (in *inbox) handle(ctx context.Context, m *bus.Message) (err error) {
	hd := m.Header
	tx, err := in.db.Begin(ctx)
	if err != nil {
		in.counters.StoreErrors.Add(1)
		return fmt.Errorf("pginbox: begin (event %s): %w", hd.EventID, err)
	}
	committed, ran := false, false
	// Every way out but a commit rolls back — a panicking handler's too —
	// and a handler that did not return counts as failed.
	defer func() {
		if committed {
			return
		}
		if ran && err == nil {
			in.counters.Failed.Add(1) // panicked
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // the connection is discarded if this fails
	}()

	// A concurrent duplicate blocks here until the first transaction ends.
	tag, err := tx.Exec(ctx, insertSQL, in.group, hd.EventID, hd.EventName, hd.TenantID)
	if err != nil {
		in.counters.StoreErrors.Add(1)
		return fmt.Errorf("pginbox: record event %s: %w", hd.EventID, err)
	}
	if tag.RowsAffected() == 0 {
		in.counters.Duplicates.Add(1)
		in.log.DebugContext(ctx, "duplicate event skipped", "event_id", hd.EventID,
			"event_name", hd.EventName, "group", in.group, "position", m.ID)
		return nil
	}
	ran = true
	if err := in.h(withTx(ctx, tx), tx, m); err != nil {
		in.counters.Failed.Add(1)
		return err // unchanged: a Permanent mark must reach the bus
	}
	if err := tx.Commit(ctx); err != nil {
		// Unknown whether it committed: the redelivery finds out.
		in.counters.StoreErrors.Add(1)
		return fmt.Errorf("pginbox: commit event %s: %w", hd.EventID, err)
	}
	committed = true
	in.counters.Handled.Add(1)
	return nil
}

type txKey struct{}

func withTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// TxFrom returns the inbox transaction of the event a handler's context
// belongs to, for code that gets only the context.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}
