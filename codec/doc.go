// Package codec puts an event.Envelope on the wire and takes it off again.
//
// It owns the bytes of a Spine record and nothing else: a transport (Kafka
// via franz-go, Redis Streams via go-redis) copies a Record into its own
// record type and back. The layout is a contract other languages implement;
// docs/wire-format.md specifies it and testdata/vectors holds byte-exact
// examples that every implementation must reproduce.
//
// In short: topic = the catalog topic, key = tenant_id, headers = the eight
// envelope header fields under their own names followed by any extra headers,
// value = the Confluent wire format (0x00, 4-byte big-endian schema id, the
// JSON payload bytes as given).
//
// Encode and Decode run on every publish and every delivery, so the success
// paths avoid fmt, reflection and needless copies: Decoded aliases the bytes
// of the Record it came from.
package codec
