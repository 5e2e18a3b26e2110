package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/internal/pgtest"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/keys/transittest"
)

const (
	keysTenantA = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	keysTenantB = "0b6f2a4e-5c1d-4e8f-9a2b-3c4d5e6f7a8b"
	keysTenantC = "c0c0c0c0-0000-4000-8000-000000000000"
)

// keysEnv clears the variables the keys commands read, so that the
// developer's environment does not leak into the tests.
func keysEnv(t *testing.T) {
	for _, v := range []string{"SPINE_DATA_DIR", "SPINE_MASTER_KEY", "VAULT_ADDR", "VAULT_TOKEN", "SPINE_VAULT_KEY",
		"SPINE_VAULT_MOUNT", "SPINE_KEYS_POSTGRES", "SPINE_AUDIT_POSTGRES", "SPINE_ACTOR"} {
		t.Setenv(v, "")
	}
}

// seedKeys gives tenants keys as a service would, at the time given.
func seedKeys(t *testing.T, cfg keys.Config, at time.Time, tenants ...string) {
	t.Helper()
	cfg.Now = func() time.Time { return at }
	k, err := keys.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for _, tenant := range tenants {
		if _, _, err := k.Current(context.Background(), tenant); err != nil {
			t.Fatal(err)
		}
	}
}

