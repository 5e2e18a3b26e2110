package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/bustest"
)

// tamperings are what someone with the rights to drop the append-only
// triggers could do to a trail of four rows, and the row Verify must name.
var tamperings = []struct {
	name   string
	stmts  func(rows []audit.Entry) []string
	row    string // "row N" in the report
	reason string
}{
	{"intact", nil, "", ""},
	{"edited", func([]audit.Entry) []string {
		return []string{`UPDATE audit_trail SET outcome = 'purged' WHERE id = 2`}
	}, "row 2", "hash does not match"},
	{"deleted", func([]audit.Entry) []string {
		return []string{`DELETE FROM audit_trail WHERE id = 2`}
	}, "row 3", "a row is missing"},
	{"reordered", func([]audit.Entry) []string { // rows 2 and 3 trade places
		return []string{
			`UPDATE audit_trail SET id = -2 WHERE id = 2`,
			`UPDATE audit_trail SET id = 2 WHERE id = 3`,
			`UPDATE audit_trail SET id = 3 WHERE id = -2`,
		}
	}, "row 2", "prev_hash is not the hash of the row before"},
	{"edited and rehashed", func(rows []audit.Entry) []string {
		// The hash is public: row 3 is edited and given its correct new
		// hash, so only the link from row 4 betrays it.
		e := rows[2]
		e.Actor = "mallory"
		return []string{fmt.Sprintf(`UPDATE audit_trail SET actor = 'mallory', hash = '%s' WHERE id = 3`, audit.Hash(e.PrevHash, e))}
	}, "row 4", "prev_hash is not the hash of the row before"},
}

func appendRows(t *testing.T, s audit.Store) []audit.Entry {
	t.Helper()
	var rows []audit.Entry
	for i := range 4 {
		r, err := s.Append(context.Background(), audit.Entry{Actor: "alice", Action: "dlq.replay",
			EventID: uuid.NewString(), Outcome: "replayed", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

func checkVerify(t *testing.T, r cliResult, row, reason string) {
	t.Helper()
	if row == "" {
		if r.code != 0 || !strings.HasPrefix(r.stdout, "audit trail intact: 4 rows\nlast row 4: hash ") {
			t.Errorf("intact trail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return
	}
	if r.code != 1 || !strings.Contains(r.stdout, "audit trail broken at "+row+": ") || !strings.Contains(r.stdout, reason) {
		t.Errorf("exit %d, want 1 naming %s (%s)\n%s%s", r.code, row, reason, r.stdout, r.stderr)
	}
}

func TestAuditVerifySQLite(t *testing.T) {
	for _, tc := range tamperings {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openAuditTrail(context.Background(), dir, "", "")
			if err != nil {
				t.Fatal(err)
			}
			rows := appendRows(t, s)
			s.Close()
			db, err := sql.Open("sqlite", filepath.Join(dir, auditFile))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var stmts []string
			if tc.stmts != nil {
				stmts = tc.stmts(rows)
				// The triggers refuse the change until someone drops them.
				if _, err := db.Exec(stmts[0]); err == nil {
					t.Fatal("the append-only trigger let a change through")
				}
				stmts = append([]string{`DROP TRIGGER audit_trail_no_update`, `DROP TRIGGER audit_trail_no_delete`}, stmts...)
			}
			for _, stmt := range stmts {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			checkVerify(t, runCLI(t, "", "audit", "verify", "--data-dir", dir), tc.row, tc.reason)
		})
	}
}

func TestAuditVerifyPostgres(t *testing.T) {
	url := bustest.Service(t, "SPINE_TEST_POSTGRES")
	ctx := context.Background()
	for _, tc := range tamperings {
		t.Run(tc.name, func(t *testing.T) {
			table := "audit_cli_verify_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS `+table)
				_ = conn.Close(ctx)
			})
			s, err := openAuditTrail(ctx, "", url, table)
			if err != nil {
				t.Fatal(err)
			}
			rows := appendRows(t, s)
			s.Close()
			var stmts []string
			if tc.stmts != nil {
				stmts = tc.stmts(rows)
				if _, err := conn.Exec(ctx, strings.ReplaceAll(stmts[0], "audit_trail", table)); err == nil {
					t.Fatal("the append-only trigger let a change through")
				}
				// As the table's owner may.
				stmts = append([]string{`ALTER TABLE audit_trail DISABLE TRIGGER USER`}, stmts...)
			}
			for _, stmt := range stmts {
				if _, err := conn.Exec(ctx, strings.ReplaceAll(stmt, "audit_trail", table)); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			// $SPINE_DATA_DIR points nowhere useful: --postgres is what is read.
			t.Setenv("SPINE_DATA_DIR", t.TempDir())
			checkVerify(t, runCLI(t, "", "audit", "verify", "--postgres", url, "--audit-table", table), tc.row, tc.reason)
		})
	}
}

func TestAuditVerifyWhere(t *testing.T) {
	dir := t.TempDir()
	s, err := openAuditTrail(context.Background(), dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, s)
	s.Close()

	// The data dir comes from $SPINE_DATA_DIR, and --data-dir wins over
	// $SPINE_AUDIT_POSTGRES.
	t.Setenv("SPINE_DATA_DIR", dir)
	checkVerify(t, runCLI(t, "", "audit", "verify"), "", "")
	t.Setenv("SPINE_AUDIT_POSTGRES", "postgres://nobody@127.0.0.1:1/none")
	checkVerify(t, runCLI(t, "", "audit", "verify", "--data-dir", dir), "", "")
	t.Setenv("SPINE_AUDIT_POSTGRES", "")

	empty := t.TempDir()
	if r := runCLI(t, "", "audit", "verify", "--data-dir", empty); r.code != 1 || !strings.Contains(r.stderr, "no audit trail at") {
		t.Errorf("no trail: exit %d\n%s", r.code, r.stderr)
	}
	if n, _ := filepath.Glob(filepath.Join(empty, "*")); len(n) != 0 {
		t.Errorf("verify created %v", n)
	}
	if r := runCLI(t, "", "audit", "verify", "--data-dir", dir, "--postgres", "postgres://x"); r.code != 2 {
		t.Errorf("both trails: exit %d, want 2", r.code)
	}
	if r := runCLI(t, "", "audit"); r.code != 2 {
		t.Errorf("audit alone: exit %d, want 2", r.code)
	}
}
