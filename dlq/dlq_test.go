package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/dlq"
	"github.com/inopsio/spine/event"
)

const (
	errOwner     = "crm rejected lead: unknown owner"
	errSuspended = "tenant suspended"
)

// world is the dead letters a test starts from, produced for real: events
// consumed by a group whose handler fails permanently for tenants B and C,
// and two records that are no Spine events at all.
type world struct {
	a, b, c string      // tenants: A always handled, B failing until fixed, C always failing
	fixed   atomic.Bool // B's handler succeeds from now on
	mu      sync.Mutex
	handled map[string]int    // event_id → successful handler runs
	replays map[string]string // event_id → spine-replay-count seen by the handler
	bEvents []string          // event_ids of B's events
	cEvent  string
	junkID  string // event_id header of the first garbage record
	stats   dedup.Counters
}

func setup(t *testing.T, e *env) *world {
	ctx := context.Background()
	tenants := bustest.Tenants(3)
	w := &world{a: tenants[0], b: tenants[1], c: tenants[2], handled: map[string]int{}, replays: map[string]string{}}
	handler := func(_ context.Context, m *bus.Message) error {
		switch {
		case m.Header.TenantID == w.c:
			return bus.Permanent(errors.New(errSuspended))
		case m.Header.TenantID == w.b && !w.fixed.Load():
			return bus.Permanent(errors.New(errOwner))
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.handled[m.Header.EventID]++
		for _, h := range m.Headers {
			if h.Key == codec.HeaderReplayCount {
				w.replays[m.Header.EventID] = string(h.Value)
			}
		}
		return nil
	}
	store := dedup.NewMemory(time.Hour)
	h := dedup.Middleware(store, "crm-test", dedup.WithCounters(&w.stats), dedup.WithLogger(quiet))(handler)
	consume(t, e.client, bus.Subscription{Group: "crm-test", Topics: topics, FromBeginning: true,
		RedeliveryDelay: 50 * time.Millisecond}, h)

	var out []bus.Outgoing
	for _, tenant := range []string{w.a, w.b} {
		out = append(out, e.fx.Event(t, "lead.created", tenant), e.fx.Event(t, "lead.created", tenant),
			e.fx.Event(t, "deal.stage.changed", tenant))
	}
	out = append(out, e.fx.Event(t, "lead.created", w.c))
	pub, err := e.client.Publish(ctx, out...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pub {
		switch p.Header.TenantID {
		case w.b:
			w.bEvents = append(w.bEvents, p.Header.EventID)
		case w.c:
			w.cEvent = p.Header.EventID
		}
	}
	waitForOpen(t, e, 4)

	// Garbage behind B's dead letters in their partition (same key): one
	// with a few envelope headers, one with none.
	w.junkID = event.NewEventID()
	junk := []codec.Record{
		{Topic: "lead.created", Key: []byte(w.b), Value: []byte("not a spine event"), Headers: []codec.Header{
			{Key: event.FieldEventID, Value: []byte(w.junkID)}, {Key: event.FieldEventName, Value: []byte("lead.created")},
			{Key: event.FieldTenantID, Value: []byte(w.b)}}},
		{Topic: "lead.created", Key: []byte(w.b), Value: []byte{0xff, 0x00}},
	}
	if err := e.tr.Send(ctx, junk...); err != nil {
		t.Fatal(err)
	}
	waitForOpen(t, e, 6)
	return w
}

func waitForOpen(t *testing.T, e *env, n int) {
	t.Helper()
	waitFor(t, "dead letters", func() (bool, error) {
		ls, err := e.m.List(context.Background(), dlq.Filter{}, false)
		return len(ls) == n, err
	})
}

func (w *world) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handled[id]
}

func ids(ls []*dlq.Letter) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

// The whole life of dead letters: listed with filters, shown by every form
// of ID, replayed (dry and for real, rate-limited) to a handler that now
// succeeds, never replayed twice, purged, truncated, and audited.
func TestLifecycle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := b.env(t)
			w := setup(t, e)
			ctx := context.Background()

			all, err := e.m.List(ctx, dlq.Filter{}, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("list", func(t *testing.T) { testList(t, e, w, all) })
			t.Run("show", func(t *testing.T) { testShow(t, e, w, all) })
			t.Run("dry run", func(t *testing.T) { testDryRun(t, e, w) })

			// Purge the garbage: B's open letters sit before it in the
			// partition, so nothing is deleted yet.
			rep, err := e.m.Purge(ctx, dlq.Filter{Kind: bus.KindDecode}, action(e, "not events; producer fixed"))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Done) != 2 || len(rep.Deleted) != 0 {
				t.Fatalf("purge decode: done %v, deleted %v", ids(rep.Done), rep.Deleted)
			}
			if open, _ := e.m.List(ctx, dlq.Filter{}, false); len(open) != 4 {
				t.Fatalf("after the purge %d letters are open, want 4: %v", len(open), ids(open))
			}
			withAll, _ := e.m.List(ctx, dlq.Filter{Kind: bus.KindDecode}, true)
			if len(withAll) != 2 || withAll[0].Status != dlq.StatusPurged || withAll[0].Resolution.Reason != "not events; producer fixed" {
				t.Fatalf("--all after the purge: %+v", withAll)
			}

			// Fix B's handler and replay B's letters, at 5 events/s.
			w.fixed.Store(true)
			a := action(e, "owner imported")
			a.Rate = 5
			var prog progress
			a.Progress = prog.start
			rep, err = e.m.Replay(ctx, dlq.Filter{Tenant: w.b}, a)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Done) != 3 || len(rep.Skipped) != 0 {
				t.Fatalf("replay: done %v, skipped %v", ids(rep.Done), rep.Skipped)
			}
			// Three batches of one (5/s): the second and third waited 200ms each.
			if got := e.clock.slept(); !slices.Equal(got, []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}) {
				t.Errorf("the limiter slept %v, want 2 × 200ms", got)
			}
			if prog.total != 3 || prog.added != 3 || !prog.finished {
				t.Errorf("progress: %+v", prog)
			}
			waitFor(t, "the replayed events handled", func() (bool, error) {
				for _, id := range w.bEvents {
					if w.count(id) == 0 {
						return false, nil
					}
				}
				return true, nil
			})
			for _, id := range w.bEvents {
				w.mu.Lock()
				n, rc := w.handled[id], w.replays[id]
				w.mu.Unlock()
				if n != 1 || rc != "1" {
					t.Errorf("event %s: handled %d times with spine-replay-count %q, want once with 1", id, n, rc)
				}
			}

			// Nothing is replayed twice.
			rep, err = e.m.Replay(ctx, dlq.Filter{Tenant: w.b}, action(e, "again"))
			if err != nil || rep.Matched != 0 || len(rep.Done) != 0 {
				t.Fatalf("second replay: %+v, %v", rep, err)
			}

			// C's letter is the last open one; purging it resolves its whole
			// partition of lead.created.dlq, which is then deleted.
			rep, err = e.m.Purge(ctx, dlq.Filter{Tenant: w.c}, action(e, "tenant offboarded"))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Done) != 1 || rep.Done[0].EventID != w.cEvent {
				t.Fatalf("purge C: %v", ids(rep.Done))
			}
			// Every letter of C's partition is now resolved: all of it goes.
			cPos := rep.Done[0].Position
			part := strings.TrimSuffix(cPos.String(), "/"+strconv.FormatInt(cPos.Offset, 10))
			if rep.Deleted[part] <= cPos.Offset {
				t.Errorf("purge C deleted %v, want %s up to past %d", rep.Deleted, part, cPos.Offset)
			}
			left, _ := e.m.List(ctx, dlq.Filter{}, true)
			for _, l := range left {
				if l.Position.Topic == cPos.Topic && l.Position.Partition == cPos.Partition {
					t.Errorf("%s survived the truncation of its partition", l.ID)
				}
				if l.Status == dlq.StatusOpen {
					t.Errorf("%s is still open", l.ID)
				}
			}

			// Dead letters of a tenant whose letters were truncated cannot
			// come back as open: the next write collects their resolutions.
			if open, _ := e.m.List(ctx, dlq.Filter{}, false); len(open) != 0 {
				t.Errorf("open after everything: %v", ids(open))
			}
			checkAudit(t, e, w)
			if s := w.stats.Stats(); s.Handled != 6 {
				t.Errorf("dedup counted %+v, want 6 handled (3 of A, 3 replayed of B)", s)
			}

			// The resolutions of the truncated letters are garbage now; the
			// next write to the log removes them with tombstones.
			if _, err := e.client.Publish(ctx, e.fx.Event(t, "lead.created", w.c)); err != nil {
				t.Fatal(err)
			}
			waitForOpen(t, e, 1)
			if _, err := e.m.Purge(ctx, dlq.Filter{Tenant: w.c}, action(e, "tenant offboarded")); err != nil {
				t.Fatal(err)
			}
			tombstones := map[string]bool{}
			err = e.tr.Read(ctx, kafka.ReadOptions{Topics: []string{dlq.ResolvedTopic("lead.created.dlq")}, FromBeginning: true, UntilEnd: true},
				func(_ context.Context, d *bus.Delivery) error {
					if d.Record.Value == nil {
						tombstones[string(d.Record.Key)] = true
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if !tombstones[cPos.String()] {
				t.Errorf("no tombstone for the truncated %s: %v", cPos, tombstones)
			}
		})
	}
}

