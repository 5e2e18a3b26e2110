// Package pginbox is the transactional inbox: deduplication by event_id
// inside the consumer's own PostgreSQL transaction.
//
// Handler opens a transaction, inserts (consumer_group, event_id) into
// spine_inbox and, only if that row is new, runs the handler with the same
// transaction; the handler's writes and the inbox row commit together or
// not at all. An event whose row exists is a duplicate: it is skipped and
// acknowledged. A failed handler rolls back its writes and the inbox row,
// so the redelivery runs it again.
//
// Two consumers handling the same event at once need no lease: the second
// INSERT waits on the first transaction's uncommitted row, then conflicts
// (the first committed: skip) or goes ahead (it rolled back: handle).
//
// Run Migrate at start-up (it is idempotent and safe to run from several
// instances at once) and Prune periodically.
package pginbox
