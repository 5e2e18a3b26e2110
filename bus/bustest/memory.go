package bustest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/keyed"
	"github.com/inopsio/spine/codec"
)

// Memory is an in-process broker and bus.Transport. It is a TEST DOUBLE, not
// a backend: nothing survives the process and nothing crosses it. It exists
// to unit-test bus.Client's pipeline quickly and to check the conformance
// suite itself; services use bus/kafka or bus/redisstream.
//
// It models what the suite relies on: topics of several partitions (records
// of one key in one partition), consumer groups whose members split the
// partitions and keep a committed position, per-key order with concurrency
// across keys, and redelivery of failed records.
type Memory struct {
	ns     string
	broker *memBroker
}

// MemoryOption configures NewMemory.
type MemoryOption func(*memBroker)

// MemorySendHook makes every Send call fn for each record first; an error
// fails the Send before anything is stored (to test what happens when a
// dead letter cannot be written). fn sees the record's logical topic.
func MemorySendHook(fn func(ctx context.Context, rec codec.Record) error) MemoryOption {
	return func(b *memBroker) { b.sendHook = fn }
}

// NewMemory starts an empty in-memory broker and returns a transport on it
// with no namespace.
func NewMemory(opts ...MemoryOption) *Memory {
	b := &memBroker{partitions: 3, changed: make(chan struct{}),
		topics: map[string][][]memRecord{}, groups: map[string]*memGroup{}}
	for _, o := range opts {
		o(b)
	}
	return &Memory{broker: b}
}

// Namespaced returns a transport on the same broker whose topics carry the
// prefix ns on the "wire", as the real transports do.
func (m *Memory) Namespaced(ns string) *Memory { return &Memory{ns: m.ns + ns, broker: m.broker} }

// Records returns a copy of every record stored on the logical topic,
// partition by partition, in offset order.
func (m *Memory) Records(topic string) []codec.Record {
	b := m.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []codec.Record
	for _, p := range b.topics[m.ns+topic] {
		for _, r := range p {
			rec := r.rec
			rec.Topic = topic
			out = append(out, rec)
		}
	}
	return out
}

// Close does nothing: the broker lives as long as its Memory values.
func (m *Memory) Close() error { return nil }

