package dedup_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/inopsio/spine/dedup"
)

const (
	testTTL   = time.Hour
	testLease = time.Minute
)

// storeEnv is one store under test and a way to move its time forward.
type storeEnv struct {
	store   dedup.Store
	group   string
	advance func(t testing.TB, d time.Duration)
}

// stores returns a fresh environment of every store, keyed by name; the
// Redis one only when SPINE_TEST_REDIS is set (else its subtest skips).
var stores = []struct {
	name string
	make func(t *testing.T) *storeEnv
}{
	{"memory", func(t *testing.T) *storeEnv {
		clk := newClock()
		s := dedup.NewMemory(testTTL, dedup.WithLease(testLease), dedup.WithClock(clk.Now))
		return &storeEnv{store: s, group: "g", advance: func(_ testing.TB, d time.Duration) { clk.Advance(d) }}
	}},
	{"redis", func(t *testing.T) *storeEnv {
		rdb := redisClient(t)
		s, err := dedup.NewRedis(rdb, testTTL, dedup.WithLease(testLease), dedup.AllowShortTTL())
		if err != nil {
			t.Fatal(err)
		}
		g := uniqueGroup()
		dropGroup(t, rdb, g)
		return &storeEnv{store: s, group: g, advance: func(t testing.TB, d time.Duration) { advanceRedis(t, rdb, g, d) }}
	}},
}

func (e *storeEnv) begin(t testing.TB, id string, want dedup.Status) dedup.Token {
	t.Helper()
	c, err := e.store.Begin(context.Background(), e.group, id)
	if err != nil {
		t.Fatalf("Begin(%s) = %v", id, err)
	}
	if c.Status != want {
		t.Fatalf("Begin(%s) = %v, want %v", id, c.Status, want)
	}
	if (c.Token != nil) != (want == dedup.Claimed) {
		t.Fatalf("Begin(%s) = %v with token %v", id, c.Status, c.Token)
	}
	return c.Token
}

func done(t testing.TB, tok dedup.Token, want error) {
	t.Helper()
	if err := tok.Done(context.Background()); !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Done = %v, want %v", err, want)
	}
}

func abort(t testing.TB, tok dedup.Token) {
	t.Helper()
	if err := tok.Abort(context.Background()); err != nil {
		t.Fatalf("Abort = %v", err)
	}
}

// TestStore runs the claim protocol against every store.
func TestStore(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *storeEnv, id string)
	}{
		{"done makes a duplicate", func(t *testing.T, e *storeEnv, id string) {
			done(t, e.begin(t, id, dedup.Claimed), nil)
			e.begin(t, id, dedup.Duplicate)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"abort lets the event be handled again", func(t *testing.T, e *storeEnv, id string) {
			abort(t, e.begin(t, id, dedup.Claimed))
			done(t, e.begin(t, id, dedup.Claimed), nil)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"a claim in progress holds off others", func(t *testing.T, e *storeEnv, id string) {
			tok := e.begin(t, id, dedup.Claimed)
			e.begin(t, id, dedup.InProgress)
			e.advance(t, testLease-time.Second)
			e.begin(t, id, dedup.InProgress)
			done(t, tok, nil)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"a crashed claim expires with its lease", func(t *testing.T, e *storeEnv, id string) {
			e.begin(t, id, dedup.Claimed) // never finished
			e.advance(t, testLease+time.Second)
			done(t, e.begin(t, id, dedup.Claimed), nil)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"done is remembered for the TTL, then forgotten", func(t *testing.T, e *storeEnv, id string) {
			done(t, e.begin(t, id, dedup.Claimed), nil)
			e.advance(t, testTTL-time.Second)
			e.begin(t, id, dedup.Duplicate)
			e.advance(t, 2*time.Second)
			e.begin(t, id, dedup.Claimed)
		}},
		{"done after the lease ran out still records the event", func(t *testing.T, e *storeEnv, id string) {
			tok := e.begin(t, id, dedup.Claimed)
			e.advance(t, testLease+time.Second)
			done(t, tok, dedup.ErrLeaseLost)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"a late done overrides the next claimant, whose abort keeps it", func(t *testing.T, e *storeEnv, id string) {
			first := e.begin(t, id, dedup.Claimed)
			e.advance(t, testLease+time.Second)
			second := e.begin(t, id, dedup.Claimed)
			done(t, first, dedup.ErrLeaseLost)
			abort(t, second)
			e.begin(t, id, dedup.Duplicate)
			done(t, second, dedup.ErrLeaseLost) // had it succeeded instead
			e.begin(t, id, dedup.Duplicate)
		}},
		{"a stale abort leaves the next claim alone", func(t *testing.T, e *storeEnv, id string) {
			first := e.begin(t, id, dedup.Claimed)
			e.advance(t, testLease+time.Second)
			second := e.begin(t, id, dedup.Claimed)
			abort(t, first)
			e.begin(t, id, dedup.InProgress)
			done(t, second, nil)
			e.begin(t, id, dedup.Duplicate)
		}},
		{"groups are independent", func(t *testing.T, e *storeEnv, id string) {
			done(t, e.begin(t, id, dedup.Claimed), nil)
			other := *e
			other.group = e.group + "-other"
			done(t, other.begin(t, id, dedup.Claimed), nil)
			e.begin(t, id, dedup.Duplicate)
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, st.make(t), uuid.NewString()) })
			}
		})
	}
}

// TestStoreConcurrentBegin: of many consumers claiming one event at once,
// exactly one gets it.
func TestStoreConcurrentBegin(t *testing.T) {
	const claimants, events = 16, 20
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := st.make(t)
			for range events {
				id := uuid.NewString()
				var wg sync.WaitGroup
				results := make([]dedup.Claim, claimants)
				errs := make([]error, claimants)
				start := make(chan struct{})
				for i := range claimants {
					wg.Go(func() {
						<-start
						results[i], errs[i] = e.store.Begin(context.Background(), e.group, id)
					})
				}
				close(start)
				wg.Wait()
				count := map[dedup.Status]int{}
				for i, c := range results {
					if errs[i] != nil {
						t.Fatalf("Begin = %v", errs[i])
					}
					count[c.Status]++
				}
				if count[dedup.Claimed] != 1 || count[dedup.InProgress] != claimants-1 {
					t.Fatalf("statuses %v, want 1 claimed and %d in progress", count, claimants-1)
				}
			}
		})
	}
}
