// Package dedup makes at-least-once delivery effectively-once: a handler runs
// to success at most once per event_id and consumer group, however often the
// transport redelivers the event (after a crash, a rebalance, a DLQ replay).
//
// It is middleware over bus.Handler; the bus core knows nothing of it:
//
//	var stats dedup.Counters
//	h = dedup.Middleware(store, "crm-service", dedup.WithCounters(&stats))(h)
//
// # The claim protocol
//
// For each event the middleware asks the Store to Begin a claim on
// (group, event_id). Begin answers one of:
//
//   - Claimed: nobody has handled the event, nobody is handling it. The
//     claim is written as "in progress" with a lease (DefaultLease) and a
//     token only this claimant knows. The handler runs; on success the
//     middleware calls Token.Done, which records the event as done for the
//     store's TTL; on failure (or a panic) Token.Abort, which deletes the
//     claim if it is still ours, so the redelivery runs the handler again.
//   - Duplicate: the event is recorded as done. The handler is skipped and
//     the event acknowledged.
//   - InProgress: another consumer holds an unexpired claim (two members got
//     the same event during a rebalance). The middleware returns an error
//     wrapping ErrInProgress — retryable, never permanent — so the event
//     comes back after the redelivery delay and then finds Duplicate (the
//     other succeeded) or Claimed (it failed, or crashed and its lease ran
//     out).
//
// A lease shorter than a handler's run lets a second consumer start the same
// event when the first is slow: choose the lease above the slowest handler.
// Done always records the event as done — it was handled — and reports
// ErrLeaseLost when the claim was no longer ours, which the middleware logs.
//
// The TTL of a done record must outlive every redelivery, including a replay
// of the dead-letter topic, whose retention is seven days: DefaultTTL.
//
// Stores: NewMemory (one process: the embedded mode) and NewRedis (shared by
// every member of a group). For handlers that write to PostgreSQL, the
// transactional inbox in dedup/pginbox records the event in the same
// transaction as the handler's writes, which no external store can.
package dedup
