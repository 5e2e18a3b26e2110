package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// seen records what a handler saw, per tenant, in order.
type seen struct {
	mu       sync.Mutex
	byTenant map[string][]*bus.Message
	ok       map[string]bool // event ids handled successfully
}

func newSeen() *seen { return &seen{byTenant: map[string][]*bus.Message{}, ok: map[string]bool{}} }

func (s *seen) add(m *bus.Message, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byTenant[m.Header.TenantID] = append(s.byTenant[m.Header.TenantID], m)
	if ok {
		s.ok[m.Header.EventID] = true
	}
}

func (s *seen) handled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ok)
}

func TestPublishSubscribe(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 3, "lead.created")
		c := newClient(t, tr)
		ts := tenants(5)
		const n = 60
		pubs, err := c.Publish(t.Context(), leads(ts, n)...)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{} // tenant → event ids in publish order
		for _, p := range pubs {
			want[p.Header.TenantID] = append(want[p.Header.TenantID], p.Header.EventID)
		}

		s := newSeen()
		stop := subscribe(t, c, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true, Concurrency: 4},
			func(ctx context.Context, m *bus.Message) error {
				if bus.TenantFrom(ctx) != m.Header.TenantID {
					return bus.Permanent(errors.New("context lacks the tenant"))
				}
				s.add(m, true)
				return nil
			})
		waitFor(t, "all events", 60*time.Second, func() bool { return s.handled() == n })
		if err := stop(); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		for tenant, ids := range want {
			var got []string
			parts := map[int32]bool{}
			for _, m := range s.byTenant[tenant] {
				got = append(got, m.Header.EventID)
				parts[m.Partition] = true
				if m.Attempt != 1 || m.Topic != "lead.created" || m.ID != fmt.Sprintf("lead.created/%d/%d", m.Partition, m.Offset) {
					t.Errorf("message %s: attempt %d, topic %q, id %q", m.Header.EventID, m.Attempt, m.Topic, m.ID)
				}
			}
			if !slices.Equal(got, ids) {
				t.Errorf("tenant %s: order\n got %v\nwant %v", tenant, got, ids)
			}
			if len(parts) != 1 {
				t.Errorf("tenant %s spread over partitions %v", tenant, parts)
			}
		}
	})
}

// A failed event comes back after the redelivery delay with Attempt 2, and
// the tenant's later events are not handled before it succeeds.
func TestRedeliveryKeepsKeyOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 3, "lead.created")
		// Hiding the transport's RetryParker makes the client retry in
		// place, as it does strict events: the consumer's per-key hold is
		// what this test is about.
		c := newClient(t, struct{ bus.Transport }{tr})
		ts := tenants(4)
		const n = 40
		pubs, err := c.Publish(t.Context(), leads(ts, n)...)
		if err != nil {
			t.Fatal(err)
		}
		// The third event of tenant 0 fails twice.
		victim := pubs[2*len(ts)].Header.EventID
		s := newSeen()
		var mu sync.Mutex
		failures := 0
		start := time.Now()
		var redelivered time.Duration
		stop := subscribe(t, c, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true,
			Concurrency: 4, RedeliveryDelay: 200 * time.Millisecond},
			func(_ context.Context, m *bus.Message) error {
				mu.Lock()
				fail := m.Header.EventID == victim && failures < 2
				if fail {
					failures++
				}
				if m.Header.EventID == victim && m.Attempt == 3 {
					redelivered = time.Since(start)
				}
				mu.Unlock()
				s.add(m, !fail)
				if fail {
					return errors.New("transient")
				}
				return nil
			})
		waitFor(t, "all events handled", 60*time.Second, func() bool { return s.handled() == n })
		if err := stop(); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		t.Logf("victim handled on attempt 3 after %s", redelivered)

		var attempts []int
		for _, m := range s.byTenant[ts[0]] {
			if m.Header.EventID == victim {
				attempts = append(attempts, m.Attempt)
			}
		}
		if !slices.Equal(attempts, []int{1, 2, 3}) {
			t.Errorf("victim attempts = %v, want [1 2 3]", attempts)
		}
		// Per tenant: the first successful handling of each event follows
		// publish order; in particular nothing of tenant 0 after the victim
		// was handled before the victim succeeded.
		for _, tenant := range ts {
			var want []string
			for _, p := range pubs {
				if p.Header.TenantID == tenant {
					want = append(want, p.Header.EventID)
				}
			}
			var got []string
			done := map[string]bool{}
			for _, m := range s.byTenant[tenant] {
				id := m.Header.EventID
				if id == victim && m.Attempt < 3 {
					if done[id] {
						t.Errorf("victim failed after it succeeded")
					}
					continue
				}
				if !done[id] {
					done[id] = true
					got = append(got, id)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("tenant %s: first successful handling order\n got %v\nwant %v", tenant, got, want)
			}
		}
		// Handling of the victim's tenant resumed with the victim itself.
		msgs := s.byTenant[ts[0]]
		for i, m := range msgs {
			if m.Header.EventID == victim && m.Attempt == 1 {
				if next := msgs[i+1]; next.Header.EventID != victim || next.Attempt != 2 {
					t.Errorf("after the first failure the tenant got %s attempt %d, not the victim", next.Header.EventID, next.Attempt)
				}
			}
		}
	})
}

