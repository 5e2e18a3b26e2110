package redisstream

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/inopsio/spine/codec"
)

// item is one entry this consumer holds: pending with it in Redis and not yet
// acknowledged.
type item struct {
	id      string
	sid     streamID
	ts      time.Time // from the id: when Redis stored the entry
	ks      *keyState
	rec     codec.Record
	loaded  bool // rec holds the entry; false: only the id is kept
	attempt int  // Redis's delivery count
	retry   bool // the redelivery of ks.failed: runs although ks is blocked
	state   itemState
}

type itemState int

const (
	inPool  itemState = iota // handed to the pool, result pending
	waiting                  // in ks.waiting
	failed                   // ks.failed, waiting for its redelivery
)

// keyState is what loop knows about one record key (tenant). All fields but
// blocked belong to loop.
type keyState struct {
	key     string
	poolKey []byte
	// blocked is set by the worker whose entry failed, before that worker
	// takes the key's next entry, and cleared by the worker whose
	// redelivery succeeded (or by loop, when the failed entry was lost and
	// nothing of the key is in the pool).
	blocked  atomic.Bool
	inPool   int
	failed   *item
	retryAt  time.Time
	retrying bool    // failed is in the pool again
	waiting  []*item // entries held back, in id order
	ready    bool    // in loopState.ready
}

// result is a worker's report on one item.
type result struct {
	it      *item
	skipped bool // not handled: its key was blocked
	err     error
}

// loopState is everything loop owns.
type loopState struct {
	keys    map[string]*keyState
	known   map[string]*item // every held entry, by id
	failed  map[*keyState]struct{}
	ready   []*keyState // keys whose waiting entries can go to the pool
	held    int         // items with their data in memory
	inPool  int
	acks    []string
	ackDue  time.Time // when the first queued acknowledgement is due
	ackBo   backoff
	ackAt   time.Time // earliest next XACK after a failure
	pumpBo  backoff
	pumpAt  time.Time // earliest next refill after a failure
	retryBo backoff
}

func (l *loopState) init() {
	l.keys = map[string]*keyState{}
	l.known = map[string]*item{}
	l.failed = map[*keyState]struct{}{}
}

// newItem builds the item of a fetched entry. A malformed entry becomes an
// item all the same, carrying what the entry held (see RecordFromEntry):
// handed on, it ends in the dead-letter topic instead of vanishing.
func (s *streamConsumer) newItem(f fetched) (*item, error) {
	sid, err := parseID(f.id)
	if err != nil {
		return nil, err
	}
	it := &item{id: f.id, sid: sid, ts: time.UnixMilli(int64(sid.ms)).UTC(), attempt: f.attempt}
	s.load(it, f.fields, true)
	return it, nil
}

// load fills it from an entry's fields.
func (s *streamConsumer) load(it *item, fields []string, first bool) {
	rec, err := RecordFromEntry(s.topic, fields)
	if err != nil && first {
		s.log.Warn("stream entry does not follow the wire format; handing it on to be dead-lettered",
			"id", it.id, "error", err)
	}
	it.rec, it.loaded = rec, true
	s.state.held++
}

// unload drops it's data; a refill reads it again.
func (s *streamConsumer) unload(it *item) {
	if it.loaded {
		it.rec, it.loaded = codec.Record{}, false
		s.state.held--
	}
}

func (s *streamConsumer) keyState(key []byte) *keyState {
	ks := s.state.keys[string(key)]
	if ks == nil {
		k := string(key)
		ks = &keyState{key: k, poolKey: []byte(s.stream + "\x00" + k)}
		s.state.keys[k] = ks
	}
	return ks
}

// dispatch hands it to the pool. Callers ensure inPool < limit, so that the
// pool's queues and the results channel always have room: a worker never
// waits for loop, and loop never waits for a worker.
func (s *streamConsumer) dispatch(it *item) {
	it.state = inPool
	it.ks.inPool++
	s.state.inPool++
	_ = s.pool.Submit(context.Background(), it.ks.poolKey, func() { s.handle(it) })
}

// park puts it among its key's waiting entries, in id order.
func (s *streamConsumer) park(it *item) {
	it.state = waiting
	ks := it.ks
	i, _ := slices.BinarySearchFunc(ks.waiting, it.sid, func(w *item, sid streamID) int {
		switch {
		case w.sid.less(sid):
			return -1
		case sid.less(w.sid):
			return 1
		}
		return 0
	})
	ks.waiting = slices.Insert(ks.waiting, i, it)
}

// blocked reports whether entries of ks must wait: one failed and awaits its
// redelivery, or a worker has just seen one fail.
func (ks *keyState) isBlocked() bool { return ks.failed != nil || ks.blocked.Load() }

// settle updates ks after a change: it unblocks a key whose failed entry was
// lost once nothing of it is in the pool, queues its waiting entries for the
// pool, and forgets a key with nothing left.
func (s *streamConsumer) settle(ks *keyState) {
	if ks.failed == nil && ks.inPool == 0 && ks.blocked.Load() {
		ks.blocked.Store(false)
	}
	switch {
	case !ks.isBlocked() && len(ks.waiting) > 0:
		if !ks.ready {
			ks.ready = true
			s.state.ready = append(s.state.ready, ks)
		}
	case ks.inPool == 0 && ks.failed == nil && len(ks.waiting) == 0 && !ks.ready:
		delete(s.state.keys, ks.key)
	}
}

// forget drops an item this consumer no longer holds.
func (s *streamConsumer) forget(it *item) {
	s.unload(it)
	delete(s.state.known, it.id)
}
