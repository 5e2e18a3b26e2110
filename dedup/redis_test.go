package dedup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/dedup"
)

func TestNewRedisChecks(t *testing.T) {
	// Nothing is dialled until a command runs.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	tests := []struct {
		name    string
		client  redis.UniversalClient
		ttl     time.Duration
		opts    []dedup.StoreOption
		wantErr bool
		is      error
	}{
		{"default TTL", rdb, dedup.DefaultTTL, nil, false, nil},
		{"longer TTL", rdb, 30 * 24 * time.Hour, nil, false, nil},
		{"shorter TTL is refused", rdb, dedup.DefaultTTL - time.Second, nil, true, dedup.ErrTTLTooShort},
		{"shorter TTL when allowed", rdb, time.Minute, []dedup.StoreOption{dedup.AllowShortTTL()}, false, nil},
		{"zero TTL", rdb, 0, []dedup.StoreOption{dedup.AllowShortTTL()}, true, nil},
		{"sub-millisecond TTL", rdb, time.Microsecond, []dedup.StoreOption{dedup.AllowShortTTL()}, true, nil},
		{"zero lease", rdb, dedup.DefaultTTL, []dedup.StoreOption{dedup.WithLease(0)}, true, nil},
		{"no client", nil, dedup.DefaultTTL, nil, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dedup.NewRedis(tc.client, tc.ttl, tc.opts...)
			if (err != nil) != tc.wantErr || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("NewRedis = %v, %v; want error %v (%v)", s, err, tc.wantErr, tc.is)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestRedisKeys checks what the store leaves in Redis: one key per event and
// group, holding a claim that lives for the lease, then "done" for the TTL.
func TestRedisKeys(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s, err := dedup.NewRedis(rdb, dedup.DefaultTTL, dedup.WithLease(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	group, id := uniqueGroup(), uuid.NewString()
	dropGroup(t, rdb, group)
	key := "spine:dedup:" + group + ":" + id
	if dedup.Key(group, id) != key {
		t.Fatalf("Key = %q, want %q", dedup.Key(group, id), key)
	}
	check := func(wantPrefix string, lo, hi time.Duration) {
		t.Helper()
		v, err := rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if len(v) < len(wantPrefix) || v[:len(wantPrefix)] != wantPrefix {
			t.Fatalf("%s = %q, want %q…", key, v, wantPrefix)
		}
		if ttl := rdb.PTTL(ctx, key).Val(); ttl < lo || ttl > hi {
			t.Fatalf("PTTL %s = %v, want in [%v, %v]", key, ttl, lo, hi)
		}
	}
	c, err := s.Begin(ctx, group, id)
	if err != nil || c.Status != dedup.Claimed {
		t.Fatalf("Begin = %v, %v", c.Status, err)
	}
	check("claim:", 80*time.Second, 90*time.Second)
	if err := c.Token.Done(ctx); err != nil {
		t.Fatal(err)
	}
	check("done", dedup.DefaultTTL-time.Minute, dedup.DefaultTTL)
}

// TestRedisLeaseExpires lets a real (short) lease run out: Redis itself
// frees the claim of a consumer that never finished.
func TestRedisLeaseExpires(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s, err := dedup.NewRedis(rdb, time.Minute, dedup.AllowShortTTL(), dedup.WithLease(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	group, id := uniqueGroup(), uuid.NewString()
	dropGroup(t, rdb, group)
	if c, err := s.Begin(ctx, group, id); err != nil || c.Status != dedup.Claimed {
		t.Fatalf("Begin = %v, %v", c.Status, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := s.Begin(ctx, group, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == dedup.Claimed {
			return
		}
		if c.Status != dedup.InProgress || time.Now().After(deadline) {
			t.Fatalf("Begin = %v; the lease never ran out", c.Status)
		}
	}
}

// TestRedisDown: a store that cannot answer is an error, never a verdict.
func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s, err := dedup.NewRedis(rdb, dedup.DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Begin(context.Background(), "g", uuid.NewString()); err == nil {
		t.Fatalf("Begin = %v with Redis down, want an error", c.Status)
	}
}