// Handled events are committed when the consumer stops cleanly: the next
// member of the group starts right after them.
func TestShutdownCommits(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 3, "lead.created")
		c := newClient(t, tr)
		ts := tenants(3)
		sub := bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true}
		first, err := c.Publish(t.Context(), leads(ts, 30)...)
		if err != nil {
			t.Fatal(err)
		}
		s1 := newSeen()
		stop := subscribe(t, c, sub, func(_ context.Context, m *bus.Message) error { s1.add(m, true); return nil })
		waitFor(t, "first batch", 60*time.Second, func() bool { return s1.handled() == len(first) })
		if err := stop(); err != nil {
			t.Fatalf("first Subscribe: %v", err)
		}

		second, err := c.Publish(t.Context(), leads(ts, 20)...)
		if err != nil {
			t.Fatal(err)
		}
		s2 := newSeen()
		stop = subscribe(t, c, sub, func(_ context.Context, m *bus.Message) error { s2.add(m, true); return nil })
		waitFor(t, "second batch", 60*time.Second, func() bool { return s2.handled() >= len(second) })
		if err := stop(); err != nil {
			t.Fatalf("second Subscribe: %v", err)
		}
		for _, p := range first {
			if s2.ok[p.Header.EventID] {
				t.Errorf("event %s of the first batch delivered again after a clean shutdown", p.Header.EventID)
			}
		}
		if s2.handled() != len(second) {
			t.Errorf("second member handled %d events, want %d", s2.handled(), len(second))
		}
	})
}

// A new group without FromBeginning starts at the end.
func TestNewGroupStartsAtEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 1, "lead.created")
		c := newClient(t, tr)
		ts := tenants(1)
		if _, err := c.Publish(t.Context(), leads(ts, 5)...); err != nil {
			t.Fatal(err)
		}
		s := newSeen()
		ready := make(chan struct{})
		var once sync.Once
		stop := subscribe(t, c, bus.Subscription{Group: "late", Topics: []string{"lead.created"}},
			func(_ context.Context, m *bus.Message) error {
				s.add(m, true)
				once.Do(func() { close(ready) })
				return nil
			})
		// Keep publishing until the member has joined and sees something.
		var later []bus.Published
		deadline := time.Now().Add(60 * time.Second)
		for wait := true; wait; {
			p, err := c.Publish(t.Context(), leads(ts, 1)...)
			if err != nil {
				t.Fatal(err)
			}
			later = append(later, p...)
			select {
			case <-ready:
				wait = false
			case <-time.After(200 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("the new group never received an event")
				}
			}
		}
		stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.ok) > len(later) {
			t.Errorf("a new group without FromBeginning got %d events, at most %d were published after it started", len(s.ok), len(later))
		}
	})
}

func TestEnsureTopicsIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 1)
		retention := "3600000"
		specs := []kafka.TopicSpec{
			{Name: "a", Partitions: 2},
			{Name: "b", Partitions: 1, Configs: map[string]*string{"retention.ms": &retention}},
		}
		for i := range 2 {
			if err := tr.EnsureTopics(t.Context(), specs...); err != nil {
				t.Fatalf("EnsureTopics #%d: %v", i+1, err)
			}
		}
		// Raising partitions of an existing topic; asking for fewer later
		// shrinks nothing.
		if err := tr.EnsureTopics(t.Context(), kafka.TopicSpec{Name: "a", Partitions: 4}); err != nil {
			t.Fatal(err)
		}
		if err := tr.EnsureTopics(t.Context(), kafka.TopicSpec{Name: "a", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(rawClient(t, brokers))
		var details kadm.TopicDetails
		waitFor(t, "partition count visible", 30*time.Second, func() bool {
			var err error
			details, err = adm.ListTopics(t.Context(), tr.Namespace()+"a", tr.Namespace()+"b")
			return err == nil && len(details[tr.Namespace()+"a"].Partitions) == 4
		})
		if n := len(details[tr.Namespace()+"b"].Partitions); n != 1 {
			t.Errorf("b has %d partitions", n)
		}
		cfgs, err := adm.DescribeTopicConfigs(t.Context(), tr.Namespace()+"b")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := cfgs.On(tr.Namespace()+"b", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(rc.Configs, func(c kadm.Config) bool { return c.Key == "retention.ms" && c.MaybeValue() == retention }) {
			t.Errorf("b lacks retention.ms=%s", retention)
		}
	})
}

