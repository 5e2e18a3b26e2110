package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// Action says who replays or purges, why, and how.
type Action struct {
	Actor  string // who: an OS user, an operator's name; required unless DryRun
	Reason string // why; required unless DryRun
	// DryRun reports what would be done and changes nothing: no record is
	// sent, no resolution or audit row written.
	DryRun bool
	// Rate caps a replay at that many events per second on average (0: as
	// fast as the broker takes them). See limiter.
	Rate float64
	// Audit receives one row per affected dead letter and one per command;
	// required unless DryRun.
	Audit audit.Store
	// Progress, when set, is told how many letters will be acted on and
	// returns what to tell about each batch done (nil: nothing): the CLI's
	// progress bar.
	Progress func(total int) Progress
}

// Progress reports a long replay's advance.
type Progress interface {
	Add(n int)
	Finish()
}

// ErrInvalidAction is wrapped by the errors of an Action missing a field.
var ErrInvalidAction = errors.New("dlq: invalid action")

func (a Action) validate() error {
	switch {
	case a.Rate < 0:
		return fmt.Errorf("%w: rate %v is negative", ErrInvalidAction, a.Rate)
	case a.DryRun:
		return nil // changes nothing, so no one needs to answer for it
	case a.Actor == "":
		return fmt.Errorf("%w: an actor is required", ErrInvalidAction)
	case a.Reason == "":
		return fmt.Errorf("%w: a reason is required", ErrInvalidAction)
	case a.Audit == nil:
		return fmt.Errorf("%w: an audit store is required", ErrInvalidAction)
	}
	return nil
}

// Report says what a replay or a purge did (or, dry, would do).
type Report struct {
	Command string    `json:"command"` // id shared by the command's audit rows and resolutions
	Action  string    `json:"action"`  // "replay" or "purge"
	DryRun  bool      `json:"dry_run"`
	Matched int       `json:"matched"` // open dead letters the filter matched
	Done    []*Letter `json:"done"`    // replayed or purged (dry: would be)
	Skipped []Skip    `json:"skipped"` // matched but left alone, with why
	// Deleted maps each DLQ partition a purge truncated ("topic/partition")
	// to its new start offset.
	Deleted map[string]int64 `json:"deleted,omitempty"`
	// AuditRows are the ids of the first and last audit row written.
	AuditRows []int64 `json:"audit_rows,omitempty"`
}

// Skip is a matched dead letter that was not acted on.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Audit actions and outcomes.
const (
	ActionReplay = "dlq.replay"
	ActionPurge  = "dlq.purge"

	OutcomeSucceeded = "succeeded" // the command did everything it matched
	OutcomePartial   = "partial"   // it skipped some letters
	OutcomeFailed    = "failed"    // it stopped on an error
)

// summaryTimeout bounds writing the command's audit row after a failure or
// an interrupt, when the command's own context may have ended.
const summaryTimeout = 10 * time.Second

// run is one replay or purge under way.
type run struct {
	m      *Manager
	a      Action
	f      Filter
	s      *scanned
	rep    *Report
	action string // audit action
	status string // resolution action
	gc     []Position
	now    func() time.Time
}

func (m *Manager) newRun(f Filter, a Action, s *scanned, kind, action, status string) *run {
	return &run{
		m: m, a: a, f: f, s: s, action: action, status: status, gc: s.stale, now: m.clock.Now,
		rep: &Report{Command: uuid.NewString(), Action: kind, DryRun: a.DryRun, Done: []*Letter{}, Skipped: []Skip{}},
	}
}

