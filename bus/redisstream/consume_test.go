package redisstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

const topic = "test.events"

func repeat(key string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = key
	}
	return keys
}

// A failed entry comes back after RedeliveryDelay with the next attempt
// number, nothing of its key overtakes it, and other keys go on meanwhile:
// a5 fails until every entry of key B was handled, which only happens if B is
// not held up behind A.
func TestFailedEntryBlocksOnlyItsKey(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{})
	var keys []string
	for range 20 {
		keys = append(keys, "A", "B")
	}
	w.send(tr, topic, keys...)
	var c calls
	var bDone atomic.Int32
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true,
		Concurrency: 4, RedeliveryDelay: 20 * time.Millisecond},
		func(_ context.Context, d *bus.Delivery) error {
			key, v := string(d.Record.Key), string(d.Record.Value)
			if key == "A" && v == "10" && (d.Attempt < 3 || bDone.Load() < 20) { // a5: entry 10 of the stream
				c.add(d, false)
				return errors.New("not yet")
			}
			c.add(d, true)
			if key == "B" {
				bDone.Add(1)
			}
			return nil
		})
	waitFor(t, "all 40 entries handled", func() bool { return c.handled() == 40 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	a := c.byKey("A")
	var seq []string
	for _, x := range a {
		if len(seq) == 0 || seq[len(seq)-1] != x.value {
			seq = append(seq, x.value)
		}
	}
	want := "0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 32 34 36 38"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("key A handled in order %s, want %s", got, want)
	}
	attempts := 0
	for i, x := range a {
		if x.value != "10" {
			if x.attempt != 1 || !x.ok {
				t.Errorf("A %s: attempt %d ok %v", x.value, x.attempt, x.ok)
			}
			continue
		}
		attempts++
		if x.attempt != attempts {
			t.Errorf("A 10 call %d has Attempt %d, want %d", attempts, x.attempt, attempts)
		}
		if i > 0 && x.ok && a[i-1].ok {
			t.Errorf("A 10 succeeded without failing first")
		}
	}
	if attempts < 3 {
		t.Errorf("A 10 was tried %d times, want at least 3", attempts)
	}
	if len(w.pending(topic, "g")) != 0 {
		t.Errorf("entries still pending after everything was handled: %v", w.pending(topic, "g"))
	}
}

// Many entries of one key behind a failure keep only their ids; they are read
// back (XRANGE) and handled in order once the failure clears.
func TestHeldEntriesReadBackInOrder(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{Count: 8})
	w.send(tr, topic, repeat("K", 100)...)
	var c calls
	var failures atomic.Int32
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true,
		Concurrency: 2, RedeliveryDelay: 200 * time.Millisecond},
		func(_ context.Context, d *bus.Delivery) error {
			if string(d.Record.Value) == "3" && failures.Add(1) == 1 {
				c.add(d, false)
				return errors.New("once")
			}
			c.add(d, true)
			return nil
		})
	waitFor(t, "100 entries handled", func() bool { return c.handled() == 100 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range c.snapshot() {
		if x.ok {
			got = append(got, x.value)
		}
	}
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("handled order %v", got)
		}
	}
}

