package bustest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus"
)

// ChildEnv is the environment variable that makes a test binary a consumer
// child of the process-kill case instead of running tests; it holds the
// childSpec as JSON.
const ChildEnv = "SPINE_BUSTEST_CHILD"

// Dialer opens a transport to the broker at addr (Backend.Addr) with the
// given namespace. It runs in a consumer child process, where there is no
// testing.TB.
type Dialer func(ctx context.Context, addr, namespace string) (bus.Transport, error)

// Main is the TestMain of every backend package:
//
//	func TestMain(m *testing.M) { bustest.Main(m, dial) }
//
// Started as a consumer child (ChildEnv set) it runs the consumer and exits;
// otherwise it runs the tests and fails them if goroutines leak. dial may be
// nil in a package with no out-of-process backend.
func Main(m *testing.M, dial Dialer) {
	if spec := os.Getenv(ChildEnv); spec != "" {
		os.Exit(runChild(spec, dial))
	}
	goleak.VerifyTestMain(m)
}

// childSpec tells a consumer child what to consume and where to log it.
type childSpec struct {
	Backend     string        `json:"backend"`
	Addr        string        `json:"addr"`
	Namespace   string        `json:"namespace"`
	Group       string        `json:"group"`
	Topics      []string      `json:"topics"`
	Concurrency int           `json:"concurrency"`
	Delay       time.Duration `json:"delay"` // per handled event, so a kill lands mid-stream
	Out         string        `json:"out"`   // file the handled event ids are appended to
	// FailFirst are event ids whose first attempt fails (retryably); each
	// failure is appended to Out+".failed".
	FailFirst   []string        `json:"fail_first,omitempty"`
	RetryDelays []time.Duration `json:"retry_delays,omitempty"` // bus.WithRetryDelays, when set
}

// runChild consumes until stdin closes (the parent is done or gone) or a
// SIGTERM; each handled event id is appended to spec.Out and fsynced before
// the handler returns, so the file lists at least everything committed.
func runChild(raw string, dial Dialer) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		log.Error("bustest child: bad spec", "error", err)
		return 3
	}
	if dial == nil {
		log.Error("bustest child: the package's TestMain passed no Dialer to bustest.Main", "backend", spec.Backend)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // owned by the process: ends with stdin
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	f, err := os.OpenFile(spec.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Error("bustest child: output", "error", err)
		return 2
	}
	defer f.Close()
	tr, err := dial(ctx, spec.Addr, spec.Namespace)
	if err != nil {
		log.Error("bustest child: dial", "addr", spec.Addr, "error", err)
		return 2
	}
	defer tr.Close()
	opts := []bus.Option{bus.WithLogger(log)}
	if len(spec.RetryDelays) > 0 {
		opts = append(opts, bus.WithRetryDelays(spec.RetryDelays...))
	}
	c, err := bus.New(tr, opts...)
	if err != nil {
		log.Error("bustest child: client", "error", err)
		return 2
	}
	failed, err := os.OpenFile(spec.Out+".failed", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Error("bustest child: output", "error", err)
		return 2
	}
	defer failed.Close()
	var mu sync.Mutex
	err = c.Subscribe(ctx, bus.Subscription{Group: spec.Group, Topics: spec.Topics, FromBeginning: true, Concurrency: spec.Concurrency},
		func(ctx context.Context, m *bus.Message) error {
			time.Sleep(spec.Delay)
			mu.Lock()
			defer mu.Unlock()
			out := f
			if m.Attempt == 1 && slices.Contains(spec.FailFirst, m.Header.EventID) {
				out = failed
			}
			if _, err := out.WriteString(m.Header.EventID + "\n"); err != nil {
				return err
			}
			if err := out.Sync(); err != nil {
				return err
			}
			if out == failed {
				return errTransient
			}
			return nil
		})
	if err != nil {
		log.Error("bustest child: subscribe", "error", err)
		return 2
	}
	return 0
}

// child is a running consumer child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   string
	logs  *syncBuffer
	done  chan struct{}
	err   error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChild re-executes the test binary as a consumer child. It runs no
// tests (-test.run=^$): a TestMain that does not call Main makes it exit at
// once, which the parent reports.
func startChild(t testing.TB, spec childSpec) *child {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(raw))
	ch := &child{cmd: cmd, out: spec.Out, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ch.logs, ch.logs
	if ch.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start consumer child: %v", err)
	}
	go func() {
		ch.err = cmd.Wait()
		close(ch.done)
	}()
	t.Cleanup(func() {
		_ = ch.cmd.Process.Kill()
		<-ch.done
	})
	return ch
}

