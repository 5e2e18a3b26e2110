package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTable is the table of the audit trail in PostgreSQL (spec §9).
const DefaultTable = "audit_trail"

// Postgres is the audit trail in a PostgreSQL table: what a platform with
// several operators and services shares.
type Postgres struct {
	pool  *pgxpool.Pool
	table string // sanitized, possibly schema-qualified
	now   func() time.Time
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value DSN) and creates the table if it does not exist. table is
// DefaultTable when empty; it may be schema-qualified ("ops.audit_trail").
func OpenPostgres(ctx context.Context, url, table string) (*Postgres, error) {
	if table == "" {
		table = DefaultTable
	}
	ident := pgx.Identifier(strings.Split(table, "."))
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("audit: postgres URL: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: postgres: %w", err)
	}
	p := &Postgres{pool: pool, table: ident.Sanitize(), now: time.Now}
	if err := p.migrate(ctx, ident); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

func (p *Postgres) migrate(ctx context.Context, ident pgx.Identifier) error {
	// The index and trigger names derive from the table's own name so that
	// several trails (one per test, or per environment) can share a schema.
	base := ident[len(ident)-1]
	idx := func(suffix string) string { return pgx.Identifier{base + suffix}.Sanitize() }
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + p.table + ` (
			id         bigint PRIMARY KEY,
			at         timestamptz NOT NULL,
			actor      text NOT NULL,
			action     text NOT NULL,
			event_id   text NOT NULL DEFAULT '',
			event_name text NOT NULL DEFAULT '',
			tenant_id  text NOT NULL DEFAULT '',
			outcome    text NOT NULL,
			detail     json NOT NULL,
			prev_hash  text NOT NULL,
			hash       text NOT NULL UNIQUE
		)`,
		`CREATE INDEX IF NOT EXISTS ` + idx("_event_id") + ` ON ` + p.table + ` (event_id)`,
		`CREATE INDEX IF NOT EXISTS ` + idx("_at") + ` ON ` + p.table + ` (at)`,
		// json, not jsonb: json keeps the detail's bytes as written, and the
		// hash covers those bytes.
		`CREATE OR REPLACE FUNCTION spine_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`,
		`CREATE OR REPLACE TRIGGER ` + idx("_append_only") + ` BEFORE UPDATE OR DELETE ON ` + p.table +
			` FOR EACH ROW EXECUTE FUNCTION spine_audit_append_only()`,
	}
	// Concurrent first runs would race on the catalog; one lock serializes
	// them.
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit: create %s: %w", p.table, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('spine.audit.migrate'))`); err != nil {
		return fmt.Errorf("audit: create %s: %w", p.table, err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("audit: create %s: %w", p.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit: create %s: %w", p.table, err)
	}
	return nil
}

// Append implements Store.
func (p *Postgres) Append(ctx context.Context, entries ...Entry) ([]Entry, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: append: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit
	// SHARE ROW EXCLUSIVE conflicts with itself and not with readers: one
	// appender at a time reads the last row and extends the chain.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+p.table+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, fmt.Errorf("audit: append: lock: %w", err)
	}
	lastID, lastHash := int64(0), Genesis
	err = tx.QueryRow(ctx, `SELECT id, hash FROM `+p.table+` ORDER BY id DESC LIMIT 1`).Scan(&lastID, &lastHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("audit: append: last row: %w", err)
	}
	rows, err := chain(lastID, lastHash, p.now(), entries)
	if err != nil {
		return nil, err
	}
	var b pgx.Batch
	for _, r := range rows {
		b.Queue(`INSERT INTO `+p.table+` (id, at, actor, action, event_id, event_name, tenant_id, outcome, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			r.ID, r.At, r.Actor, r.Action, r.EventID, r.EventName, r.TenantID, r.Outcome, string(r.Detail), r.PrevHash, r.Hash)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("audit: append: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("audit: append: commit: %w", err)
	}
	return rows, nil
}

// Rows implements Store.
func (p *Postgres) Rows(ctx context.Context, after int64, limit int) ([]Entry, error) {
	q := `SELECT id, at, actor, action, event_id, event_name, tenant_id, outcome, detail::text, prev_hash, hash
		FROM ` + p.table + ` WHERE id > $1 ORDER BY id`
	args := []any{after}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rs, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: rows: %w", err)
	}
	out, err := pgx.CollectRows(rs, func(row pgx.CollectableRow) (Entry, error) {
		var e Entry
		var detail string
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.EventID, &e.EventName, &e.TenantID,
			&e.Outcome, &detail, &e.PrevHash, &e.Hash)
		e.At = e.At.UTC()
		e.Detail = []byte(detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: rows: %w", err)
	}
	return out, nil
}

// Close implements Store.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}
