package acl_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
)

// The SASL users of a secured broker: "admin", a super user; the services
// the tests act as; and spine-admin, an operator only grants empower.
// Passwords are the user name + "-secret".
const adminUser = "admin"

var serviceUsers = []string{"crm-service", "erp-service", "analytics-service", "spine-admin"}

// apacheSASLEnv names an Apache Kafka listener (host:port) with SASL PLAIN
// for the users above, super.users=User:admin and
// authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer:
// the kafka-sasl service of scripts/services.sh (apacheBroker says how to
// configure another). Like every real service, it is skipped when unset and
// a failure when unset under SPINE_REQUIRE_SERVICES=1 (bustest.Service).
// The tests delete every ACL of the catalog's principals there: point it at
// a test cluster only.
const apacheSASLEnv = "SPINE_TEST_KAFKA_SASL"

// broker is a cluster that authenticates clients and enforces ACLs.
type broker struct {
	addr string
	// base is put before every topic and group name: "" on a fresh kfake,
	// a namespace of its own for each test on a shared Apache Kafka.
	base string
	mech func(user string) sasl.Mechanism
	// mechanism names mech for kafka.SASL: Spine's own clients log in so.
	mechanism string
}

// brokerKinds are the brokers every enforcement test runs against.
var brokerKinds = []struct {
	name  string
	start func(t *testing.T, ns string) *broker
}{
	{"kfake", kfakeBroker},
	{"apache-kafka", apacheBroker},
}

// topicsUnder are the topics the grants name under ns: each catalog topic,
// its dead letters, first retry level and resolution log.
func topicsUnder(ns string) []string {
	var topics []string
	for _, e := range catalog.MustDefault().Events() {
		t := ns + e.Topic
		topics = append(topics, t, t+".dlq", t+".retry-1", t+".dlq.resolved")
	}
	return topics
}

// kfakeBroker starts kfake with SCRAM-SHA-256 users and ACL enforcement,
// with the topics under ns.
func kfakeBroker(t *testing.T, ns string) *broker {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", adminUser, adminUser+"-secret"),
		kfake.SeedTopics(1, topicsUnder(ns)...),
	}
	for _, u := range serviceUsers {
		opts = append(opts, kfake.User("SCRAM-SHA-256", u, u+"-secret"))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &broker{addr: c.ListenAddrs()[0], mechanism: "SCRAM-SHA-256", mech: func(user string) sasl.Mechanism {
		return scram.Auth{User: user, Pass: user + "-secret"}.AsSha256Mechanism()
	}}
}

// apacheBroker uses the Apache Kafka at $SPINE_TEST_KAFKA_SASL, set up as
// that constant says (server.properties for Kafka 4.1 under KRaft:
// listeners=SASL_PLAINTEXT://…,CONTROLLER://…; SASL_PLAINTEXT for both in
// listener.security.protocol.map; sasl.enabled.mechanisms=PLAIN;
// sasl.mechanism.inter.broker.protocol=PLAIN;
// sasl.mechanism.controller.protocol=PLAIN; a PlainLoginModule
// listener.name.<listener>.plain.sasl.jaas.config with user_<name> entries
// for each listener; authorizer.class.name and super.users as above). The
// test isolates itself in a namespace of its own and starts and ends with
// no ACL for the test users.
func apacheBroker(t *testing.T, ns string) *broker {
	t.Helper()
	addr := bustest.Service(t, apacheSASLEnv)
	b := &broker{addr: addr, base: "acl-test-" + uuid.NewString()[:8] + ".", mechanism: "PLAIN", mech: func(user string) sasl.Mechanism {
		return plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()
	}}
	adm := b.admin(t)
	clean := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		principals := []string{"User:legacy-service"}
		for _, u := range append(serviceNames(), serviceUsers...) {
			principals = append(principals, "User:"+u)
		}
		all := kadm.NewACLs().AnyResource().Allow(principals...).AllowHosts().Deny(principals...).DenyHosts().
			Operations().ResourcePatternType(kadm.ACLPatternAny)
		if _, err := adm.DeleteACLs(ctx, all); err != nil {
			t.Errorf("deleting the test users' ACLs: %v", err)
		}
		// The deletion reaches the authorizer a moment after the answer.
		for {
			rs, err := adm.DescribeACLs(ctx, all)
			left := 0
			for _, r := range rs {
				left += len(r.Described)
			}
			if err != nil || left == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Errorf("listing topics: %v", err)
			return
		}
		var mine []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, b.base) {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			if _, err := adm.DeleteTopics(ctx, mine...); err != nil {
				t.Errorf("deleting the test topics: %v", err)
			}
		}
	}
	clean()
	t.Cleanup(clean)
	created, err := adm.CreateTopics(ctxT(t), 1, 1, nil, topicsUnder(b.base+ns)...)
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		t.Fatalf("creating the test topics: %v", err)
	}
	return b
}

