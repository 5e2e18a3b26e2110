package main

import (
	"strings"
	"testing"

	"github.com/inopsio/spine/bus/bustest"
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

// OAUTHBEARER: the login is the service's Keycloak token (client
// credentials), checked by the Apache Kafka of scripts/services.sh against
// Keycloak's JWKS, its principal the client id. crm-service, logged in,
// holds no grant on the un-namespaced catalog topics, so the broker
// refuses to create them: an authorization refusal, which only a
// successful login gets.
func TestKafkaOAuthBearerFlags(t *testing.T) {
	addr := bustest.Service(t, "SPINE_TEST_KAFKA_SASL")
	iss := bustest.Service(t, "SPINE_TEST_KEYCLOAK")
	secrets := bustest.KeycloakSecrets(t)
	args := []string{"topics", "apply", "--brokers", addr, "--timeout", "20s",
		"--sasl-mechanism", "OAUTHBEARER", "--sasl-user", "crm-service", "--sasl-issuer", iss}

	t.Setenv(saslPasswordEnv, secrets["crm-service"])
	r := runCLI(t, "", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "AUTHORIZATION_FAILED") || strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("topics apply as crm-service over OAUTHBEARER: exit %d, want 1 with an authorization refusal\n%s", r.code, r.stderr)
	}

	t.Setenv(saslPasswordEnv, "not-the-secret")
	r = runCLI(t, "", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "OAUTHBEARER token") {
		t.Fatalf("topics apply with a wrong client secret: exit %d, want 1 naming the token\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "not-the-secret") {
		t.Fatalf("the client secret is in the error:\n%s", r.stderr)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no issuer", []string{"--sasl-mechanism", "OAUTHBEARER", "--sasl-user", "crm-service"}, "needs --sasl-issuer"},
		{"issuer with PLAIN", []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-issuer", iss}, "--sasl-issuer is for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"topics", "apply"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want 2 with %q\n%s", r.code, c.want, r.stderr)
			}
		})
	}
}