func action(e *env, reason string) dlq.Action {
	return dlq.Action{Actor: "ops-test", Reason: reason, Audit: e.audit}
}

type progress struct {
	total, added int
	finished     bool
}

func (p *progress) start(total int) dlq.Progress { p.total = total; return p }
func (p *progress) Add(n int)                    { p.added += n }
func (p *progress) Finish()                      { p.finished = true }

func testList(t *testing.T, e *env, w *world, all []*dlq.Letter) {
	ctx := context.Background()
	if len(all) != 6 {
		t.Fatalf("%d dead letters, want 6: %v", len(all), ids(all))
	}
	future := time.Now().Add(time.Hour)
	cases := []struct {
		name string
		f    dlq.Filter
		want int
	}{
		{"event lead.created (garbage by its topic)", dlq.Filter{Events: []string{"lead.created"}}, 5},
		{"event deal.stage.changed", dlq.Filter{Events: []string{"deal.stage.changed"}}, 1},
		{"tenant B (garbage by key)", dlq.Filter{Tenant: w.b}, 5},
		{"tenant C", dlq.Filter{Tenant: w.c}, 1},
		{"error substring, any case", dlq.Filter{Error: "UNKNOWN OWNER"}, 3},
		{"kind decode", dlq.Filter{Kind: bus.KindDecode}, 2},
		{"kind handler and tenant B", dlq.Filter{Kind: bus.KindHandler, Tenant: w.b}, 3},
		{"group", dlq.Filter{Group: "crm-test"}, 6},
		{"other group", dlq.Filter{Group: "billing"}, 0},
		{"since an hour ago", dlq.Filter{Since: time.Now().Add(-time.Hour)}, 6},
		{"since the future", dlq.Filter{Since: future}, 0},
	}
	for _, tc := range cases {
		got, err := e.m.List(ctx, tc.f, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d letters, want %d: %v", tc.name, len(got), tc.want, ids(got))
		}
	}

	// The JSON shape scripts rely on.
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		for _, k := range []string{"id", "event_id", "event_name", "tenant_id", "original_topic", "partition", "offset",
			"attempts", "error", "error_kind", "first_failure", "last_failure", "status"} {
			if _, ok := it[k]; !ok {
				t.Errorf("%v: no %q", it["id"], k)
			}
		}
	}
	for _, l := range all {
		switch l.ErrorKind {
		case bus.KindHandler:
			if l.EventID == "" || l.TenantID == "" || l.OriginalTopic == "" || l.OriginalOffset == nil ||
				l.Attempts == nil || *l.Attempts != 1 || l.FirstFailure == nil || l.Error == "" {
				t.Errorf("handler letter %s incomplete: %+v", l.ID, l)
			}
		case bus.KindDecode:
			// Listed with what headers exist.
			if l.EventID != "" && l.EventID != w.junkID {
				t.Errorf("garbage %s: event_id %q", l.ID, l.EventID)
			}
			if !strings.Contains(l.Error, "codec") || l.OriginalTopic != "lead.created" {
				t.Errorf("garbage %s: %+v", l.ID, l)
			}
		default:
			t.Errorf("%s: kind %q", l.ID, l.ErrorKind)
		}
	}
}

