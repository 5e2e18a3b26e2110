package bus

import (
	"maps"
	"sync"
	"sync/atomic"
)

// TopicStats counts what happened to the events of one topic in this
// client: the numbers a metrics endpoint exports.
type TopicStats struct {
	Handled     uint64            // handler returned nil
	Retries     uint64            // retries scheduled
	DeadLetters map[string]uint64 // dead letters written, by error kind
}

// stats holds the client's counters; one entry per topic, created on first
// use and never removed (topics are the catalog's: a bounded set).
type stats struct {
	mu     sync.RWMutex
	topics map[string]*topicCounters
}

type topicCounters struct {
	handled, retries atomic.Uint64
	mu               sync.Mutex
	dead             map[string]uint64
}

func (s *stats) topic(name string) *topicCounters {
	s.mu.RLock()
	tc := s.topics[name]
	s.mu.RUnlock()
	if tc != nil {
		return tc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]*topicCounters{}
	}
	if tc = s.topics[name]; tc == nil {
		tc = &topicCounters{dead: map[string]uint64{}}
		s.topics[name] = tc
	}
	return tc
}

func (s *stats) deadLetter(topic, kind string) {
	tc := s.topic(topic)
	tc.mu.Lock()
	tc.dead[kind]++
	tc.mu.Unlock()
}

// Stats returns a snapshot of the counters, by topic.
func (c *Client) Stats() map[string]TopicStats {
	c.stats.mu.RLock()
	defer c.stats.mu.RUnlock()
	out := make(map[string]TopicStats, len(c.stats.topics))
	for name, tc := range c.stats.topics {
		tc.mu.Lock()
		out[name] = TopicStats{Handled: tc.handled.Load(), Retries: tc.retries.Load(), DeadLetters: maps.Clone(tc.dead)}
		tc.mu.Unlock()
	}
	return out
}
