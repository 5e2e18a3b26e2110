package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// JavaPartition exposes the Java client's key partitioning to the
// integration tests in package kafka_test.
var JavaPartition = javaPartition

// ProducerOpts exposes the transport's producer options, so the raw
// franz-go baseline of the benchmarks produces with the same settings.
func ProducerOpts(cfg Config) []kgo.Opt { return cfg.withDefaults().producerOpts() }
