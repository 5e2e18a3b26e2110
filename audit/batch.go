package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrClosed is wrapped by the errors of a Batcher's Append once Close has
// been called.
var ErrClosed = errors.New("audit: batcher closed")

// DefaultBatchMaxEntries is BatchConfig.MaxEntries when it is not set.
const DefaultBatchMaxEntries = 256

// BatchConfig configures a Batcher.
type BatchConfig struct {
	// MaxEntries is the most entries merged into one Append of the wrapped
	// store (≤ 0: DefaultBatchMaxEntries). It bounds one transaction, not a
	// caller: the entries of one call are never split, and a call with more
	// than MaxEntries is written alone.
	MaxEntries int
}

func (c BatchConfig) withDefaults() BatchConfig {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultBatchMaxEntries
	}
	return c
}

// Batcher is a Store that group-commits: the Appends of concurrent callers
// are merged into one Append of the wrapped store, so one transaction (one
// lock, one read of the last row, one commit) extends the chain for all of
// them.
//
// One writer goroutine, owned by the Batcher and stopped by Close, does the
// writing. When it is free it takes every request queued so far, up to
// MaxEntries, in arrival order, and appends them; there is no timer, so an
// idle Batcher adds no latency and a batch grows only while the previous
// commit is in flight. Each call's entries stay together and in order, and
// calls follow one another in the chain in the order they were taken.
//
// Append returns when its own entries are committed, with its own rows, or
// with an error. A failed merged Append is retried one call at a time, so
// that an entry the store refuses (ErrInvalid) fails only its own caller.
// A retry after an error the store could not tell apart from a lost commit
// acknowledgement may write those rows twice: the chain stays valid, the
// trail holds the act twice.
//
// A caller whose ctx ends while its request is still queued gets ctx's error
// and its entries are never written. Once taken, the request belongs to its
// batch: the caller still returns at once with ctx's error, but the rows may
// be written although it gave up. The batch's transaction runs under a
// context that ends only when every caller of the batch has given up.
type Batcher struct {
	store Store
	cfg   BatchConfig

	mu     sync.Mutex
	queue  []*request // not yet taken, in arrival order
	closed bool

	wake    chan struct{} // cap 1: the queue grew or Close began
	stopped chan struct{} // closed when the writer returns

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Batcher)(nil)

// request is one caller's Append waiting for the writer.
type request struct {
	ctx     context.Context
	entries []Entry
	taken   bool        // by the writer; guarded by Batcher.mu
	done    chan result // cap 1: the writer never blocks on a caller who left
}

type result struct {
	rows []Entry
	err  error
}

// NewBatcher wraps s and starts the Batcher's writer goroutine. Close stops
// it, after draining what is queued, and closes s.
func NewBatcher(s Store, cfg BatchConfig) *Batcher {
	b := &Batcher{
		store:   s,
		cfg:     cfg.withDefaults(),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	go b.run()
	return b
}

// Append implements Store: it queues entries for the writer and waits until
// they are committed (see Batcher for what happens when ctx ends). entries
// are copied; the caller may reuse them once Append returns.
func (b *Batcher) Append(ctx context.Context, entries ...Entry) ([]Entry, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("audit: append %d entries: %w", len(entries), ErrClosed)
	}
	if len(entries) == 0 {
		b.mu.Unlock()
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("audit: append: none of %d entries written: %w", len(entries), err)
	}
	req := &request{ctx: ctx, entries: cloneEntries(entries), done: make(chan result, 1)}
	b.queue = append(b.queue, req)
	b.mu.Unlock()
	b.signal()

	select {
	case res := <-req.done:
		return res.rows, res.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	taken := req.taken
	if !taken {
		if i := slices.Index(b.queue, req); i >= 0 {
			b.queue = slices.Delete(b.queue, i, i+1)
		}
	}
	b.mu.Unlock()
	if !taken {
		return nil, fmt.Errorf("audit: append: none of %d entries written: %w", len(entries), ctx.Err())
	}
	select {
	case res := <-req.done: // finished meanwhile: the outcome is known
		return res.rows, res.err
	default:
	}
	return nil, fmt.Errorf("audit: append: gave up while %d entries were being written (they may be in the trail): %w",
		len(entries), ctx.Err())
}

// Rows implements Store: it reads the wrapped store.
func (b *Batcher) Rows(ctx context.Context, after int64, limit int) ([]Entry, error) {
	return b.store.Rows(ctx, after, limit)
}

// Pending returns how many Append calls are queued, not yet taken by the
// writer: the backlog, for metrics (and tests).
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close implements Store: Appends from then on fail with ErrClosed, the
// queued ones are written, the writer stops and the wrapped store is closed.
// It waits for the writes in flight, and returns the same error when called
// again.
func (b *Batcher) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.signal()
		<-b.stopped
		if err := b.store.Close(); err != nil {
			b.closeErr = fmt.Errorf("audit: batcher: close the store: %w", err)
		}
	})
	return b.closeErr
}

