// Package audit is the audit trail: an append-only table of who did what,
// when, to which event and why, whose rows are chained by SHA-256 so that an
// edited, removed or inserted row is detected (Verify).
//
// The DLQ tooling (package dlq, `spine dlq replay|purge`) is its first
// writer; the security issue adds the sensitive-payload audits of spec §9 to
// the same table, `audit_trail`, with the same columns:
//
//	id          the row's position in the chain: 1, 2, 3, … without gaps
//	at          when, UTC, microsecond precision
//	actor       who: an OS user, a service, a token subject
//	action      what kind of act, dotted: "dlq.replay", "dlq.purge"
//	event_id    the event acted on ("" for a row about a whole command)
//	event_name  its catalog name, or ""
//	tenant_id   its tenant, or ""
//	outcome     how it ended: "replayed", "purged", "skipped", "failed", "succeeded"…
//	detail      a JSON object with everything else
//	prev_hash   the hash of row id-1 (64 zeros for row 1)
//	hash        hex(sha256(prev_hash || canonical row)), see Hash
//
// Stores: SQLite (OpenSQLite, pure Go, the embedded default) and PostgreSQL
// (OpenPostgres). Both serialize appends, so the chain stays linear when
// several processes write at once, and both refuse UPDATE and DELETE with a
// trigger; the chain catches what the trigger cannot stop (someone with the
// rights to drop it).
//
// Group commit: Batcher wraps a Store so that the appends of concurrent
// callers (bus.WithAudit under a consumer running several handlers) are
// merged into one Append of the store — one transaction, one lock, one
// extension of the chain — instead of queueing on the table lock one
// round-trip chain each. One writer goroutine takes whatever is queued when
// it becomes free (no timer: an idle Batcher adds no latency), never splits
// a caller's entries, and retries a failed batch one call at a time so an
// invalid entry fails only its own caller. Each caller still returns only
// when its own rows are committed.
package audit
