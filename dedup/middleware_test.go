package dedup_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/event"
)

// fakeStore answers Begin as told and records what the middleware does
// with the token.
type fakeStore struct {
	status   dedup.Status
	beginErr error
	doneErr  error
	abortErr error
	noToken  bool

	mu            sync.Mutex
	dones, aborts int
}

func (f *fakeStore) Begin(context.Context, string, string) (dedup.Claim, error) {
	if f.beginErr != nil {
		return dedup.Claim{}, f.beginErr
	}
	c := dedup.Claim{Status: f.status}
	if f.status == dedup.Claimed && !f.noToken {
		c.Token = fakeToken{f}
	}
	return c, nil
}

func (f *fakeStore) calls() (dones, aborts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dones, f.aborts
}

type fakeToken struct{ f *fakeStore }

func (t fakeToken) Done(context.Context) error {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.dones++
	return t.f.doneErr
}

func (t fakeToken) Abort(context.Context) error {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.aborts++
	return t.f.abortErr
}

func message(id string) *bus.Message {
	return &bus.Message{Envelope: event.Envelope{Header: event.Header{EventID: id, EventName: "lead.created"}}}
}

func TestMiddleware(t *testing.T) {
	errHandler := errors.New("handler failed")
	errPermanent := bus.Permanent(errors.New("no such lead"))
	errStore := errors.New("store unreachable")
	tests := []struct {
		name       string
		store      *fakeStore
		handlerErr error
		wantRun    bool
		wantErr    error // errors.Is; nil: no error
		wantSame   bool  // the handler's error itself, unwrapped
		wantDone   int
		wantAbort  int
		wantStats  dedup.Stats
		wantLog    string // in the debug log
	}{
		{name: "first delivery runs and is recorded", store: &fakeStore{status: dedup.Claimed},
			wantRun: true, wantDone: 1, wantStats: dedup.Stats{Handled: 1}},
		{name: "duplicate is skipped and acknowledged", store: &fakeStore{status: dedup.Duplicate},
			wantStats: dedup.Stats{Duplicates: 1}, wantLog: "duplicate event skipped"},
		{name: "in progress elsewhere comes back later", store: &fakeStore{status: dedup.InProgress},
			wantErr: dedup.ErrInProgress, wantStats: dedup.Stats{InProgress: 1}},
		{name: "store failure is retryable", store: &fakeStore{beginErr: errStore},
			wantErr: errStore, wantStats: dedup.Stats{StoreErrors: 1}},
		{name: "handler failure releases the claim", store: &fakeStore{status: dedup.Claimed}, handlerErr: errHandler,
			wantRun: true, wantErr: errHandler, wantSame: true, wantAbort: 1, wantStats: dedup.Stats{Failed: 1}},
		{name: "permanent failure keeps its mark", store: &fakeStore{status: dedup.Claimed}, handlerErr: errPermanent,
			wantRun: true, wantErr: bus.ErrPermanent, wantSame: true, wantAbort: 1, wantStats: dedup.Stats{Failed: 1}},
		{name: "failed release still returns the handler's error", store: &fakeStore{status: dedup.Claimed, abortErr: errStore},
			handlerErr: errHandler, wantRun: true, wantErr: errHandler, wantSame: true, wantAbort: 1, wantStats: dedup.Stats{Failed: 1}},
		{name: "failed record still acknowledges", store: &fakeStore{status: dedup.Claimed, doneErr: errStore},
			wantRun: true, wantDone: 1, wantStats: dedup.Stats{Handled: 1}},
		{name: "lost lease still acknowledges", store: &fakeStore{status: dedup.Claimed, doneErr: dedup.ErrLeaseLost},
			wantRun: true, wantDone: 1, wantStats: dedup.Stats{Handled: 1}},
		{name: "claim without token is an error", store: &fakeStore{status: dedup.Claimed, noToken: true},
			wantErr: errAny},
		{name: "unknown status is an error", store: &fakeStore{status: 42}, wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var counters dedup.Counters
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ran := false
			h := dedup.Middleware(tc.store, "g", dedup.WithCounters(&counters), dedup.WithLogger(log))(
				func(context.Context, *bus.Message) error { ran = true; return tc.handlerErr })
			id := uuid.NewString()
			err := h(context.Background(), message(id))
			switch {
			case tc.wantErr == nil && err != nil, tc.wantErr != nil && err == nil:
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case tc.wantSame && err != tc.handlerErr:
				t.Fatalf("err = %#v, want the handler's own %#v", err, tc.handlerErr)
			case err != nil && bus.IsPermanent(err) != bus.IsPermanent(tc.handlerErr):
				t.Fatalf("IsPermanent(%v) = %v", err, bus.IsPermanent(err))
			}
			if ran != tc.wantRun {
				t.Errorf("handler ran = %v, want %v", ran, tc.wantRun)
			}
			if d, a := tc.store.calls(); d != tc.wantDone || a != tc.wantAbort {
				t.Errorf("Done, Abort called %d, %d times; want %d, %d", d, a, tc.wantDone, tc.wantAbort)
			}
			if got := counters.Stats(); got != tc.wantStats && tc.wantErr != errAny {
				t.Errorf("Stats = %+v, want %+v", got, tc.wantStats)
			}
			if tc.wantLog != "" && (!strings.Contains(logs.String(), tc.wantLog) || !strings.Contains(logs.String(), "event_id="+id)) {
				t.Errorf("log %q lacks %q with the event_id", logs.String(), tc.wantLog)
			}
		})
	}
}

