// Package dlq is the operator's side of dead-letter topics: list, show,
// replay and purge the records that bus wrote to "<topic>.dlq" (the original
// record untouched, plus the spine-* failure headers). `spine dlq` wires it;
// docs/operations/dlq-handbook.md is the operator's manual.
//
// Reading never disturbs consumers: every read is groupless (bus/kafka's
// Transport.Read, from the beginning to where the topics end now), and
// records are parsed leniently, header by header, because a record is often
// dead-lettered for the very reason that its headers are broken.
//
// # Resolving instead of deleting
//
// Kafka cannot delete one record. A replay or a purge therefore resolves
// dead letters: it writes, per dead letter, a record to the resolution log
// "<topic>.dlq.resolved" — compacted, one partition, key the dead letter's
// position, value a JSON Resolution — and every command reads that log first.
// Resolved letters are hidden from listings (unless asked for) and never
// replayed again. A purge then frees what it can: where every letter of a
// DLQ partition up to some offset is resolved, it deletes the records below
// (DeleteRecords); retention takes the rest.
//
// The order of writes is what makes this safe. A replay sends the records,
// then the resolutions, then the audit rows: a crash leaves a letter open
// and a second replay sends the same event_id again, which deduplication
// absorbs — nothing is lost, nothing is handled twice.
//
// # The audit trail
//
// Every replay and purge appends to package audit's trail one row per
// affected letter and one for the command, with the actor, the reason, the
// filter and the positions; a dry run changes nothing and writes nothing.
package dlq
