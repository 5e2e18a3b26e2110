package bustest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireServicesEnv, set to "1", turns the skip of a backend whose service
// is not configured into a failure: CI sets it so that a missing service
// fails the run instead of hiding it.
const RequireServicesEnv = "SPINE_REQUIRE_SERVICES"

// Service returns the address a real service's environment variable (e.g.
// SPINE_TEST_KAFKA) holds. When it is unset the test is skipped — or fails,
// when SPINE_REQUIRE_SERVICES=1.
func Service(t testing.TB, env string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	const how = `start the services with: eval "$(scripts/services.sh up)"`
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s is not set and %s=1: %s", env, RequireServicesEnv, how)
	}
	t.Skipf("%s is not set (%s; %s=1 makes this a failure)", env, how, RequireServicesEnv)
	return ""
}

// Scale returns short under -short and full otherwise: -short makes the
// suite faster by doing less, never by skipping a backend.
func Scale(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// repoRoot returns the directory of the module's go.mod, found upwards from
// the working directory (a package's directory under go test).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("bustest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// RestartService restarts one of the real services ("kafka", "redis") with
// `scripts/services.sh restart NAME` and returns when it serves again, with
// its data.
func RestartService(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
	defer cancel()
	root := repoRoot(t)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "services.sh"), "restart", name)
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/services.sh restart %s: %v\n%s", name, err, out)
	}
	t.Logf("restarted %s in %v", name, time.Since(start).Round(time.Millisecond))
}

// KeycloakSecrets returns the client secrets of the test Keycloak realm, by
// client id, from the JSON file scripts/services.sh writes
// (SPINE_TEST_KEYCLOAK_CLIENTS_FILE; skipped or failed like Service).
func KeycloakSecrets(t testing.TB) map[string]string {
	t.Helper()
	path := Service(t, "SPINE_TEST_KEYCLOAK_CLIENTS_FILE")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("clients file %s: %v", path, err)
	}
	return m
}
