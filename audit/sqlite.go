package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo
)

// SQLite is the audit trail in a SQLite file: the default of a single machine
// (`spine dev`, an operator's laptop).
type SQLite struct {
	db  *sql.DB
	now func() time.Time
}

var _ Store = (*SQLite)(nil)

// sqliteBusyTimeout is how long a writer waits for another process's write
// transaction before it gives up.
const sqliteBusyTimeout = 10 * time.Second

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS audit_trail (
	id         INTEGER PRIMARY KEY,
	at         TEXT NOT NULL,
	actor      TEXT NOT NULL,
	action     TEXT NOT NULL,
	event_id   TEXT NOT NULL DEFAULT '',
	event_name TEXT NOT NULL DEFAULT '',
	tenant_id  TEXT NOT NULL DEFAULT '',
	outcome    TEXT NOT NULL,
	detail     TEXT NOT NULL,
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_trail_event_id ON audit_trail (event_id);
CREATE INDEX IF NOT EXISTS audit_trail_at ON audit_trail (at);
CREATE TRIGGER IF NOT EXISTS audit_trail_no_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'audit_trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_trail_no_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'audit_trail is append-only'); END;
`

// OpenSQLite opens (creating if needed) the trail in the SQLite file at path.
// The directory must exist.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	// _txlock=immediate takes the write lock at BEGIN: two processes
	// appending at once then queue (busy_timeout) instead of both reading
	// the same last row and forking the chain.
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("audit: database path %q: SQLite reads what follows '?' or '#' as parameters", path)
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: create the table in %s: %w", path, err)
	}
	return &SQLite{db: db, now: time.Now}, nil
}

// Append implements Store.
func (s *SQLite) Append(ctx context.Context, entries ...Entry) (_ []Entry, err error) {
	if len(entries) == 0 {
		return nil, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: append: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	lastID, lastHash := int64(0), Genesis
	err = tx.QueryRowContext(ctx, `SELECT id, hash FROM audit_trail ORDER BY id DESC LIMIT 1`).Scan(&lastID, &lastHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("audit: append: last row: %w", err)
	}
	rows, err := chain(lastID, lastHash, s.now(), entries)
	if err != nil {
		return nil, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_trail
		(id, at, actor, action, event_id, event_name, tenant_id, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("audit: append: %w", err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err = stmt.ExecContext(ctx, r.ID, r.At.Format(TimeLayout), r.Actor, r.Action, r.EventID,
			r.EventName, r.TenantID, r.Outcome, string(r.Detail), r.PrevHash, r.Hash); err != nil {
			return nil, fmt.Errorf("audit: append row %d: %w", r.ID, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit: append: commit: %w", err)
	}
	return rows, nil
}

// Rows implements Store.
func (s *SQLite) Rows(ctx context.Context, after int64, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rs, err := s.db.QueryContext(ctx, `SELECT id, at, actor, action, event_id, event_name, tenant_id,
		outcome, detail, prev_hash, hash FROM audit_trail WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: rows: %w", err)
	}
	defer rs.Close()
	var out []Entry
	for rs.Next() {
		var e Entry
		var at, detail string
		if err := rs.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.EventID, &e.EventName, &e.TenantID,
			&e.Outcome, &detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit: rows: %w", err)
		}
		if e.At, err = time.Parse(TimeLayout, at); err != nil {
			return nil, fmt.Errorf("audit: row %d: at %q: %w", e.ID, at, err)
		}
		e.Detail = []byte(detail)
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("audit: rows: %w", err)
	}
	return out, nil
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }
