package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
)

// ErrStop, returned by a Read handler, ends the read without an error.
var ErrStop = errors.New("kafka: stop reading")

// ReadOptions says what Read reads.
type ReadOptions struct {
	Topics        []string // logical topics
	FromBeginning bool     // start at the oldest record; else only new ones
	// UntilEnd stops once every partition is read up to where it ended when
	// the read began: listing, not following.
	UntilEnd bool
}

// Read hands the records of topics to h, partition by partition in order,
// without a consumer group: it commits nothing and changes nothing, so
// operators' tools (tail, DLQ inspection) never disturb consumers. It runs
// until ctx ends, h returns ErrStop (then nil) or another error (returned),
// or, with UntilEnd, the end is reached. UntilEnd recognises the end by the
// last record's offset: a partition whose last offsets hold only control
// records (transaction markers) would never end, so it is for topics written
// without transactions, as all of Spine's are.
func (t *Transport) Read(ctx context.Context, opts ReadOptions, h bus.DeliveryHandler) error {
	if len(opts.Topics) == 0 {
		return fmt.Errorf("kafka: read: no topics")
	}
	done, err := t.track()
	if err != nil {
		return err
	}
	defer done()
	var remaining map[tp]int64 // wire partition → end offset still to reach
	if opts.UntilEnd {
		if remaining, err = t.endOffsets(ctx, opts.Topics); err != nil {
			return err
		}
		if len(remaining) == 0 {
			return nil
		}
	}
	start := kgo.NewOffset().AtEnd()
	if opts.FromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(t.cfg.commonOpts(),
		kgo.ConsumeTopics(t.ns.wireAll(opts.Topics)...),
		kgo.ConsumeResetOffset(start),
		kgo.FetchMaxWait(t.cfg.FetchMaxWait),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: read: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) {
				return nil
			}
			if isFatal(fe.Err) {
				return fmt.Errorf("kafka: read %s: %w", t.ns.logical(fe.Topic), fe.Err)
			}
			t.log.Warn("read: fetch error; retrying", "topic", t.ns.logical(fe.Topic), "partition", fe.Partition, "error", fe.Err)
		}
		var stop error
		fetches.EachRecord(func(r *kgo.Record) {
			if stop != nil {
				return
			}
			if err := h(ctx, delivery(t.ns, r, 1)); err != nil {
				stop = err
			}
			if remaining != nil {
				p := tp{r.Topic, r.Partition}
				if end, ok := remaining[p]; ok && r.Offset+1 >= end {
					delete(remaining, p)
				}
			}
		})
		switch {
		case errors.Is(stop, ErrStop):
			return nil
		case stop != nil:
			return stop
		case remaining != nil && len(remaining) == 0:
			return nil
		}
	}
}

// endOffsets returns the end offset of every non-empty partition of the
// topics that exist.
func (t *Transport) endOffsets(ctx context.Context, topics []string) (map[tp]int64, error) {
	// A topic that does not exist has nothing to read: it ends at once.
	wires, err := t.existing(ctx, topics)
	if err != nil {
		return nil, fmt.Errorf("kafka: read: %w", err)
	}
	out := map[tp]int64{}
	if len(wires) == 0 {
		return out, nil
	}
	ends, err := t.admin.ListEndOffsets(ctx, wires...)
	if err != nil {
		return nil, fmt.Errorf("kafka: read: end offsets: %w", err)
	}
	starts, err := t.admin.ListStartOffsets(ctx, wires...)
	if err != nil {
		return nil, fmt.Errorf("kafka: read: start offsets: %w", err)
	}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", t.ns.logical(o.Topic), o.Partition, o.Err))
			return
		}
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset >= o.Offset {
			return // empty, or everything deleted by retention
		}
		out[tp{o.Topic, o.Partition}] = o.Offset
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("kafka: read: end offsets: %w", errors.Join(errs...))
	}
	return out, nil
}
