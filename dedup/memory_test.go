package dedup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inopsio/spine/dedup"
)

func TestMemoryBound(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		done        []string // handled in this order
		open        []string // then claimed and left in progress
		wantLen     int
		wantEvicted uint64
		forgotten   []string // Begin claims them again
		remembered  []string // Begin finds them done
	}{
		{"under the bound nothing is evicted", 4, []string{"a", "b", "c"}, nil, 3, 0, nil, []string{"a", "b", "c"}},
		{"the oldest goes first", 3, []string{"a", "b", "c", "d", "e"}, nil, 3, 2, []string{"a", "b"}, []string{"c", "d", "e"}},
		{"claims count too", 3, []string{"a", "b"}, []string{"x", "y"}, 3, 1, []string{"a"}, []string{"b"}},
		{"a bound below one is one", 0, []string{"a", "b"}, nil, 1, 1, []string{"a"}, []string{"b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dedup.NewMemory(time.Hour, dedup.WithMaxEntries(tc.max))
			e := &storeEnv{store: s, group: "g"}
			for _, id := range tc.done {
				done(t, e.begin(t, id, dedup.Claimed), nil)
			}
			for _, id := range tc.open {
				e.begin(t, id, dedup.Claimed)
			}
			if s.Len() != tc.wantLen || s.Evicted() != tc.wantEvicted {
				t.Fatalf("Len, Evicted = %d, %d; want %d, %d", s.Len(), s.Evicted(), tc.wantLen, tc.wantEvicted)
			}
			for _, id := range tc.remembered {
				e.begin(t, id, dedup.Duplicate)
			}
			for _, id := range tc.forgotten {
				e.begin(t, id, dedup.Claimed)
			}
		})
	}
}

// TestMemoryExpiresLazily: expired entries are dropped by the next Begin,
// without a goroutine, so an idle store shrinks as soon as it is used.
func TestMemoryExpiresLazily(t *testing.T) {
	clk := newClock()
	s := dedup.NewMemory(time.Hour, dedup.WithLease(time.Minute), dedup.WithClock(clk.Now))
	ctx := context.Background()
	// 50 claims never finished (crashed consumers), then 50 handled events.
	for i := range 100 {
		c, err := s.Begin(ctx, "g", fmt.Sprint(i))
		if err != nil || c.Status != dedup.Claimed {
			t.Fatalf("Begin = %v, %v", c.Status, err)
		}
		if i >= 50 {
			if err := c.Token.Done(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.Begin(ctx, "g", "new"); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 51 {
		t.Fatalf("Len = %d after the leases expired, want 51 (50 done and the new claim)", n)
	}
	clk.Advance(time.Hour)
	if _, err := s.Begin(ctx, "g", "newer"); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d after the TTL, want 1 (the newest claim)", n)
	}
}
