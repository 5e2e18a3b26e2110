package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// tp names one partition of a wire topic.
type tp struct {
	topic     string
	partition int32
}

// outcome is what became of one record of a poll batch.
type outcome uint8

const (
	// notRun: the record was not handed to the handler — shutdown began
	// first, or an earlier record of its partition had failed, so it will
	// be fetched again anyway.
	notRun outcome = iota
	succeeded
	failed
	// held: the record waits behind a failed record of its key (see
	// hold.go); it was not handed to the handler.
	held
)

// result is one record's outcome, in its partition's offset order.
type result struct {
	offset  int64
	epoch   int32 // leader epoch of the record, committed with the offset
	outcome outcome
}

// commitPoints decides where each partition of a handled poll batch
// commits. results hold each partition's records in offset order.
//
// A partition commits the offset after the last record of its longest prefix
// of succeeded records: everything before a commit point has been handled,
// which is what at-least-once demands. Committing past a gap (a later
// success after a failed, held or unrun record) would lose that record on a
// restart; keeping later successes un-committed costs duplicates only, never
// loss.
func commitPoints(results map[tp][]result) map[tp]kgo.EpochOffset {
	commit := make(map[tp]kgo.EpochOffset, len(results))
	for p, rs := range results {
		n := 0
		for n < len(rs) && rs[n].outcome == succeeded {
			n++
		}
		if n > 0 {
			last := rs[n-1]
			commit[p] = kgo.EpochOffset{Epoch: last.epoch, Offset: last.offset + 1}
		}
	}
	return commit
}

// byTopic turns per-partition offsets into franz-go's topic → partition form.
func byTopic(m map[tp]kgo.EpochOffset) map[string]map[int32]kgo.EpochOffset {
	out := make(map[string]map[int32]kgo.EpochOffset, len(m))
	for p, o := range m {
		ps := out[p.topic]
		if ps == nil {
			ps = make(map[int32]kgo.EpochOffset)
			out[p.topic] = ps
		}
		ps[p.partition] = o
	}
	return out
}

// partitionsOf lists the partitions of m in franz-go's topic → partitions form.
func partitionsOf[V any](m map[tp]V) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p := range m {
		out[p.topic] = append(out[p.topic], p.partition)
	}
	return out
}
