package kafka

import (
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCommitPoints(t *testing.T) {
	p0, p1, q0 := tp{"a", 0}, tp{"a", 1}, tp{"b", 0}
	ok := func(off int64) result { return result{offset: off, epoch: 3, outcome: succeeded} }
	bad := func(off int64) result { return result{offset: off, epoch: 3, outcome: failed} }
	skip := func(off int64) result { return result{offset: off, epoch: 3, outcome: notRun} }
	at := func(off int64) kgo.EpochOffset { return kgo.EpochOffset{Epoch: 3, Offset: off} }
	wait := func(off int64) result { return result{offset: off, epoch: 3, outcome: held} }

	tests := []struct {
		name    string
		results map[tp][]result
		commit  map[tp]kgo.EpochOffset
	}{
		{
			name:    "all ok",
			results: map[tp][]result{p0: {ok(10), ok(11), ok(12)}, q0: {ok(0)}},
			commit:  map[tp]kgo.EpochOffset{p0: at(13), q0: at(1)},
		},
		{
			name:    "failure in the middle commits before it",
			results: map[tp][]result{p0: {ok(10), ok(11), bad(12), ok(13), skip(14)}},
			commit:  map[tp]kgo.EpochOffset{p0: at(12)},
		},
		{
			name: "failures on two partitions, a third clean",
			results: map[tp][]result{
				p0: {ok(5), bad(6), bad(7)},
				p1: {bad(40), ok(41)},
				q0: {ok(1), ok(2)},
			},
			commit: map[tp]kgo.EpochOffset{p0: at(6), q0: at(3)},
		},
		{
			name:    "failure at the first record commits nothing",
			results: map[tp][]result{p0: {bad(100), ok(101), ok(102)}},
			commit:  map[tp]kgo.EpochOffset{},
		},
		{
			name:    "records left unrun at shutdown are not committed",
			results: map[tp][]result{p0: {ok(7), skip(8), skip(9)}},
			commit:  map[tp]kgo.EpochOffset{p0: at(8)},
		},
		{
			name:    "a held record stops the commit like a failure",
			results: map[tp][]result{p0: {ok(3), wait(4), ok(5)}},
			commit:  map[tp]kgo.EpochOffset{p0: at(4)},
		},
		{
			name:    "a later success does not let the commit jump a gap",
			results: map[tp][]result{p0: {skip(1), ok(2), ok(3)}},
			commit:  map[tp]kgo.EpochOffset{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			commit := commitPoints(tc.results)
			if tc.commit == nil {
				tc.commit = map[tp]kgo.EpochOffset{}
			}
			if !maps.Equal(commit, tc.commit) {
				t.Errorf("commit = %v, want %v", commit, tc.commit)
			}
		})
	}
}

func TestByTopicAndPartitionsOf(t *testing.T) {
	m := map[tp]kgo.EpochOffset{{"a", 0}: {Offset: 1}, {"a", 2}: {Offset: 5}, {"b", 1}: {Offset: 9}}
	bt := byTopic(m)
	if len(bt) != 2 || bt["a"][2].Offset != 5 || bt["b"][1].Offset != 9 {
		t.Errorf("byTopic = %v", bt)
	}
	ps := partitionsOf(m)
	if len(ps["a"]) != 2 || len(ps["b"]) != 1 {
		t.Errorf("partitionsOf = %v", ps)
	}
}
