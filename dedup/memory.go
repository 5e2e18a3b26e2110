package dedup

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is a Store in the process's memory, for the embedded mode: one
// consumer process, nothing survives it. It is bounded by a TTL and a
// maximum number of entries (the oldest is evicted first) and starts no
// goroutines: expired entries are dropped as Begin passes them.
type Memory struct {
	ttl, lease time.Duration
	max        int
	now        func() time.Time

	mu      sync.Mutex
	entries map[memKey]*list.Element // of *memEntry
	order   *list.List               // oldest write first
	seq     uint64                   // last token issued
	evicted uint64
}

type memKey struct{ group, id string }

type memEntry struct {
	key     memKey
	token   uint64 // 0: done
	expires time.Time
}

// NewMemory returns an empty memory store remembering handled events for
// ttl (DefaultTTL when ttl <= 0).
func NewMemory(ttl time.Duration, opts ...StoreOption) *Memory {
	c := newStoreConfig(opts)
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Memory{ttl: ttl, lease: c.lease, max: max(c.maxEntries, 1), now: c.now,
		entries: map[memKey]*list.Element{}, order: list.New()}
}

// Begin implements Store.
func (s *Memory) Begin(_ context.Context, group, eventID string) (Claim, error) {
	k := memKey{group, eventID}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if el, ok := s.entries[k]; ok {
		e := el.Value.(*memEntry)
		switch {
		case !now.Before(e.expires):
			s.remove(el) // behind an unexpired front entry; gone all the same
		case e.token == 0:
			return Claim{Status: Duplicate}, nil
		default:
			return Claim{Status: InProgress}, nil
		}
	}
	s.seq++
	s.insert(&memEntry{key: k, token: s.seq, expires: now.Add(s.lease)})
	return Claim{Status: Claimed, Token: &memToken{s: s, key: k, token: s.seq}}, nil
}

// Len returns the number of entries, in progress and done, expired ones not
// yet dropped included.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Evicted returns how many entries were dropped to keep the bound before
// they expired: if it grows, the bound is too small for the TTL and
// duplicates older than the bound get through.
func (s *Memory) Evicted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

// expire drops expired entries from the front. Entries are ordered by their
// last write, not their expiry (a lease is shorter than the TTL), so an
// expired claim behind a live entry waits for its turn or for Begin to find
// it; the bound holds either way.
func (s *Memory) expire(now time.Time) {
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		if now.Before(el.Value.(*memEntry).expires) {
			return
		}
		s.remove(el)
	}
}

func (s *Memory) insert(e *memEntry) {
	for len(s.entries) >= s.max {
		s.remove(s.order.Front())
		s.evicted++
	}
	s.entries[e.key] = s.order.PushBack(e)
}

func (s *Memory) remove(el *list.Element) {
	delete(s.entries, el.Value.(*memEntry).key)
	s.order.Remove(el)
}

type memToken struct {
	s     *Memory
	key   memKey
	token uint64
}

// Done implements Token.
func (t *memToken) Done(context.Context) error {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	expires := now.Add(s.ttl)
	el, ok := s.entries[t.key]
	if !ok {
		s.insert(&memEntry{key: t.key, expires: expires})
		return ErrLeaseLost
	}
	e := el.Value.(*memEntry)
	ours := e.token == t.token && now.Before(e.expires) // as Redis would have dropped it
	e.token, e.expires = 0, expires
	s.order.MoveToBack(el)
	if !ours {
		return ErrLeaseLost
	}
	return nil
}

// Abort implements Token.
func (t *memToken) Abort(context.Context) error {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.entries[t.key]; ok && el.Value.(*memEntry).token == t.token {
		s.remove(el)
	}
	return nil
}

var _ Store = (*Memory)(nil)
