package acl_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// SASL over TLS against Apache Kafka: the kafka-sasl service's SASL_SSL
// listener, whose certificate a test CA signed (scripts/services.sh makes
// both). A transport that trusts the CA (kafka.TLSFiles) logs in and moves
// a record; a service logged in over TLS is still held to its grants; a
// transport that does not trust the CA fails the handshake.
func TestSASLOverTLS(t *testing.T) {
	addr := bustest.Service(t, "SPINE_TEST_KAFKA_SASL_TLS")
	caFile := bustest.Service(t, "SPINE_TEST_KAFKA_TLS_CA")
	trusted, err := kafka.TLSFiles(caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ns := "acl-tls-" + uuid.NewString()[:8] + "."
	transport := func(user string, tc *tls.Config) *kafka.Transport {
		return spineTransport(t, kafka.Config{Brokers: []string{addr}, Namespace: ns, TLS: tc,
			SASL: kafka.SASL{Mechanism: "PLAIN", User: user, Password: user + "-secret"}})
	}
	t.Cleanup(func() { dropOverTLS(t, addr, trusted, ns) })

	admin := transport(adminUser, trusted)
	if err := admin.EnsureTopics(ctxT(t), kafka.TopicSpec{Name: "lead.created", Partitions: 1}); err != nil {
		t.Fatalf("the admin creating a topic over SASL_SSL: %v", err)
	}
	if err := admin.Send(ctxT(t), codec.Record{Topic: "lead.created", Key: []byte("k"), Value: []byte("over tls")}); err != nil {
		t.Fatalf("Send over SASL_SSL: %v", err)
	}
	var got string
	err = admin.Read(ctxT(t), kafka.ReadOptions{Topics: []string{"lead.created"}, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error { got = string(d.Record.Value); return nil })
	if err != nil || got != "over tls" {
		t.Fatalf("Read over SASL_SSL: %q, %v", got, err)
	}

	// No grant in this namespace: the login succeeds, the write is refused.
	crm := transport("crm-service", trusted)
	if err := crm.Send(ctxT(t), codec.Record{Topic: "lead.created", Value: []byte("x")}); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("crm-service without a grant, over SASL_SSL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// The system roots do not hold the test CA.
	untrusting := transport(adminUser, &tls.Config{MinVersion: tls.VersionTLS12})
	var unknown x509.UnknownAuthorityError
	if err := untrusting.EnsureTopics(ctxT(t), kafka.TopicSpec{Name: "other", Partitions: 1}); !errors.As(err, &unknown) {
		t.Fatalf("a client not trusting the test CA: %v, want x509.UnknownAuthorityError", err)
	}
}

// dropOverTLS deletes the topics of ns, logged in as the admin over TLS.
func dropOverTLS(t *testing.T, addr string, tc *tls.Config, ns string) {
	opts, err := kafka.Config{Brokers: []string{addr}, TLS: tc,
		SASL: kafka.SASL{Mechanism: "PLAIN", User: adminUser, Password: adminUser + "-secret"}}.ClientOpts()
	if err != nil {
		t.Errorf("deleting the test topics: %v", err)
		return
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Errorf("deleting the test topics: %v", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Errorf("deleting the test topics: %v", err)
		return
	}
	var mine []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, ns) {
			mine = append(mine, name)
		}
	}
	if len(mine) > 0 {
		if _, err := adm.DeleteTopics(ctx, mine...); err != nil {
			t.Errorf("deleting the test topics: %v", err)
		}
	}
}
