package audit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/internal/pgtest"
)

// trailOpener opens another handle on one trail; the handle is the
// caller's to close (a Batcher closes the store it wraps).
type trailOpener func(t testing.TB) audit.Store

// batchBackend makes fresh, empty trails in one kind of store.
type batchBackend struct {
	name     string
	newTrail func(t testing.TB) trailOpener
}

// batchBackends are SQLite and PostgreSQL. A PostgreSQL trail skips (or
// fails, SPINE_REQUIRE_SERVICES=1) when opened without SPINE_TEST_POSTGRES.
func batchBackends() []batchBackend {
	return []batchBackend{{"sqlite", sqliteTrail}, {"postgres", postgresTrail}}
}

func sqliteTrail(t testing.TB) trailOpener {
	path := filepath.Join(t.TempDir(), "audit.db")
	return func(t testing.TB) audit.Store {
		s, err := audit.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func postgresTrail(testing.TB) trailOpener {
	var table string
	return func(t testing.TB) audit.Store {
		url := bustest.Service(t, "SPINE_TEST_POSTGRES")
		if table == "" {
			table = pgtest.Table(t, url, "audit_batch_test_")
		}
		s, err := audit.OpenPostgres(context.Background(), url, table)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// countingStore records what reaches the wrapped store. Its first
// len(gates) Appends wait, inside the store, until their gate opens: the
// Batcher's writer is then busy and what the test queues meanwhile is merged.
type countingStore struct {
	audit.Store
	gates []gate

	mu       sync.Mutex
	calls    []int  // entries per Append, in call order
	ctxEnded []bool // whether the Append's ctx had ended when it went on
	closed   bool
}

type gate struct {
	entered chan struct{} // closed when the Append has begun
	open    chan struct{} // closed by the test to let it go on
}

func newCountingStore(s audit.Store, holds int) *countingStore {
	c := &countingStore{Store: s}
	for range holds {
		c.gates = append(c.gates, gate{make(chan struct{}), make(chan struct{})})
	}
	return c
}

func (c *countingStore) Append(ctx context.Context, entries ...audit.Entry) ([]audit.Entry, error) {
	c.mu.Lock()
	c.calls = append(c.calls, len(entries))
	n := len(c.calls)
	c.mu.Unlock()
	if n <= len(c.gates) {
		close(c.gates[n-1].entered)
		<-c.gates[n-1].open
	}
	c.mu.Lock()
	c.ctxEnded = append(c.ctxEnded, ctx.Err() != nil)
	c.mu.Unlock()
	return c.Store.Append(ctx, entries...)
}

func (c *countingStore) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Store.Close()
}

func (c *countingStore) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *countingStore) Calls() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func (c *countingStore) CtxEnded() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ctxEnded)
}

// outcome is what one Append returned.
type outcome struct {
	sent []audit.Entry
	rows []audit.Entry
	err  error
}

// harness is a Batcher over a counting store whose first holds Appends are
// gated; the first of them is the blocker's, one entry appended under
// blockerCtx before newHarness returns.
type harness struct {
	t       *testing.T
	b       *audit.Batcher
	store   *countingStore
	wg      sync.WaitGroup
	blocker chan outcome
}

func newHarness(t *testing.T, s audit.Store, cfg audit.BatchConfig, blockerCtx context.Context, holds int) *harness {
	h := &harness{t: t, store: newCountingStore(s, holds), blocker: make(chan outcome, 1)}
	h.b = audit.NewBatcher(h.store, cfg)
	t.Cleanup(func() {
		for i := range h.store.gates {
			h.open(i + 1) // a failed test must not leave the writer held
		}
		_ = h.b.Close()
	})
	e := entry(-1)
	h.wg.Go(func() {
		rows, err := h.b.Append(blockerCtx, e)
		h.blocker <- outcome{[]audit.Entry{e}, rows, err}
	})
	h.waitEntered(1)
	return h
}

// waitEntered waits until the store's call'th Append (1-based) is held.
func (h *harness) waitEntered(call int) {
	h.t.Helper()
	select {
	case <-h.store.gates[call-1].entered:
	case <-time.After(10 * time.Second):
		h.t.Fatalf("store Append %d never began", call)
	}
}

// open lets the store's call'th Append go on; opening twice is harmless.
func (h *harness) open(call int) {
	select {
	case <-h.store.gates[call-1].open:
	default:
		close(h.store.gates[call-1].open)
	}
}

// release lets the blocker's Append through and returns its outcome.
func (h *harness) release() outcome {
	h.open(1)
	return recv(h.t, h.blocker)
}

// recv waits for what ch gives, failing the test rather than hanging when
// a broken Batcher never answers.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10 s")
		var zero T
		return zero
	}
}

