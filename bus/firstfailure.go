package bus

import (
	"sync"
	"time"
)

// firstFailures remembers when each event retried in place first failed,
// so its dead letter can say so (a parked event carries it in a header).
// Entries go when the event is handled or dead-lettered; one whose record
// moved to another member is never cleared, so the table is bounded: past
// maxFirstFailures it starts over, and a dead letter then reports its
// first failure as its last — a wrong time, never a lost event.
type firstFailures struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const maxFirstFailures = 100_000

func failureKey(group string, d *Delivery) string { return group + "\x00" + d.ID }

// note records now as the first failure of d unless one is known, and
// returns the first failure.
func (f *firstFailures) note(group string, d *Delivery, now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := failureKey(group, d)
	if t, ok := f.m[k]; ok {
		return t
	}
	if f.m == nil || len(f.m) >= maxFirstFailures {
		f.m = make(map[string]time.Time)
	}
	f.m[k] = now
	return now
}

// take returns and forgets the first failure of d; zero when unknown.
func (f *firstFailures) take(group string, d *Delivery) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := failureKey(group, d)
	t := f.m[k]
	delete(f.m, k)
	return t
}