// Entries a consumer took and never acknowledged (it crashed) are reclaimed
// by another consumer after ClaimIdle, as a second delivery.
func TestReclaimFromDeadConsumer(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{ClaimIdle: 300 * time.Millisecond})
	ctx := context.Background()
	w.send(tr, topic, "a", "b", "c", "a", "b")
	if err := w.rdb.XGroupCreate(ctx, w.stream(topic), "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	// The dead consumer: read everything, then vanish.
	if err := w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead",
		Streams: []string{w.stream(topic), ">"}, Count: 10, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	w.send(tr, topic, "d") // and one the live consumer reads new

	var c calls
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}},
		func(_ context.Context, d *bus.Delivery) error {
			c.add(d, true)
			return nil
		})
	waitFor(t, "6 entries handled", func() bool { return c.handled() == 6 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, x := range c.snapshot() {
		want := 2
		if x.key == "d" {
			want = 1
		}
		if x.attempt != want {
			t.Errorf("entry %s (key %s): Attempt %d, want %d", x.id, x.key, x.attempt, want)
		}
	}
	if p := w.pending(topic, "g"); len(p) != 0 {
		t.Errorf("still pending: %v", p)
	}
	if !w.logs.has("WARN", "reclaimed") {
		t.Error("the reclaim was not logged")
	}
}

// A consumer restarted under the same name finishes what it held at once,
// without waiting for ClaimIdle.
func TestOwnPendingResumed(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{Consumer: "worker-1", ClaimIdle: time.Hour})
	ctx := context.Background()
	w.send(tr, topic, "a", "b")
	w.rdb.XGroupCreate(ctx, w.stream(topic), "g", "0")
	w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "worker-1",
		Streams: []string{w.stream(topic), ">"}, Count: 10, Block: -1})
	var c calls
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}},
		func(_ context.Context, d *bus.Delivery) error {
			c.add(d, true)
			return nil
		})
	waitFor(t, "2 entries handled", func() bool { return c.handled() == 2 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, x := range c.snapshot() {
		if x.attempt != 2 {
			t.Errorf("%s: Attempt %d, want 2", x.id, x.attempt)
		}
	}
}

// On shutdown the handler that runs finishes and its entry is acknowledged;
// then the consumer, holding nothing, leaves the group.
func TestShutdownAcknowledgesInFlight(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{Consumer: "c1"})
	w.send(tr, topic, "a")
	started, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Bool
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true},
		func(ctx context.Context, d *bus.Delivery) error {
			close(started)
			<-release
			if ctx.Err() != nil {
				t.Error("the handler's context ended with Consume's: in-flight handlers must be able to finish")
			}
			handled.Store(true)
			return nil
		})
	<-started
	r.cancel()
	select {
	case <-r.done:
		t.Fatal("Consume returned while a handler was running")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if !handled.Load() {
		t.Fatal("handler did not finish")
	}
	if p := w.pending(topic, "g"); len(p) != 0 {
		t.Errorf("the in-flight entry was not acknowledged: %v", p)
	}
	cs, err := w.rdb.XInfoConsumers(context.Background(), w.stream(topic), "g").Result()
	if err != nil || len(cs) != 0 {
		t.Errorf("consumers left in the group: %v %v", cs, err)
	}
}

// What a consumer still holds when it stops — a failed entry and those
// waiting behind it — is released: another consumer takes it over at once
// instead of after ClaimIdle.
func TestShutdownReleasesHeldEntries(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{Consumer: "c1", ClaimIdle: time.Minute})
	w.send(tr, topic, "k", "k", "k")
	failed := make(chan struct{}, 10)
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true,
		RedeliveryDelay: time.Hour},
		func(context.Context, *bus.Delivery) error {
			failed <- struct{}{}
			return errors.New("down")
		})
	<-failed
	waitFor(t, "all three entries delivered to c1", func() bool { return len(w.pending(topic, "g")) == 3 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, p := range w.pending(topic, "g") {
		if p.Idle < time.Hour {
			t.Errorf("entry %s idle %v: not released", p.ID, p.Idle)
		}
	}
	tr2 := w.transport(Config{Consumer: "c2", ClaimIdle: time.Minute})
	var c calls
	r2 := w.consume(tr2, bus.Subscription{Group: "g", Topics: []string{topic}},
		func(_ context.Context, d *bus.Delivery) error {
			c.add(d, true)
			return nil
		})
	waitFor(t, "c2 handles the released entries", func() bool { return c.handled() == 3 }, r2)
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, x := range c.snapshot() {
		order = append(order, x.value)
	}
	if strings.Join(order, " ") != "0 1 2" {
		t.Errorf("released entries handled in order %v", order)
	}
}

// A live consumer renews what it holds: a handler that runs several times
// ClaimIdle does not make its entry look abandoned to the other consumer.
func TestRenewalKeepsSlowEntries(t *testing.T) {
	w := newWorld(t)
	cfg := Config{ClaimIdle: 150 * time.Millisecond}
	slow, other := w.transport(cfg), w.transport(cfg)
	w.send(slow, topic, "k")
	var count atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	h := func(context.Context, *bus.Delivery) error {
		if count.Add(1) == 1 {
			close(started)
			<-release
		}
		return nil
	}
	sub := bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true}
	r1 := w.consume(slow, sub, h)
	<-started
	r2 := w.consume(other, sub, h)
	time.Sleep(6 * cfg.ClaimIdle) // several claim passes of the other consumer
	close(release)
	waitFor(t, "entry acknowledged", func() bool { return len(w.pending(topic, "g")) == 0 }, r1, r2)
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("the slow entry was handled %d times, want once", n)
	}
}

