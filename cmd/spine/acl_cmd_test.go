package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/inopsio/spine/acl"
)

func TestAclList(t *testing.T) {
	want := acl.FromCatalog(mustCatalog(t), acl.Options{})
	r := runCLI(t, "", "acl", "list")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "PRINCIPAL") {
		t.Fatalf("%d lines for %d grants, first %q", len(lines), len(want), lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) != 6 || f[0] != want[0].Principal || f[4] != want[0].Name {
		t.Errorf("first row %q, want the grant %s", lines[1], want[0])
	}

	r = runCLI(t, "", "acl", "list", "--json", "--namespace", "staging.", "--admin", "ops", "--principal-prefix", "User:prod-")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	want = acl.FromCatalog(mustCatalog(t), acl.Options{Namespace: "staging.", Admin: "ops", PrincipalPrefix: "User:prod-"})
	if len(got) != len(want) {
		t.Fatalf("%d grants in JSON, want %d", len(got), len(want))
	}
	for i, g := range want {
		w := map[string]string{"principal": g.Principal, "resource_type": g.ResourceType.String(), "pattern": g.Pattern.String(),
			"name": g.Name, "operation": g.Operation.String(), "host": "*"}
		if fmt.Sprint(got[i]) != fmt.Sprint(w) {
			t.Fatalf("grant %d = %v, want %v", i, got[i], w)
		}
	}

	if r := runCLI(t, "", "acl", "list", "--principal-prefix", "User"); r.code != 2 {
		t.Errorf("--principal-prefix without a type: exit %d, want 2", r.code)
	}
}

// securedBroker is kfake with SCRAM users and ACL enforcement: "admin", a
// super user, and crm-service. Passwords are the user + "-secret".
func securedBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-secret"),
		kfake.User("SCRAM-SHA-256", "crm-service", "crm-service-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestAclApply(t *testing.T) {
	addr := securedBroker(t)
	grants := acl.FromCatalog(mustCatalog(t), acl.Options{})
	apply := func(user string, args ...string) cliResult {
		t.Helper()
		t.Setenv("SPINE_KAFKA_SASL_PASSWORD", user+"-secret")
		return runCLI(t, "", append([]string{"acl", "apply", "--brokers", addr,
			"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", user}, args...)...)
	}

	dry := apply("admin", "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, fmt.Sprintf("dry run: %d to add, 0 unchanged, 0 to remove", len(grants))) ||
		!strings.Contains(dry.stdout, "would add") {
		t.Fatalf("dry run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	first := apply("admin")
	if first.code != 0 || !strings.Contains(first.stdout, fmt.Sprintf("%d added, 0 unchanged, 0 removed", len(grants))) {
		t.Fatalf("first apply (the dry run must have added nothing): exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	for _, line := range []string{"added   User:crm-service", "WRITE", "lead.created", "IDEMPOTENT_WRITE"} {
		if !strings.Contains(first.stdout, line) {
			t.Errorf("first apply does not list %q", line)
		}
	}

	// A grant the catalog does not make, for a catalog principal.
	cl := adminClient(t, addr)
	stray := kadm.NewACLs().Topics("payment.processed").Allow("User:crm-service").AllowHosts("*").Operations(kadm.OpWrite)
	if _, err := kadm.NewClient(cl).CreateACLs(context.Background(), stray); err != nil {
		t.Fatal(err)
	}
	again := apply("admin")
	if again.code != 0 || strings.TrimSpace(again.stdout) != fmt.Sprintf("0 added, %d unchanged, 0 removed", len(grants)) {
		t.Errorf("second apply is not a no-op (without --prune the stray grant stays):\n%s", again.stdout)
	}
	pruneDry := apply("admin", "--prune", "--dry-run")
	if pruneDry.code != 0 || !strings.Contains(pruneDry.stdout, "would remove  User:crm-service  WRITE") ||
		!strings.Contains(pruneDry.stdout, "0 to add, "+fmt.Sprint(len(grants))+" unchanged, 1 to remove") {
		t.Errorf("prune dry run: exit %d\n%s%s", pruneDry.code, pruneDry.stdout, pruneDry.stderr)
	}
	pruned := apply("admin", "--prune")
	if pruned.code != 0 || !strings.Contains(pruned.stdout, "payment.processed") || !strings.Contains(pruned.stdout, ", 1 removed") {
		t.Errorf("prune: exit %d\n%s%s", pruned.code, pruned.stdout, pruned.stderr)
	}
	if r := apply("admin", "--prune"); !strings.Contains(r.stdout, ", 0 removed") {
		t.Errorf("after the prune:\n%s", r.stdout)
	}

	// A service may not change ACLs: exit 1 with the broker's answer.
	denied := apply("crm-service")
	if denied.code != 1 || !strings.Contains(denied.stderr, "CLUSTER_AUTHORIZATION_FAILED") {
		t.Errorf("apply as crm-service: exit %d\n%s%s", denied.code, denied.stdout, denied.stderr)
	}
}

func adminClient(t *testing.T, addr string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestAclApplyErrors(t *testing.T) {
	t.Setenv("SPINE_KAFKA_SASL_PASSWORD", "")
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"no password", []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u"}, 2},
		{"user without mechanism", []string{"--sasl-user", "u"}, 2},
		{"no principal type", []string{"--principal-prefix", "svc-"}, 2},
		{"arguments", []string{"extra"}, 2},
		{"zero timeout", []string{"--timeout", "0s"}, 2},
		// Nothing listens there: the command gives up at its timeout.
		{"unreachable broker", []string{"--brokers", "127.0.0.1:1", "--timeout", "2s"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := runCLI(t, "", append([]string{"acl", "apply"}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}
