package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/internal/pgtest"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/keys/transittest"
	"github.com/inopsio/spine/pii"
	"github.com/spf13/cobra"
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
		"SPINE_VAULT_MOUNT", "SPINE_KEYS_POSTGRES", "SPINE_AUDIT_POSTGRES", "SPINE_ACTOR", "SPINE_DECRYPT_MASTER_KEYS"} {
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

// writeMasterKeyFile writes a new master key file (mode 0600) and returns
// its path and key.
func writeMasterKeyFile(t *testing.T, dir, name string) (string, []byte) {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// rewrapCounts picks the counts out of `keys rewrap`'s output, as
// "rewrapped=N current=N shredded=N failed=N".
func rewrapCounts(t *testing.T, stdout string) string {
	t.Helper()
	var r, c, s, f int
	got := map[string]*int{"rewrapped": &r, "would rewrap": &r, "already current": &c, "shredded, skipped": &s, "failed": &f}
	for line := range strings.Lines(stdout) {
		for label, n := range got {
			if rest, ok := strings.CutPrefix(line, label+" "); ok {
				fmt.Sscan(rest, n)
			}
		}
	}
	return fmt.Sprintf("rewrapped=%d current=%d shredded=%d failed=%d", r, c, s, f)
}

// TestKeysCLIRewrap: local master key A to B. PII encrypted under A
// decrypts with only B afterwards; a dry run writes nothing; failures exit
// 1; every run is in the audit trail.
func TestKeysCLIRewrap(t *testing.T) {
	keysEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	dd := []string{"--data-dir", dir}

	// Nothing to rewrap yet, and nothing created.
	if r := runCLI(t, "", append([]string{"keys", "rewrap", "--reason", "x"}, dd...)...); r.code != 0 || strings.TrimSpace(r.stdout) != "no keys" {
		t.Fatalf("empty data dir: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("rewrap created %v", entries)
	}

	seedKeys(t, keys.Config{DataDir: dir}, time.Now(), keysTenantA, keysTenantB, keysTenantC)
	// PII encrypted under master key A, the data dir's.
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	const plain = `{"name":"Ada Lovelace","email":"ada@example.com"}`
	ka, err := keys.Open(ctx, keys.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kekA := ka.KEKID()
	ciph, err := pii.New(cat, ka)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ciph.Encrypt(ctx, "lead.created", "", keysTenantA, "evt-1", []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ka.Rotate(ctx, keysTenantA); err != nil {
		t.Fatal(err)
	}
	if err := ka.Shred(ctx, keysTenantC, "offboarded"); err != nil {
		t.Fatal(err)
	}
	_ = ka.Close()

	fileB, masterB := writeMasterKeyFile(t, t.TempDir(), "new.key")
	kekB, _ := keys.NewLocalKEK(masterB)
	fileC, _ := writeMasterKeyFile(t, t.TempDir(), "other.key")
	keyring := filepath.Join(dir, "keys", "keyring.json")
	original, _ := os.ReadFile(keyring)
	to := []string{"--to-master-key", fileB}

	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		counts string // "" = not checked
		stdout string // contained
		stderr string // contained
		keks   string // every live version's KEK after, "" = not checked
	}{
		{"no reason", to, nil, 2, "", "", "--reason is required", ""},
		{"two targets", append([]string{"--reason", "x", "--to-vault-key", "k"}, to...), nil, 2, "", "", "give one", ""},
		{"local to itself", []string{"--reason", "x"}, nil, 2, "", "", "--to-master-key or --to-vault-key is required", ""},
		{"--to-vault-addr without --to-vault-key", append([]string{"--reason", "x", "--to-vault-addr", "http://127.0.0.1:1"}, to...), nil, 2, "", "", "need --to-vault-key", ""},
		{"target file missing", []string{"--reason", "x", "--to-master-key", filepath.Join(dir, "nope.key")}, nil, 1, "", "", "nope.key", ""},
		{"dry run", append([]string{"--dry-run"}, to...), nil, 0, "rewrapped=3 current=0 shredded=1 failed=0", "dry run, nothing written", "", kekA},
		{"rewrap", append([]string{"--reason", "retire master key A", "--actor", "user:alice"}, to...), nil, 0,
			"rewrapped=3 current=0 shredded=1 failed=0", "next: make " + fileB + " the master key", "", kekB.ID()},
		{"again", append([]string{"--reason", "check", "--actor", "user:alice"}, to...), nil, 0,
			"rewrapped=0 current=3 shredded=1 failed=0", "", "", kekB.ID()},
		// The source is now wrong: the data dir's master.key is still A,
		// and A wraps nothing any more.
		{"wrong source", []string{"--reason", "to C", "--to-master-key", fileC, "--actor", "user:alice"}, nil, 1,
			"rewrapped=0 current=0 shredded=1 failed=3", "was wrapped by KEK \"" + kekB.ID(), "3 key versions were not rewrapped", kekB.ID()},
		{"source from $SPINE_MASTER_KEY", append([]string{"--reason", "same", "--actor", "user:alice"}, to...),
			map[string]string{keys.MasterKeyEnv: base64.StdEncoding.EncodeToString(masterB)}, 0,
			"rewrapped=0 current=3 shredded=1 failed=0", "", "", kekB.ID()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runCLI(t, "", append(append([]string{"keys", "rewrap"}, tc.args...), dd...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			if tc.counts != "" {
				if got := rewrapCounts(t, r.stdout); got != tc.counts {
					t.Errorf("counts %s, want %s\n%s", got, tc.counts, r.stdout)
				}
			}
			if tc.keks != "" {
				for _, it := range keysList(t, dd...) {
					if it["state"] != "shredded" && it["kek"] != tc.keks {
						t.Errorf("%v/%v wrapped by %v, want %s", it["tenant"], it["version"], it["kek"], tc.keks)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "nope.key")); err == nil {
				t.Error("a missing target master key was created")
			}
			if tc.name == "dry run" {
				if now, _ := os.ReadFile(keyring); !bytes.Equal(now, original) {
					t.Error("the dry run changed keyring.json")
				}
				if _, err := os.Stat(filepath.Join(dir, "audit.db")); err == nil {
					t.Error("the dry run wrote the audit trail")
				}
			}
		})
	}

	// With only B, the PII sealed under A decrypts; the data dir's A no
	// longer opens it.
	kb, err := keys.Open(ctx, keys.Config{DataDir: dir, MasterKey: masterB})
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	ciphB, err := pii.New(cat, kb)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ciphB.Decrypt(ctx, "lead.created", "", keysTenantA, "evt-1", sealed); err != nil || string(got) != plain {
		t.Errorf("decrypt with B only: %s, %v", got, err)
	}
	stale, err := keys.Open(ctx, keys.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	if _, err := stale.Get(ctx, keysTenantA, 1); !errors.Is(err, keys.ErrUnwrap) {
		t.Errorf("Get with A after the rewrap: %v", err)
	}

	trail, err := audit.OpenSQLite(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	rows, err := trail.Rows(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, row.Action+":"+row.Outcome+":"+row.Actor+":"+row.TenantID)
	}
	want := []string{"keys.rewrap:rewrapped:user:alice:", "keys.rewrap:rewrapped:user:alice:", "keys.rewrap:failed:user:alice:",
		"keys.rewrap:rewrapped:user:alice:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit rows %v, want %v", got, want)
	}
	var detail map[string]any
	if err := json.Unmarshal(rows[0].Detail, &detail); err != nil || detail["reason"] != "retire master key A" ||
		detail["to"] != kekB.ID() || detail["rewrapped"] != 3.0 {
		t.Errorf("first rewrap detail %s", rows[0].Detail)
	}
	if n, err := audit.Verify(ctx, trail); err != nil || n != int64(len(want)) {
		t.Errorf("audit.Verify = %d, %v", n, err)
	}
}

// TestKeysCLIRewrapVault: local to Vault Transit, then, after the Transit
// key is rotated, to its newest version, so that min_decryption_version
// can retire the old one.
func TestKeysCLIRewrapVault(t *testing.T) {
	keysEnv(t)
	ctx := context.Background()
	srv := transittest.NewServer("s.cli-token", "")
	defer srv.Close()
	srv.CreateKey("spine")
	dir := t.TempDir()
	seedKeys(t, keys.Config{DataDir: dir}, time.Now(), keysTenantA, keysTenantB)
	before := map[string][]byte{}
	ka, err := keys.Open(ctx, keys.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{keysTenantA, keysTenantB} {
		if before[tenant], err = ka.Get(ctx, tenant, 1); err != nil {
			t.Fatal(err)
		}
	}
	_ = ka.Close()
	t.Setenv("VAULT_TOKEN", "s.cli-token")
	base := []string{"keys", "rewrap", "--data-dir", dir, "--actor", "user:alice"}

	r := runCLI(t, "", append(base, "--reason", "move to Vault", "--to-vault-key", "spine", "--to-vault-addr", srv.URL)...)
	if r.code != 0 || rewrapCounts(t, r.stdout) != "rewrapped=2 current=0 shredded=0 failed=0" ||
		!strings.Contains(r.stdout, "target vault:transit/spine") || !strings.Contains(r.stdout, "--vault-key spine") {
		t.Fatalf("to Vault: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	srv.RotateKey("spine")
	base = append(base, "--vault-addr", srv.URL)
	r = runCLI(t, "", append(base, "--reason", "Transit key rotated", "--vault-key", "spine")...)
	if r.code != 0 || rewrapCounts(t, r.stdout) != "rewrapped=2 current=0 shredded=0 failed=0" ||
		!strings.Contains(r.stdout, "min_decryption_version can be raised to 2") {
		t.Fatalf("to the newest Transit version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	srv.SetMinDecryptionVersion("spine", 2)
	kv, err := keys.Open(ctx, keys.Config{DataDir: dir, Vault: &keys.VaultConfig{Address: srv.URL, Token: "s.cli-token", Key: "spine"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	for tenant, want := range before {
		if got, err := kv.Get(ctx, tenant, 1); err != nil || !bytes.Equal(got, want) {
			t.Errorf("tenant %s through Vault v2 only: %v", tenant[:4], err)
		}
	}
	// A wrong token is Vault's refusal, exit 1, and no token in the output.
	t.Setenv("VAULT_TOKEN", "s.wrong")
	r = runCLI(t, "", append(base, "--reason", "x", "--vault-key", "spine")...)
	if r.code != 1 || !strings.Contains(r.stderr, "permission denied") || strings.Contains(r.stdout+r.stderr, "s.wrong") {
		t.Errorf("bad token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestKeysCLIRewrapPostgres: the keyring and the audit trail in
// PostgreSQL.
func TestKeysCLIRewrapPostgres(t *testing.T) {
	keysEnv(t)
	url := bustest.Service(t, "SPINE_TEST_POSTGRES")
	keysTable, auditTable := pgtest.Table(t, url, "spine_keys_rewrap_"), pgtest.Table(t, url, "audit_keys_rewrap_")
	dir := t.TempDir()
	seedKeys(t, keys.Config{DataDir: dir, PostgresURL: url, PostgresTable: keysTable}, time.Now(), keysTenantA, keysTenantB)
	fileB, masterB := writeMasterKeyFile(t, t.TempDir(), "new.key")
	kekB, _ := keys.NewLocalKEK(masterB)
	pg := []string{"--data-dir", dir, "--keys-postgres", url, "--keys-table", keysTable}

	r := runCLI(t, "", append([]string{"keys", "rewrap", "--reason", "retire A", "--to-master-key", fileB,
		"--audit-postgres", url, "--audit-table", auditTable}, pg...)...)
	if r.code != 0 || rewrapCounts(t, r.stdout) != "rewrapped=2 current=0 shredded=0 failed=0" {
		t.Fatalf("rewrap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, it := range keysList(t, pg...) {
		if it["kek"] != kekB.ID() {
			t.Errorf("%v", it)
		}
	}
	trail, err := audit.OpenPostgres(context.Background(), url, auditTable)
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	rows, err := trail.Rows(context.Background(), 0, 0)
	if err != nil || len(rows) != 1 || rows[0].Action != "keys.rewrap" || rows[0].Outcome != "rewrapped" {
		t.Errorf("PostgreSQL audit rows %+v, %v", rows, err)
	}
}

// --decrypt-master-key lets every keyring command read data keys still
// wrapped by the old master key while a rewrap moves them to the new one
// ($SPINE_MASTER_KEY): without it they fail to unwrap, naming both keys.
func TestDecryptMasterKeyFlag(t *testing.T) {
	keysEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	seedKeys(t, keys.Config{DataDir: dir}, time.Now(), keysTenantA) // under the data dir's master key, A
	oldKey := filepath.Join(dir, "keys", "master.key")
	_, masterB := writeMasterKeyFile(t, t.TempDir(), "new.key")
	t.Setenv(keys.MasterKeyEnv, base64.StdEncoding.EncodeToString(masterB)) // the new master key, B

	open := func(args ...string) (*keys.Keyring, error) {
		t.Helper()
		var c keysConn
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		c.add(cmd)
		if err := cmd.ParseFlags(append([]string{"--data-dir", dir}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := c.config(cmd)
		if err != nil {
			return nil, err
		}
		return keys.Open(ctx, cfg)
	}

	k, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, keysTenantA, 1); !errors.Is(err, keys.ErrUnwrap) {
		t.Errorf("with B only, a key under A: %v, want ErrUnwrap", err)
	}
	_ = k.Close()

	k, err = open("--decrypt-master-key", oldKey)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Get(ctx, keysTenantA, 1); err != nil {
		t.Errorf("with B and --decrypt-master-key A, a key under A: %v", err)
	}
	// New keys are wrapped by B, never by the decrypt-only A.
	v, err := k.Rotate(ctx, keysTenantA)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := keys.Open(ctx, keys.Config{DataDir: dir, MasterKey: masterB})
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	if _, err := kb.Get(ctx, keysTenantA, v.Version); err != nil {
		t.Errorf("the rotated version %d with B alone: %v", v.Version, err)
	}

	if _, err := open("--decrypt-master-key", filepath.Join(dir, "nope.key")); err == nil || !strings.Contains(err.Error(), "--decrypt-master-key") {
		t.Errorf("a missing decrypt-only key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.key")); err == nil {
		t.Error("a missing decrypt-only key file was created")
	}
}
