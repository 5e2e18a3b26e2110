package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTable is the PostgreSQL table of the keyring.
const DefaultTable = "spine_keys"

// PostgresStore keeps the wrapped DEKs in a PostgreSQL table, for
// production: every instance of every service shares it. A version is
// created with INSERT … ON CONFLICT DO NOTHING on the primary key (tenant_id,
// version), so of two instances rotating at once exactly one succeeds.
// Shred sets wrapped to NULL: the old row version stays in the table's
// files until VACUUM, and in WAL archives and backups (see the package
// comment).
type PostgresStore struct {
	pool  *pgxpool.Pool
	table string // sanitized, possibly schema-qualified
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgresStore connects to the database at url (a postgres:// URL or
// a key=value DSN) and creates the table if it does not exist. table is
// DefaultTable when empty; it may be schema-qualified ("ops.spine_keys").
func OpenPostgresStore(ctx context.Context, url, table string) (*PostgresStore, error) {
	if table == "" {
		table = DefaultTable
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("keys: postgres: the URL does not parse")
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("keys: postgres: %w", err)
	}
	s := &PostgresStore{pool: pool, table: pgx.Identifier(strings.Split(table, ".")).Sanitize()}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *PostgresStore) migrate(ctx context.Context) error {
	// Concurrent first runs would race on the catalog; one lock serializes
	// them.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("keys: create %s: %w", s.table, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('spine.keys.migrate'))`,
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
			tenant_id   text        NOT NULL,
			version     integer     NOT NULL CHECK (version > 0),
			created_at  timestamptz NOT NULL,
			kek         text        NOT NULL DEFAULT '',
			wrapped     bytea,
			shredded_at timestamptz,
			PRIMARY KEY (tenant_id, version),
			CHECK ((wrapped IS NULL) = (shredded_at IS NOT NULL))
		)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("keys: create %s: %w", s.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("keys: create %s: %w", s.table, err)
	}
	return nil
}

const pgColumns = `tenant_id, version, created_at, kek, wrapped, shredded_at`

// Versions implements Store.
func (s *PostgresStore) Versions(ctx context.Context, tenant string) ([]Record, error) {
	return s.query(ctx, `SELECT `+pgColumns+` FROM `+s.table+` WHERE tenant_id = $1 ORDER BY version`, tenant)
}

// Version implements Store.
func (s *PostgresStore) Version(ctx context.Context, tenant string, version int) (Record, error) {
	recs, err := s.query(ctx, `SELECT `+pgColumns+` FROM `+s.table+` WHERE tenant_id = $1 AND version = $2`, tenant, version)
	if err != nil {
		return Record{}, err
	}
	if len(recs) == 0 {
		return Record{}, fmt.Errorf("%w: tenant %q has no version %d", ErrUnknownVersion, tenant, version)
	}
	return recs[0], nil
}

// Insert implements Store.
func (s *PostgresStore) Insert(ctx context.Context, rec Record) (bool, error) {
	if err := rec.check(); err != nil {
		return false, err
	}
	var shredded *time.Time
	if rec.IsShredded() {
		shredded = &rec.Shredded
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (`+pgColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, version) DO NOTHING`,
		rec.Tenant, rec.Version, rec.Created, rec.KEK, rec.Wrapped, shredded)
	if err != nil {
		return false, fmt.Errorf("keys: postgres: insert tenant %q version %d: %w", rec.Tenant, rec.Version, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Shred implements Store.
func (s *PostgresStore) Shred(ctx context.Context, tenant string, at time.Time) ([]int, error) {
	rows, err := s.pool.Query(ctx, `UPDATE `+s.table+` SET wrapped = NULL, kek = '', shredded_at = $2
		WHERE tenant_id = $1 AND wrapped IS NOT NULL RETURNING version`, tenant, at)
	if err != nil {
		return nil, fmt.Errorf("keys: postgres: shred tenant %q: %w", tenant, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("keys: postgres: shred tenant %q: %w", tenant, err)
	}
	slices.Sort(versions) // RETURNING has no order
	return versions, nil
}

// Rewrap implements Store with one UPDATE whose WHERE is the compare, so
// that it is atomic against every other writer. When it matches no row, a
// second read says why (for the error only: nothing is written then).
func (s *PostgresStore) Rewrap(ctx context.Context, old Record, kek string, wrapped []byte) error {
	if err := checkRewrap(old, kek, wrapped); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table+` SET kek = $5, wrapped = $6
		WHERE tenant_id = $1 AND version = $2 AND kek = $3 AND wrapped = $4 AND shredded_at IS NULL`,
		old.Tenant, old.Version, old.KEK, old.Wrapped, kek, wrapped)
	if err != nil {
		return fmt.Errorf("keys: postgres: rewrap tenant %q version %d: %w", old.Tenant, old.Version, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	cur, err := s.Version(ctx, old.Tenant, old.Version)
	if err != nil {
		return err
	}
	if err := compareForRewrap(cur, old); err != nil {
		return err
	}
	// Changed and changed back between the UPDATE and the read: still a
	// conflict, as far as this rewrap knows.
	return fmt.Errorf("%w: tenant %q version %d changed during the rewrap; not rewrapped", ErrConflict, old.Tenant, old.Version)
}

// All implements Store.
func (s *PostgresStore) All(ctx context.Context) ([]Record, error) {
	return s.query(ctx, `SELECT `+pgColumns+` FROM `+s.table+` ORDER BY tenant_id COLLATE "C", version`)
}

// Close implements Store.
func (s *PostgresStore) Close() error {
	s.pool.Close()
	return nil
}

func (s *PostgresStore) query(ctx context.Context, q string, args ...any) ([]Record, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("keys: postgres: %w", err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var shredded *time.Time
		if err := row.Scan(&r.Tenant, &r.Version, &r.Created, &r.KEK, &r.Wrapped, &shredded); err != nil {
			return r, err
		}
		r.Created = r.Created.UTC()
		if shredded != nil {
			r.Shredded = shredded.UTC()
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("keys: postgres: %w", err)
	}
	return recs, nil
}
