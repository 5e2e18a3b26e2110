package bustest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
)

// call is one handler invocation.
type call struct {
	id, tenant, topic string
	attempt           int
	ok                bool // the handler returned nil
	at                time.Time
}

// tracker records what handlers saw. Handlers record from many goroutines;
// tests wait on it.
type tracker struct {
	mu      sync.Mutex
	changed chan struct{}
	calls   []call
	okCount map[string]int // event id → successful handlings
	msgs    map[string]*bus.Message
}

func newTracker() *tracker {
	return &tracker{changed: make(chan struct{}), okCount: map[string]int{}, msgs: map[string]*bus.Message{}}
}

// record adds one handler call; keep stores the message (first success).
func (tr *tracker) record(m *bus.Message, ok, keep bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.calls = append(tr.calls, call{id: m.Header.EventID, tenant: m.Header.TenantID, topic: m.Topic, attempt: m.Attempt, ok: ok, at: time.Now()})
	if ok {
		tr.okCount[m.Header.EventID]++
		if keep && tr.msgs[m.Header.EventID] == nil {
			tr.msgs[m.Header.EventID] = m
		}
	}
	close(tr.changed)
	tr.changed = make(chan struct{})
}

// handled reports how many distinct events were handled successfully.
func (tr *tracker) handled() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.okCount)
}

func (tr *tracker) count(id string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.okCount[id]
}

func (tr *tracker) snapshot() []call {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.calls)
}

// missing returns the ids not yet handled successfully.
func (tr *tracker) missing(ids []string) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for _, id := range ids {
		if tr.okCount[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// waitFor blocks until cond holds (checked under no lock) or timeout.
func (tr *tracker) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		ch := tr.changed
		tr.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		case <-ctx.Done():
			return cond()
		}
	}
}

// waitAll waits until every id was handled and fails the test otherwise,
// naming how many are missing.
func (tr *tracker) waitAll(t testing.TB, ids []string, timeout time.Duration) {
	t.Helper()
	if tr.waitFor(context.Background(), timeout, func() bool { return len(tr.missing(ids)) == 0 }) {
		return
	}
	miss := tr.missing(ids)
	t.Fatalf("after %v, %d of %d events were never handled (lost or stuck), e.g. %s", timeout, len(miss), len(ids), strings.Join(miss[:min(3, len(miss))], ", "))
}

// checkOrder asserts the per-(topic, tenant) order of successful handlings
// against publish order, and that after a failed attempt of an event no
// later event of its tenant is handled before it: nothing overtakes a
// failed record. Handling an earlier, already handled event again
// (at-least-once) is allowed only when dups is true.
func checkOrder(t testing.TB, calls []call, order map[string][]string, dups bool) (redelivered int) {
	t.Helper()
	pos := map[string]int{} // event id → index within its stream
	stream := map[string]string{}
	for key, ids := range order {
		for i, id := range ids {
			pos[id] = i
			stream[id] = key
		}
	}
	type state struct {
		next    int    // index of the next event expected
		pending string // event whose attempt failed and must come next
	}
	states := map[string]*state{}
	errs := 0
	report := func(format string, args ...any) {
		errs++
		if errs <= 5 {
			t.Errorf(format, args...)
		}
	}
	for _, c := range calls {
		key, ok := stream[c.id]
		if !ok {
			continue
		}
		st := states[key]
		if st == nil {
			st = &state{}
			states[key] = st
		}
		i := pos[c.id]
		if st.pending != "" && i > pos[st.pending] {
			report("%s: event #%d (%s) was handled while #%d (%s) waited for redelivery: it overtook a failed event", key, i, c.id, pos[st.pending], st.pending)
		}
		switch {
		case i == st.next:
			if c.ok {
				st.next++
				st.pending = ""
			} else {
				st.pending = c.id
			}
		case i < st.next:
			redelivered++
			if !dups {
				report("%s: event #%d (%s) handled again (attempt %d) after #%d: duplicate or out of order", key, i, c.id, c.attempt, st.next-1)
			}
		default:
			report("%s: event #%d (%s) handled before #%d: out of order", key, i, c.id, st.next)
		}
	}
	if errs > 5 {
		t.Errorf("… %d order violations in all", errs)
	}
	return redelivered
}

// checkAttempts asserts that the successful handling of each id in failOnce
// came with Attempt 2 and its first call with Attempt 1.
func checkAttempts(t testing.TB, calls []call, failOnce map[string]bool) {
	t.Helper()
	seen := map[string][]int{}
	okAt := map[string]int{}
	for _, c := range calls {
		seen[c.id] = append(seen[c.id], c.attempt)
		if c.ok && okAt[c.id] == 0 {
			okAt[c.id] = c.attempt
		}
	}
	var bad []string
	for id := range failOnce {
		if a := seen[id]; len(a) < 2 || a[0] != 1 || okAt[id] != 2 {
			bad = append(bad, fmt.Sprintf("%s: attempts %v", id, a))
		}
	}
	for id, a := range seen {
		if !failOnce[id] && (a[0] != 1 || okAt[id] != 1) {
			bad = append(bad, fmt.Sprintf("%s (never failed): attempts %v", id, a))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d events with wrong Attempt numbers, e.g. %s", len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}
}

// checkDelay asserts that no event came back sooner than delay after its
// failed attempt (less slack for clock granularity). A lower bound only:
// a slow machine makes redeliveries later, never earlier.
func checkDelay(t testing.TB, calls []call, delay, slack time.Duration) {
	t.Helper()
	failedAt := map[string]time.Time{}
	early := 0
	var worst time.Duration = -1
	for _, c := range calls {
		if f, ok := failedAt[c.id]; ok {
			if gap := c.at.Sub(f); gap < delay-slack {
				early++
				if worst < 0 || gap < worst {
					worst = gap
				}
			}
			delete(failedAt, c.id)
		}
		if !c.ok {
			failedAt[c.id] = c.at
		}
	}
	if early > 0 {
		t.Errorf("%d failed events came back sooner than RedeliveryDelay %v, one after only %v", early, delay, worst)
	}
}
