package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/catalog"
)

// Commands start brokers, HTTP servers, consumers and child processes;
// each must be gone when its command returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

func repoFile(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func TestCatalogListJSON(t *testing.T) {
	r := runCLI(t, "", "catalog", "list", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 22 {
		t.Errorf("%d entries, want 22", len(entries))
	}
	for _, e := range entries {
		for _, k := range []string{"name", "category", "topic", "schema", "version", "pii"} {
			if _, ok := e[k]; !ok {
				t.Errorf("%v: missing %q", e["name"], k)
			}
		}
		if _, ok := e["pii"].([]any); !ok {
			t.Errorf("%v: pii is %T, want an array", e["name"], e["pii"])
		}
		if e["name"] == "lead.created" && (e["schema"] != "crm-lead-schema-v1" || len(e["pii"].([]any)) != 2) {
			t.Errorf("lead.created: %v", e)
		}
	}
}

var violationLine = regexp.MustCompile(`^(/[^:]*)?: .+$`)

func TestSchemaValidate(t *testing.T) {
	spec := repoFile("schema", "testdata", "spec", "lead.created.json")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"lead_id":"x","email":"nope"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		lines []string // expected stdout lines, if any
	}{
		{"valid file", "", []string{"lead.created", spec}, 0, nil},
		{"valid stdin", `{"lead_id":"3f0e2d5c-9a8b-4c7d-8e6f-5a4b3c2d1e0f","tenant_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"J","email":"j@example.com","source":"web","created_at":"2025-10-24T14:00:00Z"}`, []string{"lead.created", "-"}, 0, nil},
		{"invalid", "", []string{"lead.created", bad}, 1, []string{
			"/created_at: created_at is required", "/email: email: is not a valid email (value withheld: PII)",
			`/lead_id: lead_id: "x" is not a valid uuid`, "/name: name is required", "/source: source is required",
			"/tenant_id: tenant_id is required"}},
		{"malformed JSON", `{"lead_id":`, []string{"lead.created", "-"}, 1, nil},
		{"unknown event", "", []string{"no.such", spec}, 2, nil},
		{"missing file", "", []string{"lead.created", filepath.Join(dir, "nope.json")}, 2, nil},
		{"missing argument", "", []string{"lead.created"}, 2, nil},
		{"unknown version", "", []string{"--version", "9.9.9", "lead.created", spec}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, append([]string{"schema", "validate"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code == 1 {
				for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
					if !violationLine.MatchString(l) {
						t.Errorf("line %q is not '<json-pointer>: <reason>'", l)
					}
				}
			}
			if tt.lines != nil && strings.TrimSpace(r.stdout) != strings.Join(tt.lines, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(tt.lines, "\n"))
			}
		})
	}
}

func TestSchemaCompat(t *testing.T) {
	v1 := repoFile("catalog", "schemas", "customer.synced", "v1.0.0.json")
	v11 := repoFile("catalog", "schemas", "customer.synced", "v1.1.0.json")
	dir := t.TempDir()
	narrowed := filepath.Join(dir, "narrowed.json")
	if err := os.WriteFile(narrowed, []byte(`{"type":"object","properties":{"tenant_id":{"type":"integer"}},"required":["tenant_id","x"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		code  int
		lines []string
	}{
		{"optional field, default LENIENT", []string{v1, v11}, 0, nil},
		{"optional field, STRICT", []string{"--policy", "STRICT", v1, v11}, 1, []string{"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /properties/country"}},
		{"policy is case-insensitive", []string{"--policy", "strict", v1, v11}, 1, nil},
		{"FULL", []string{"--level", "FULL", v1, v11}, 0, nil},
		{"NONE", []string{"--level", "NONE", v1, narrowed}, 0, nil},
		{"breaking", []string{v1, narrowed}, 1, nil},
		{"bad level", []string{"--level", "SIDEWAYS", v1, v11}, 2, nil},
		{"bad policy", []string{"--policy", "LAX", v1, v11}, 2, nil},
		{"missing file", []string{v1, filepath.Join(dir, "nope")}, 2, nil},
		{"not JSON", []string{v1, repoFile("README.md")}, 2, nil},
		{"one argument", []string{v1}, 2, nil},
	}
	diffLine := regexp.MustCompile(`^[A-Z_]+ (/\S*)?$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"schema", "compat"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code == 1 {
				for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
					if !diffLine.MatchString(l) {
						t.Errorf("line %q is not '<DIFFERENCE_TYPE> <json-pointer>'", l)
					}
				}
			}
			if tt.lines != nil && strings.TrimSpace(r.stdout) != strings.Join(tt.lines, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(tt.lines, "\n"))
			}
		})
	}
}

func TestSchemaCheck(t *testing.T) {
	if r := runCLI(t, "", "schema", "check"); r.code != 0 {
		t.Errorf("gate on the shipped catalog: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, "", "schema", "check", "--policy", "STRICT")
	if r.code != 1 || !strings.Contains(r.stdout, "customer.synced 1.1.0") {
		t.Errorf("STRICT gate: exit %d\n%s", r.code, r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"}, {"schema"}, {"schema", "bogus"}, {"catalog", "list", "--bogus"}, {"schema", "register"},
	} {
		if r := runCLI(t, "", args...); r.code != 2 {
			t.Errorf("spine %v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, "", "--help"); r.code != 0 || !strings.Contains(r.stdout, "catalog") {
		t.Errorf("--help: exit %d", r.code)
	}
}

func TestSchemaRegister(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	r := runCLI(t, "", "schema", "register", "--registry", reg.URL(), "--compatibility", "BACKWARD_TRANSITIVE")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := strings.Count(r.stdout, "\n"); got != 23 {
		t.Errorf("%d registrations printed, want 23 (every version of 22 events):\n%s", got, r.stdout)
	}
	again := runCLI(t, "", "schema", "register", "--registry", reg.URL())
	if again.code != 0 || again.stdout != r.stdout {
		t.Errorf("second register is not idempotent:\n%s\nvs\n%s", again.stdout, r.stdout)
	}
	if r := runCLI(t, "", "schema", "register", "--registry", "ftp://x"); r.code != 2 {
		t.Errorf("bad URL: exit %d, want 2", r.code)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Every command that keeps or reads local state has the same --data-dir:
// same default ($SPINE_DATA_DIR, else ./.spine), same meaning.
func TestDataDirFlag(t *testing.T) {
	commands := [][]string{
		{"dev"}, {"publish"}, {"tail"}, {"consume"}, {"dlq", "replay"}, {"dlq", "purge"},
		{"keys", "list"}, {"keys", "rotate"}, {"keys", "shred"}, {"audit", "verify"},
	}
	for _, env := range []string{"", "/srv/spine"} {
		t.Setenv("SPINE_DATA_DIR", env)
		want := env
		if want == "" {
			want = ".spine"
		}
		root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		var usage string
		for _, path := range commands {
			cmd, _, err := root.Find(path)
			if err != nil {
				t.Fatalf("%v: %v", path, err)
			}
			f := cmd.Flags().Lookup("data-dir")
			switch {
			case f == nil:
				t.Errorf("spine %s has no --data-dir", strings.Join(path, " "))
				continue
			case f.DefValue != want:
				t.Errorf("spine %s --data-dir defaults to %q with SPINE_DATA_DIR=%q, want %q", strings.Join(path, " "), f.DefValue, env, want)
			case usage != "" && f.Usage != usage:
				t.Errorf("spine %s --data-dir: %q, others say %q", strings.Join(path, " "), f.Usage, usage)
			}
			usage = f.Usage
		}
	}
}