// exited reports whether the child has exited.
func (ch *child) exited() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (ch *child) kill(t testing.TB) {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil && !ch.exited() {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-ch.done
}

// stop asks the child to finish (stdin closes) and waits for a clean exit.
func (ch *child) stop(t testing.TB) {
	t.Helper()
	_ = ch.stdin.Close()
	select {
	case <-ch.done:
		if ch.err != nil {
			t.Errorf("consumer child exited with %v; its output:\n%s", ch.err, ch.logs)
		}
	case <-time.After(stopTimeout):
		t.Errorf("consumer child did not stop within %v of its stdin closing; killing it", stopTimeout)
		_ = ch.cmd.Process.Kill()
		<-ch.done
	}
}

// handled reads the event ids the child logged (complete lines only).
func (ch *child) handled() []string { return readIDs(ch.out) }

// failed reads the event ids whose first attempt the child failed.
func (ch *child) failed() []string { return readIDs(ch.out + ".failed") }

func readIDs(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		ids = append(ids, sc.Text())
	}
	if len(b) > 0 && b[len(b)-1] != '\n' && len(ids) > 0 {
		ids = ids[:len(ids)-1] // a line cut by the kill
	}
	return ids
}

// waitChildren polls the children's logs until cond holds on the union of
// handled ids, a child exits, or the timeout passes.
func waitChildren(t testing.TB, timeout time.Duration, cond func(seen map[string]int) bool, kids ...*child) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]int{}
		for _, k := range kids {
			for _, id := range k.handled() {
				seen[id]++
			}
		}
		if cond(seen) {
			return seen
		}
		last := kids[len(kids)-1]
		if last.exited() {
			t.Fatalf("consumer child exited (%v) before it was done; does the package's TestMain call bustest.Main? Its output:\n%s",
				last.err, tail(last.logs.String(), 4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the consumer children had handled %d distinct events; output of the last:\n%s",
				timeout, len(seen), tail(last.logs.String(), 4000))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// caseConsumerKilled: a consumer process SIGKILLed mid-stream loses nothing:
// a new process in the same group handles everything the first did not
// commit.
func caseConsumerKilled(e *env) {
	t := e.t
	if e.b.inProcess {
		t.Skip("the memory double lives inside the test process: there is no consumer process to kill")
	}
	const event = "workflow.triggered"
	topics := e.prepare(event)
	c := e.client(e.transport())
	out, _ := e.orderedStreams(event, Tenants(Scale(16, 8)), Scale(40, 20))
	e.publish(c, out)
	all := ids(out)
	dir := t.TempDir()
	spec := childSpec{Backend: e.b.Name, Addr: e.b.Addr(), Namespace: e.ns, Group: e.group("killed"), Topics: topics,
		Concurrency: 4, Delay: 5 * time.Millisecond, Out: dir + "/child-1.log"}

	first := startChild(t, spec)
	waitChildren(t, waitTimeout, func(seen map[string]int) bool { return len(seen) >= len(all)/4 }, first)
	first.kill(t)
	handled1 := len(first.handled())

	spec.Out = dir + "/child-2.log"
	second := startChild(t, spec)
	seen := waitChildren(t, restartTimeout, func(seen map[string]int) bool {
		for _, id := range all {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	}, first, second)
	second.stop(t)
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if handled1 == len(all) {
		t.Logf("the first child handled all %d events before the kill: the kill did not land mid-stream", len(all))
	}
	t.Logf("first child handled %d of %d before SIGKILL; the second handled %d, %d of them again",
		handled1, len(all), len(second.handled()), dups)
}

// caseKilledDuringRetry: a consumer process SIGKILLed while events wait for
// their retry loses nothing: a new process in the same group handles them
// once they are due, and everything else.
func caseKilledDuringRetry(e *env) {
	t := e.t
	if e.b.inProcess {
		t.Skip("the memory double lives inside the test process: there is no consumer process to kill")
	}
	const event = "lead.created" // non-blocking: parked on a retry topic
	topics := e.prepare(event)
	c := e.client(e.transport())
	tenants := Tenants(4)
	var out []bus.Outgoing
	for i := range 12 {
		out = append(out, e.fx.Event(t, event, tenants[i%len(tenants)]))
	}
	poison := []string{out[0].EventID, out[5].EventID}
	e.publish(c, out)
	dir := t.TempDir()
	spec := childSpec{Backend: e.b.Name, Addr: e.b.Addr(), Namespace: e.ns, Group: e.group("killed-retry"), Topics: topics,
		Concurrency: 4, Out: dir + "/child-1.log", FailFirst: poison, RetryDelays: []time.Duration{3 * time.Second}}

	first := startChild(t, spec)
	deadline := time.Now().Add(waitTimeout)
	for len(first.failed()) < len(poison) {
		if time.Now().After(deadline) || first.exited() {
			t.Fatalf("the first child failed %v, want both of %v; its output:\n%s", first.failed(), poison, tail(first.logs.String(), 4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.kill(t) // the retries are 3 s away
	spec.Out = dir + "/child-2.log"
	second := startChild(t, spec)
	waitChildren(t, restartTimeout, func(seen map[string]int) bool {
		for _, id := range ids(out) {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	}, first, second)
	second.stop(t)
	for _, id := range poison {
		if slices.Contains(first.handled(), id) {
			t.Errorf("event %s was handled by the first child, before its retry was due", id)
		}
	}
}
