package dedup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/internal/fakeclock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time for the memory store.
type clock = fakeclock.Clock

func newClock() *clock { return fakeclock.New(time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC)) }

// redisClient connects to the test Redis (SPINE_TEST_REDIS), or skips.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	addr := bustest.Service(t, "SPINE_TEST_REDIS")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	return rdb
}

// uniqueGroup returns a consumer group no other test (or run) uses, so tests
// share the real Redis and PostgreSQL without seeing each other's keys.
func uniqueGroup() string { return fmt.Sprintf("dedup-test-%s", uuid.NewString()[:8]) }

// dropGroup deletes the keys of a group, and of groups whose name starts
// with it, when the test ends.
func dropGroup(t testing.TB, rdb *redis.Client, group string) {
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, dedup.KeyPrefix+group+"*").Result()
		if err == nil && len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
	})
}

// advanceRedis moves time forward by d for a group's keys: each key's
// remaining life shrinks by d, and a key with less left is deleted, as Redis
// would have done. The store's TTLs and leases are set by its scripts; this
// only spares the test the waiting.
func advanceRedis(t testing.TB, rdb *redis.Client, group string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, dedup.Key(group, "*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		left, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if left < 0 {
			t.Fatalf("key %s has no expiry (PTTL %v)", k, left)
		}
		if left <= d {
			err = rdb.Del(ctx, k).Err()
		} else {
			err = rdb.PExpire(ctx, k, left-d).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
