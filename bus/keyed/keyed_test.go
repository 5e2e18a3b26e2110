package keyed_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus/keyed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOrderWithinKeyConcurrencyAcross(t *testing.T) {
	p := keyed.New(4, 8)
	const keys, per = 16, 200
	var mu sync.Mutex
	seen := map[string][]int{}
	var inFlight, maxInFlight atomic.Int32
	for i := range per {
		for k := range keys {
			key := fmt.Sprintf("tenant-%d", k)
			if err := p.Submit(context.Background(), []byte(key), func() {
				n := inFlight.Add(1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(10 * time.Microsecond)
				mu.Lock()
				seen[key] = append(seen[key], i)
				mu.Unlock()
				inFlight.Add(-1)
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Close()
	for key, got := range seen {
		if len(got) != per {
			t.Fatalf("%s: ran %d of %d", key, len(got), per)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("%s: item %d ran in position %d", key, v, i)
			}
		}
	}
	if len(seen) != keys {
		t.Fatalf("ran %d keys, want %d", len(seen), keys)
	}
	if maxInFlight.Load() < 2 {
		t.Errorf("never ran two keys at once")
	}
}

func TestSubmitHonoursContext(t *testing.T) {
	p := keyed.New(1, 0)
	release := make(chan struct{})
	if err := p.Submit(context.Background(), []byte("k"), func() { <-release }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Submit(ctx, []byte("k"), func() {}); err != context.DeadlineExceeded {
		t.Fatalf("Submit on a full queue = %v, want DeadlineExceeded", err)
	}
	close(release)
	p.Close()
	p.Close() // idempotent
}