func testShow(t *testing.T, e *env, w *world, all []*dlq.Letter) {
	ctx := context.Background()
	var b1 *dlq.Letter
	for _, l := range all {
		if l.EventID == w.bEvents[0] {
			b1 = l
		}
	}
	if b1 == nil {
		t.Fatal("B's first event is not dead-lettered")
	}
	orig, _ := b1.OriginalPosition()
	for _, raw := range []string{b1.ID, orig.String(), b1.EventID} {
		id, err := dlq.ParseID(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.m.Show(ctx, id)
		if err != nil || len(got) != 1 || got[0].ID != b1.ID {
			t.Fatalf("show %s: %v, %v", raw, ids(got), err)
		}
		s := got[0].Show()
		if s.SchemaID == nil || !json.Valid(s.Value) || s.ValueBase64 != nil || *s.Key != w.b {
			t.Errorf("show %s: value not shown as JSON: %+v", raw, s)
		}
		if len(s.Headers) != len(got[0].Record.Headers) || s.Headers[0].Key != event.FieldEventID {
			t.Errorf("show %s: headers %+v", raw, s.Headers)
		}
	}
	// Garbage is shown in base64.
	id, _ := dlq.ParseID(w.junkID)
	got, err := e.m.Show(ctx, id)
	if err != nil || len(got) != 1 {
		t.Fatalf("show garbage: %v", err)
	}
	if s := got[0].Show(); s.ValueBase64 == nil || s.Value != nil {
		t.Errorf("garbage value: %+v", s)
	}
	id, _ = dlq.ParseID("lead.created.dlq/0/999999")
	if _, err := e.m.Show(ctx, id); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("show of nothing: %v", err)
	}
}