// wait is wg.Wait, bounded like recv.
func wait(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	recv(t, done)
}

// enqueue starts an Append of entries and returns once it is queued, so
// that requests queue in the order enqueue is called.
func (h *harness) enqueue(ctx context.Context, entries ...audit.Entry) <-chan outcome {
	h.t.Helper()
	want := h.b.Pending() + 1
	out := make(chan outcome, 1)
	h.wg.Go(func() {
		rows, err := h.b.Append(ctx, entries...)
		out <- outcome{entries, rows, err}
	})
	h.waitPending(want)
	return out
}

func (h *harness) waitPending(n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.b.Pending() != n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d requests queued, want %d", h.b.Pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func entries(n int) []audit.Entry {
	out := make([]audit.Entry, n)
	for i := range out {
		out[i] = entry(i)
	}
	return out
}

// checkOwnRows fails unless rows are sent as written: same events in the
// same order, consecutive ids, linked hashes.
func checkOwnRows(t *testing.T, o outcome) {
	t.Helper()
	if o.err != nil {
		t.Errorf("append: %v", o.err)
		return
	}
	if len(o.rows) != len(o.sent) {
		t.Errorf("%d entries sent, %d rows back", len(o.sent), len(o.rows))
		return
	}
	for i, r := range o.rows {
		if r.EventID != o.sent[i].EventID {
			t.Errorf("row %d of a call is event %s, sent %s", i, r.EventID, o.sent[i].EventID)
		}
		if i > 0 && (r.ID != o.rows[i-1].ID+1 || r.PrevHash != o.rows[i-1].Hash) {
			t.Errorf("rows of one call not consecutive: %d after %d", r.ID, o.rows[i-1].ID)
		}
	}
}

// checkTrail verifies the chain through s and that it holds exactly want,
// as written.
func checkTrail(t *testing.T, s audit.Store, want []audit.Entry) {
	t.Helper()
	ctx := context.Background()
	if n, err := audit.Verify(ctx, s); err != nil || n != int64(len(want)) {
		t.Fatalf("verify: %d rows, %v; want %d rows", n, err, len(want))
	}
	rows, err := s.Rows(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[int64]audit.Entry, len(want))
	for _, w := range want {
		byID[w.ID] = w
	}
	for _, r := range rows {
		if w, ok := byID[r.ID]; !ok || !rowsEqual(r, w) {
			t.Errorf("row %d read back as\n%+v\nreturned to its caller as\n%+v", r.ID, r, w)
		}
	}
}

// Many callers at once: each gets its own rows, the chain verifies, the
// count is exact, and the store saw fewer Appends than the callers made.
func TestBatcherMergesConcurrentAppends(t *testing.T) {
	cases := []struct {
		name    string
		callers int
		rounds  int // Appends per caller, one after the other
		perCall int // entries per Append: 1…perCall
	}{
		{"16 callers, 1 entry", 16, 1, 1},
		{"64 callers, 4 rounds, up to 3 entries", 64, 4, 3},
	}
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{}, ctx, 1)

					var mu sync.Mutex
					var got []outcome
					var wg sync.WaitGroup
					firstRound := 0
					for g := range tc.callers {
						firstRound += 1 + g%tc.perCall
						wg.Go(func() {
							for r := range tc.rounds {
								sent := entries(1 + (g+r)%tc.perCall)
								rows, err := h.b.Append(ctx, sent...)
								mu.Lock()
								got = append(got, outcome{sent, rows, err})
								mu.Unlock()
							}
						})
					}
					// The first round of every caller queues behind the
					// blocker: the next store Append must hold them all.
					h.waitPending(tc.callers)
					blocker := h.release()
					wait(t, &wg)
					got = append(got, blocker)

					var written []audit.Entry
					for _, o := range got {
						checkOwnRows(t, o)
						written = append(written, o.rows...)
					}
					checkTrail(t, h.b, written)
					calls := h.store.Calls()
					if len(calls) < 2 || calls[1] != firstRound {
						t.Errorf("store calls %v: want the second to merge the %d entries of the first round", calls, firstRound)
					}
					if made := tc.callers*tc.rounds + 1; len(calls) >= made {
						t.Errorf("store saw %d Appends for %d calls: nothing merged", len(calls), made)
					}
					if rows, err := h.b.Append(ctx); rows != nil || err != nil {
						t.Errorf("empty append: %v, %v", rows, err)
					}
				})
			}
		})
	}
}

