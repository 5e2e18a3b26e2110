package acl_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/token"
)

// One identity end to end: a service logs in to Apache Kafka with its own
// Keycloak token (SASL/OAUTHBEARER, kafka.SASL.Token = token.Source.Token),
// the broker validates it against Keycloak's JWKS and takes the principal
// from the token's azp claim (User:crm-service), and the catalog's ACLs
// decide what that principal may do — the same grants the PLAIN logins of
// TestSpineClientsUnderGrants get. The kafka-sasl service of
// scripts/services.sh is configured for it (docs/operations/services.md).
func TestKeycloakLoginUnderGrants(t *testing.T) {
	iss := bustest.Service(t, "SPINE_TEST_KEYCLOAK")
	secrets := bustest.KeycloakSecrets(t)
	b := apacheBroker(t, "")
	ns := b.base
	cat := catalog.MustDefault()
	grants := acl.FromCatalog(cat, acl.Options{Namespace: ns})
	adm := b.admin(t)
	if _, err := acl.Apply(ctxT(t), adm, grants, acl.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	settle(t, adm, grants, acl.ApplyOptions{})

	login := func(client string) kafka.SASL {
		t.Helper()
		src, err := token.NewSource(ctxT(t), token.SourceConfig{Issuer: iss, ClientID: client, ClientSecret: token.Secret(secrets[client])})
		if err != nil {
			t.Fatal(err)
		}
		return kafka.SASL{Mechanism: "OAUTHBEARER", Token: src.Token}
	}
	transport := func(s kafka.SASL) *kafka.Transport {
		return spineTransport(t, kafka.Config{Brokers: []string{b.addr}, Namespace: ns, SASL: s})
	}
	fx := bustest.LoadFixtures(t)
	cipher := bustest.NewPIICipher(t, cat)
	crm, err := bus.New(transport(login("crm-service")), bus.WithPII(cipher), bus.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.NewString()
	if _, err := crm.Publish(ctxT(t), fx.Event(t, "lead.created", tenant)); err != nil {
		t.Fatalf("crm-service, logged in with its Keycloak token, publishing lead.created: %v", err)
	}
	if _, err := crm.Publish(ctxT(t), fx.Event(t, "invoice.generated", tenant)); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("crm-service publishing invoice.generated: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// erp-service's genuine token is a different principal: its own grants.
	erp, err := bus.New(transport(login("erp-service")), bus.WithPII(cipher), bus.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := erp.Publish(ctxT(t), fx.Event(t, "invoice.generated", tenant)); err != nil {
		t.Fatalf("erp-service publishing its invoice.generated: %v", err)
	}
	if _, err := erp.Publish(ctxT(t), fx.Event(t, "lead.created", tenant)); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("erp-service publishing lead.created: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// A token the broker cannot verify is refused at login.
	forged := transport(kafka.SASL{Mechanism: "OAUTHBEARER", Token: func(context.Context) (string, error) {
		return "eyJhbGciOiJub25lIn0.eyJhenAiOiJjcm0tc2VydmljZSJ9.", nil // alg none, azp crm-service
	}})
	err = forged.EnsureTopics(ctxT(t), kafka.TopicSpec{Name: "x", Partitions: 1})
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("an unsigned token claiming crm-service: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}
