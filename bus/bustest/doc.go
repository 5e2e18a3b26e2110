// Package bustest is the conformance suite every bus.Transport passes, and
// the helpers its tests share.
//
// Run(t, backend) runs the same cases against every backend — the embedded
// broker and Apache Kafka (bus/kafka), Redis Streams (bus/redisstream) —
// each in its own topic namespace, through the full stack (bus.Client over
// the transport):
//
//   - RoundTrip: an event of every catalog type arrives with every header
//     field, the payload bytes and extra headers (UTF-8, empty) intact,
//     traceparent carrying trace_id, the delivery fields filled in and the
//     logical topic without the namespace.
//   - TenantOrder: many tenants × many events, Concurrency 8: each tenant's
//     events are handled one at a time, in publish order.
//   - Redelivery: a handler error brings the event back with Attempt 2, no
//     sooner than RedeliveryDelay; nothing later of its tenant goes first;
//     nothing is lost (replaying already handled events is allowed).
//   - CloseAndReopen: a subscriber closed part-way and reopened on a new
//     transport loses nothing, and (Concurrency 1) handles nothing again
//     that it completed before the close.
//   - ConcurrentClose: cancelling with handlers mid-flight returns promptly,
//     starts no queued handler, waits for the running ones, leaks no
//     goroutine, and the next consumer gets everything else.
//   - GroupSharesWork: two members of one group together handle everything
//     and each handles some.
//   - ConsumerKilled: a consumer process SIGKILLed mid-stream loses nothing;
//     a new process of the group handles the rest.
//   - BrokerRestart: with publishers retrying, every acknowledged event is
//     handled across a broker restart, and Subscribe does not return.
//   - ContextCancel: Publish and Send fail with the context's error;
//     Subscribe returns nil promptly when its context ends.
//   - NewGroupStartsAtEnd: without FromBeginning a new group skips what was
//     published before it.
//   - LargeEvent: a 1 MiB payload round-trips byte for byte.
//   - ManyTenants: hundreds of tenants interleaved, each in order.
//   - PoisonRecords: garbage and schema-breaking records land in
//     "<topic>.dlq" with their kind, original key, value and headers, and
//     the events behind them still flow.
//
// The in-memory transport of this package (NewMemory) is a test double for
// bus.Client's unit tests; the suite also runs against it to check itself.
//
// -short scales the counts down (Scale); it never skips a backend. A real
// service that is not configured skips its backend, unless
// SPINE_REQUIRE_SERVICES=1, where it fails the run (Service).
//
// Each backend package's TestMain must call Main: the process-kill case
// re-executes the test binary as a consumer child, and Main runs it.
package bustest
