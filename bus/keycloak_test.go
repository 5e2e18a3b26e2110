package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/token"
)

// TestKeycloakEndToEnd is spec §9 against a real OIDC issuer: the Keycloak
// of scripts/services.sh (realm spine, a confidential client per service
// with an Audience mapper adding "spine"). crm-service publishes
// lead.created with its Keycloak token and encrypted PII; a consumer that
// verifies tokens against Keycloak's JWKS handles it decrypted; the same
// record carrying erp-service's genuine Keycloak token is dead-lettered,
// because erp-service is not the event's catalog producer.
//
//	SPINE_TEST_KEYCLOAK=http://127.0.0.1:18080/realms/spine
//	SPINE_TEST_KEYCLOAK_CLIENTS_FILE=<JSON object: client id → secret>
func TestKeycloakEndToEnd(t *testing.T) {
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	iss := bustest.Service(t, "SPINE_TEST_KEYCLOAK")
	secrets := bustest.KeycloakSecrets(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	source := func(client string) *token.Source {
		t.Helper()
		secret, ok := secrets[client]
		if !ok {
			t.Fatalf("no secret for client %s in SPINE_TEST_KEYCLOAK_CLIENTS_FILE", client)
		}
		src, err := token.NewSource(ctx, token.SourceConfig{Issuer: iss, ClientID: client, ClientSecret: token.Secret(secret)})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	// erp-service's token is fetched before the event is published: tokens
	// are checked at the event's timestamp, and one issued later than that
	// (beyond the leeway) would be refused as issued in the future, which
	// is not the refusal under test.
	erpAuth, err := source("erp-service").Header(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(ctx, token.VerifierConfig{Issuer: iss, Audience: "spine"})
	if err != nil {
		t.Fatal(err)
	}
	s := &secured{t: t, cat: catalog.MustDefault(), cipher: bustest.NewPIICipher(t, catalog.MustDefault()),
		verifier: verifier, src: source("crm-service"), out: bustest.NewMemory()}
	if s.producer, err = bus.New(s.out, bus.WithSource("crm-service"), bus.WithPII(s.cipher), bus.WithTokenSource(s.src)); err != nil {
		t.Fatal(err)
	}

	rec := s.publish(tenant)
	auth, _ := rec.Header(codec.HeaderAuthorization)
	claims, err := verifier.Verify(ctx, string(auth))
	if err != nil {
		t.Fatalf("the published record's token: %v", err)
	}
	if claims.Issuer != iss || claims.ClientID != "crm-service" || claims.Algorithm != "RS256" {
		t.Fatalf("the published record carries a token of %s from %s (%s); want crm-service's from %s (RS256)",
			claims.ClientID, claims.Issuer, claims.Algorithm, iss)
	}
	want := bustest.LoadFixtures(t).Payload(t, "lead.created", tenant, nil)
	if email := jsonString(t, want, "email"); strings.Contains(string(rec.Value), email) {
		t.Errorf("plaintext email %q on the wire", email)
	}

	handled, letters := s.consume(rec)
	if len(letters) > 0 || len(handled) != 1 {
		t.Fatalf("handled %d, dead letters %d; want the event handled", len(handled), len(letters))
	}
	if m := handled[0]; !m.Encrypted || m.Header.Source != "crm-service" || jsonString(t, m.Payload, "email") != jsonString(t, want, "email") {
		t.Errorf("handler saw source %s, encrypted=%v, payload %s", m.Header.Source, m.Encrypted, m.Payload)
	}

	tests := []struct {
		name string
		rec  codec.Record
	}{
		{"erp-service's token", withHeader(rec, codec.HeaderAuthorization, erpAuth)},
		{"erp-service's token and source header", withHeader(withHeader(rec, codec.HeaderAuthorization, erpAuth), "source", "erp-service")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := *s
			sub.t = t
			handled, letters := sub.consume(tc.rec)
			if len(handled) > 0 || len(letters) != 1 {
				t.Fatalf("handled %d, dead letters %d; want one dead letter", len(handled), len(letters))
			}
			kind, _ := letters[0].Header(codec.HeaderErrorKind)
			msg, _ := letters[0].Header(codec.HeaderErrorMessage)
			if string(kind) != bus.KindAuth || !strings.Contains(string(msg), `"erp-service" may not produce lead.created`) {
				t.Errorf("dead letter %s %q, want %s: erp-service may not produce lead.created", kind, msg, bus.KindAuth)
			}
		})
	}
}