// Send stores recs; each record is copied.
func (m *Memory) Send(ctx context.Context, recs ...codec.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := m.broker
	if b.sendHook != nil {
		for _, r := range recs {
			if err := b.sendHook(ctx, r); err != nil {
				return err
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	for _, r := range recs {
		if r.Topic == "" {
			return errors.New("memory: record without topic")
		}
		parts := b.topic(m.ns + r.Topic)
		p := partitionOf(r.Key, len(parts))
		parts[p] = append(parts[p], memRecord{rec: cloneRecord(m.ns+r.Topic, r), ts: now})
	}
	b.broadcast()
	return nil
}

// Consume implements bus.Transport.
func (m *Memory) Consume(ctx context.Context, sub bus.Subscription, h bus.DeliveryHandler) error {
	if sub.Group == "" || len(sub.Topics) == 0 {
		return errors.New("memory: a group and at least one topic are required")
	}
	sub = sub.WithDefaults()
	topics := make([]string, len(sub.Topics))
	for i, tp := range sub.Topics {
		topics[i] = m.ns + tp
	}
	c := &memConsumer{m: m, b: m.broker, sub: sub, h: h, topics: topics, owned: map[memTP]*memPartition{},
		pool: keyed.New(sub.Concurrency, 64), hctx: context.WithoutCancel(ctx), stop: ctx.Done()}
	c.b.join(c)
	c.run(ctx)
	// Handlers already running finish (their ctx outlives Consume's) and
	// are committed; queued records are dropped uncommitted and a failing
	// record gives up its retries, so shutdown is prompt and nothing of a
	// key overtakes a record that was not completed.
	c.pool.Close()
	c.b.leave(c)
	return nil
}

type memRecord struct {
	rec codec.Record
	ts  time.Time
}

type memTP struct {
	topic     string
	partition int
}

type memGroup struct {
	members   []*memConsumer
	committed map[memTP]int
	owner     map[memTP]*memConsumer
}

type memBroker struct {
	partitions int
	sendHook   func(context.Context, codec.Record) error

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	topics  map[string][][]memRecord
	groups  map[string]*memGroup
}

func (b *memBroker) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// topic returns the partitions of a wire topic, creating it. b.mu is held.
func (b *memBroker) topic(name string) [][]memRecord {
	parts, ok := b.topics[name]
	if !ok {
		parts = make([][]memRecord, b.partitions)
		b.topics[name] = parts
	}
	return parts
}

func (b *memBroker) join(c *memConsumer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.groups[c.sub.Group]
	if g == nil {
		g = &memGroup{committed: map[memTP]int{}, owner: map[memTP]*memConsumer{}}
		b.groups[c.sub.Group] = g
	}
	g.members = append(g.members, c)
	c.group = g
	for _, tp := range c.topics {
		b.topic(tp)
	}
	b.broadcast()
}

func (b *memBroker) leave(c *memConsumer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := c.group
	for i, x := range g.members {
		if x == c {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	for tp := range c.owned {
		delete(g.owner, tp)
	}
	b.broadcast()
}

// assignee returns the member that should own tp: partitions are dealt out
// round-robin among the members subscribed to the topic, in join order.
// b.mu is held.
func (g *memGroup) assignee(tp memTP) *memConsumer {
	var subs []*memConsumer
	for _, c := range g.members {
		for _, t := range c.topics {
			if t == tp.topic {
				subs = append(subs, c)
				break
			}
		}
	}
	if len(subs) == 0 {
		return nil
	}
	return subs[tp.partition%len(subs)]
}

type memConsumer struct {
	m      *Memory
	b      *memBroker
	sub    bus.Subscription
	h      bus.DeliveryHandler
	hctx   context.Context // handlers finish even after Consume's ctx ended
	topics []string
	pool   *keyed.Pool
	stop   <-chan struct{} // Consume's ctx ended
	group  *memGroup       // set by join

	owned map[memTP]*memPartition // guarded by b.mu
}

// memPartition is a consumer's view of an owned partition.
type memPartition struct {
	next     int          // next offset to fetch
	commit   int          // first offset not yet completed
	done     map[int]bool // completed offsets at or after commit
	inflight int
	revoking bool
}

type memWork struct {
	tp  memTP
	off int
	rec memRecord
}

func (c *memConsumer) run(ctx context.Context) {
	for {
		work, changed := c.poll()
		for _, w := range work {
			if err := c.pool.Submit(ctx, w.rec.rec.Key, func() { c.handle(w) }); err != nil {
				// ctx ended with work fetched but not queued: it was never
				// handed to a handler, so it stays uncommitted.
				c.unfetch(w)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed: // every Send, join, leave and drained partition
		}
	}
}

// poll adjusts ownership to the group's assignment and fetches new records
// of the partitions this consumer owns.
func (c *memConsumer) poll() ([]memWork, <-chan struct{}) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	g := c.group
	var work []memWork
	for _, topic := range c.topics {
		parts := b.topics[topic]
		for p := range parts {
			tp := memTP{topic, p}
			st, owned := c.owned[tp]
			assigned := g.assignee(tp) == c
			switch {
			case !owned && assigned && g.owner[tp] == nil:
				start, ok := g.committed[tp]
				if !ok {
					if !c.sub.FromBeginning && !slices.Contains(c.sub.FromBeginningTopics, strings.TrimPrefix(topic, c.m.ns)) {
						start = len(parts[p])
					}
					g.committed[tp] = start
				}
				st = &memPartition{next: start, commit: start, done: map[int]bool{}}
				c.owned[tp] = st
				g.owner[tp] = c
			case owned && !assigned:
				st.revoking = true
				if st.inflight == 0 {
					delete(c.owned, tp)
					delete(g.owner, tp)
					b.broadcast()
				}
				continue
			case !owned:
				continue
			}
			if st.revoking {
				continue
			}
			for ; st.next < len(parts[p]); st.next++ {
				work = append(work, memWork{tp, st.next, parts[p][st.next]})
				st.inflight++
			}
		}
	}
	return work, b.changed
}

// unfetch forgets a fetched record that was never handed to a handler.
func (c *memConsumer) unfetch(w memWork) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	st := c.owned[w.tp]
	st.inflight--
	if w.off < st.next {
		st.next = w.off
	}
}

func (c *memConsumer) handle(w memWork) {
	rec := cloneRecord(strings.TrimPrefix(w.rec.rec.Topic, c.m.ns), w.rec.rec)
	for attempt := 1; ; attempt++ {
		select {
		case <-c.stop:
			c.finish(w, false)
			return
		default:
		}
		d := &bus.Delivery{
			Record:    rec,
			Partition: int32(w.tp.partition),
			Offset:    int64(w.off),
			ID:        rec.Topic + "/" + strconv.Itoa(w.tp.partition) + "/" + strconv.Itoa(w.off),
			Attempt:   attempt,
			Timestamp: w.rec.ts,
		}
		err := c.h(c.hctx, d)
		if err == nil {
			c.finish(w, true)
			return
		}
		t := time.NewTimer(time.Until(bus.RedeliverAt(err, c.sub.RedeliveryDelay)))
		select {
		case <-t.C:
		case <-c.stop:
			t.Stop()
		}
	}
}

func (c *memConsumer) finish(w memWork, ok bool) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	st := c.owned[w.tp]
	st.inflight--
	if ok {
		st.done[w.off] = true
		for st.done[st.commit] {
			delete(st.done, st.commit)
			st.commit++
		}
		c.group.committed[w.tp] = st.commit
	}
	if st.inflight == 0 {
		b.broadcast()
	}
}

func partitionOf(key []byte, n int) int {
	h := fnv.New32a()
	_, _ = h.Write(key)
	return int(h.Sum32() % uint32(n))
}

func cloneRecord(topic string, r codec.Record) codec.Record {
	out := codec.Record{Topic: topic, Key: clone(r.Key), Value: clone(r.Value)}
	if r.Headers != nil {
		out.Headers = make([]codec.Header, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = codec.Header{Key: h.Key, Value: clone(h.Value)}
		}
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

var _ bus.Transport = (*Memory)(nil)

// String names the double in test logs.
func (m *Memory) String() string { return fmt.Sprintf("bustest.Memory(%q)", m.ns) }
