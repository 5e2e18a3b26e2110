// Package acl turns the event catalog into Kafka ACLs and applies them, so
// that the broker itself enforces what the catalog says: only an event's
// source service may produce it, and only its consumers may read it.
//
// Every catalog service is one principal, PrincipalPrefix + service
// ("User:crm-service"), authenticated by the broker (SASL PLAIN, SCRAM,
// OAUTHBEARER with the service's OIDC token and sasl.oauthbearer.sub.claim.name=azp,
// or mTLS mapped to that name). FromCatalog grants, all ALLOW from any host:
//
//	producer of an event     WRITE, DESCRIBE           TOPIC   LITERAL   <topic>
//	each consumer            READ, DESCRIBE            TOPIC   LITERAL   <topic>
//	                         READ, WRITE, DESCRIBE     TOPIC   LITERAL   <topic>.dlq
//	                         READ, WRITE, DESCRIBE     TOPIC   PREFIXED  <topic>.retry-
//	                         READ, WRITE, DESCRIBE     TOPIC   LITERAL   <topic>.dlq.resolved
//	                         READ                      GROUP   PREFIXED  <service>
//	every service            IDEMPOTENT_WRITE          CLUSTER LITERAL   kafka-cluster
//	Admin (optional)         ALL                       TOPIC, GROUP (all, or the namespace), CLUSTER
//
// Why each one:
//   - Consumers write what they fail to handle to <topic>.dlq and park
//     retries on <topic>.retry-1, <topic>.retry-2, … which they read back;
//     one PREFIXED grant covers every retry level. The dead-letter tooling
//     keeps its resolution log in <topic>.dlq.resolved.
//   - Consumer groups are named after the service, so a PREFIXED grant on
//     the service name covers "crm-service" and "crm-service-backfill". It
//     also covers any group that merely starts with that text
//     ("crm-service2"): no catalog service name may be a prefix of
//     another's, which this package's tests check.
//   - franz-go's producer is idempotent. Brokers older than Kafka 2.8
//     (KIP-679) require IDEMPOTENT_WRITE on the cluster for it; newer ones
//     accept WRITE on any topic instead. Every service writes (consumers
//     write dead letters), so every service gets it.
//   - DESCRIBE is implied by READ and WRITE on Kafka; it is granted
//     explicitly anyway so the grants read as what a client needs
//     (metadata, offsets) and survive an authorizer without implication.
//   - Operators' tools (`spine topics apply`, `spine dlq`, `spine acl
//     apply`) are no catalog service. Options.Admin names their user; it
//     gets ALL on every topic and group (LITERAL "*"), or on the
//     namespace's (PREFIXED <namespace>), and ALL on the cluster. Cluster
//     ALL is what `spine acl apply` needs (ALTER and DESCRIBE: create,
//     delete and describe ACLs), and it makes the admin a super user in
//     all but name: cluster CREATE creates any topic and cluster ALTER
//     grants itself anything, so a namespace does not confine it. Guard its
//     credentials accordingly, or leave Admin empty and run `spine acl
//     apply` as a broker super user (super.users).
//
// Namespaces: bus/kafka prefixes every topic and consumer group on the wire
// with kafka.Config.Namespace; Options.Namespace puts the same prefix on
// every granted name, so the grants match what the transport uses.
//
// Apply makes the broker hold the grants: it describes the ALLOW ACLs of the
// grants' principals (DescribeACLs), creates the missing ones (CreateACLs)
// and, with Prune, deletes the ALLOW ACLs of those principals that the
// catalog no longer grants (DeleteACLs). Pruning is deliberately narrow: it
// touches only principals that appear in the grants (a service dropped from
// the catalog keeps its ACLs until an operator removes them), only TOPIC,
// GROUP and CLUSTER ACLs, only topics and groups inside ApplyOptions'
// namespace (environments sharing a cluster and principals do not prune each
// other; but every name starts with the empty namespace, so a pruning
// apply without one reaches every environment's grants of those
// principals), and never a DENY ACL: deleting a deny would widen access.
// Environments that share a cluster are better kept apart by principal too
// (PrincipalPrefix "User:staging-").
//
// Which brokers enforce ACLs: franz-go's kfake does when started with
// kfake.EnableSASL and kfake.EnableACLs (and kfake.Superuser for the
// operator), and so does Apache Kafka with an authorizer and authenticated
// listeners; this package's tests apply the grants to both and check, as
// each service, what is allowed and refused. scripts/services.sh runs two
// Apache Kafka 4.1.1 brokers, and CI (make test) tests against both: its
// kafka-sasl service (SPINE_TEST_KAFKA_SASL) is configured as below and
// runs the enforcement tests; its plain kafka (SPINE_TEST_KAFKA) has
// neither (PLAINTEXT, no authorizer.class.name): every ACL request fails
// there with SECURITY_DISABLED, which Apply reports (errors.Is
// kerr.SecurityDisabled). Under KRaft a broker enforces them with, in
// server.properties:
//
//	authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
//	super.users=User:admin
//	listeners=SASL_PLAINTEXT://host:9092,CONTROLLER://host:9093
//	listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
//	inter.broker.listener.name=SASL_PLAINTEXT
//	sasl.enabled.mechanisms=PLAIN (or SCRAM-SHA-256/512, users created with
//	  kafka-storage format --add-scram or kafka-configs --alter)
//	sasl.mechanism.inter.broker.protocol=PLAIN
//	sasl.mechanism.controller.protocol=PLAIN
//	listener.name.sasl_plaintext.plain.sasl.jaas.config=…PlainLoginModule required
//	  username="admin" password="…" user_admin="…" user_crm-service="…" …;
//	listener.name.controller.plain.sasl.jaas.config=(the same)
//
// (TLS in production: SASL_SSL.) The controller listener must authenticate
// too: under KRaft clients may send it admin requests, CreateAcls included,
// so a PLAINTEXT controller listener whose ANONYMOUS principal is a super
// user would let anyone on the network grant themselves anything.
package acl