// Batches take a prefix of the queue up to MaxEntries, never split a call,
// and write an oversized call alone; the chain follows arrival order.
func TestBatcherMaxEntries(t *testing.T) {
	cases := []struct {
		name  string
		max   int
		sizes []int // entries per call, in arrival order
		want  []int // entries per store Append after the blocker's
	}{
		{"default merges all", 0, []int{1, 1, 1}, []int{3}},
		{"prefix up to max", 4, []int{3, 2, 5, 1, 1}, []int{3, 2, 5, 2}},
		{"oversized alone", 4, []int{1, 9, 1}, []int{1, 9, 1}},
		{"max 1 never merges", 1, []int{1, 2, 1}, []int{1, 2, 1}},
		{"exact fit", 4, []int{2, 2, 2, 2}, []int{4, 4}},
	}
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{MaxEntries: tc.max}, ctx, 1)
					var outs []<-chan outcome
					for _, n := range tc.sizes {
						outs = append(outs, h.enqueue(ctx, entries(n)...))
					}
					blocker := h.release()
					checkOwnRows(t, blocker)
					lastID := blocker.rows[0].ID
					for i, out := range outs {
						o := recv(t, out)
						checkOwnRows(t, o)
						if o.err == nil && o.rows[0].ID != lastID+1 {
							t.Errorf("call %d starts at row %d, want %d (arrival order)", i, o.rows[0].ID, lastID+1)
						}
						if o.err == nil {
							lastID = o.rows[len(o.rows)-1].ID
						}
					}
					wait(t, &h.wg)
					if calls := h.store.Calls(); !slices.Equal(calls[1:], tc.want) {
						t.Errorf("store Appends of %v entries, want %v", calls[1:], tc.want)
					}
				})
			}
		})
	}
}

// An entry the store refuses fails its own caller only: the merged Append
// fails, each call is retried alone.
func TestBatcherInvalidEntryFailsOnlyItsCaller(t *testing.T) {
	invalid := audit.Entry{Action: "dlq.replay", Outcome: "replayed"} // no actor
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			for bad := range 3 {
				t.Run(fmt.Sprintf("invalid call %d of 3", bad), func(t *testing.T) {
					ctx := context.Background()
					h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{}, ctx, 1)
					var outs []<-chan outcome
					for i := range 3 {
						sent := entries(2)
						if i == bad {
							sent[1] = invalid
						}
						outs = append(outs, h.enqueue(ctx, sent...))
					}
					blocker := h.release()
					written := blocker.rows
					for i, out := range outs {
						o := recv(t, out)
						if i == bad {
							if !errors.Is(o.err, audit.ErrInvalid) {
								t.Errorf("invalid call: %v, want ErrInvalid", o.err)
							}
							continue
						}
						checkOwnRows(t, o)
						written = append(written, o.rows...)
					}
					wait(t, &h.wg)
					if calls, want := h.store.Calls(), []int{1, 6, 2, 2, 2}; !slices.Equal(calls, want) {
						t.Errorf("store Appends of %v entries, want %v (merged, then each alone)", calls, want)
					}
					checkTrail(t, h.b, written)
				})
			}
		})
	}
}

// A caller whose ctx ends while its request is queued gets ctx's error and
// its entries never reach the store.
func TestBatcherContextEndsBeforeTaken(t *testing.T) {
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		end  func(cancel context.CancelFunc) // ends ctx, or lets it expire
		want error
	}{
		{
			"cancelled",
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(cancel context.CancelFunc) { cancel() },
			context.Canceled,
		},
		{
			"deadline",
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			func(context.CancelFunc) {},
			context.DeadlineExceeded,
		},
	}
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{}, context.Background(), 1)
					ctx, cancel := tc.ctx()
					defer cancel()
					kept := h.enqueue(context.Background(), entry(1))
					out := h.enqueue(ctx, entry(2))
					tc.end(cancel)
					o := recv(t, out)
					if !errors.Is(o.err, tc.want) || o.rows != nil {
						t.Fatalf("append: %v, %v; want %v", o.rows, o.err, tc.want)
					}
					h.waitPending(1) // the request is withdrawn, the other stays
					blocker := h.release()
					k := recv(t, kept)
					checkOwnRows(t, k)
					wait(t, &h.wg)
					if calls := h.store.Calls(); !slices.Equal(calls, []int{1, 1}) {
						t.Errorf("store Appends of %v entries, want [1 1]: the withdrawn entry reached the store", calls)
					}
					checkTrail(t, h.b, append(blocker.rows, k.rows...))
				})
			}
		})
	}
}

