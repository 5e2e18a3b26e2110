package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/schema"
)

// Backend is one broker the suite runs against.
type Backend struct {
	Name string
	// New returns an open transport on the backend whose topics carry the
	// prefix namespace on the wire. The suite closes it.
	New func(t testing.TB, namespace string) bus.Transport
	// Prepare creates the logical topics in the namespace, with several
	// partitions where the backend has partitions, and may register their
	// deletion with t.Cleanup. nil when there is nothing to do.
	Prepare func(t testing.TB, namespace string, topics []string)
	// Restart restarts the broker process (or cluster) and returns when it
	// serves again, on the same address and with the same data. Required.
	Restart func(t testing.TB)
	// Addr returns where a consumer in another process reaches the broker:
	// Main hands it to the package's Dialer in the consumer child of the
	// process-kill case. Required for every backend but the memory double.
	Addr func() string

	inProcess bool // the memory double: no process boundary to cross
}

// MemoryBackend returns the memory double as a Backend, for checking the
// suite itself. It is not a backend: Restart does nothing and the
// process-kill case cannot run.
func MemoryBackend(opts ...MemoryOption) Backend {
	m := NewMemory(opts...)
	return Backend{
		Name:      "memory",
		New:       func(_ testing.TB, ns string) bus.Transport { return m.Namespaced(ns) },
		Restart:   func(testing.TB) {},
		inProcess: true,
	}
}

// Timeouts for waiting on deliveries; generous because the machine is
// shared and -race is slow. They bound a hang, they measure nothing.
const (
	waitTimeout    = 90 * time.Second
	stopTimeout    = 30 * time.Second
	restartTimeout = 3 * time.Minute
)

type testCase struct {
	name string
	run  func(e *env)
}

var cases = []testCase{
	{"RoundTrip", caseRoundTrip},
	{"TenantOrder", caseTenantOrder},
	{"Redelivery", caseRedelivery},
	{"CloseAndReopen", caseCloseReopen},
	{"ConcurrentClose", caseConcurrentClose},
	{"GroupSharesWork", caseGroupShares},
	{"ConsumerKilled", caseConsumerKilled},
	{"BrokerRestart", caseBrokerRestart},
	{"ContextCancel", caseContextCancel},
	{"NewGroupStartsAtEnd", caseStartsAtEnd},
	{"LargeEvent", caseLargeEvent},
	{"ManyTenants", caseManyTenants},
	{"PoisonRecords", casePoison},
	{"RetrySchedule", caseRetrySchedule},
	{"NonBlockingRetry", caseNonBlockingRetry},
	{"StrictHold", caseStrictHold},
	{"RetryAcrossRestart", caseRetryAcrossRestart},
	{"KilledDuringRetry", caseKilledDuringRetry},
}

// Run runs every case of the suite against b, each as a subtest with its own
// namespace.
func Run(t *testing.T, b Backend) {
	if b.Name == "" || b.New == nil || b.Restart == nil {
		t.Fatal("bustest: a Backend needs Name, New and Restart")
	}
	if b.Addr == nil && !b.inProcess {
		t.Fatal("bustest: a Backend needs Addr: the process-kill case reaches it from a child process")
	}
	fx := LoadFixtures(t)
	v, err := schema.NewValidator(fx.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	cipher := NewPIICipher(t, fx.Catalog)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(&env{t: t, b: b, fx: fx, v: v, pii: cipher, ns: Namespace()})
		})
	}
}

// Namespace returns a fresh topic prefix, e.g. "bt-3f9a1c2e.", that isolates
// a test on a shared broker.
func Namespace() string { return "bt-" + randHex(4) + "." }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// env is one case's world: a namespace on the backend, its transports and a
// client.
type env struct {
	t   *testing.T
	b   Backend
	fx  *Fixtures
	v   *schema.Validator // compiled once per Run: clients share it
	pii bus.PIICipher     // one keyring per Run: every client encrypts PII
	ns  string
}