// client connects to the broker as user.
func (b *broker) client(t *testing.T, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.addr),
		kgo.SASL(b.mech(user)),
		kgo.RecordDeliveryTimeout(10 * time.Second),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (b *broker) admin(t *testing.T) *kadm.Client { return kadm.NewClient(b.client(t, adminUser)) }

// settle waits until the broker answers with the ACLs just changed: Apache
// Kafka applies them from its metadata log a moment after the request
// returns, and the authorizer answers DescribeACLs from the same state.
func settle(t *testing.T, adm *kadm.Client, grants []acl.Grant, opts acl.ApplyOptions) {
	t.Helper()
	opts.DryRun = true
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := acl.Apply(ctxT(t), adm, grants, opts)
		if err == nil && len(res.Added) == 0 && len(res.Removed) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker does not hold the ACLs 10s after they were applied: %+v, %v", res, err)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func produce(t *testing.T, cl *kgo.Client, topic string) error {
	t.Helper()
	return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")}).FirstErr()
}

// fetchErr polls until the consumer delivers a record (nil) or an error.
func fetchErr(t *testing.T, cl *kgo.Client) error {
	t.Helper()
	ctx := ctxT(t)
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record and no error before the deadline: %v", err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		if fs.NumRecords() > 0 {
			return nil
		}
	}
}

// The grants, applied as the admin, are what the broker enforces: each
// service produces only its own events, reads only what it consumes, in
// its own groups, and writes its consumed topics' dead-letter, retry and
// resolution topics.
func TestBrokerEnforcesCatalogGrants(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.start(t, "")
			ns := b.base
			grants := acl.FromCatalog(catalog.MustDefault(), acl.Options{Namespace: ns})

			// Before any grant, a service may do nothing.
			crm := b.client(t, "crm-service")
			if err := produce(t, crm, ns+"lead.created"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Fatalf("produce before the grants: %v, want TOPIC_AUTHORIZATION_FAILED", err)
			}
			// Nor may it grant itself anything.
			if _, err := acl.Apply(ctxT(t), kadm.NewClient(crm), grants, acl.ApplyOptions{}); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
				t.Fatalf("a service applying ACLs: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
			}

			adm := b.admin(t)
			res, err := acl.Apply(ctxT(t), adm, grants, acl.ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Added, grants) || len(res.Unchanged) != 0 || len(res.Removed) != 0 {
				t.Fatalf("first apply: %d added, %d unchanged %v, %d removed; want %d added", len(res.Added), len(res.Unchanged), res.Unchanged, len(res.Removed), len(grants))
			}
			settle(t, adm, grants, acl.ApplyOptions{})

			produceCases := []struct {
				user, topic string
				allowed     bool
			}{
				{"crm-service", "lead.created", true},              // its own event
				{"crm-service", "invoice.generated", false},        // erp-service's event
				{"crm-service", "invoice.generated.dlq", true},     // it consumes invoice.generated
				{"crm-service", "invoice.generated.retry-1", true}, // and parks its retries
				{"crm-service", "invoice.generated.dlq.resolved", true},
				{"crm-service", "lead.created.dlq", false}, // it produces lead.created but does not consume it
				{"erp-service", "invoice.generated", true},
				{"erp-service", "lead.created", false},
				{"analytics-service", "lead.created.dlq", true},
				{"analytics-service", "invoice.generated.dlq", true},
				{"analytics-service", "metrics.published", true},
				{"analytics-service", "tenant.created", false},
			}
			for _, c := range produceCases {
				err := produce(t, b.client(t, c.user), ns+c.topic)
				if c.allowed && err != nil {
					t.Errorf("%s producing %s: %v, want allowed", c.user, c.topic, err)
				}
				if !c.allowed && !errors.Is(err, kerr.TopicAuthorizationFailed) {
					t.Errorf("%s producing %s: %v, want TOPIC_AUTHORIZATION_FAILED", c.user, c.topic, err)
				}
			}

			consumeCases := []struct {
				user, group, topic string
				want               error // nil: a record arrives
			}{
				{"crm-service", "crm-service", "invoice.generated", nil},
				{"crm-service", "crm-service-backfill", "invoice.generated", nil}, // any group named after it
				{"crm-service", "crm-service", "invoice.generated.retry-1", nil},  // its retries come back
				{"crm-service", "crm-service", "lead.created", kerr.TopicAuthorizationFailed},
				{"crm-service", "analytics-service", "invoice.generated", kerr.GroupAuthorizationFailed}, // another service's group
				{"analytics-service", "analytics-service", "lead.created", nil},
				{"analytics-service", "", "invoice.generated.dlq", nil},                     // a dead letter it wrote, read back without a group
				{"erp-service", "", "tenant.metrics.update", kerr.TopicAuthorizationFailed}, // no group needed to be refused
			}
			for _, c := range consumeCases {
				t.Run(c.user+" reads "+c.topic+" in group "+c.group, func(t *testing.T) {
					opts := []kgo.Opt{kgo.ConsumeTopics(ns + c.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
					if c.group != "" {
						opts = append(opts, kgo.ConsumerGroup(ns+c.group), kgo.DisableAutoCommit())
					}
					cl := b.client(t, c.user, opts...)
					err := fetchErr(t, cl)
					switch {
					case c.want == nil && err != nil:
						t.Fatalf("%v, want a record", err)
					case c.want != nil && !errors.Is(err, c.want):
						t.Fatalf("%v, want %v", err, c.want)
					case c.want == nil && c.group != "":
						// Committing needs READ on the group and the topic.
						if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
							t.Fatalf("commit: %v", err)
						}
					}
				})
			}

			// A second apply finds everything in place.
			again, err := acl.Apply(ctxT(t), adm, grants, acl.ApplyOptions{Prune: true, Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Added) != 0 || !slices.Equal(again.Unchanged, grants) || len(again.Removed) != 0 {
				t.Errorf("second apply: %d added, %d unchanged, %d removed; want all %d unchanged",
					len(again.Added), len(again.Unchanged), len(again.Removed), len(grants))
			}
		})
	}
}