// process acts on letters batch by batch: act (send the replays; nothing
// for a purge), then the resolutions, then the audit rows. A letter is
// resolved only after its act succeeded — a crash in between leaves it open,
// and a second replay sends the same event_id again, which deduplication
// absorbs: nothing is lost, and nothing is handled twice.
func (r *run) process(ctx context.Context, letters []*Letter, lim *limiter, batch int, act func(context.Context, []*Letter) error) error {
	if len(letters) == 0 {
		return nil
	}
	if err := r.ensureLogs(ctx, letters); err != nil {
		return err
	}
	var progress Progress
	if r.a.Progress != nil {
		progress = r.a.Progress(len(letters)) // nil: no progress to show
	}
	if progress != nil {
		defer progress.Finish()
	}
	for i := 0; i < len(letters); i += batch {
		b := letters[i:min(i+batch, len(letters))]
		if err := lim.wait(ctx, len(b)); err != nil {
			return err
		}
		if act != nil {
			if err := act(ctx, b); err != nil {
				return fmt.Errorf("%s %d dead letters (from %s): %w", r.rep.Action, len(b), b[0].ID, err)
			}
		}
		res := r.resolution()
		recs := make([]codec.Record, 0, len(r.gc)+len(b))
		// The tombstones of stale resolutions ride with the first batch.
		// (A log may end on a tombstone: Kafka never compacts a partition's
		// last record, so it still reads to its end.)
		for _, p := range r.gc {
			recs = append(recs, tombstone(p))
		}
		for _, l := range b {
			rl := res
			rl.EventID = l.EventID
			recs = append(recs, resolutionRecord(l.Position, rl))
		}
		if err := r.m.log.Send(ctx, recs...); err != nil {
			return fmt.Errorf("%s: %d dead letters from %s were acted on but could not be marked resolved "+
				"(a replay of them would be deduplicated): %w", r.rep.Action, len(b), b[0].ID, err)
		}
		r.gc = nil
		entries := make([]audit.Entry, len(b))
		for j, l := range b {
			entries[j] = r.entry(l, res.At)
			rl := res
			rl.EventID = l.EventID
			l.resolve(&rl)
		}
		rows, err := r.a.Audit.Append(ctx, entries...)
		if err != nil {
			return fmt.Errorf("%s: %d dead letters from %s were %s but not written to the audit trail "+
				"(the resolution log %s has them, with actor and reason): %w",
				r.rep.Action, len(b), b[0].ID, r.status, ResolvedTopic(b[0].Position.Topic), err)
		}
		r.noteRows(rows)
		r.rep.Done = append(r.rep.Done, b...)
		if progress != nil {
			progress.Add(len(b))
		}
	}
	return nil
}

// ensureLogs creates the resolution logs the letters need.
func (r *run) ensureLogs(ctx context.Context, letters []*Letter) error {
	var specs []kafka.TopicSpec
	seen := map[string]bool{}
	for _, l := range letters {
		t := ResolvedTopic(l.Position.Topic)
		if !r.s.logs[t] && !seen[t] {
			seen[t] = true
			specs = append(specs, resolvedSpec(l.Position.Topic))
		}
	}
	if len(specs) == 0 {
		return nil
	}
	if err := r.m.log.EnsureTopics(ctx, specs...); err != nil {
		return fmt.Errorf("dlq: create the resolution logs: %w", err)
	}
	for t := range seen {
		r.s.logs[t] = true
	}
	return nil
}

func (r *run) resolution() Resolution {
	return Resolution{Action: r.status, At: r.now().UTC(), Actor: r.a.Actor, Reason: r.a.Reason, Command: r.rep.Command}
}

// entry is the audit row of one letter.
func (r *run) entry(l *Letter, at time.Time) audit.Entry {
	d := map[string]any{"command": r.rep.Command, "dlq": l.ID, "reason": r.a.Reason,
		"error_kind": l.ErrorKind, "consumer_group": l.ConsumerGroup}
	if p, ok := l.OriginalPosition(); ok {
		d["original"] = p.String()
	}
	if r.status == StatusReplayed {
		d["target"] = OriginalTopic(l.Position.Topic)
		d["replay_count"] = l.ReplayCount + 1
	}
	return audit.Entry{At: at, Actor: r.a.Actor, Action: r.action, EventID: l.EventID, EventName: l.EventName,
		TenantID: l.TenantID, Outcome: r.status, Detail: mustJSON(d)}
}

func (r *run) noteRows(rows []audit.Entry) {
	if len(rows) == 0 {
		return
	}
	if len(r.rep.AuditRows) == 0 {
		r.rep.AuditRows = []int64{rows[0].ID, rows[0].ID}
	}
	r.rep.AuditRows[1] = rows[len(rows)-1].ID
}

