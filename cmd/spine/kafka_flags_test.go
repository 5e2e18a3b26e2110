package main

import (
	"strings"
	"testing"
)

// Every Kafka command takes the same connection flags; topics apply, the
// operator's first command on a new cluster, stands for them here against a
// broker that requires SCRAM logins. (The transport's TLS and SASL are
// tested in bus/kafka and, against Apache Kafka with ACLs, in acl.)
func TestKafkaConnectionFlags(t *testing.T) {
	addr := securedBroker(t)
	scram := []string{"--brokers", addr, "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "admin"}

	t.Setenv(saslPasswordEnv, "admin-secret")
	r := runCLI(t, "", append([]string{"topics", "apply", "--partitions", "1"}, scram...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "lead.created.dlq") || !strings.Contains(r.stdout, "created") {
		t.Fatalf("topics apply as admin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	t.Setenv(saslPasswordEnv, "wrong")
	if r := runCLI(t, "", append([]string{"topics", "apply", "--timeout", "3s"}, scram...)...); r.code != 1 {
		t.Errorf("topics apply with a wrong password: exit %d, want 1\n%s", r.code, r.stderr)
	}

	t.Setenv(saslPasswordEnv, "secret")
	if r := runCLI(t, "", "topics", "apply", "--sasl-mechanism", "GSSAPI", "--sasl-user", "u"); r.code != 2 || !strings.Contains(r.stderr, `unknown SASL mechanism "GSSAPI"`) {
		t.Errorf("unknown mechanism: exit %d, want 2\n%s", r.code, r.stderr)
	}

	t.Setenv(saslPasswordEnv, "")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no password", scram, "$" + saslPasswordEnv},
		{"user without mechanism", []string{"--sasl-user", "u"}, "--sasl-mechanism"},
		{"missing CA file", []string{"--tls-ca", "/no/such/ca.pem"}, "TLS CA file"},
		{"certificate without key", []string{"--tls-cert", "/no/such/cert.pem"}, "needs both the certificate and the key file"},
		{"empty brokers", []string{"--brokers", " , "}, "--brokers is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"topics", "apply"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want 2 with %q\n%s", r.code, c.want, r.stderr)
			}
		})
	}
}
