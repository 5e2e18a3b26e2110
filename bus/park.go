package bus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// Non-blocking retries (spec §8, the default ordering policy): on a
// transport that parks (RetryParker: Kafka, Redis Streams), a failed event
// is not retried in place, where it would hold every later record of its
// partition (Kafka: one offset per partition) or of its key (both: order per
// key). It is parked: copied to the retry topic of its attempt,
// "<topic>.retry-<n>", with its due time in a header, and acknowledged, so
// the partition keeps flowing. Each retry level has one fixed delay, so a
// retry topic's records fall due in the order they were written: the
// subscriber that parked a record reads the retry topics too, and at a
// record not yet due it pauses the partition until then (NotDueError), never
// polling in a loop. A retry that fails again is parked one level up; after
// the last level, the event is dead-lettered with the original record's
// position. Strict events are never parked: they are retried in place,
// holding only their own key.
//
// Retry topics are shared by every group consuming the topic; a parked
// record names its group (spine-consumer-group) and other groups skip it.

// RetryParker is a Transport on which Client parks non-blocking retries on
// retry topics instead of retrying in place.
type RetryParker interface {
	Transport
	// PrepareRetryTopics makes sure the given retry topics exist before
	// Consume reads them, each like its origin topic (keyed by origin).
	PrepareRetryTopics(ctx context.Context, retryTopics map[string][]string) error
}

// RetryTopic names the level-th retry topic of topic (level from 1).
func RetryTopic(topic string, level int) string {
	return topic + ".retry-" + strconv.Itoa(level)
}

// retryRoute says where a subscribed retry topic leads back to.
type retryRoute struct {
	origin string // the event's own topic
	level  int    // 1 for "<origin>.retry-1"
}

// retryTopics returns the retry topics to read with topics, by retry
// topic, when the transport parks retries: one per retry level of each
// topic whose events are all non-blocking.
func (c *Client) retryTopics(topics []string) (map[string]retryRoute, map[string][]string) {
	if _, ok := c.transport.(RetryParker); !ok {
		return nil, nil
	}
	routes := make(map[string]retryRoute)
	byOrigin := make(map[string][]string)
	for _, topic := range topics {
		levels, ok := c.parkLevels(topic)
		if !ok {
			continue
		}
		for l := 1; l <= levels; l++ {
			rt := RetryTopic(topic, l)
			routes[rt] = retryRoute{origin: topic, level: l}
			byOrigin[topic] = append(byOrigin[topic], rt)
		}
	}
	return routes, byOrigin
}

// parkLevels reports whether failed events of topic are parked, and on how
// many retry levels: only when every event on it is non-blocking.
func (c *Client) parkLevels(topic string) (int, bool) {
	return parkLevels(c.cat, topic, c.retryDelays)
}

func parkLevels(cat *catalog.Catalog, topic string, override []time.Duration) (int, bool) {
	levels, found := 0, false
	for _, e := range cat.Events() {
		if e.Topic != topic {
			continue
		}
		if e.Retry.Ordering != catalog.NonBlocking {
			return 0, false
		}
		found = true
		n := len(e.Retry.Delays)
		if override != nil {
			n = len(override)
		}
		levels = max(levels, n)
	}
	return levels, found && levels > 0
}

// RetryTopics lists the retry topics of topic under cat's retry policies:
// "<topic>.retry-1" … one per retry of its schedule when its events are
// non-blocking, none when they are strict.
func RetryTopics(cat *catalog.Catalog, topic string) []string {
	levels, ok := parkLevels(cat, topic, nil)
	if !ok {
		return nil
	}
	out := make([]string, levels)
	for l := range levels {
		out[l] = RetryTopic(topic, l+1)
	}
	return out
}

// delaysOf is the retry schedule of e.
func (c *Client) delaysOf(e *catalog.Event) []time.Duration {
	if c.retryDelays != nil {
		return c.retryDelays
	}
	return e.Retry.Delays
}

// origin is where a delivery's event was first consumed, and what its
// earlier attempts left: read from the delivery itself on the event's own
// topic, from the parked record's headers on a retry topic.
type origin struct {
	topic, partition, offset, timestamp string
	firstFailure                        string
	failed                              int // attempts that failed before this delivery
	due                                 time.Time
	group                               string
	parked                              bool // the delivery came from a retry topic
}

// originOf describes a delivery from the event's own topic.
func originOf(d *Delivery) origin {
	o := origin{
		topic:     d.Record.Topic,
		offset:    strconv.FormatInt(d.Offset, 10),
		timestamp: event.FormatTimestamp(d.Timestamp),
		failed:    max(d.Attempt, 1) - 1,
	}
	if d.Offset < 0 {
		o.offset = d.ID // Redis: the stream entry id; streams have no partitions
	} else {
		o.partition = strconv.Itoa(int(d.Partition))
	}
	return o
}

