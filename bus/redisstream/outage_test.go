package redisstream

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
)

// proxy stands between a transport and Redis so that a test can take Redis
// away and bring it back — the shape of a restart or failover as a client
// sees it — without touching the shared server.
type proxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.up.Store(true)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Go(func() { pipe(s, c) })
		p.wg.Go(func() { pipe(c, s) })
	}
}

// down drops every connection and refuses new ones until up.
func (p *proxy) down() {
	p.up.Store(false)
	p.cut()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Send keeps retrying while Redis is away, and succeeds once it is back.
func TestSendRetriesThroughOutage(t *testing.T) {
	w := newWorld(t)
	px := newProxy(t, w.addr)
	tr := w.transport(Config{Addr: px.addr()})
	px.down()
	// Longer than go-redis's own few retries (about a second).
	back := time.AfterFunc(2*time.Second, func() { px.up.Store(true) })
	defer back.Stop()
	w.send(tr, topic, "a", "b")
	if n, _ := w.rdb.XLen(context.Background(), w.stream(topic)).Result(); n < 2 {
		t.Errorf("XLEN %d after Send returned", n)
	}
	if !w.logs.has("WARN", "retrying") {
		t.Error("the retries were not logged")
	}
}

// Send gives up after SendTimeout, with the connection error.
func TestSendTimeout(t *testing.T) {
	w := newWorld(t)
	px := newProxy(t, w.addr)
	tr := w.transport(Config{Addr: px.addr(), SendTimeout: 200 * time.Millisecond})
	px.down()
	err := tr.Send(context.Background(), two...)
	var ne net.Error
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) && !errors.Is(err, io.EOF) {
		t.Errorf("Send during an outage = %v, want the connection error", err)
	}
}

// A consumer rides out Redis going away mid-stream: it retries, and once
// Redis is back it handles everything, loses nothing and acknowledges all.
func TestConsumeSurvivesOutage(t *testing.T) {
	w := newWorld(t)
	px := newProxy(t, w.addr)
	direct := w.transport(Config{})
	tr := w.transport(Config{Addr: px.addr(), ClaimIdle: time.Second})
	var keys []string
	for i := range 300 {
		keys = append(keys, string(rune('a'+i%7)))
	}
	w.send(direct, topic, keys[:150]...)
	var c calls
	var handled atomic.Int32
	r := w.consume(tr, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true, Concurrency: 4},
		func(_ context.Context, d *bus.Delivery) error {
			time.Sleep(time.Millisecond)
			c.add(d, true)
			handled.Add(1)
			return nil
		})
	waitFor(t, "some entries handled", func() bool { return handled.Load() >= 20 }, r)
	px.down()
	w.send(direct, topic, keys[150:]...) // published while the consumer is cut off
	time.Sleep(time.Second)
	px.up.Store(true)

	seen := func() int {
		ids := map[string]bool{}
		for _, x := range c.snapshot() {
			ids[x.id] = true
		}
		return len(ids)
	}
	waitFor(t, "all 300 entries handled", func() bool { return seen() == 300 }, r)
	waitFor(t, "everything acknowledged", func() bool { return len(w.pending(topic, "g")) == 0 }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if !w.logs.has("WARN", "retrying") {
		t.Error("the outage was not logged")
	}
	// Per-key order holds for first deliveries; an entry whose reply was
	// lost with the connection may come again (at least once).
	last := map[string]string{}
	for _, x := range c.snapshot() {
		if x.attempt == 1 {
			if p, ok := last[x.key]; ok && !idLess(p, x.id) {
				t.Errorf("key %s: %s handled after %s", x.key, x.id, p)
			}
			last[x.key] = x.id
		}
	}
}

func idLess(a, b string) bool {
	x, _ := parseID(a)
	y, _ := parseID(b)
	return x.less(y)
}
