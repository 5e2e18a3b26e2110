package redisstream_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/redisstream"
)

// The conformance suite (package bustest) against Redis.

// conformanceConfig is the transport config in the test process and in the
// consumer child.
func conformanceConfig(addr, namespace string, log *slog.Logger) redisstream.Config {
	return redisstream.Config{
		Addr:      addr,
		Namespace: namespace,
		Logger:    log,
		// A SIGKILLed consumer's entries are reclaimed after 2s, not 30s.
		ClaimIdle: 2 * time.Second,
	}
}

func dialConformance(_ context.Context, addr, namespace string) (bus.Transport, error) {
	return redisstream.New(conformanceConfig(addr, namespace, slog.Default()))
}

func TestConformanceRedis(t *testing.T) {
	addr := bustest.Service(t, "SPINE_TEST_REDIS")
	bustest.Run(t, bustest.Backend{
		Name: "redis",
		New: func(t testing.TB, ns string) bus.Transport {
			tr, err := redisstream.New(conformanceConfig(addr, ns, bustest.TestLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		// Streams need no creating; this only removes the test's streams
		// from the shared server afterwards.
		Prepare: func(t testing.TB, ns string, topics []string) {
			t.Cleanup(func() { deleteStreams(t, addr, ns, topics) })
		},
		Restart: func(t testing.TB) { bustest.RestartService(t, "redis") },
		Addr:    func() string { return addr },
	})
}

func deleteStreams(t testing.TB, addr, ns string, topics []string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys := make([]string, len(topics))
	for i, tp := range topics {
		keys[i] = ns + tp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Logf("delete streams %v: %v", keys, err)
	}
}
