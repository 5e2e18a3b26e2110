package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// murmur2 is the Java client's org.apache.kafka.common.utils.Utils.murmur2,
// written out from its definition so the test does not trust franz-go to
// check franz-go.
func murmur2(data []byte) int32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// javaPartition is the Java client's (and kafkajs' DefaultPartitioner's)
// partition for a keyed record: toPositive(murmur2(key)) % partitions.
func javaPartition(key []byte, partitions int) int32 {
	return int32((uint32(murmur2(key)) & 0x7fffffff) % uint32(partitions))
}

// The vectors are Kafka's own, from UtilsTest.testMurmur2.
func TestMurmur2MatchesJava(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// franz-go's default partitioner — the one the transport keeps — places a
// keyed record where the Java client would, for every partition count.
func TestDefaultPartitionerIsJavaCompatible(t *testing.T) {
	keys := []string{"21", "foobar", "abc", "3f9a1c2e-0000-4000-8000-000000000001", "tenant-42", ""}
	for _, parts := range []int{1, 3, 12, 50} {
		p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
		// The default partitioner places keyed records through the backup
		// interface; the backup iterator is only consulted for unkeyed ones.
		u := kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic("t").(kgo.TopicBackupPartitioner)
		for _, k := range keys {
			want := int(javaPartition([]byte(k), parts))
			r := &kgo.Record{Key: []byte(k)}
			if got := p.Partition(r, parts); got != want {
				t.Errorf("sticky-key partitioner: key %q over %d: %d, want %d", k, parts, got, want)
			}
			if got := u.PartitionByBackup(r, parts, nil); got != want {
				t.Errorf("default (uniform-bytes) partitioner: key %q over %d: %d, want %d", k, parts, got, want)
			}
		}
	}
}
