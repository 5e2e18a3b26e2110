// Package pgtest gives tests throwaway tables on the shared test PostgreSQL
// server (SPINE_TEST_POSTGRES): a fresh name, dropped when the test ends, so
// runs never see each other's rows.
package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Table returns a new table name, prefix plus 8 random hex digits, and
// drops the table at t's cleanup. Register it before whatever opens the
// table, so that closes first (cleanups run last-in, first-out).
func Table(t testing.TB, url, prefix string) string {
	t.Helper()
	table := prefix + strings.ReplaceAll(uuid.NewString()[:9], "-", "")
	DropAtCleanup(t, url, table)
	return table
}

// DropAtCleanup drops table, if it exists, at t's cleanup.
func DropAtCleanup(t testing.TB, url, table string) {
	t.Cleanup(func() { drop(t, url, table) })
}

func drop(t testing.TB, url, table string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", table, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{table}.Sanitize()); err != nil {
		t.Errorf("pgtest: drop %s: %v", table, err)
	}
}
