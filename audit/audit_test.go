package audit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/bustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend opens a fresh trail; each open is another handle on the same
// trail (another process, as far as the store can tell). exec runs SQL
// beside the store, "audit_trail" naming the trail's table; unlock drops the
// append-only triggers, as someone with the rights could.
type backend struct {
	name   string
	open   func(t *testing.T) audit.Store
	exec   func(t *testing.T, stmt string) error
	unlock func(t *testing.T)
}

func backends(t *testing.T) []backend {
	return []backend{sqliteBackend(t), postgresBackend(t)}
}

func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "audit.db")
	b := backend{
		name: "sqlite",
		open: func(t *testing.T) audit.Store {
			s, err := audit.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		exec: func(t *testing.T, stmt string) error {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = db.ExecContext(context.Background(), stmt)
			return err
		},
	}
	b.unlock = func(t *testing.T) {
		for _, s := range []string{`DROP TRIGGER audit_trail_no_update`, `DROP TRIGGER audit_trail_no_delete`} {
			if err := b.exec(t, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b
}

func postgresBackend(t *testing.T) backend {
	table := "audit_test_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	b := backend{
		name: "postgres",
		open: func(t *testing.T) audit.Store {
			url := bustest.Service(t, "SPINE_TEST_POSTGRES")
			s, err := audit.OpenPostgres(context.Background(), url, table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = s.Close()
				_ = pgExec(t, url, `DROP TABLE IF EXISTS `+table)
			})
			return s
		},
		exec: func(t *testing.T, stmt string) error {
			return pgExec(t, bustest.Service(t, "SPINE_TEST_POSTGRES"), strings.ReplaceAll(stmt, "audit_trail", table))
		},
	}
	b.unlock = func(t *testing.T) {
		if err := b.exec(t, `ALTER TABLE audit_trail DISABLE TRIGGER USER`); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func pgExec(t *testing.T, url, stmt string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

func entry(i int) audit.Entry {
	return audit.Entry{
		Actor: "ops-alice", Action: "dlq.replay", EventID: uuid.NewString(), EventName: "lead.created",
		TenantID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Outcome: "replayed",
		Detail: json.RawMessage(fmt.Sprintf(`{ "dlq": "lead.created.dlq/0/%d", "reason": "fixed" }`, i)),
	}
}

func TestAppendChainsAndVerifies(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			if n, err := audit.Verify(ctx, s); err != nil || n != 0 {
				t.Fatalf("empty trail: %d rows, %v", n, err)
			}
			first, err := s.Append(ctx, entry(0), entry(1))
			if err != nil {
				t.Fatal(err)
			}
			if first[0].ID != 1 || first[0].PrevHash != audit.Genesis || first[1].PrevHash != first[0].Hash {
				t.Fatalf("chain not linked: %+v", first)
			}
			if string(first[0].Detail) != `{"dlq":"lead.created.dlq/0/0","reason":"fixed"}` {
				t.Errorf("detail not compacted: %s", first[0].Detail)
			}
			at := time.Date(2025, 10, 24, 14, 0, 0, 123456789, time.UTC)
			e := entry(2)
			e.At, e.EventID, e.Detail = at, "", nil
			more, err := s.Append(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if more[0].ID != 3 || !more[0].At.Equal(at.Truncate(time.Microsecond)) || string(more[0].Detail) != "{}" {
				t.Errorf("row 3 = %+v", more[0])
			}
			rows, err := s.Rows(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := append(first, more...)
			if len(rows) != 3 {
				t.Fatalf("%d rows, want 3", len(rows))
			}
			for i := range rows {
				if !rowsEqual(rows[i], want[i]) {
					t.Errorf("row %d read back as\n%+v\nwritten\n%+v", i+1, rows[i], want[i])
				}
			}
			if n, err := audit.Verify(ctx, s); err != nil || n != 3 {
				t.Fatalf("verify: %d rows, %v", n, err)
			}
		})
	}
}

func rowsEqual(a, b audit.Entry) bool {
	return a.ID == b.ID && a.At.Equal(b.At) && a.Actor == b.Actor && a.Action == b.Action &&
		a.EventID == b.EventID && a.EventName == b.EventName && a.TenantID == b.TenantID &&
		a.Outcome == b.Outcome && string(a.Detail) == string(b.Detail) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

func TestRefusesInvalidEntries(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			for name, e := range map[string]audit.Entry{
				"no actor":          {Action: "a", Outcome: "o"},
				"detail not JSON":   {Actor: "x", Action: "a", Outcome: "o", Detail: json.RawMessage(`{`)},
				"detail not object": {Actor: "x", Action: "a", Outcome: "o", Detail: json.RawMessage(`[1]`)},
			} {
				if _, err := s.Append(context.Background(), entry(0), e); !errors.Is(err, audit.ErrInvalid) {
					t.Errorf("%s: %v, want ErrInvalid", name, err)
				}
			}
			if rows, _ := s.Rows(context.Background(), 0, 0); len(rows) != 0 {
				t.Errorf("a refused append wrote %d rows", len(rows))
			}
		})
	}
}

// Writers in several "processes" (store handles) append at once: the chain
// stays one line, every row exactly once.
func TestConcurrentAppendersKeepOneChain(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			stores := []audit.Store{b.open(t), b.open(t), b.open(t)}
			const each = 10
			var wg sync.WaitGroup
			errs := make(chan error, len(stores)*each)
			for _, s := range stores {
				wg.Go(func() {
					for i := range each {
						if _, err := s.Append(ctx, entry(i)); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n, err := audit.Verify(ctx, stores[0]); err != nil || n != int64(len(stores)*each) {
				t.Fatalf("verify: %d rows, %v", n, err)
			}
		})
	}
}

func TestAppendOnlyAndTamperEvident(t *testing.T) {
	cases := []struct {
		name string
		sql  string
	}{
		{"edited", `UPDATE audit_trail SET actor = 'mallory' WHERE id = 2`},
		{"deleted", `DELETE FROM audit_trail WHERE id = 2`},
		{"rehashed", `UPDATE audit_trail SET actor = 'mallory', hash = 'x' WHERE id = 2`},
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			if _, err := s.Append(ctx, entry(0)); err != nil {
				t.Fatal(err)
			}
			// The triggers refuse changes to written rows.
			for _, stmt := range []string{`UPDATE audit_trail SET actor = 'mallory'`, `DELETE FROM audit_trail`} {
				if err := b.exec(t, stmt); err == nil {
					t.Errorf("%s succeeded on the append-only trail", stmt)
				}
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range backends(t) {
				t.Run(b.name, func(t *testing.T) {
					ctx := context.Background()
					s := b.open(t)
					if _, err := s.Append(ctx, entry(0), entry(1), entry(2)); err != nil {
						t.Fatal(err)
					}
					b.unlock(t)
					if err := b.exec(t, tc.sql); err != nil {
						t.Fatal(err)
					}
					// A row appended after the tampering links to the
					// damaged chain, which stays detectable.
					if _, err := s.Append(ctx, entry(3)); err != nil {
						t.Fatal(err)
					}
					_, err := audit.Verify(ctx, s)
					var ce *audit.ChainError
					if !errors.As(err, &ce) || ce.ID < 2 || ce.ID > 4 {
						t.Fatalf("verify after the row was %s: %v", tc.name, err)
					}
				})
			}
		})
	}
}
