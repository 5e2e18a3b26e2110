// Package bus publishes and consumes Inopsio events over any transport,
// checked against the catalog.
//
// A Client validates, stamps and encodes outgoing events and decodes,
// validates and traces incoming ones; a Transport only moves codec.Records.
// Transports: bus/kafka (Apache Kafka and the embedded broker, one code path)
// and bus/redisstream (Redis Streams). bus/bustest is the conformance suite
// every transport passes.
//
// Delivery is at least once: a record is acknowledged only after its handler
// succeeded or the record was written to its dead-letter topic.
package bus
