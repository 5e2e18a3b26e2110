package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/inopsio/spine/schema/registry"
)

// realRegistry returns a client of the registry named by SPINE_TEST_REGISTRY
// (e.g. http://127.0.0.1:8081, or Apicurio's
// http://127.0.0.1:18081/apis/ccompat/v7), or skips the test. No script in
// this repository starts one yet (Apicurio cannot be built from the Maven
// Central reachable here), so the test skips unless one is given.
func realRegistry(t *testing.T) *registry.Confluent {
	t.Helper()
	u := os.Getenv("SPINE_TEST_REGISTRY")
	if u == "" {
		t.Skip("SPINE_TEST_REGISTRY is not set: no real schema registry to test against")
	}
	c, err := registry.NewConfluent(u)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealRegistryConformance runs the conformance checks against a real
// registry. The catalog subjects it registers are the production ones, which
// is what `spine schema register` does too, so re-running is harmless.
func TestRealRegistryConformance(t *testing.T) {
	testRegistryConformance(t, realRegistry(t))
}

// TestRealRegistryRefusesIncompatible: only a real registry checks schemas
// (the fake accepts everything), so this is where ErrIncompatible and the
// check's messages are seen end to end.
func TestRealRegistryRefusesIncompatible(t *testing.T) {
	c := realRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subject := fmt.Sprintf("spine-registry-test-%d-value", time.Now().UnixNano())
	t.Cleanup(func() { deleteSubject(t, c.URL(), subject) })

	v1 := []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"n":{"type":"string"}}}`)
	v2 := []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"n":{"type":"integer"}}}`)
	if err := c.SetCompatibility(ctx, subject, registry.GateLevel); err != nil {
		t.Fatal(err)
	}
	res, err := c.CheckCompatibility(ctx, subject, v1)
	if err != nil || !res.Compatible {
		t.Fatalf("first version on a new subject: %+v, %v", res, err)
	}
	id, err := c.Register(ctx, subject, v1)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.CheckCompatibility(ctx, subject, v2)
	if err != nil || res.Compatible {
		t.Fatalf("type change string -> integer: %+v, %v; want incompatible", res, err)
	}
	t.Logf("registry says: %q", res.Messages)
	if _, err := c.Register(ctx, subject, v2); !errors.Is(err, registry.ErrIncompatible) {
		t.Fatalf("Register(incompatible) = %v, want ErrIncompatible", err)
	}
	if again, err := c.Register(ctx, subject, v1); err != nil || again != id {
		t.Fatalf("re-register v1 = %d, %v; want %d", again, err, id)
	}
}

// deleteSubject removes a test subject (soft, then hard, as Confluent
// requires). Registry has no delete: Spine never deletes schemas.
func deleteSubject(t *testing.T, url, subject string) {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Error(err)
		return
	}
	ctx := context.Background()
	if _, err := cl.DeleteSubject(ctx, subject, sr.SoftDelete); err != nil {
		t.Logf("soft delete %s: %v", subject, err)
	}
	if _, err := cl.DeleteSubject(ctx, subject, sr.HardDelete); err != nil {
		t.Logf("hard delete %s: %v", subject, err)
	}
}
