// Package kafkatest cleans up after tests on the shared test Apache Kafka
// (SPINE_TEST_KAFKA). Every test works in its own namespace, a topic and
// group prefix; when it ends, the namespace's topics (retry and dead-letter
// topics included) and consumer groups are deleted. A broker that keeps
// every run's topics grows by hundreds of partitions a run and, after a few
// dozen runs, takes minutes to start: CI failed on exactly that.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dropTimeout bounds one namespace's deletion; kadm retries transient
// errors (a broker just restarted by a test) within it.
const dropTimeout = 30 * time.Second

// Namespace returns a fresh namespace, prefix plus 8 random hex digits and a
// dot (e.g. "t-3f9a1c2e."), deleted from the broker at t's cleanup. Call it
// before opening clients on the namespace, so they close first (cleanups
// run last-in, first-out).
func Namespace(t testing.TB, brokers []string, prefix string) string {
	t.Helper()
	ns := prefix + randHex(4) + "."
	DropAtCleanup(t, brokers, ns)
	return ns
}

// DropAtCleanup deletes the namespace ns from the broker at t's cleanup.
func DropAtCleanup(t testing.TB, brokers []string, ns string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if err := Drop(ctx, brokers, ns); err != nil {
			t.Errorf("kafkatest: %v", err)
		}
	})
}

// Drop deletes every topic and consumer group whose name begins with ns.
// A group that still has members (a killed consumer process whose session
// has not expired yet) is left for the broker to expire: that is not an
// error.
func Drop(ctx context.Context, brokers []string, ns string) error {
	if !strings.HasSuffix(ns, ".") || len(ns) < 3 {
		// A guard against deleting a whole broker's topics by mistake.
		return fmt.Errorf("drop namespace %q: want a prefix ending in \".\"", ns)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("drop namespace %q: %w", ns, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("drop namespace %q: listing topics on %v: %w", ns, brokers, err)
	}
	if mine := withPrefix(topics.Names(), ns); len(mine) > 0 {
		res, err := adm.DeleteTopics(ctx, mine...)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			return fmt.Errorf("drop namespace %q: deleting %d topics: %w", ns, len(mine), err)
		}
	}

	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("drop namespace %q: listing groups on %v: %w", ns, brokers, err)
	}
	if mine := withPrefix(groups.Groups(), ns); len(mine) > 0 {
		// Per-group errors (NON_EMPTY_GROUP) are ignored: see above.
		if _, err := adm.DeleteGroups(ctx, mine...); err != nil {
			return fmt.Errorf("drop namespace %q: deleting %d groups: %w", ns, len(mine), err)
		}
	}
	return nil
}

func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