func testDryRun(t *testing.T, e *env, w *world) {
	ctx := context.Background()
	a := dlq.Action{Actor: "ops-test", Reason: "look first", DryRun: true}
	rep, err := e.m.Replay(ctx, dlq.Filter{Tenant: w.b}, a)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Matched != 5 || len(rep.Done) != 3 || len(rep.Skipped) != 2 {
		t.Fatalf("dry replay: matched %d, would replay %v, skip %+v", rep.Matched, ids(rep.Done), rep.Skipped)
	}
	for _, s := range rep.Skipped {
		if !strings.Contains(s.Reason, "not a Spine event") {
			t.Errorf("skip %s: %s", s.ID, s.Reason)
		}
	}
	if rep, err := e.m.Purge(ctx, dlq.Filter{}, a); err != nil || len(rep.Done) != 6 {
		t.Fatalf("dry purge: %v, %v", rep, err)
	}
	if open, _ := e.m.List(ctx, dlq.Filter{}, false); len(open) != 6 {
		t.Errorf("a dry run resolved letters: %d open", len(open))
	}
	if rows, _ := e.audit.Rows(ctx, 0, 0); len(rows) != 0 {
		t.Errorf("a dry run wrote %d audit rows", len(rows))
	}
	starts, err := e.tr.StartOffsets(ctx, dlq.ResolvedTopic("lead.created.dlq"))
	if err != nil || len(starts) != 0 {
		t.Errorf("a dry run created the resolution log: %v %v", starts, err)
	}
}

func checkAudit(t *testing.T, e *env, w *world) {
	ctx := context.Background()
	n, err := audit.Verify(ctx, e.audit)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.audit.Rows(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// purge decode (2 + summary), replay B (3 + summary), replay again
	// (summary), purge C (1 + summary).
	if n != 10 || len(rows) != 10 {
		t.Fatalf("%d audit rows, want 10", n)
	}
	var summaries, replayed, purged int
	for _, r := range rows {
		if r.Actor != "ops-test" {
			t.Errorf("row %d: actor %q", r.ID, r.Actor)
		}
		var d map[string]any
		if err := json.Unmarshal(r.Detail, &d); err != nil || d["command"] == nil || d["reason"] == nil {
			t.Errorf("row %d: detail %s", r.ID, r.Detail)
		}
		switch {
		case r.EventID == "" && r.Outcome != dlq.StatusPurged:
			summaries++
			if d["filter"] == nil || d["positions"] == nil || d["event_ids"] == nil {
				t.Errorf("summary row %d: %s", r.ID, r.Detail)
			}
		case r.Outcome == dlq.StatusReplayed:
			replayed++
			if r.Action != dlq.ActionReplay || !slices.Contains(w.bEvents, r.EventID) || d["target"] == nil {
				t.Errorf("replay row %d: %+v", r.ID, r)
			}
		case r.Outcome == dlq.StatusPurged:
			purged++
		}
	}
	if summaries != 4 || replayed != 3 || purged != 3 {
		t.Errorf("rows: %d summaries, %d replayed, %d purged; want 4, 3, 3", summaries, replayed, purged)
	}
}

// A record dead-lettered by two consumer groups is replayed once: the topic
// reaches both groups.
func TestReplayOncePerRecord(t *testing.T) {
	e := backends()[0].env(t)
	ctx := context.Background()
	fail := func(context.Context, *bus.Message) error { return bus.Permanent(errors.New("no")) }
	for _, g := range []string{"crm-test", "billing-test"} {
		consume(t, e.client, bus.Subscription{Group: g, Topics: []string{"lead.created"}, FromBeginning: true}, fail)
	}
	pub, err := e.client.Publish(ctx, e.fx.Event(t, "lead.created", bustest.Tenants(1)[0]))
	if err != nil {
		t.Fatal(err)
	}
	waitForOpen(t, e, 2)
	rep, err := e.m.Replay(ctx, dlq.Filter{}, action(e, "once"))
	if err != nil || len(rep.Done) != 2 {
		t.Fatalf("replay: %v, %v", rep, err)
	}
	copies := 0
	err = e.tr.Read(ctx, kafka.ReadOptions{Topics: []string{"lead.created"}, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error {
			if v, _ := d.Record.Header(event.FieldEventID); string(v) == pub[0].Header.EventID {
				copies++
			}
			return nil
		})
	if err != nil || copies != 2 {
		t.Errorf("the event is %d times on its topic, want 2 (published, replayed once): %v", copies, err)
	}
	// Both groups still fail: the replayed event comes back, counted.
	waitForOpen(t, e, 2)
	open, _ := e.m.List(ctx, dlq.Filter{}, false)
	for _, l := range open {
		if l.ReplayCount != 1 || l.EventID != pub[0].Header.EventID {
			t.Errorf("dead-lettered again: %s replay_count %d", l.ID, l.ReplayCount)
		}
	}
}
