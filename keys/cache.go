package keys

import (
	"slices"
	"sync"
	"time"
)

// cache holds unwrapped DEKs and each tenant's current version for ttl.
// Entries are dropped when found stale and by a sweep, at most once per
// ttl, on insertion, so that keys of tenants no longer used do not stay in
// memory; no goroutine runs. Callers get copies of the keys.
type cache struct {
	ttl time.Duration // ≤ 0: cache nothing

	mu        sync.RWMutex
	keys      map[versionKey]cachedKey
	current   map[string]cachedCurrent
	shredGen  map[string]uint64 // bumped by forget
	lastSweep time.Time
}

type versionKey struct {
	tenant  string
	version int
}

type cachedKey struct {
	key []byte
	at  time.Time
}

type cachedCurrent struct {
	version int
	created time.Time
	at      time.Time
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, keys: map[versionKey]cachedKey{}, current: map[string]cachedCurrent{}, shredGen: map[string]uint64{}}
}

func (c *cache) fresh(at, now time.Time) bool { return now.Sub(at) < c.ttl && !now.Before(at) }

// get returns a copy of the cached key of (tenant, version).
func (c *cache) get(tenant string, version int, now time.Time) ([]byte, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.keys[versionKey{tenant, version}]
	if !ok || !c.fresh(e.at, now) {
		return nil, false
	}
	return slices.Clone(e.key), true
}

// getCurrent returns the tenant's cached current version and its key,
// unless the version is due for rotation at now.
func (c *cache) getCurrent(tenant string, now time.Time, rotation time.Duration) (int, []byte, bool) {
	if c.ttl <= 0 {
		return 0, nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	cur, ok := c.current[tenant]
	if !ok || !c.fresh(cur.at, now) || !now.Before(cur.created.Add(rotation)) {
		return 0, nil, false
	}
	e, ok := c.keys[versionKey{tenant, cur.version}]
	if !ok || !c.fresh(e.at, now) {
		return 0, nil, false
	}
	return cur.version, slices.Clone(e.key), true
}

// generation is taken before reading a key from the store and given back
// to put: a key read before a Shred of this process is not cached after it.
func (c *cache) generation(tenant string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.shredGen[tenant]
}

// put caches a copy of key; current also makes it the tenant's current.
// gen is the tenant's generation from before the key was read.
func (c *cache) put(rec Record, key []byte, current bool, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shredGen[rec.Tenant] != gen {
		return
	}
	c.sweepLocked(now)
	k := versionKey{rec.Tenant, rec.Version}
	if old, ok := c.keys[k]; ok {
		clear(old.key)
	}
	c.keys[k] = cachedKey{key: slices.Clone(key), at: now}
	if current {
		c.current[rec.Tenant] = cachedCurrent{version: rec.Version, created: rec.Created, at: now}
	}
}

// forget drops every cached key of the tenant (after a shred).
func (c *cache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shredGen[tenant]++
	delete(c.current, tenant)
	for k, e := range c.keys {
		if k.tenant == tenant {
			clear(e.key)
			delete(c.keys, k)
		}
	}
}

// forgetCurrent drops the tenant's current version (after a rotation), so
// the next Current reads the new one.
func (c *cache) forgetCurrent(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.current, tenant)
}

func (c *cache) sweepLocked(now time.Time) {
	if c.fresh(c.lastSweep, now) {
		return
	}
	c.lastSweep = now
	for k, e := range c.keys {
		if !c.fresh(e.at, now) {
			clear(e.key)
			delete(c.keys, k)
		}
	}
	for t, cur := range c.current {
		if !c.fresh(cur.at, now) {
			delete(c.current, t)
		}
	}
}

// len is the number of cached keys (tests).
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.keys)
}
