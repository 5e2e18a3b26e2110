package pginbox_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/dedup/pginbox"
)

// outcome is what a handler does on one delivery.
type outcome int

const (
	succeed outcome = iota
	fail
	failPermanently
	panics
)

var (
	errTransient = errors.New("transient")
	errPermanent = bus.Permanent(errors.New("no such lead"))
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name       string
		deliveries []outcome // of one event, in order
		wantRuns   int
		wantRows   int // inbox rows and side effects at the end (always equal)
		wantStats  dedup.Stats
	}{
		{"first delivery commits the row and the side effect", []outcome{succeed}, 1, 1, dedup.Stats{Handled: 1}},
		{"duplicate is skipped", []outcome{succeed, succeed, succeed}, 1, 1, dedup.Stats{Handled: 1, Duplicates: 2}},
		{"failure rolls back the row and the side effect", []outcome{fail}, 1, 0, dedup.Stats{Failed: 1}},
		{"failure, then the redelivery runs again", []outcome{fail, fail, succeed, succeed}, 3, 1,
			dedup.Stats{Failed: 2, Handled: 1, Duplicates: 1}},
		{"permanent failure rolls back and keeps its mark", []outcome{failPermanently}, 1, 0, dedup.Stats{Failed: 1}},
		{"a replayed dead letter runs again", []outcome{failPermanently, succeed}, 2, 1, dedup.Stats{Failed: 1, Handled: 1}},
		{"panic rolls back", []outcome{panics, succeed}, 2, 1, dedup.Stats{Failed: 1, Handled: 1}},
	}
	e := newEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var counters dedup.Counters
			var runs int
			var next outcome
			h := pginbox.Handler(e.pool, e.group, func(ctx context.Context, tx pgx.Tx, m *bus.Message) error {
				runs++
				if ctxTx, ok := pginbox.TxFrom(ctx); !ok || ctxTx != tx {
					t.Errorf("TxFrom = %v, %v; want the handler's tx", ctxTx, ok)
				}
				if err := e.sideEffect(ctx, tx, m); err != nil {
					return err
				}
				switch next {
				case fail:
					return errTransient
				case failPermanently:
					return errPermanent
				case panics:
					panic("boom")
				}
				return nil
			}, pginbox.WithCounters(&counters))
			m := message()
			for i, o := range tc.deliveries {
				next = o
				m.Attempt = i + 1
				err := deliver(h, m)
				want := map[outcome]error{fail: errTransient, failPermanently: errPermanent, panics: errPanicked}[o]
				if o == succeed && i > 0 && slices.Contains(tc.deliveries[:i], succeed) {
					want = nil // a duplicate: skipped
				}
				if err != want { // the handler's own error, not a wrapping
					t.Fatalf("delivery %d: err = %v, want %v", i+1, err, want)
				}
			}
			if runs != tc.wantRuns {
				t.Errorf("handler ran %d times, want %d", runs, tc.wantRuns)
			}
			if inbox, effects := e.rows(t, m.Header.EventID); inbox != tc.wantRows || effects != tc.wantRows {
				t.Errorf("%d inbox rows and %d side effects, want %d of each", inbox, effects, tc.wantRows)
			}
			if got := counters.Stats(); got != tc.wantStats {
				t.Errorf("Stats = %+v, want %+v", got, tc.wantStats)
			}
		})
	}
}

var errPanicked = errors.New("panicked")

// deliver calls h as the bus does, turning a panic into errPanicked.
func deliver(h bus.Handler, m *bus.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errPanicked
		}
	}()
	return h(context.Background(), m)
}

// TestHandlerConcurrentDuplicate: two consumers handle the same event at
// once. The second's INSERT waits on the first's uncommitted row; when the
// first commits the second skips, when it rolls back the second handles.
func TestHandlerConcurrentDuplicate(t *testing.T) {
	tests := []struct {
		name      string
		firstErr  error
		wantRuns  int32
		wantRows  int
		wantStats dedup.Stats
	}{
		{"first commits: the second skips", nil, 1, 1, dedup.Stats{Handled: 1, Duplicates: 1}},
		{"first rolls back: the second handles", errTransient, 2, 1, dedup.Stats{Failed: 1, Handled: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var counters dedup.Counters
			var runs atomic.Int32
			entered, release := make(chan struct{}), make(chan struct{})
			h := pginbox.Handler(e.pool, e.group, func(ctx context.Context, tx pgx.Tx, m *bus.Message) error {
				if runs.Add(1) == 1 {
					close(entered)
					<-release
					if err := e.sideEffect(ctx, tx, m); err != nil {
						return err
					}
					return tc.firstErr
				}
				return e.sideEffect(ctx, tx, m)
			}, pginbox.WithCounters(&counters))
			m := message()
			first, second := make(chan error, 1), make(chan error, 1)
			go func() { first <- h(context.Background(), m) }()
			<-entered
			go func() { second <- h(context.Background(), m) }()
			// The second is inside its INSERT, waiting for the first's row.
			waitFor(t, "the second INSERT to wait on the first's lock", func() bool {
				return e.count(t, `SELECT count(*) FROM pg_stat_activity
					WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO spine_inbox%'`, e.app) == 1
			})
			close(release)
			if err := <-first; err != tc.firstErr {
				t.Fatalf("first: err = %v, want %v", err, tc.firstErr)
			}
			if err := <-second; err != nil {
				t.Fatalf("second: err = %v", err)
			}
			if n := runs.Load(); n != tc.wantRuns {
				t.Errorf("handler ran %d times, want %d", n, tc.wantRuns)
			}
			if inbox, effects := e.rows(t, m.Header.EventID); inbox != tc.wantRows || effects != tc.wantRows {
				t.Errorf("%d inbox rows and %d side effects, want %d of each", inbox, effects, tc.wantRows)
			}
			if got := counters.Stats(); got != tc.wantStats {
				t.Errorf("Stats = %+v, want %+v", got, tc.wantStats)
			}
		})
	}
}

// TestHandlerStoreErrors: when the inbox cannot be written the handler does
// not run and the error is retryable.
func TestHandlerStoreErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		msg  func() *bus.Message
		ctx  func() context.Context
	}{
		{"event_id not a UUID", func() *bus.Message { m := message(); m.Header.EventID = "nope"; return m }, context.Background},
		{"context ended", message, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var counters dedup.Counters
			ran := false
			h := pginbox.Handler(e.pool, e.group, func(context.Context, pgx.Tx, *bus.Message) error { ran = true; return nil },
				pginbox.WithCounters(&counters))
			err := h(tc.ctx(), tc.msg())
			if err == nil || bus.IsPermanent(err) || ran {
				t.Fatalf("err = %v, ran %v; want a retryable error and no run", err, ran)
			}
			if got := counters.Stats(); got != (dedup.Stats{StoreErrors: 1}) {
				t.Errorf("Stats = %+v", got)
			}
		})
	}
}

func TestHandlerWiring(t *testing.T) {
	h := func(context.Context, pgx.Tx, *bus.Message) error { return nil }
	tests := []struct {
		name  string
		db    pginbox.Beginner
		group string
		h     pginbox.HandlerFunc
	}{
		{"no database", nil, "g", h},
		{"no group", fakeBeginner{}, "", h},
		{"no handler", fakeBeginner{}, "g", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Handler did not panic")
				}
			}()
			pginbox.Handler(tc.db, tc.group, tc.h)
		})
	}
}

type fakeBeginner struct{}

func (fakeBeginner) Begin(context.Context) (pgx.Tx, error) { return nil, errors.New("fake") }

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