// parkedOrigin reads a parked record's headers. The record is on a retry
// topic Spine wrote, but anyone with write access could have written it, so
// every header is checked.
func parkedOrigin(d *Delivery, r retryRoute) (origin, error) {
	get := func(k string) string {
		v, _ := d.Record.Header(k)
		return string(v)
	}
	o := origin{
		topic: get(codec.HeaderOriginalTopic), partition: get(codec.HeaderOriginalPartition),
		offset: get(codec.HeaderOriginalOffset), timestamp: get(codec.HeaderOriginalTimestamp),
		firstFailure: get(codec.HeaderFirstFailure), group: get(codec.HeaderConsumerGroup), parked: true,
	}
	if o.topic != r.origin {
		return o, fmt.Errorf("parked record on %s names original topic %q", d.Record.Topic, o.topic)
	}
	n, err := strconv.Atoi(get(codec.HeaderAttempt))
	if err != nil || n != r.level {
		return o, fmt.Errorf("parked record on %s has %s %q, want %d", d.Record.Topic, codec.HeaderAttempt, get(codec.HeaderAttempt), r.level)
	}
	o.failed = n
	if o.due, err = event.ParseTimestamp(get(codec.HeaderDueAt)); err != nil {
		return o, fmt.Errorf("parked record on %s: %s: %w", d.Record.Topic, codec.HeaderDueAt, err)
	}
	return o, nil
}

// retryStateHeaders are the headers park and deadLetter write; they are
// replaced, never repeated, when a parked record moves on.
var retryStateHeaders = []string{
	codec.HeaderAttempt, codec.HeaderDueAt, codec.HeaderOriginalTopic, codec.HeaderOriginalPartition,
	codec.HeaderOriginalOffset, codec.HeaderOriginalTimestamp, codec.HeaderConsumerGroup,
	codec.HeaderErrorKind, codec.HeaderErrorMessage, codec.HeaderFirstFailure, codec.HeaderLastFailure,
}

// failureRecord is d's record, key, value and the producer's headers
// untouched, addressed to topic and carrying the failure's headers.
func failureRecord(d *Delivery, topic string, o origin, group, kind, msg string, attempt int, now time.Time) codec.Record {
	rec := d.Record
	rec.Topic = topic
	rec.Headers = make([]codec.Header, 0, len(d.Record.Headers)+11)
	for _, h := range d.Record.Headers {
		if !slices.Contains(retryStateHeaders, h.Key) {
			rec.Headers = append(rec.Headers, h)
		}
	}
	ts := event.FormatTimestamp(now)
	first := o.firstFailure
	if first == "" {
		first = ts
	}
	rec.Headers = append(rec.Headers,
		hdr(codec.HeaderOriginalTopic, o.topic),
		hdr(codec.HeaderOriginalOffset, o.offset),
		hdr(codec.HeaderOriginalTimestamp, o.timestamp),
		hdr(codec.HeaderConsumerGroup, group),
		hdr(codec.HeaderErrorKind, kind),
		hdr(codec.HeaderErrorMessage, clipUTF8(strings.ToValidUTF8(msg, "\uFFFD"), maxErrorHeader)),
		hdr(codec.HeaderAttempt, strconv.Itoa(attempt)),
		hdr(codec.HeaderFirstFailure, first),
		hdr(codec.HeaderLastFailure, ts),
	)
	if o.partition != "" {
		rec.Headers = append(rec.Headers, hdr(codec.HeaderOriginalPartition, o.partition))
	}
	return rec
}

// park writes the failed event to the retry topic of its next attempt, due
// after that attempt's delay; once written, the delivery is acknowledged.
func (c *Client) park(ctx context.Context, group string, d *Delivery, o origin, m *Message, attempt int, delay time.Duration, err error) error {
	now := time.Now().UTC()
	due := now.Add(delay)
	rec := failureRecord(d, RetryTopic(o.topic, attempt), o, group, KindHandler, err.Error(), attempt, now)
	rec.Headers = append(rec.Headers, hdr(codec.HeaderDueAt, event.FormatTimestamp(due)))
	if serr := c.transport.Send(ctx, rec); serr != nil {
		return fmt.Errorf("park %s on %s: %w (handler: %w)", d.ID, rec.Topic, serr, err)
	}
	c.stats.topic(o.topic).retries.Add(1)
	c.log.WarnContext(ctx, "handler failed; retry parked",
		"event_id", m.Header.EventID, "event_name", m.Header.EventName, "tenant_id", m.Header.TenantID,
		"trace_id", m.Header.TraceID, "position", d.ID, "retry_topic", rec.Topic, "attempt", attempt,
		"due", due, "error", err)
	return nil
}
