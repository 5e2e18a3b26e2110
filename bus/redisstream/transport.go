package redisstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// Transport is a bus.Transport on Redis Streams. It is safe for concurrent
// use.
type Transport struct {
	cfg    Config
	rdb    redis.UniversalClient
	own    bool // rdb was opened by New and is closed by Close
	closed atomic.Bool

	mu     sync.Mutex
	groups map[string]map[int]bool // consumer group → name suffixes in use
	// readers counts the streams read by running Consume calls: each holds
	// a connection while its blocking read waits.
	readers int
}

var _ bus.Transport = (*Transport)(nil)

// New returns a transport configured by cfg. It does not contact Redis: a
// Redis that is down at start is retried like one that goes down later.
func New(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Transport{cfg: cfg, rdb: cfg.Client, groups: map[string]map[int]bool{}}
	if t.rdb == nil {
		opt, err := cfg.clientOptions()
		if err != nil {
			return nil, err
		}
		t.rdb, t.own = redis.NewClient(opt), true
	} else if err := cfg.checkReadTimeout(); err != nil {
		return nil, err
	}
	return t, nil
}

// Client returns the Redis client the transport uses, for tools that inspect
// streams (XINFO, XPENDING) next to it.
func (t *Transport) Client() redis.UniversalClient { return t.rdb }

// Stream returns the key of topic's stream: Namespace + topic.
func (t *Transport) Stream(topic string) string { return t.cfg.Namespace + topic }

// Send appends each record to its topic's stream with XADD MAXLEN ~ MaxLen,
// all in one pipeline: records for one stream are appended in order. It
// returns when Redis has accepted every entry. How durable that is depends on
// the server's persistence: with appendonly yes and appendfsync everysec (the
// Redis default for AOF) a server crash may lose the last second of accepted
// entries; appendfsync always closes that window at the cost of a disk sync
// per write, and a replica (with WAIT) guards against losing the machine.
//
// Failures a restart or failover of Redis causes (connection refused,
// LOADING, READONLY…) are retried with backoff for up to SendTimeout, or
// until ctx ends: the records whose XADD failed are sent again, in order.
// A retried XADD may have been applied before its reply was lost, so a
// record can be written twice: at least once, never at most once. On error,
// records before the failing one may have been written.
func (t *Transport) Send(ctx context.Context, recs ...codec.Record) error {
	if t.closed.Load() {
		return ErrClosed
	}
	for i, r := range recs {
		if r.Topic == "" {
			return fmt.Errorf("redisstream: send: record %d has no topic", i)
		}
	}
	deadline := time.Now().Add(t.cfg.SendTimeout)
	var bo backoff
	for len(recs) > 0 {
		failed, err := t.sendOnce(ctx, recs)
		if err == nil {
			return nil
		}
		d := bo.next()
		if ctx.Err() != nil || classify(err) != transient || time.Now().Add(d).After(deadline) {
			return t.sendError(err)
		}
		t.cfg.Logger.WarnContext(ctx, "sending to Redis failed; retrying", "records", len(failed), "error", err,
			"retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return t.sendError(err)
		}
		recs = failed
	}
	return nil
}

// sendOnce writes recs (one XADD, or a pipeline) and returns those whose XADD
// failed, with an error describing the first.
func (t *Transport) sendOnce(ctx context.Context, recs []codec.Record) ([]codec.Record, error) {
	if len(recs) == 1 {
		if err := t.rdb.XAdd(ctx, t.xadd(recs[0])).Err(); err != nil {
			return recs, &sendError{stream: t.Stream(recs[0].Topic), err: err}
		}
		return nil, nil
	}
	pipe := t.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(recs))
	for i, r := range recs {
		cmds[i] = pipe.XAdd(ctx, t.xadd(r))
	}
	if _, err := pipe.Exec(ctx); err == nil {
		return nil, nil
	}
	var failed []codec.Record
	var first error
	for i, c := range cmds {
		if c.Err() != nil {
			failed = append(failed, recs[i])
			if first == nil {
				first = &sendError{stream: t.Stream(recs[i].Topic), n: i + 1, of: len(recs), err: c.Err()}
			}
		}
	}
	return failed, first
}

// sendError names the record a failed XADD was for.
type sendError struct {
	stream string
	n, of  int // record n of a batch of; 0 for a single record
	err    error
}

func (e *sendError) Error() string {
	if e.n == 0 {
		return "redisstream: send to " + e.stream + ": " + e.err.Error()
	}
	return fmt.Sprintf("redisstream: send record %d of %d to %s: %v", e.n, e.of, e.stream, e.err)
}

func (e *sendError) Unwrap() error { return e.err }

func (t *Transport) xadd(r codec.Record) *redis.XAddArgs {
	a := &redis.XAddArgs{Stream: t.Stream(r.Topic), Values: EntryFields(r)}
	if t.cfg.MaxLen > 0 {
		a.MaxLen, a.Approx = t.cfg.MaxLen, true
	}
	return a
}

func (t *Transport) sendError(err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// Close marks the transport closed and closes the Redis client if New opened
// it. Call it after every Send and Consume has returned.
func (t *Transport) Close() error {
	if t.closed.Swap(true) || !t.own {
		return nil
	}
	return t.rdb.Close()
}

// consumerName returns the consumer name of one Consume call on group: the
// configured name when no other call on group is running, else with "-2",
// "-3"… (the smallest free), since two readers under one name would share
// (and fight over) one pending list. done releases the name.
func (t *Transport) consumerName(group string) (name string, done func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	used := t.groups[group]
	if used == nil {
		used = map[int]bool{}
		t.groups[group] = used
	}
	n := 1
	for used[n] {
		n++
	}
	used[n] = true
	name = t.cfg.Consumer
	if n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(used, n)
		if len(used) == 0 {
			delete(t.groups, group)
		}
	}
}
