// Package kafka is the Kafka transport of package bus. It speaks the Kafka
// protocol through franz-go, so one code path serves an Apache Kafka cluster
// in production and the embedded broker that `spine dev` runs (package
// broker).
//
// Producing is idempotent with acks=all (franz-go's defaults), batched per
// partition (Config.Linger, Config.BatchMaxBytes) and keyed by tenant: the
// default partitioner hashes the key with murmur2 exactly as the Java client
// and kafkajs' default partitioner do, so a NestJS or Java producer of the
// same tenant writes to the same partition and per-tenant order holds across
// stacks.
//
// Consuming is a consumer group with the cooperative-sticky balancer,
// manual commits after handling, and per-key order with concurrency across
// keys; see Transport.Consume for the commit and redelivery rules.
//
// EnsureTopics and CatalogTopics create the catalog's topics and their
// dead-letter topics.
package kafka
