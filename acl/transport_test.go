package acl_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
)

// transport is a Spine transport in ns that logs in to the broker as user
// (kafka.Config.SASL).
func (b *broker) transport(t *testing.T, user, ns string) *kafka.Transport {
	t.Helper()
	return spineTransport(t, kafka.Config{Brokers: []string{b.addr}, Namespace: ns, ClientID: user,
		SASL: kafka.SASL{Mechanism: b.mechanism, User: user, Password: user + "-secret"}})
}

// spineTransport opens a transport of cfg with the tests' timings and a
// quiet logger, closed at cleanup.
func spineTransport(t *testing.T, cfg kafka.Config) *kafka.Transport {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.FetchMaxWait = 100 * time.Millisecond
	cfg.DeliveryTimeout = 10 * time.Second
	tr, err := kafka.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// The grants hold for Spine's own clients, not only raw ones: a bus.Client
// whose transport logs in as its service publishes its events, consumes in
// its group, reads its retry topics and writes dead letters; the broker
// refuses the rest even with the client's own check (bus.WithSource) off,
// and the refusal reaches the caller as a typed error.
func TestSpineClientsUnderGrants(t *testing.T) {
	cat := catalog.MustDefault()
	fx := bustest.LoadFixtures(t)
	cipher := bustest.NewPIICipher(t, cat)
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.start(t, "")
			ns := b.base
			grants := acl.FromCatalog(cat, acl.Options{Namespace: ns})
			adm := b.admin(t)
			if _, err := acl.Apply(ctxT(t), adm, grants, acl.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			settle(t, adm, grants, acl.ApplyOptions{})
			// The operator's job (`spine topics apply` as the admin): every
			// catalog topic with its retry and dead-letter topics.
			if err := b.transport(t, adminUser, ns).EnsureTopics(ctxT(t), kafka.CatalogTopics(cat, 1)...); err != nil {
				t.Fatalf("the admin creating the catalog topics over SASL: %v", err)
			}
			client := func(user string) *bus.Client {
				c, err := bus.New(b.transport(t, user, ns), bus.WithPII(cipher), bus.WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			crm, analytics := client("crm-service"), client("analytics-service")
			tenant := uuid.NewString()

			if _, err := crm.Publish(ctxT(t), fx.Event(t, "lead.created", tenant)); err != nil {
				t.Fatalf("crm-service publishing its own lead.created: %v", err)
			}
			_, err := crm.Publish(ctxT(t), fx.Event(t, "invoice.generated", tenant))
			if !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Fatalf("crm-service publishing erp-service's invoice.generated: %v, want TOPIC_AUTHORIZATION_FAILED", err)
			}

			// analytics-service consumes lead.created: its handler sees the
			// event, fails it for good, and the dead letter lands on
			// lead.created.dlq, which its grant lets it write.
			seen := make(chan string, 1)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- analytics.Subscribe(ctx, bus.Subscription{Group: "analytics-service", Topics: []string{"lead.created"}, FromBeginning: true},
					func(_ context.Context, m *bus.Message) error {
						select {
						case seen <- m.Header.TenantID:
						default:
						}
						return bus.Permanent(errors.New("test: dead-letter it"))
					})
			}()
			select {
			case got := <-seen:
				if got != tenant {
					t.Errorf("analytics-service got tenant %s, want %s", got, tenant)
				}
			case err := <-done:
				t.Fatalf("analytics-service Subscribe ended: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("analytics-service saw no lead.created within 30s")
			}
			dlq := b.client(t, adminUser, kgo.ConsumeTopics(ns+bus.DLQTopic("lead.created")), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err := fetchErr(t, dlq); err != nil {
				t.Fatalf("reading the dead letter analytics-service wrote: %v", err)
			}
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("analytics-service Subscribe: %v", err)
			}

			// crm-service produces lead.created but does not consume it: the
			// broker refuses the read, and Subscribe returns that.
			sctx, scancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer scancel()
			err = crm.Subscribe(sctx, bus.Subscription{Group: "crm-service", Topics: []string{"lead.created"}, FromBeginning: true},
				func(context.Context, *bus.Message) error { return nil })
			if !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("crm-service subscribing to lead.created: %v, want TOPIC_AUTHORIZATION_FAILED", err)
			}
		})
	}
}

// A wrong password is refused at login, with a typed error. Apache Kafka
// only: kfake drops the connection of a failed SCRAM exchange without an
// error code, so the client can only retry until its deadline.
func TestSpineClientWrongPassword(t *testing.T) {
	for _, kind := range brokerKinds {
		if kind.name == "kfake" {
			continue
		}
		t.Run(kind.name, func(t *testing.T) {
			b := kind.start(t, "")
			tr := spineTransport(t, kafka.Config{Brokers: []string{b.addr},
				SASL: kafka.SASL{Mechanism: b.mechanism, User: "crm-service", Password: "not-the-secret"}})
			err := tr.EnsureTopics(ctxT(t), kafka.TopicSpec{Name: b.base + "x", Partitions: 1})
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Errorf("EnsureTopics with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}
}