// signal wakes the writer without ever blocking: one pending wake-up is
// enough, the writer looks at the whole queue when it wakes.
func (b *Batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// run is the writer: it owns every call to the wrapped store's Append.
func (b *Batcher) run() {
	defer close(b.stopped)
	for {
		batch, closed := b.take()
		if len(batch) > 0 {
			b.write(batch)
			continue
		}
		if closed {
			return
		}
		<-b.wake
	}
}

// take removes from the queue the longest prefix that fits in MaxEntries
// (at least one request, however large), and reports whether Close began.
// Taking a prefix, not the requests that fit, keeps the chain in arrival
// order and lets no request wait behind later ones.
func (b *Batcher) take() ([]*request, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, k := 0, 0
	for ; k < len(b.queue); k++ {
		size := len(b.queue[k].entries)
		if k > 0 && n+size > b.cfg.MaxEntries {
			break
		}
		n += size
	}
	batch := slices.Clone(b.queue[:k])
	for _, r := range batch {
		r.taken = true
	}
	rest := copy(b.queue, b.queue[k:])
	clear(b.queue[rest:]) // drop the references the backing array still holds
	b.queue = b.queue[:rest]
	return batch, b.closed
}

// write appends one batch and hands each caller its outcome.
func (b *Batcher) write(batch []*request) {
	if len(batch) == 1 {
		r := batch[0]
		rows, err := b.store.Append(r.ctx, r.entries...)
		r.done <- result{rows, err}
		return
	}
	var all []Entry
	for _, r := range batch {
		all = append(all, r.entries...)
	}
	ctx, release := batchContext(batch)
	rows, err := b.store.Append(ctx, all...)
	release()
	switch {
	case err == nil && len(rows) == len(all):
		off := 0
		for _, r := range batch {
			n := len(r.entries)
			// The cap stops a caller's append from spilling into the next
			// caller's rows.
			r.done <- result{rows[off : off+n : off+n], nil}
			off += n
		}
	case err == nil:
		// The rows are written but cannot be told apart: retrying would
		// write them again.
		err = fmt.Errorf("audit: batch of %d entries: the store returned %d rows", len(all), len(rows))
		for _, r := range batch {
			r.done <- result{nil, err}
		}
	default:
		// Alone, each request gets its own verdict: an invalid entry fails
		// its caller only. A caller who gave up is not written for.
		for _, r := range batch {
			if cerr := r.ctx.Err(); cerr != nil {
				r.done <- result{nil, fmt.Errorf("audit: append: %w", cerr)}
				continue
			}
			rows, err := b.store.Append(r.ctx, r.entries...)
			r.done <- result{rows, err}
		}
	}
}

// batchContext is the context of a merged Append: it ends when the contexts
// of all the batch's callers have ended, as nobody is left waiting then, and
// not before, as one caller giving up must not fail the others. release
// frees what it holds.
func batchContext(batch []*request) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, r := range batch {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// cloneEntries copies entries deep enough (Detail's bytes too) that a caller
// who gave up and reuses its slice cannot change what is being written.
func cloneEntries(entries []Entry) []Entry {
	out := slices.Clone(entries)
	for i := range out {
		out[i].Detail = slices.Clone(out[i].Detail)
	}
	return out
}