// keysList runs `spine keys list --json` with args.
func keysList(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	r := runCLI(t, "", append([]string{"keys", "list", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("keys list: exit %d: %s", r.code, r.stderr)
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("keys list --json printed %q: %v", r.stdout, err)
	}
	return out
}

// keysStates sums a list up as "tenant-prefix/version:state" words.
func keysStates(items []map[string]any) string {
	var w []string
	for _, it := range items {
		w = append(w, it["tenant"].(string)[:4]+"/"+keysJSONInt(it["version"])+":"+it["state"].(string))
	}
	return strings.Join(w, " ")
}

func keysJSONInt(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestKeysCLI(t *testing.T) {
	keysEnv(t)
	dir := t.TempDir()
	dd := []string{"--data-dir", dir}

	// An empty data dir: nothing listed, nothing created.
	r := runCLI(t, "", append([]string{"keys", "list"}, dd...)...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "no keys" {
		t.Fatalf("list on an empty dir: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("list created %v", entries)
	}

	now := time.Now()
	seedKeys(t, keys.Config{DataDir: dir}, now.Add(-100*24*time.Hour), keysTenantA, keysTenantB)
	seedKeys(t, keys.Config{DataDir: dir}, now, keysTenantC)

	items := keysList(t, dd...)
	if got := keysStates(items); got != "0b6f/1:active 7c9e/1:active c0c0/1:active" {
		t.Fatalf("list = %s", got)
	}
	for _, it := range items {
		for _, k := range []string{"tenant", "version", "created", "expires", "state", "kek"} {
			if _, ok := it[k]; !ok {
				t.Errorf("list item without %q: %v", k, it)
			}
		}
		if _, ok := it["key"]; ok {
			t.Errorf("list shows a key: %v", it)
		}
	}
	r = runCLI(t, "", append([]string{"keys", "list"}, dd...)...)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 4 ||
		!strings.HasPrefix(lines[0], "TENANT") || !strings.Contains(lines[2], keysTenantA) {
		t.Errorf("list table:\n%s", r.stdout)
	}

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // contained
		stderr   string // contained
		wantList string // states after, "" = not checked
	}{
		{"rotate the due keys", []string{"rotate", "--actor", "user:alice"}, 0, keysTenantA, "",
			"0b6f/1:retired 0b6f/2:active 7c9e/1:retired 7c9e/2:active c0c0/1:active"},
		{"nothing due any more", []string{"rotate", "--actor", "user:alice"}, 0, "no key is due for rotation", "", ""},
		{"one tenant, not due", []string{"rotate", "--tenant", keysTenantC, "--actor", "user:alice"}, 0, keysTenantC, "",
			"0b6f/1:retired 0b6f/2:active 7c9e/1:retired 7c9e/2:active c0c0/1:retired c0c0/2:active"},
		{"--tenant and --all", []string{"rotate", "--tenant", keysTenantC, "--all"}, 2, "", "give one", ""},
		{"unknown tenant", []string{"rotate", "--tenant", "nobody"}, 1, "", "tenant has no keys", ""},
		{"invalid tenant", []string{"rotate", "--tenant", "a\nb"}, 2, "", "invalid tenant ID", ""},
		{"shred without a reason", []string{"shred", "--tenant", keysTenantA}, 2, "", "--reason is required", ""},
		{"shred without a tenant", []string{"shred", "--reason", "x"}, 2, "", "--tenant is required", ""},
		{"shred an unknown tenant", []string{"shred", "--tenant", "nobody", "--reason", "x"}, 1, "", "tenant has no keys", ""},
		{"shred", []string{"shred", "--tenant", keysTenantA, "--reason", "GDPR erasure #4711"}, 0, "shredded", "",
			"0b6f/1:retired 0b6f/2:active 7c9e/1:shredded 7c9e/2:shredded c0c0/1:retired c0c0/2:active"},
		{"rotate all but shredded", []string{"rotate", "--all", "--actor", "user:alice"}, 0, keysTenantB, "",
			"0b6f/1:retired 0b6f/2:retired 0b6f/3:active 7c9e/1:shredded 7c9e/2:shredded c0c0/1:retired c0c0/2:retired c0c0/3:active"},
		{"--vault-addr without --vault-key", []string{"rotate", "--vault-addr", "http://127.0.0.1:1"}, 2, "", "needs --vault-key", ""},
		{"--vault-key without a token", []string{"rotate", "--vault-key", "spine"}, 2, "", "VAULT_TOKEN", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", append(append([]string{"keys"}, tc.args...), dd...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			if tc.wantList != "" {
				if got := keysStates(keysList(t, dd...)); got != tc.wantList {
					t.Errorf("list after = %s\nwant %s", got, tc.wantList)
				}
			}
		})
	}

	if r := runCLI(t, "", "keys", "frob"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("keys frob: exit %d, %q", r.code, r.stderr)
	}

	// The shred reached the keys themselves.
	k, err := keys.Open(context.Background(), keys.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Get(context.Background(), keysTenantA, 1); !errors.Is(err, keys.ErrShredded) {
		t.Errorf("Get after `keys shred`: %v", err)
	}
	if _, err := k.Get(context.Background(), keysTenantB, 1); err != nil {
		t.Errorf("tenant B after A's shred: %v", err)
	}

	// The audit trail: who did what, in order, chained.
	trail, err := audit.OpenSQLite(context.Background(), filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	rows, err := trail.Rows(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, row.Action+":"+row.TenantID[:4]+":"+row.Outcome+":"+row.Actor)
	}
	me := "user:" + osUser()
	want := []string{
		"keys.rotate:0b6f:rotated:user:alice", "keys.rotate:7c9e:rotated:user:alice", // due
		"keys.rotate:c0c0:rotated:user:alice",                                        // --tenant
		"keys.shred:7c9e:shredded:" + me,                                             // default actor
		"keys.rotate:0b6f:rotated:user:alice", "keys.rotate:c0c0:rotated:user:alice", // --all
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, row := range rows {
		if row.Action == "keys.shred" && !strings.Contains(string(row.Detail), `"reason":"GDPR erasure #4711"`) {
			t.Errorf("shred detail %s", row.Detail)
		}
	}
	if n, err := audit.Verify(context.Background(), trail); err != nil || n != int64(len(want)) {
		t.Errorf("audit.Verify = %d, %v", n, err)
	}
}

func TestKeysCLIVault(t *testing.T) {
	keysEnv(t)
	srv := transittest.NewServer("s.cli-token", "")
	defer srv.Close()
	srv.CreateKey("spine")
	dir := t.TempDir()
	vault := &keys.VaultConfig{Address: srv.URL, Token: "s.cli-token", Key: "spine"}
	seedKeys(t, keys.Config{DataDir: dir, Vault: vault}, time.Now().Add(-91*24*time.Hour), keysTenantA)

	t.Setenv("VAULT_TOKEN", "s.cli-token")
	r := runCLI(t, "", "keys", "rotate", "--json", "--data-dir", dir, "--vault-addr", srv.URL, "--vault-key", "spine", "--actor", "user:alice")
	if r.code != 0 {
		t.Fatalf("rotate through Vault: exit %d: %s", r.code, r.stderr)
	}
	var rotated []keys.Info
	if err := json.Unmarshal([]byte(r.stdout), &rotated); err != nil || len(rotated) != 1 || rotated[0].Version != 2 ||
		rotated[0].KEK != "vault:transit/spine" {
		t.Fatalf("rotate printed %s (%v)", r.stdout, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "master.key")); err == nil {
		t.Error("a local master key was created although Vault wraps the keys")
	}
	// The new version unwraps through Vault.
	k, err := keys.Open(context.Background(), keys.Config{DataDir: dir, Vault: vault})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Get(context.Background(), keysTenantA, 2); err != nil {
		t.Errorf("Get(2) through Vault: %v", err)
	}
	// A wrong token is Vault's 403, exit 1.
	t.Setenv("VAULT_TOKEN", "s.wrong")
	r = runCLI(t, "", "keys", "rotate", "--tenant", keysTenantA, "--data-dir", dir, "--vault-addr", srv.URL, "--vault-key", "spine")
	if r.code != 1 || !strings.Contains(r.stderr, "permission denied") || strings.Contains(r.stderr, "s.wrong") {
		t.Errorf("bad token: exit %d, %q", r.code, r.stderr)
	}
}

func TestKeysCLIPostgres(t *testing.T) {
	keysEnv(t)
	url := bustest.Service(t, "SPINE_TEST_POSTGRES")
	keysTable, auditTable := pgtest.Table(t, url, "spine_keys_cli_"), pgtest.Table(t, url, "audit_keys_cli_")
	dir := t.TempDir()
	seedKeys(t, keys.Config{DataDir: dir, PostgresURL: url, PostgresTable: keysTable}, time.Now(), keysTenantA, keysTenantB)
	pg := []string{"--data-dir", dir, "--keys-postgres", url, "--keys-table", keysTable}

	if got := keysStates(keysList(t, pg...)); got != "0b6f/1:active 7c9e/1:active" {
		t.Fatalf("list = %s", got)
	}
	r := runCLI(t, "", append([]string{"keys", "shred", "--tenant", keysTenantB, "--reason", "tenant offboarded",
		"--audit-postgres", url, "--audit-table", auditTable}, pg...)...)
	if r.code != 0 {
		t.Fatalf("shred: exit %d: %s", r.code, r.stderr)
	}
	if got := keysStates(keysList(t, pg...)); got != "0b6f/1:shredded 7c9e/1:active" {
		t.Errorf("list after shred = %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "keyring.json")); err == nil {
		t.Error("a file keyring was written although the keyring is in PostgreSQL")
	}
	trail, err := audit.OpenPostgres(context.Background(), url, auditTable)
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	rows, err := trail.Rows(context.Background(), 0, 0)
	if err != nil || len(rows) != 1 || rows[0].Action != "keys.shred" || rows[0].TenantID != keysTenantB {
		t.Errorf("PostgreSQL audit rows %+v, %v", rows, err)
	}
}
