package bus_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

// secured is a producer and a consumer as spec §9 wants them: PII
// encrypted under a keyring, service tokens from an OIDC issuer served over
// HTTP (real RSA keys, discovery, JWKS) and verified on consume.
type secured struct {
	t        *testing.T
	cat      *catalog.Catalog
	ring     *keys.Keyring
	cipher   *pii.Cipher
	is       *issuer.Issuer
	verifier *token.Verifier
	src      *token.Source
	producer *bus.Client
	out      *bustest.Memory // where the producer publishes
}

func newSecured(t *testing.T) *secured {
	t.Helper()
	ctx := context.Background()
	s := &secured{t: t, cat: catalog.MustDefault(), out: bustest.NewMemory()}
	master := make([]byte, keys.DEKSize)
	_, _ = rand.Read(master)
	var err error
	if s.ring, err = keys.Open(ctx, keys.Config{Store: keys.NewMemoryStore(), MasterKey: master, CacheTTL: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.ring.Close() })
	if s.cipher, err = pii.New(s.cat, s.ring); err != nil {
		t.Fatal(err)
	}
	var is *issuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { is.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	if is, err = issuer.New(issuer.Config{URL: srv.URL, Clients: []string{"crm-service", "erp-service"}}); err != nil {
		t.Fatal(err)
	}
	s.is = is
	cfg, err := is.Credentials().SourceConfig("crm-service")
	if err != nil {
		t.Fatal(err)
	}
	if s.src, err = token.NewSource(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if s.verifier, err = token.NewVerifier(ctx, token.VerifierConfig{Issuer: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if s.producer, err = bus.New(s.out, bus.WithSource("crm-service"), bus.WithPII(s.cipher), bus.WithTokenSource(s.src)); err != nil {
		t.Fatal(err)
	}
	return s
}

// publish publishes lead.created for tenant and returns its record.
func (s *secured) publish(tenant string) codec.Record {
	s.t.Helper()
	fx := bustest.LoadFixtures(s.t)
	pub, err := s.producer.Publish(context.Background(), fx.Event(s.t, "lead.created", tenant))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range s.out.Records("lead.created") {
		if id, _ := r.Header("event_id"); string(id) == pub[0].Header.EventID {
			return r
		}
	}
	s.t.Fatalf("published event %s is not on the broker", pub[0].Header.EventID)
	return codec.Record{}
}

// consume sends rec to a fresh broker, consumes it with a consumer that
// decrypts and verifies, and returns the handled messages and dead letters.
func (s *secured) consume(rec codec.Record) (handled []*bus.Message, letters []codec.Record) {
	s.t.Helper()
	mem := bustest.NewMemory()
	c, err := bus.New(mem, bus.WithSource("analytics-service"), bus.WithPII(s.cipher), bus.WithTokenVerifier(s.verifier),
		bus.WithLogger(bustest.TestLogger(s.t)))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := mem.Send(context.Background(), rec); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true},
			func(_ context.Context, m *bus.Message) error {
				handled = append(handled, m)
				cancel()
				return nil
			})
	}()
	for ctx.Err() == nil {
		if letters = mem.Records("lead.created.dlq"); len(letters) > 0 {
			cancel()
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; err != nil {
		s.t.Fatal(err)
	}
	return handled, letters
}

func TestSecuredRoundTrip(t *testing.T) {
	s := newSecured(t)
	rec := s.publish("7c9e6679-7425-40de-944b-e07fc1f90ae7")
	if auth, _ := rec.Header(codec.HeaderAuthorization); !bytes.HasPrefix(auth, []byte("Bearer ")) {
		t.Errorf("authorization = %q", auth)
	}
	want := bustest.LoadFixtures(t).Payload(t, "lead.created", "7c9e6679-7425-40de-944b-e07fc1f90ae7", nil)
	for _, field := range []string{"name", "email"} {
		if v := jsonString(t, want, field); bytes.Contains(rec.Value, []byte(v)) {
			t.Errorf("plaintext %s %q on the wire", field, v)
		}
	}
	handled, letters := s.consume(rec)
	if len(letters) > 0 || len(handled) != 1 {
		t.Fatalf("handled %d, dead letters %d", len(handled), len(letters))
	}
	m := handled[0]
	if !m.Encrypted || jsonString(t, m.Payload, "email") != jsonString(t, want, "email") {
		t.Errorf("handler saw encrypted=%v payload %s", m.Encrypted, m.Payload)
	}
}

// Every hostile variant of a valid record is dead-lettered with a reason
// that says what failed; the handler never sees it and nothing crashes.
func TestSecuredRejections(t *testing.T) {
	const tenantA, tenantB = "7c9e6679-7425-40de-944b-e07fc1f90ae7", "11111111-2222-4333-8444-555555555555"
	s := newSecured(t)
	a := s.publish(tenantA)
	a2 := s.publish(tenantA)
	b := s.publish(tenantB)
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": s.is.URL(), "aud": "spine", "azp": "crm-service", "client_id": "crm-service",
			"typ": "Bearer", "sub": "service-account-crm-service", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	signed := func(edit func(map[string]any)) string {
		raw, err := s.is.Sign(claims(edit))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + raw
	}
	forged := func() string {
		// The attacker's own RSA key, under the issuer's key id.
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: s.is.SigningKeyID()}}, nil)
		raw, _ := jwt.Signed(sig).Claims(claims(nil)).Serialize()
		return "Bearer " + raw
	}
	none := func() string {
		enc := base64.RawURLEncoding.EncodeToString
		body, _ := jsonMarshal(claims(nil))
		return "Bearer " + enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(body) + "."
	}

	tests := []struct {
		name   string
		rec    func() codec.Record
		kind   string
		reason string
	}{
		{"tampered ciphertext", func() codec.Record { return withValue(a, flipCiphertext(t, a.Value, "email")) }, bus.KindDecrypt, "authentication"},
		{"ciphertext of another tenant", func() codec.Record {
			return withValue(a, setField(t, a.Value, "email", jsonString(t, payloadOf(t, b), "email")))
		}, bus.KindDecrypt, "authentication"},
		{"ciphertext of another event", func() codec.Record {
			return withValue(a, setField(t, a.Value, "email", jsonString(t, payloadOf(t, a2), "email")))
		}, bus.KindDecrypt, "authentication"},
		{"ciphertexts swapped between fields", func() codec.Record {
			p := payloadOf(t, a)
			v := setField(t, a.Value, "email", jsonString(t, p, "name"))
			return withValue(a, setField(t, v, "name", jsonString(t, p, "email")))
		}, bus.KindDecrypt, "authentication"},
		{"unknown key version", func() codec.Record {
			return withValue(a, bytes.ReplaceAll(a.Value, []byte("spine:pii:v1:1:"), []byte("spine:pii:v1:9:")))
		}, bus.KindDecrypt, "unknown key version"},
		{"plaintext PII", func() codec.Record { return withoutHeader(withValue(a, plainValue(t, s, a)), codec.HeaderEncryption) }, bus.KindPlaintext, "plaintext"},
		{"unknown encryption", func() codec.Record { return withHeader(a, codec.HeaderEncryption, "rot13") }, bus.KindDecrypt, "unknown encryption"},
		{"no token", func() codec.Record { return withoutHeader(a, codec.HeaderAuthorization) }, bus.KindAuth, "no authorization"},
		{"expired token", func() codec.Record {
			return withHeader(a, codec.HeaderAuthorization, signed(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }))
		}, bus.KindAuth, "expired"},
		{"token not yet valid", func() codec.Record {
			return withHeader(a, codec.HeaderAuthorization, signed(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }))
		}, bus.KindAuth, "not valid before"},
		{"forged token", func() codec.Record { return withHeader(a, codec.HeaderAuthorization, forged()) }, bus.KindAuth, "signature"},
		{"wrong issuer", func() codec.Record {
			return withHeader(a, codec.HeaderAuthorization, signed(func(c map[string]any) { c["iss"] = "http://evil.example" }))
		}, bus.KindAuth, "issuer"},
		{"wrong audience", func() codec.Record {
			return withHeader(a, codec.HeaderAuthorization, signed(func(c map[string]any) { c["aud"] = "billing" }))
		}, bus.KindAuth, "audience"},
		{"alg none", func() codec.Record { return withHeader(a, codec.HeaderAuthorization, none()) }, bus.KindAuth, "none"},
		{"token of a service that does not produce the event", func() codec.Record {
			return withHeader(a, codec.HeaderAuthorization, signed(func(c map[string]any) { c["azp"], c["client_id"] = "erp-service", "erp-service" }))
		}, bus.KindAuth, "may not produce"},
		{"spoofed source", func() codec.Record { return withHeader(a, "source", "erp-service") }, bus.KindAuth, "source header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			handled, letters := s.consume(tc.rec())
			if len(handled) > 0 || len(letters) != 1 {
				t.Fatalf("handled %d, dead letters %d; want one dead letter", len(handled), len(letters))
			}
			l := letters[0]
			kind, _ := l.Header(codec.HeaderErrorKind)
			msg, _ := l.Header(codec.HeaderErrorMessage)
			if string(kind) != tc.kind || !strings.Contains(string(msg), tc.reason) {
				t.Errorf("dead letter %s %q, want %s containing %q", kind, msg, tc.kind, tc.reason)
			}
			// Never plaintext PII in a dead letter — not even when it
			// arrived in plaintext (then it is encrypted on the way).
			if want := jsonString(t, bustest.LoadFixtures(t).Payload(t, "lead.created", tenantA, nil), "email"); bytes.Contains(l.Value, []byte(want)) ||
				bytes.Contains(msg, []byte(want)) {
				t.Errorf("plaintext PII in the dead letter: %s", l.Value)
			}
		})
	}

	// Crypto-shredding: once the tenant's keys are destroyed, its events are
	// dead-lettered as undecryptable, never handled.
	t.Run("shredded tenant", func(t *testing.T) {
		if err := s.ring.Shred(context.Background(), tenantB, "right to erasure (test)"); err != nil {
			t.Fatal(err)
		}
		handled, letters := s.consume(b)
		if len(handled) > 0 || len(letters) != 1 {
			t.Fatalf("handled %d, dead letters %d", len(handled), len(letters))
		}
		if msg, _ := letters[0].Header(codec.HeaderErrorMessage); !strings.Contains(string(msg), "shredded") {
			t.Errorf("dead letter message %q, want it to say the key was shredded", msg)
		}
	})
}

