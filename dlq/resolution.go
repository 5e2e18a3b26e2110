package dlq

import (
	"encoding/json"
	"time"

	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// Resolution says how a dead letter was dealt with. It is the value of a
// record of the resolution log, "<topic>.dlq.resolved", keyed by the dead
// letter's position; the log is compacted, so the latest resolution of each
// position is kept.
type Resolution struct {
	Action  string    `json:"action"` // StatusReplayed or StatusPurged
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason"`
	Command string    `json:"command"` // the command's id, as in the audit trail
	EventID string    `json:"event_id,omitempty"`
}

// ResolvedTopic names the resolution log of a dead-letter topic.
func ResolvedTopic(dlqTopic string) string { return dlqTopic + ".resolved" }

// resolvedSpec is how a resolution log is created: compacted, so it keeps
// one record per dead letter however often it is rewritten, and on one
// partition, so that reading it whole is one ordered pass. Resolutions of
// dead letters that are gone (retention, DeleteRecords) are removed with
// tombstones by the next replay or purge.
func resolvedSpec(dlqTopic string) kafka.TopicSpec {
	compact := "compact"
	return kafka.TopicSpec{Name: ResolvedTopic(dlqTopic), Partitions: 1,
		Configs: map[string]*string{"cleanup.policy": &compact}}
}

// resolutionRecord is the record that resolves the letter at pos.
func resolutionRecord(pos Position, r Resolution) codec.Record {
	v, _ := json.Marshal(r) // cannot fail: plain strings and a time
	return codec.Record{Topic: ResolvedTopic(pos.Topic), Key: []byte(pos.String()), Value: v}
}

// tombstone deletes the resolution of pos from the compacted log.
func tombstone(pos Position) codec.Record {
	return codec.Record{Topic: ResolvedTopic(pos.Topic), Key: []byte(pos.String())}
}

// parseResolution reads a resolution record's value. A value that does not
// parse still resolves the letter (action "unknown"): treating it as open
// could replay an event twice.
func parseResolution(v []byte) *Resolution {
	var r Resolution
	if err := json.Unmarshal(v, &r); err != nil || (r.Action != StatusReplayed && r.Action != StatusPurged) {
		return &Resolution{Action: "unknown", Reason: "unreadable resolution record"}
	}
	return &r
}