// finish writes the command's own audit row — whatever happened, err
// included — and returns the report with err.
func (r *run) finish(ctx context.Context, err error) (*Report, error) {
	if r.a.DryRun {
		return r.rep, err
	}
	outcome := OutcomeSucceeded
	switch {
	case err != nil:
		outcome = OutcomeFailed
	case len(r.rep.Skipped) > 0:
		outcome = OutcomePartial
	}
	ids := make([]string, len(r.rep.Done))
	events := make([]string, 0, len(r.rep.Done))
	for i, l := range r.rep.Done {
		ids[i] = l.ID
		if l.EventID != "" {
			events = append(events, l.EventID)
		}
	}
	d := map[string]any{"command": r.rep.Command, "reason": r.a.Reason, "filter": r.f.Describe(),
		"matched": r.rep.Matched, "done": len(r.rep.Done), "positions": ids, "event_ids": events,
		"skipped": r.rep.Skipped}
	if r.a.Rate > 0 {
		d["rate"] = r.a.Rate
	}
	if len(r.rep.Deleted) > 0 {
		d["deleted"] = r.rep.Deleted
	}
	if err != nil {
		d["error"] = err.Error()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), summaryTimeout)
	defer cancel()
	rows, aerr := r.a.Audit.Append(ctx, audit.Entry{At: r.now(), Actor: r.a.Actor, Action: r.action,
		Outcome: outcome, Detail: mustJSON(d)})
	if aerr != nil {
		return r.rep, errors.Join(err, fmt.Errorf("dlq: the %s command %s is not in the audit trail: %w", r.rep.Action, r.rep.Command, aerr))
	}
	r.noteRows(rows)
	return r.rep, err
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("dlq: audit detail: " + err.Error()) // maps of strings and numbers always marshal
	}
	return b
}

// replayHeaders are the headers a replay drops: the failure and retry
// headers of the dead letter. Every other header — the envelope, the
// service token, trace context, spine-encryption and spine-* headers this
// version does not know — goes out as it came in.
var replayHeaders = map[string]bool{
	codec.HeaderAttempt: true, codec.HeaderDueAt: true, codec.HeaderOriginalTopic: true,
	codec.HeaderOriginalPartition: true, codec.HeaderOriginalOffset: true, codec.HeaderOriginalTimestamp: true,
	codec.HeaderConsumerGroup: true, codec.HeaderErrorKind: true, codec.HeaderErrorMessage: true,
	codec.HeaderFirstFailure: true, codec.HeaderLastFailure: true, codec.HeaderReplayCount: true,
}

// replayRecord is the record a replay of l publishes: to the original topic,
// with the dead letter's key, value and headers less the failure headers,
// plus spine-replay-count. why is set, and the record empty, when l must not
// be replayed.
func replayRecord(l *Letter) (rec codec.Record, why string) {
	target := OriginalTopic(l.Position.Topic)
	if l.OriginalTopic != "" && l.OriginalTopic != target {
		// The target follows from the DLQ's name, never from a header: a
		// forged header must not pick the topic an event is injected into.
		return codec.Record{}, fmt.Sprintf("its %s header names %q, not %q, the topic of its DLQ",
			codec.HeaderOriginalTopic, l.OriginalTopic, target)
	}
	hs := make([]codec.Header, 0, len(l.Record.Headers)+1)
	for _, h := range l.Record.Headers {
		if !replayHeaders[h.Key] {
			hs = append(hs, h)
		}
	}
	hs = append(hs, codec.Header{Key: codec.HeaderReplayCount, Value: []byte(strconv.Itoa(l.ReplayCount + 1))})
	rec = codec.Record{Topic: target, Key: l.Record.Key, Value: l.Record.Value, Headers: hs}
	if _, err := codec.Decode(rec); err != nil {
		return codec.Record{}, fmt.Sprintf("it is not a Spine event (%v): a replay would only dead-letter it again; purge it", err)
	}
	return rec, ""
}