// errAny in a table means "some error".
var errAny = errors.New("any error")

// TestMiddlewarePanic: a panicking handler gives up its claim (so a replay
// of its dead letter runs again) and the panic goes on to the bus.
func TestMiddlewarePanic(t *testing.T) {
	store := dedup.NewMemory(dedup.DefaultTTL)
	var counters dedup.Counters
	mw := dedup.Middleware(store, "g", dedup.WithCounters(&counters))
	id := uuid.NewString()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the handler's panic", r)
			}
		}()
		_ = mw(func(context.Context, *bus.Message) error { panic("boom") })(context.Background(), message(id))
	}()
	ran := false
	if err := mw(func(context.Context, *bus.Message) error { ran = true; return nil })(context.Background(), message(id)); err != nil || !ran {
		t.Fatalf("after the panic: err %v, ran %v; want the event handled", err, ran)
	}
	if got, want := counters.Stats(), (dedup.Stats{Failed: 1, Handled: 1}); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

// TestMiddlewareConcurrentDuplicate: two consumers get the same event at
// once (a rebalance). The second is told to come back; when it does, the
// event is a duplicate. The handler ran once.
func TestMiddlewareConcurrentDuplicate(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := st.make(t)
			var runs atomic.Int32
			entered, release := make(chan struct{}), make(chan struct{})
			h := dedup.Middleware(e.store, e.group)(func(context.Context, *bus.Message) error {
				runs.Add(1)
				close(entered)
				<-release
				return nil
			})
			m := message(uuid.NewString())
			first := make(chan error, 1)
			go func() { first <- h(context.Background(), m) }()
			<-entered
			err := h(context.Background(), m)
			if !errors.Is(err, dedup.ErrInProgress) || bus.IsPermanent(err) {
				t.Fatalf("second consumer: err = %v, want a retryable ErrInProgress", err)
			}
			close(release)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if err := h(context.Background(), m); err != nil { // the redelivery
				t.Fatalf("redelivery: %v", err)
			}
			if n := runs.Load(); n != 1 {
				t.Fatalf("handler ran %d times, want 1", n)
			}
		})
	}
}

func TestMiddlewareWiring(t *testing.T) {
	tests := []struct {
		name  string
		store dedup.Store
		group string
	}{
		{"no store", nil, "g"},
		{"no group", dedup.NewMemory(0), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Middleware did not panic")
				}
			}()
			dedup.Middleware(tc.store, tc.group)
		})
	}
}
