package redisstream

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/codec"
)

// waitTimeout bounds waiting for deliveries: generous, because the machine
// is shared and -race is slow. It bounds a hang; it measures nothing.
const waitTimeout = 60 * time.Second

// world is one test's namespace on the real Redis.
type world struct {
	t    testing.TB
	addr string
	ns   string
	rdb  *redis.Client // for inspecting and manipulating streams directly
	logs *logSink
}

// newWorld skips (or fails, under SPINE_REQUIRE_SERVICES=1) without Redis,
// and deletes the namespace's keys at cleanup.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, addr: bustest.Service(t, "SPINE_TEST_REDIS"), ns: bustest.Namespace(), logs: &logSink{}}
	w.rdb = redis.NewClient(&redis.Options{Addr: w.addr})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := w.rdb.Scan(ctx, 0, w.ns+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			w.rdb.Del(ctx, keys...)
		}
		_ = w.rdb.Close()
	})
	return w
}

// transport opens a transport in the world's namespace; cfg's zero fields
// get the world's address, namespace and a logger that records.
func (w *world) transport(cfg Config) *Transport {
	w.t.Helper()
	if cfg.Addr == "" && cfg.Client == nil {
		cfg.Addr = w.addr
	}
	if cfg.Namespace == "" {
		cfg.Namespace = w.ns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(w.logs)
	}
	if cfg.Block == 0 {
		cfg.Block = 100 * time.Millisecond // quick shutdowns
	}
	tr, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func (w *world) stream(topic string) string { return w.ns + topic }

// pending returns the group's pending entries on topic. The Redis is shared:
// another test may be restarting it, so errors are retried for a while.
func (w *world) pending(topic, group string) []redis.XPendingExt {
	w.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		p, err := w.rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{
			Stream: w.stream(topic), Group: group, Start: "-", End: "+", Count: 10000}).Result()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			w.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// send sends records of topic with the given keys; values are "0", "1", …
func (w *world) send(tr *Transport, topic string, keys ...string) []codec.Record {
	w.t.Helper()
	recs := make([]codec.Record, len(keys))
	for i, k := range keys {
		recs[i] = codec.Record{Topic: topic, Key: []byte(k), Value: []byte(fmt.Sprint(i)),
			Headers: []codec.Header{{Key: "n", Value: []byte(fmt.Sprint(i))}}}
	}
	if err := tr.Send(context.Background(), recs...); err != nil {
		w.t.Fatal(err)
	}
	return recs
}

// running is a Consume call in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (w *world) consume(c interface {
	Consume(context.Context, bus.Subscription, bus.DeliveryHandler) error
}, sub bus.Subscription, h bus.DeliveryHandler) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Consume(ctx, sub, h)
	}()
	w.t.Cleanup(func() { _ = r.stop(w.t) })
	return r
}

func (w *world) subscribe(c *bus.Client, sub bus.Subscription, h bus.Handler) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Subscribe(ctx, sub, h)
	}()
	w.t.Cleanup(func() { _ = r.stop(w.t) })
	return r
}

// stop cancels and waits for the call to return; its error is returned once.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		t.Fatalf("Consume did not return within %v of its context's end", waitTimeout)
	}
	err := r.err
	r.err = nil
	return err
}

// waitFor polls cond until it holds or waitTimeout passes; it fails at once
// if one of the running calls returns meanwhile.
func waitFor(t testing.TB, what string, cond func() bool, rs ...*running) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		for _, r := range rs {
			select {
			case <-r.done:
				t.Fatalf("Consume returned (%v) while waiting for %s", r.err, what)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// calls records what a handler saw.
type calls struct {
	mu  sync.Mutex
	all []call
}

type call struct {
	key, value, id string
	attempt        int
	ok             bool
	at             time.Time
}

func (c *calls) add(d *bus.Delivery, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, call{key: string(d.Record.Key), value: string(d.Record.Value), id: d.ID,
		attempt: d.Attempt, ok: ok, at: time.Now()})
}

func (c *calls) snapshot() []call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]call(nil), c.all...)
}

// handled counts successful calls.
func (c *calls) handled() int {
	n := 0
	for _, x := range c.snapshot() {
		if x.ok {
			n++
		}
	}
	return n
}

// byKey returns the calls of key, in order.
func (c *calls) byKey(key string) []call {
	var out []call
	for _, x := range c.snapshot() {
		if x.key == key {
			out = append(out, x)
		}
	}
	return out
}

// logSink is a slog handler that keeps records, to check what was reported.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	if os.Getenv("RS_DEBUG") != "" {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		fmt.Fprintln(os.Stderr, r.Level, r.Message, b.String())
	}
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }

func (l *logSink) has(level, substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.HasPrefix(m, level+" ") && strings.Contains(m, substr) {
			return true
		}
	}
	return false
}
