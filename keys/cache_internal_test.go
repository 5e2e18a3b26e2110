package keys

import (
	"bytes"
	"testing"
	"time"
)

// TestCacheSweep: keys of tenants no longer asked for leave memory within
// about two TTLs, without a goroutine.
func TestCacheSweep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCache(time.Minute)
	key := bytes.Repeat([]byte{7}, DEKSize)
	for i, tenant := range []string{"a", "b", "c"} {
		c.put(Record{Tenant: tenant, Version: 1, Created: t0}, key, true, t0.Add(time.Duration(i)*time.Second), 0)
	}
	if c.len() != 3 {
		t.Fatalf("%d cached, want 3", c.len())
	}
	tests := []struct {
		name   string
		at     time.Duration
		tenant string
		found  bool
	}{
		{"fresh", 30 * time.Second, "a", true},
		{"stale at the TTL", time.Minute, "a", false},
		{"b still fresh", time.Minute, "b", true},
		{"a clock gone backwards is not fresh", -time.Second, "a", false},
	}
	for _, tc := range tests {
		_, ok := c.get(tc.tenant, 1, t0.Add(tc.at))
		if ok != tc.found {
			t.Errorf("%s: found %v, want %v", tc.name, ok, tc.found)
		}
	}
	// The next insertion after a TTL sweeps the stale ones out.
	c.put(Record{Tenant: "d", Version: 1, Created: t0}, key, true, t0.Add(2*time.Minute), 0)
	if c.len() != 1 || len(c.current) != 1 {
		t.Errorf("after the sweep: %d keys, %d currents; want only d's", c.len(), len(c.current))
	}
	// A put from before a shred (older generation) is dropped.
	c.forget("e")
	c.put(Record{Tenant: "e", Version: 1, Created: t0}, key, true, t0.Add(2*time.Minute), 0)
	if _, ok := c.get("e", 1, t0.Add(2*time.Minute)); ok {
		t.Error("a key read before the shred was cached after it")
	}
	// No cache at all.
	off := newCache(0)
	off.put(Record{Tenant: "a", Version: 1, Created: t0}, key, true, t0, 0)
	if _, ok := off.get("a", 1, t0); ok {
		t.Error("a disabled cache returned a key")
	}
}
