// Package redisstream is the Redis Streams transport of the bus (spec §1:
// lightweight queues). It moves codec.Records; bus.Client does everything
// else.
//
// # Layout
//
// Each topic is one stream, keyed Namespace + topic; each record is one
// entry whose fields are "key", the record key, "value", the record value,
// then every header name and value in record order (EntryFields,
// RecordFromEntry; docs/wire-format.md). Dead-letter topics ("<topic>.dlq")
// are streams like any other. Send appends with XADD MAXLEN ~ MaxLen, so a
// stream stays bounded; see Config.MaxLen for what that costs a lagging
// group.
//
// # Durability
//
// Send returns when Redis accepted the entries. Whether they survive a crash
// of the Redis server is Redis's persistence setting: with AOF and
// appendfsync everysec (the usual setting, and what scripts/services.sh runs)
// up to one second of acknowledged writes — entries and acknowledgements —
// can be lost; appendfsync always closes that window. A consumer never loses
// an entry to a Redis restart: it retries with backoff until Redis is back.
//
// # Consuming
//
// Subscription.Group is a consumer group on each stream (created at the end
// of the stream, or at its start with FromBeginning; an existing group keeps
// its position). Each Consume call is one consumer of the group, named by
// Config.Consumer. Per stream it reads, in this order:
//
//   - once, at start, its own pending entries (XREADGROUP from id 0): what a
//     process of the same name held when it stopped;
//   - every ClaimIdle/4 (at most 5s), entries other consumers left pending
//     for longer than ClaimIdle: they died (XAUTOCLAIM);
//   - otherwise new entries (XREADGROUP >, COUNT Count, BLOCK Block).
//
// Delivery.Attempt is Redis's delivery count of the entry: 1 for a new
// entry, and one more each time the entry is redelivered, re-read or
// reclaimed. Delivery.ID is the entry id, Offset is -1, Partition 0, and
// Timestamp the time in the id (when Redis stored the entry).
//
// An entry is acknowledged (XACK, batched) only after the handler returned
// nil for it. Entries that a consumer holds — running, or waiting behind a
// failed entry of their key — stay pending with it; it renews them every
// ClaimIdle/3 (XCLAIM … JUSTID, which does not count a delivery), so that a
// slow handler or a long wait never makes a live consumer look dead. On
// shutdown the handlers running finish, their entries are acknowledged, and
// whatever the consumer still holds is released for the rest of the group to
// reclaim at once.
//
// # Order and redelivery
//
// Entries are handed to a keyed pool (bus/keyed) by record key: entries of
// one key (one tenant) run one at a time, in stream order; different keys run
// concurrently, up to Subscription.Concurrency.
//
// When the handler fails for an entry, the entry stays pending, and its key
// is blocked in this consumer: the worker that saw the failure sets the
// key's blocked flag before it takes the key's next entry, so every later
// entry of the key already queued comes back unhandled, and entries of the
// key read later are not handed out. Held-back entries keep only their ids in
// memory (a key that keeps failing under a flood of events costs a few bytes
// per entry, and never stops other keys). After RedeliveryDelay the failed
// entry is claimed again by the same consumer (XCLAIM, which counts the
// delivery; Attempt 2, 3, …) and handed to the handler; when it succeeds, the
// key's held-back entries are read back (XRANGE) and handed out in id order.
// So within one consumer no entry of a key ever overtakes a failed one.
//
// Retries of non-blocking events do not wait in place: bus.Client parks
// them on retry streams ("<topic>.retry-N", park.go), and an entry there
// that is not yet due waits as a failed one does, pending, until its due
// time. Only strict events are retried in place as described above.
//
// Across consumers there is no such promise. Redis hands the entries of a
// stream to the members of a group in turn, whatever their key, so two
// entries of one tenant may run at the same time on two consumers, and an
// entry reclaimed from a dead consumer runs after later entries of its key
// that others already handled. Per-key order holds exactly only with one
// consumer per group. Services that need strict per-tenant order with many
// consumers use Kafka, whose partitions give each key to one consumer.
//
// # Losses the transport cannot prevent, and reports
//
// Trimming by MAXLEN ignores consumer groups. An entry trimmed before a
// group read it, or while it was pending, is gone; the consumer logs each
// such loss at error level (with the entry id where Redis still knows it)
// and acknowledges the vanished pending entry. An entry that does not follow
// the field layout is not dropped: it is handed on with its fields as
// headers and an empty value, so bus.Client dead-letters it.
package redisstream