// prepare creates the topics (and their dead-letter topics) of events.
func (e *env) prepare(events ...string) []string {
	topics := e.fx.Topics(e.t, true, events...)
	if e.b.Prepare != nil {
		e.b.Prepare(e.t, e.ns, topics)
	}
	var logical []string
	for _, ev := range events {
		if tp := e.fx.Topic(e.t, ev); !slices.Contains(logical, tp) {
			logical = append(logical, tp)
		}
	}
	return logical
}

// transport opens a transport in the case's namespace, closed at cleanup.
// The returned transport implements bus.RetryParker when the backend's does.
func (e *env) transport() bus.Transport {
	inner := e.b.New(e.t, e.ns)
	var tr bus.Transport = &closeOnce{Transport: inner}
	if p, ok := inner.(bus.RetryParker); ok {
		tr = &parkingCloseOnce{closeOnce: tr.(*closeOnce), parker: p}
	}
	e.t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			e.t.Errorf("transport Close: %v", err)
		}
	})
	return tr
}

// client returns a bus.Client over tr that logs to the test and encrypts
// PII, with opts.
func (e *env) client(tr bus.Transport, opts ...bus.Option) *bus.Client {
	opts = append([]bus.Option{bus.WithValidator(e.v), bus.WithLogger(TestLogger(e.t)), bus.WithPII(e.pii)}, opts...)
	c, err := bus.New(tr, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// group returns a consumer group name unique to the case.
func (e *env) group(name string) string { return e.ns + name }

// publish sends events in batches and fails the test on an error.
func (e *env) publish(c *bus.Client, events []bus.Outgoing) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	const batch = 100
	for i := 0; i < len(events); i += batch {
		if _, err := c.Publish(ctx, events[i:min(i+batch, len(events))]...); err != nil {
			e.t.Fatalf("publish events %d..%d: %v", i, min(i+batch, len(events))-1, err)
		}
	}
}

// subscription is a running Subscribe call.
type subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// subscribe runs c.Subscribe in a goroutine until stop (or the cleanup).
func (e *env) subscribe(c bus.Subscriber, sub bus.Subscription, h bus.Handler) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = c.Subscribe(ctx, sub, h)
	}()
	e.t.Cleanup(func() { s.stop(e.t) })
	return s
}

// stop cancels the subscription and waits for Subscribe to return, which
// must be nil, within stopTimeout. It may run on any goroutine.
func (s *subscription) stop(t testing.TB) {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		t.Errorf("Subscribe did not return within %v of its context's end", stopTimeout)
		return
	}
	if s.err != nil {
		t.Errorf("Subscribe returned %v after its context ended; want nil", s.err)
		s.err = nil
	}
}

// exited reports, without waiting, whether Subscribe has returned.
func (s *subscription) exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// closeOnce lets a case close its transport early while the cleanup still
// closes it otherwise.
type closeOnce struct {
	bus.Transport
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.Transport.Close() })
	return c.err
}

// parkingCloseOnce is a closeOnce that keeps its transport's RetryParker:
// a wrapper hiding it would turn the Kafka cases into in-place retries.
type parkingCloseOnce struct {
	*closeOnce
	parker bus.RetryParker
}

func (c *parkingCloseOnce) PrepareRetryTopics(ctx context.Context, topics map[string][]string) error {
	return c.parker.PrepareRetryTopics(ctx, topics)
}

// TestLogger returns a logger that writes warnings and errors (everything
// when SPINE_TEST_VERBOSE is set) to t's log until t's cleanup, and drops
// what a straggling goroutine logs after that (t.Log would panic).
func TestLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	level := slog.LevelWarn
	if os.Getenv("SPINE_TEST_VERBOSE") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// errTransient is what handlers return to ask for a redelivery.
var errTransient = errors.New("bustest: transient failure (the suite asks for a redelivery)")