// Prune removes what the catalog no longer grants its principals, and only
// that: a deny and another principal's grant stay.
func TestApplyPrune(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.start(t, "")
			ns := b.base
			adm := b.admin(t)
			grants := acl.FromCatalog(catalog.MustDefault(), acl.Options{Namespace: ns})
			if _, err := acl.Apply(ctxT(t), adm, grants, acl.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			// What an operator once granted by hand, or an older catalog did.
			stale := []acl.Grant{
				{Principal: "User:crm-service", ResourceType: topic, Pattern: literal, Name: ns + "tenant.metrics.update", Operation: opRead, Host: "*"},
				{Principal: "User:crm-service", ResourceType: topic, Pattern: literal, Name: ns + "lead.created", Operation: opRead, Host: "10.1.2.3"},
				{Principal: "User:erp-service", ResourceType: group, Pattern: literal, Name: ns + "legacy", Operation: opRead, Host: "*"},
			}
			kept := []acl.Grant{
				{Principal: "User:legacy-service", ResourceType: topic, Pattern: literal, Name: ns + "lead.created", Operation: opRead, Host: "*"},
			}
			if _, err := acl.Apply(ctxT(t), adm, append(slices.Clone(stale), kept...), acl.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			deny := kadm.NewACLs().Topics(ns + "lead.created").Deny("User:crm-service").DenyHosts("*").Operations(kmsg.ACLOperationWrite)
			if _, err := adm.CreateACLs(ctxT(t), deny); err != nil {
				t.Fatal(err)
			}
			settle(t, adm, append(slices.Clone(grants), stale...), acl.ApplyOptions{})
			if err := produce(t, b.client(t, adminUser), ns+"tenant.metrics.update"); err != nil { // so that a read has a record
				t.Fatal(err)
			}
			crm := b.client(t, "crm-service", kgo.ConsumeTopics(ns+"tenant.metrics.update"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err := fetchErr(t, crm); err != nil {
				t.Fatalf("crm-service reading with the stale grant: %v", err)
			}

			sorted := func(gs []acl.Grant) []acl.Grant { gs = slices.Clone(gs); acl.Sort(gs); return gs }
			opts := acl.ApplyOptions{Prune: true, DryRun: true, Namespace: ns}
			dry, err := acl.Apply(ctxT(t), adm, grants, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dry.Removed, sorted(stale)) || len(dry.Added) != 0 {
				t.Fatalf("dry run: removed %v, added %v; want removed %v", dry.Removed, dry.Added, sorted(stale))
			}
			if again, _ := acl.Apply(ctxT(t), adm, grants, opts); !slices.Equal(again.Removed, dry.Removed) {
				t.Fatalf("the dry run changed the broker: now %v would be removed", again.Removed)
			}

			opts.DryRun = false
			res, err := acl.Apply(ctxT(t), adm, grants, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Removed, sorted(stale)) || len(res.Unchanged) != len(grants) {
				t.Fatalf("prune: removed %v (want %v), %d unchanged", res.Removed, sorted(stale), len(res.Unchanged))
			}
			settle(t, adm, grants, opts)
			// The grant is gone from the broker, so the read is refused now.
			later := b.client(t, "crm-service", kgo.ConsumeTopics(ns+"tenant.metrics.update"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err := fetchErr(t, later); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("crm-service reading after the prune: %v, want TOPIC_AUTHORIZATION_FAILED", err)
			}
			// The deny and the unknown principal's grant stay; the deny still wins.
			if err := produce(t, b.client(t, "crm-service"), ns+"lead.created"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("crm-service producing against its DENY: %v", err)
			}
			rs, err := adm.DescribeACLs(ctxT(t), kadm.NewACLs().AnyResource().Allow("User:legacy-service").AllowHosts().Operations().ResourcePatternType(kadm.ACLPatternAny))
			if err != nil || len(rs) != 1 || len(rs[0].Described) != 1 {
				t.Errorf("the unknown principal's grant: %+v, %v", rs, err)
			}
		})
	}
}

// With a namespace the grants name the namespaced topics and groups, and
// pruning one environment leaves another's grants alone.
func TestApplyNamespace(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := kind.start(t, "staging.")
			adm := b.admin(t)
			prod := acl.FromCatalog(catalog.MustDefault(), acl.Options{Namespace: b.base})
			if _, err := acl.Apply(ctxT(t), adm, prod, acl.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			settle(t, adm, prod, acl.ApplyOptions{})
			ns := b.base + "staging."
			opts := acl.Options{Namespace: ns, Admin: "spine-admin"}
			staging := acl.FromCatalog(catalog.MustDefault(), opts)
			res, err := acl.Apply(ctxT(t), adm, staging, acl.ApplyOptions{Prune: true, Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Removed) != 0 {
				t.Errorf("pruning staging removed %d grants of another environment, first %s", len(res.Removed), res.Removed[0])
			}
			// The cluster grants are the same in both environments.
			if n := len(res.Unchanged); n != len(serviceNames()) {
				t.Errorf("%d grants unchanged, want the %d services' IDEMPOTENT_WRITE", n, len(serviceNames()))
			}
			settle(t, adm, staging, acl.ApplyOptions{})

			crm := b.client(t, "crm-service")
			if err := produce(t, crm, ns+"lead.created"); err != nil {
				t.Errorf("crm-service producing staging.lead.created: %v", err)
			}
			if err := produce(t, crm, ns+"invoice.generated"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("crm-service producing staging.invoice.generated: %v", err)
			}
			if err := produce(t, b.client(t, "erp-service"), ns+"invoice.generated"); err != nil {
				t.Fatal(err)
			}
			cl := b.client(t, "crm-service", kgo.ConsumeTopics(ns+"invoice.generated"),
				kgo.ConsumerGroup(ns+"crm-service"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err := fetchErr(t, cl); err != nil {
				t.Errorf("crm-service reading staging.invoice.generated in group staging.crm-service: %v", err)
			}
			// The namespace's admin manages the namespace's topics and may
			// apply ACLs. ALL on the cluster includes CREATE, which Kafka
			// accepts for any topic: a namespace does not confine the admin
			// (package doc).
			sa := kadm.NewClient(b.client(t, "spine-admin"))
			created, err := sa.CreateTopics(ctxT(t), 1, 1, nil, ns+"new", b.base+"new")
			if err != nil {
				t.Fatal(err)
			}
			if r := created[ns+"new"]; r.Err != nil {
				t.Errorf("the admin creating staging.new: %v", r.Err)
			}
			if r := created[b.base+"new"]; r.Err != nil {
				t.Errorf("the admin creating new: %v; cluster CREATE allows it", r.Err)
			}
			if res, err := acl.Apply(ctxT(t), sa, staging, acl.ApplyOptions{Namespace: ns}); err != nil || len(res.Unchanged) != len(staging) {
				t.Errorf("the admin applying the grants: %d unchanged of %d, %v", len(res.Unchanged), len(staging), err)
			}
		})
	}
}

func serviceNames() []string {
	var out []string
	for _, e := range catalog.MustDefault().Events() {
		out = append(out, e.Source)
		out = append(out, e.Consumers...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BenchmarkApplyUnchanged is the steady state of `spine acl apply`: every
// grant already on the broker (kfake, in-process), so one DescribeACLs per
// principal and nothing else.
func BenchmarkApplyUnchanged(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", adminUser, adminUser+"-secret"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]),
		kgo.SASL(scram.Auth{User: adminUser, Pass: adminUser + "-secret"}.AsSha256Mechanism()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	grants := acl.FromCatalog(catalog.MustDefault(), acl.Options{})
	ctx := context.Background()
	if _, err := acl.Apply(ctx, adm, grants, acl.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := acl.Apply(ctx, adm, grants, acl.ApplyOptions{Prune: true})
		if err != nil || len(res.Unchanged) != len(grants) {
			b.Fatalf("%d unchanged, %v", len(res.Unchanged), err)
		}
	}
}