// Deleting the stream under a consumer (or a Redis that comes back empty)
// makes it create the group again and go on.
func TestGroupRecreated(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{})
	var c calls
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}},
		func(_ context.Context, d *bus.Delivery) error {
			c.add(d, true)
			return nil
		})
	waitFor(t, "group created", func() bool {
		n, _ := w.rdb.Exists(context.Background(), w.stream(topic)).Result()
		return n == 1
	}, r)
	w.send(tr, topic, "a")
	waitFor(t, "first entry", func() bool { return c.handled() == 1 }, r)
	w.rdb.Del(context.Background(), w.stream(topic))
	w.send(tr, topic, "b")
	waitFor(t, "entry after the stream was deleted", func() bool { return c.handled() == 2 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// A key that is not a stream is an error retrying cannot fix: Consume returns
// it, and Send fails.
func TestWrongType(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{})
	w.rdb.Set(context.Background(), w.stream(topic), "not a stream", 0)
	err := tr.Consume(context.Background(), bus.Subscription{Group: "g", Topics: []string{topic}},
		func(context.Context, *bus.Delivery) error { return nil })
	if !redis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Errorf("Consume = %v, want the WRONGTYPE error", err)
	}
	if err := tr.Send(context.Background(), two...); !redis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Errorf("Send to a non-stream key = %v, want the WRONGTYPE error", err)
	}
}

var two = []codec.Record{{Topic: topic, Key: []byte("k")}, {Topic: topic, Key: []byte("k")}}

// MAXLEN ~ keeps a stream near MaxLen, however much is sent.
func TestMaxLenBoundsStream(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{MaxLen: 100})
	for range 20 {
		w.send(tr, topic, repeat("k", 100)...)
	}
	n, err := w.rdb.XLen(context.Background(), w.stream(topic)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Approximate trimming removes whole nodes (100 entries by default).
	if n < 100 || n > 300 {
		t.Errorf("XLEN = %d after 2000 sends with MaxLen 100", n)
	}
}

// Entries trimmed before the group read them are reported as lost.
func TestTrimmedBeforeReadIsReported(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{MaxLen: 10, ClaimIdle: 200 * time.Millisecond})
	ctx := context.Background()
	w.send(tr, topic, "k")
	w.rdb.XGroupCreate(ctx, w.stream(topic), "g", "0")
	w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "early",
		Streams: []string{w.stream(topic), ">"}, Count: 1, Block: -1})
	for range 10 {
		w.send(tr, topic, repeat("k", 100)...)
	}
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}},
		func(context.Context, *bus.Delivery) error { return nil })
	waitFor(t, "the loss reported", func() bool {
		return w.logs.has("ERROR", "before the group read them") && w.logs.has("ERROR", "trimmed from the stream before any consumer handled it")
	}, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// Send and Consume refuse to run after Close.
func TestClosed(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(context.Background(), two...); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
	err := tr.Consume(context.Background(), bus.Subscription{Group: "g", Topics: []string{topic}},
		func(context.Context, *bus.Delivery) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Consume after Close = %v", err)
	}
}

// One subscription over two topics: both are consumed, each key in order,
// and never more than Concurrency handlers run at once.
func TestTwoTopicsConcurrencyBound(t *testing.T) {
	w := newWorld(t)
	tr := w.transport(Config{Count: 16})
	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprint("k", i%20))
	}
	w.send(tr, "t.one", keys...)
	w.send(tr, "t.two", keys...)
	var c calls
	var running, peak atomic.Int32
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{"t.one", "t.two"}, FromBeginning: true, Concurrency: 3},
		func(_ context.Context, d *bus.Delivery) error {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			d.Record.Key = append([]byte(d.Record.Topic+"/"), d.Record.Key...)
			c.add(d, true)
			return nil
		})
	waitFor(t, "400 entries", func() bool { return c.handled() == 400 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d handlers ran at once, Concurrency is 3", p)
	}
	for _, tp := range []string{"t.one", "t.two"} {
		for k := range 20 {
			var got []string
			for _, x := range c.byKey(fmt.Sprint(tp, "/k", k)) {
				got = append(got, x.value)
			}
			for i := 1; i < len(got); i++ {
				var a, b int
				fmt.Sscan(got[i-1], &a)
				fmt.Sscan(got[i], &b)
				if a >= b {
					t.Fatalf("%s key k%d out of order: %v", tp, k, got)
				}
			}
			if len(got) != 10 {
				t.Errorf("%s key k%d: %d entries, want 10", tp, k, len(got))
			}
		}
	}
}
