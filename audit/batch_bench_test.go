package audit_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/inopsio/spine/audit"
)

// tallyStore counts the Appends and entries reaching a store, cheaply
// enough to wrap both sides of a benchmark alike.
type tallyStore struct {
	audit.Store
	calls, entries atomic.Int64
}

func (s *tallyStore) Append(ctx context.Context, entries ...audit.Entry) ([]audit.Entry, error) {
	s.calls.Add(1)
	s.entries.Add(int64(len(entries)))
	return s.Store.Append(ctx, entries...)
}

// BenchmarkAppendParallel is what bus.WithAudit does under a consumer
// running handlers at once: many goroutines appending one entry each, to
// the store itself (direct) and through a Batcher (batched). entries/commit
// is how many entries one transaction of the store carried.
func BenchmarkAppendParallel(b *testing.B) {
	for _, be := range batchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, mode := range []string{"direct", "batched"} {
				b.Run(mode, func(b *testing.B) {
					tally := &tallyStore{Store: be.newTrail(b)(b)}
					var s audit.Store = tally
					if mode == "batched" {
						s = audit.NewBatcher(tally, audit.BatchConfig{})
					}
					defer s.Close()
					ctx := context.Background()
					b.ReportAllocs()
					b.SetParallelism(4)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						e := entry(0)
						for pb.Next() {
							if _, err := s.Append(ctx, e); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.StopTimer()
					if n := tally.calls.Load(); n > 0 {
						b.ReportMetric(float64(tally.entries.Load())/float64(n), "entries/commit")
					}
				})
			}
		})
	}
}