// Publish refuses an event with PII fields when the client cannot encrypt.
func TestPublishRefusesPlaintextPII(t *testing.T) {
	c, err := bus.New(bustest.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Publish(context.Background(), bustest.LoadFixtures(t).Event(t, "lead.created", "7c9e6679-7425-40de-944b-e07fc1f90ae7"))
	if !errors.Is(err, bus.ErrPlaintextPII) {
		t.Errorf("err = %v, want ErrPlaintextPII", err)
	}
}

// A service subscribes only to what the catalog lets it consume.
func TestSubscribeGrant(t *testing.T) {
	c, err := bus.New(bustest.NewMemory(), bus.WithSource("crm-service"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(context.Background(), bus.Subscription{Group: "crm-service", Topics: []string{"lead.created"}},
		func(context.Context, *bus.Message) error { return nil })
	var ge *bus.ConsumeGrantError
	if !errors.As(err, &ge) || ge.Service != "crm-service" || ge.Event != "lead.created" {
		t.Errorf("err = %v, want a ConsumeGrantError", err)
	}
}

// Helpers that take a record apart. The value is the Confluent frame (5
// bytes) then the payload JSON.

func payloadOf(t *testing.T, rec codec.Record) []byte {
	t.Helper()
	if len(rec.Value) < 5 {
		t.Fatalf("value of %d bytes", len(rec.Value))
	}
	return rec.Value[5:]
}

func jsonString(t *testing.T, payload []byte, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload[bytes.IndexByte(payload, '{'):], &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[field].(string)
	return s
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// setField replaces the string value of field in a framed value.
func setField(t *testing.T, value []byte, field, to string) []byte {
	t.Helper()
	re := regexp.MustCompile(`"` + field + `":"[^"]*"`)
	if !re.Match(value) {
		t.Fatalf("no string field %q in %s", field, value)
	}
	q, _ := json.Marshal(to)
	return re.ReplaceAllLiteral(value, append([]byte(`"`+field+`":`), q...))
}

// flipCiphertext changes one base64 character of field's ciphertext.
func flipCiphertext(t *testing.T, value []byte, field string) []byte {
	t.Helper()
	ct := []byte(jsonString(t, value[5:], field))
	if !pii.IsCiphertext(string(ct)) {
		t.Fatalf("%s is not a ciphertext: %q", field, ct)
	}
	i := len(ct) - 10
	if ct[i] == 'A' {
		ct[i] = 'B'
	} else {
		ct[i] = 'A'
	}
	return setField(t, value, field, string(ct))
}

// plainValue is rec's framed value with its PII decrypted.
func plainValue(t *testing.T, s *secured, rec codec.Record) []byte {
	t.Helper()
	d, err := codec.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	h := d.Envelope.Header
	plain, err := s.cipher.Decrypt(context.Background(), h.EventName, h.Version, h.TenantID, h.EventID, d.Envelope.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(rec.Value[:5]), plain...)
}

func withValue(rec codec.Record, v []byte) codec.Record {
	rec.Value = v
	rec.Headers = slices.Clone(rec.Headers)
	return rec
}

func withHeader(rec codec.Record, k, v string) codec.Record {
	rec = withoutHeader(rec, k)
	rec.Headers = append(rec.Headers, codec.Header{Key: k, Value: []byte(v)})
	return rec
}

func withoutHeader(rec codec.Record, k string) codec.Record {
	rec.Headers = slices.DeleteFunc(slices.Clone(rec.Headers), func(h codec.Header) bool { return h.Key == k })
	return rec
}

// Keys rotate every 90 days: events published under each key version — a
// year of rotations on a fake clock — are all decrypted by a consumer today.
func TestRotationAcrossVersions(t *testing.T) {
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	now := time.Now()
	master := make([]byte, keys.DEKSize)
	_, _ = rand.Read(master)
	ring, err := keys.Open(context.Background(), keys.Config{Store: keys.NewMemoryStore(), MasterKey: master,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	cipher, err := pii.New(catalog.MustDefault(), ring)
	if err != nil {
		t.Fatal(err)
	}
	mem := bustest.NewMemory()
	c, err := bus.New(mem, bus.WithPII(cipher))
	if err != nil {
		t.Fatal(err)
	}
	fx := bustest.LoadFixtures(t)
	var want []string
	for range 5 { // days 0, 91, 182, 273, 364
		pub, err := c.Publish(context.Background(), fx.Event(t, "lead.created", tenant))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, pub[0].Header.EventID)
		now = now.Add(91 * 24 * time.Hour)
	}
	versions := map[string]bool{}
	for _, r := range mem.Records("lead.created") {
		for _, m := range regexp.MustCompile(`spine:pii:v1:([0-9]+):`).FindAllSubmatch(r.Value, -1) {
			versions[string(m[1])] = true
		}
	}
	if len(versions) != 5 {
		t.Fatalf("ciphertexts under key versions %v, want 5 versions", versions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	err = c.Subscribe(ctx, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true},
		func(_ context.Context, m *bus.Message) error {
			if !m.Encrypted || !strings.Contains(string(m.Payload), "@") {
				return bus.Permanent(fmt.Errorf("event %s not decrypted: %s", m.Header.EventID, m.Payload))
			}
			if got = append(got, m.Header.EventID); len(got) == len(want) {
				cancel()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(mem.Records("lead.created.dlq")) > 0 {
		t.Errorf("decrypted %d of %d events; %d dead letters", len(got), len(want), len(mem.Records("lead.created.dlq")))
	}
}