// Records carry the namespaced topic on the wire, and a keyed record lands
// on the partition the Java client would pick.
func TestWireTopicAndJavaPartitioning(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		const parts = 12
		tr := newTransport(t, brokers, parts, "lead.created")
		var recs []codec.Record
		for i := range 48 {
			recs = append(recs, codec.Record{Topic: "lead.created", Key: fmt.Appendf(nil, "tenant-%d", i),
				Value: []byte("x"), Headers: []codec.Header{{Key: "n", Value: fmt.Appendf(nil, "%d", i)}}})
		}
		if err := tr.Send(t.Context(), recs...); err != nil {
			t.Fatal(err)
		}
		cl := rawClient(t, brokers, kgo.ConsumeTopics(tr.Namespace()+"lead.created"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		got := 0
		for got < len(recs) {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				got++
				if want := kafka.JavaPartition(r.Key, parts); r.Partition != want {
					t.Errorf("key %s on partition %d, the Java client would pick %d", r.Key, r.Partition, want)
				}
			})
		}
	})
}

func TestSendErrorNamesTopic(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr, err := kafka.New(kafka.Config{Brokers: brokers, Namespace: namespace(t, brokers), Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		err = tr.Send(ctx, codec.Record{Topic: "no.such.topic", Value: []byte("x")})
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("err = %v, want UnknownTopicOrPartition", err)
		}
		if !strings.Contains(err.Error(), "no.such.topic") {
			t.Errorf("error does not name the topic: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 1, "lead.created")
		errc := make(chan error, 1)
		go func() {
			errc <- tr.Consume(context.Background(), bus.Subscription{Group: "g", Topics: []string{"lead.created"}},
				func(context.Context, *bus.Delivery) error { return nil })
		}()
		time.Sleep(200 * time.Millisecond)
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if err != nil && !errors.Is(err, kafka.ErrClosed) {
				t.Errorf("Consume returned %v when the transport closed", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Consume did not return when the transport closed")
		}
		if err := tr.Send(t.Context(), codec.Record{Topic: "lead.created", Value: []byte("x")}); !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("Send after Close: %v", err)
		}
		err := tr.Consume(t.Context(), bus.Subscription{Group: "g", Topics: []string{"x"}}, func(context.Context, *bus.Delivery) error { return nil })
		if !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("Consume after Close: %v", err)
		}
	})
}

// ConsumeBatches hands each partition's records as one slice in offset
// order; a failed slice comes back whole, its records with Attempt 2, and
// handled slices are committed.
func TestConsumeBatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 2, "lead.created")
		const n = 100
		var recs []codec.Record
		for i := range n {
			recs = append(recs, codec.Record{Topic: "lead.created", Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "%d", i)})
		}
		if err := tr.Send(t.Context(), recs...); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		acked := map[string]bool{}
		lastOffset := map[int32]int64{}
		failedOnce := false
		var redelivered []*bus.Delivery
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		sub := bus.Subscription{Group: "batch", Topics: []string{"lead.created"}, FromBeginning: true, RedeliveryDelay: 100 * time.Millisecond}
		go func() {
			errc <- tr.ConsumeBatches(ctx, sub, func(_ context.Context, ds []*bus.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				for i, d := range ds {
					if d.Partition != ds[0].Partition || (i > 0 && d.Offset != ds[i-1].Offset+1) || d.Record.Topic != "lead.created" {
						t.Errorf("batch not one partition in offset order: %s after %s", d.ID, ds[max(i-1, 0)].ID)
					}
				}
				if !failedOnce {
					failedOnce = true
					return errors.New("bulk insert failed")
				}
				if ds[0].Attempt > 1 {
					redelivered = ds
				}
				if last, ok := lastOffset[ds[0].Partition]; ok && ds[0].Offset != last+1 {
					t.Errorf("partition %d: batch starts at %d after %d was handled", ds[0].Partition, ds[0].Offset, last)
				}
				lastOffset[ds[0].Partition] = ds[len(ds)-1].Offset
				for _, d := range ds {
					acked[string(d.Record.Value)] = true
				}
				return nil
			})
		}()
		waitFor(t, "all records acknowledged", 60*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) == n
		})
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("ConsumeBatches: %v", err)
		}
		if len(redelivered) == 0 || redelivered[0].Attempt != 2 {
			t.Errorf("the failed batch was not redelivered with Attempt 2: %v", redelivered)
		}
		// Everything was committed: the group has no lag.
		adm := kadm.NewClient(rawClient(t, brokers))
		group := tr.Namespace() + "batch"
		lag, err := adm.Lag(t.Context(), group)
		if err != nil {
			t.Fatal(err)
		}
		if total := lag[group].Lag.Total(); total != 0 {
			t.Errorf("group lag after a clean stop = %d, want 0", total)
		}
	})
}
