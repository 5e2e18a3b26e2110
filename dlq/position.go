package dlq

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/inopsio/spine/bus"
)

// Position is where a record sits on Kafka. Topic is the logical (catalog)
// name, without the transport's namespace.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String is the form every tool prints: "topic/partition/offset", as
// bus.Delivery.ID.
func (p Position) String() string {
	return p.Topic + "/" + strconv.Itoa(int(p.Partition)) + "/" + strconv.FormatInt(p.Offset, 10)
}

// partitionKey names a partition: "topic/partition".
func (p Position) partitionKey() string { return p.Topic + "/" + strconv.Itoa(int(p.Partition)) }

// ParsePosition reads "topic/partition/offset". Topic names cannot contain
// '/', so the last two fields are the numbers.
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return Position{}, fmt.Errorf("%q is not a position (topic/partition/offset)", s)
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j <= 0 {
		return Position{}, fmt.Errorf("%q is not a position (topic/partition/offset)", s)
	}
	p, err1 := strconv.ParseInt(s[j+1:i], 10, 32)
	o, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return Position{}, fmt.Errorf("%q is not a position: partition and offset must be non-negative integers", s)
	}
	return Position{Topic: s[:j], Partition: int32(p), Offset: o}, nil
}

// IsDLQ reports whether topic is a dead-letter topic.
func IsDLQ(topic string) bool {
	return strings.HasSuffix(topic, dlqSuffix) && len(topic) > len(dlqSuffix)
}

var dlqSuffix = bus.DLQTopic("")

// OriginalTopic returns the topic whose dead letters dlqTopic holds.
func OriginalTopic(dlqTopic string) string { return strings.TrimSuffix(dlqTopic, dlqSuffix) }

// ID names dead letters on the command line. Exactly one field is set:
//
//   - DLQ: the dead letter's own position, "lead.created.dlq/0/5";
//   - Original: the position of the record that failed,
//     "lead.created/0/42", found through the spine-original-* headers. It
//     names one dead letter per consumer group that failed on the record;
//   - EventID: every dead letter of that event (several groups, or an event
//     replayed and dead-lettered again).
type ID struct {
	DLQ      *Position
	Original *Position
	EventID  string
}

// ParseID reads one of the three forms of ID.
func ParseID(s string) (ID, error) {
	if !strings.Contains(s, "/") {
		if u, err := uuid.Parse(s); err == nil && len(s) == 36 {
			return ID{EventID: strings.ToLower(u.String())}, nil
		}
		return ID{}, fmt.Errorf("%q is neither a position (topic/partition/offset) nor an event_id", s)
	}
	p, err := ParsePosition(s)
	if err != nil {
		return ID{}, err
	}
	if IsDLQ(p.Topic) {
		return ID{DLQ: &p}, nil
	}
	return ID{Original: &p}, nil
}

func (id ID) String() string {
	switch {
	case id.DLQ != nil:
		return id.DLQ.String()
	case id.Original != nil:
		return id.Original.String()
	}
	return id.EventID
}

// matches reports whether l is a dead letter id names.
func (id ID) matches(l *Letter) bool {
	switch {
	case id.DLQ != nil:
		return l.Position == *id.DLQ
	case id.Original != nil:
		return l.OriginalTopic == id.Original.Topic && l.OriginalPartition != nil && l.OriginalOffset != nil &&
			*l.OriginalPartition == id.Original.Partition && *l.OriginalOffset == id.Original.Offset
	}
	return l.EventID == id.EventID
}

// topic is the catalog topic the dead letters of id are on, "" when any.
func (id ID) topic() string {
	switch {
	case id.DLQ != nil:
		return OriginalTopic(id.DLQ.Topic)
	case id.Original != nil:
		return id.Original.Topic
	}
	return ""
}
