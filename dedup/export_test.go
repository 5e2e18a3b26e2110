package dedup

import "time"

// WithClock makes the memory store read the time from now, for tests that
// move time forward.
func WithClock(now func() time.Time) StoreOption { return func(c *storeConfig) { c.now = now } }
