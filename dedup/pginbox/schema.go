package pginbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inopsio/spine/dedup"
)

// Table is the inbox table.
const Table = "spine_inbox"

// migrateLock is the advisory lock that serialises concurrent Migrate calls:
// CREATE ... IF NOT EXISTS alone can still collide in the catalog when two
// instances start together.
const migrateLock = 0x5350494e45 // "SPINE"

var migrations = []string{
	`SELECT pg_advisory_xact_lock(` + fmt.Sprint(migrateLock) + `)`,
	`CREATE TABLE IF NOT EXISTS ` + Table + ` (
	consumer_group text        NOT NULL,
	event_id       uuid        NOT NULL,
	event_name     text        NOT NULL,
	tenant_id      uuid        NOT NULL,
	handled_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer_group, event_id)
)`,
	`CREATE INDEX IF NOT EXISTS ` + Table + `_handled_at_idx ON ` + Table + ` (handled_at)`,
}

// Migrate creates the inbox table and its index if they do not exist. It is
// idempotent and safe to call from several instances at once.
func Migrate(ctx context.Context, db Beginner) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, q := range migrations {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pginbox: migrate: %w", err)
	}
	return nil
}

// Execer runs statements: *pgxpool.Pool, *pgx.Conn, pgx.Tx.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// ErrRetentionTooShort is wrapped by Prune for a retention under
// dedup.DefaultTTL, the dead-letter retention.
var ErrRetentionTooShort = errors.New("pginbox: retention shorter than the dead-letter retention")

// pruneBatch bounds the rows one DELETE removes, so pruning a large backlog
// holds no long locks and produces no huge transaction.
const pruneBatch = 10_000

const pruneSQL = `DELETE FROM ` + Table + ` WHERE (consumer_group, event_id) IN (
	SELECT consumer_group, event_id FROM ` + Table + `
	WHERE handled_at < now() - make_interval(secs => $1) LIMIT $2)`

// Prune deletes the inbox rows of events handled more than olderThan ago, in
// batches, and returns how many it deleted. olderThan must be at least
// dedup.DefaultTTL: a replayed dead letter must still find its row.
func Prune(ctx context.Context, db Execer, olderThan time.Duration) (int64, error) {
	if olderThan < dedup.DefaultTTL {
		return 0, fmt.Errorf("%w: %v is under %v", ErrRetentionTooShort, olderThan, dedup.DefaultTTL)
	}
	var total int64
	for {
		tag, err := db.Exec(ctx, pruneSQL, olderThan.Seconds(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("pginbox: prune: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}