// A caller who gives up once its request is taken returns at once, while
// its batch is still in the store. The batch goes on for the callers still
// waiting, the give-up's rows written with theirs; a batch everyone gave up
// on runs under an ended context.
func TestBatcherContextEndsAfterTaken(t *testing.T) {
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Run("alone", func(t *testing.T) {
				ctx, giveUp := context.WithCancel(context.Background())
				defer giveUp()
				h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{}, ctx, 1)
				giveUp()
				o := recv(t, h.blocker) // its Append is still held in the store
				if !errors.Is(o.err, context.Canceled) || o.rows != nil {
					t.Fatalf("append: %v, %v; want context.Canceled", o.rows, o.err)
				}
				h.open(1)
				// The writer is serial: once this returns, the held call is over.
				e := entry(1)
				next, err := h.b.Append(context.Background(), e)
				checkOwnRows(t, outcome{[]audit.Entry{e}, next, err})
				if ended := h.store.CtxEnded(); !slices.Equal(ended, []bool{true, false}) {
					t.Errorf("store Append ctx ended: %v, want [true false]", ended)
				}
				if n, err := audit.Verify(context.Background(), h.b); err != nil {
					t.Errorf("verify: %d rows, %v", n, err)
				}
			})
			t.Run("merged, one of two gives up", func(t *testing.T) {
				h := newHarness(t, be.newTrail(t)(t), audit.BatchConfig{}, context.Background(), 2)
				ctx, giveUp := context.WithCancel(context.Background())
				defer giveUp()
				leaving := h.enqueue(ctx, entry(1))
				staying := h.enqueue(context.Background(), entry(2))
				blocker := h.release()
				h.waitEntered(2) // the merged batch is in the store
				giveUp()
				l := recv(t, leaving)
				if !errors.Is(l.err, context.Canceled) || l.rows != nil {
					t.Fatalf("append: %v, %v; want context.Canceled", l.rows, l.err)
				}
				h.open(2)
				s := recv(t, staying)
				checkOwnRows(t, s)
				wait(t, &h.wg)
				if ended := h.store.CtxEnded(); !slices.Equal(ended, []bool{false, false}) {
					t.Errorf("store Append ctx ended: %v, want [false false]: one caller ended the batch", ended)
				}
				if calls := h.store.Calls(); !slices.Equal(calls, []int{1, 2}) {
					t.Errorf("store Appends of %v entries, want [1 2]", calls)
				}
				rows, err := h.b.Rows(context.Background(), 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 3 || rows[1].EventID != l.sent[0].EventID || !rowsEqual(rows[2], s.rows[0]) {
					t.Errorf("trail %+v: want the blocker's, the give-up's and the stayer's rows", rows)
				}
				checkTrail(t, h.b, append(append(blocker.rows, rows[1]), s.rows...))
			})
		})
	}
}

// Close refuses new Appends, writes what is queued, stops the writer and
// closes the wrapped store.
func TestBatcherCloseDrains(t *testing.T) {
	for _, be := range batchBackends() {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			open := be.newTrail(t)
			s := open(t)
			before := goleak.IgnoreCurrent() // the store's own goroutines, gone with it
			h := newHarness(t, s, audit.BatchConfig{MaxEntries: 2}, ctx, 1)
			var queued []<-chan outcome
			for range 3 {
				queued = append(queued, h.enqueue(ctx, entries(2)...))
			}
			closed := make(chan error, 1)
			go func() { closed <- h.b.Close() }()
			// A probe with an ended ctx is never queued: it tells whether
			// Close has begun without writing anything.
			done, cancel := context.WithCancel(ctx)
			cancel()
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := h.b.Append(done, entry(9))
				if errors.Is(err, audit.ErrClosed) {
					break
				}
				if !errors.Is(err, context.Canceled) || time.Now().After(deadline) {
					t.Fatalf("probe: %v, want ErrClosed once Close began", err)
				}
				time.Sleep(time.Millisecond)
			}
			if _, err := h.b.Append(ctx, entry(9)); !errors.Is(err, audit.ErrClosed) {
				t.Errorf("append after Close: %v, want ErrClosed", err)
			}
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) while an Append was in the store", err)
			default:
			}
			if h.store.isClosed() {
				t.Fatal("the store was closed before the queue was drained")
			}
			blocker := h.release()
			written := blocker.rows
			for _, q := range queued {
				o := recv(t, q)
				checkOwnRows(t, o)
				written = append(written, o.rows...)
			}
			if err := recv(t, closed); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := h.b.Close(); err != nil {
				t.Errorf("second close: %v", err)
			}
			wait(t, &h.wg)
			if !h.store.isClosed() {
				t.Error("Close did not close the wrapped store")
			}
			if calls := h.store.Calls(); !slices.Equal(calls, []int{1, 2, 2, 2}) {
				t.Errorf("store Appends of %v entries, want [1 2 2 2]", calls)
			}
			goleak.VerifyNone(t, before) // before the reopen below starts its own
			reopened := open(t)
			defer reopened.Close()
			checkTrail(t, reopened, written)
		})
	}
}
