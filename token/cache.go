package token

import (
	"strings"
	"sync"
	"time"
)

// resultCache remembers verified tokens by their exact compact serialization.
// Only tokens that passed every check are stored, and a hit is re-checked
// against the clock, so the cache can only skip the signature check of bytes
// that already verified. An entry lives until its token expires or the cache
// needs the room.
type resultCache struct {
	size int
	mu   sync.RWMutex
	m    map[string]*Claims
}

func newResultCache(size int) *resultCache {
	return &resultCache{size: size, m: make(map[string]*Claims, min(size, 64))}
}

func (r *resultCache) get(raw string) (*Claims, bool) {
	r.mu.RLock()
	c, ok := r.m[raw]
	r.mu.RUnlock()
	return c, ok
}

func (r *resultCache) remove(raw string) {
	r.mu.Lock()
	delete(r.m, raw)
	r.mu.Unlock()
}

func (r *resultCache) put(raw string, c *Claims, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= r.size {
		for k, e := range r.m {
			if now.After(e.Expiry) {
				delete(r.m, k)
			}
		}
		// Still full: drop one entry; map order is random enough that no
		// token can pin its place.
		for k := range r.m {
			if len(r.m) < r.size {
				break
			}
			delete(r.m, k)
		}
	}
	// Clone: raw may alias a much larger header buffer.
	r.m[strings.Clone(raw)] = c
}
