// Package keyed runs work concurrently across keys while keeping the order of
// work within one key: the shape that lets a consumer use every core without
// reordering one tenant's events.
package keyed

import (
	"context"
	"hash/maphash"
	"sync"
)

// Pool is a fixed set of workers; work for one key always goes to the same
// worker, in submission order. The zero value is not usable: call New.
type Pool struct {
	seed    maphash.Seed
	queues  []chan func()
	wg      sync.WaitGroup
	closing sync.Once
}

// New starts workers goroutines, each with a queue of depth work items; they
// stop when Close is called and their queues are drained.
func New(workers, depth int) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{seed: maphash.MakeSeed(), queues: make([]chan func(), workers)}
	for i := range p.queues {
		q := make(chan func(), depth)
		p.queues[i] = q
		p.wg.Go(func() {
			for fn := range q {
				fn()
			}
		})
	}
	return p
}

// Workers returns the number of workers.
func (p *Pool) Workers() int { return len(p.queues) }

// Submit queues fn behind earlier work of the same key. It blocks while that
// worker's queue is full, and gives up with ctx's error if ctx ends first.
// Submit must not be called after Close.
func (p *Pool) Submit(ctx context.Context, key []byte, fn func()) error {
	q := p.queues[maphash.Bytes(p.seed, key)%uint64(len(p.queues))]
	select {
	case q <- fn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting work, runs everything already queued and waits for
// the workers to exit.
func (p *Pool) Close() {
	p.closing.Do(func() {
		for _, q := range p.queues {
			close(q)
		}
	})
	p.wg.Wait()
}
