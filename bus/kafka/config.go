package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Transport. Only Brokers is required; every zero field
// takes the default named in its comment.
//
// The connection is plaintext and unauthenticated unless TLS and SASL say
// otherwise: what the embedded broker expects. Production clusters that
// enforce the catalog's ACLs need SASL (each service its own user).
type Config struct {
	// Brokers are the seed brokers, "host:port"; the client discovers the
	// rest of the cluster from them.
	Brokers []string
	// ClientID names the client in broker logs, quotas and ACL audit
	// (default "spine").
	ClientID string
	// Namespace is prefixed to every topic and consumer group on the wire
	// ("staging." + "lead.created") and stripped from received topics, so
	// code and deliveries only ever see catalog names. Groups are prefixed
	// as well because Kafka groups are cluster-wide: two environments on one
	// cluster must not share a group.
	Namespace string
	// Logger receives the transport's and franz-go's logs (default
	// slog.Default()).
	Logger *slog.Logger

	// Linger is how long a partition's batch may wait for more records
	// (default 5ms, the Java client's default since Kafka 4.0; negative
	// disables it). It never delays a Send: Send waits for its records, and
	// franz-go drains a synchronous produce's partitions as soon as its
	// records are queued. Batching under load comes from Sends that queue
	// while a produce request is in flight.
	Linger time.Duration
	// BatchMaxBytes caps one partition batch (default MaxMessageBytes: room
	// for the largest payload the validator admits, 2 MiB, with its headers
	// and framing). A broker or topic with a lower max.message.bytes refuses
	// bigger batches; CatalogTopics sets the topic limit to match.
	BatchMaxBytes int32
	// Compression is the batch codec: "none" (default), "gzip", "snappy",
	// "lz4" or "zstd". None is the default because kafkajs (NestJS) decodes
	// only gzip without extra codec packages, and aiokafka needs optional
	// libraries for the others: choose a codec only when every consumer of
	// the topics can read it.
	Compression string
	// DeliveryTimeout bounds how long Send keeps retrying a record before it
	// fails (default 2m, the Java client's delivery.timeout.ms). Without a
	// bound a broker outage would block publishers — and a shutting-down
	// consumer's dead-letter writes — forever.
	DeliveryTimeout time.Duration
	// AllowAutoTopicCreation lets producing to, or consuming from, a missing
	// topic create it when the broker allows that (default off: topics are
	// created deliberately, with EnsureTopics or `spine topics`).
	AllowAutoTopicCreation bool

	// FetchMaxWait is how long the broker may hold a fetch open waiting for
	// data (default 500ms, as in the Java client). It also bounds how late a
	// paused partition resumes after its redelivery delay.
	FetchMaxWait time.Duration
	// MaxPollRecords caps the records handled between two commits (default
	// 500, as in the Java client). A poll batch blocks rebalancing until it
	// is handled, so keep batch × handler time well under RebalanceTimeout.
	MaxPollRecords int
	// SessionTimeout is how long the group coordinator waits for a silent
	// member before it reassigns its partitions (default 45s).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long members have to finish their batch and
	// rejoin during a rebalance (default 60s).
	RebalanceTimeout time.Duration

	// DialTimeout bounds opening a connection to a broker (default 10s).
	DialTimeout time.Duration

	// TLS, when set, encrypts every connection (see TLSFiles).
	TLS *tls.Config
	// SASL authenticates every connection; zero: no authentication. PLAIN
	// without TLS sends the password in the clear: New logs a warning.
	SASL SASL
}

// MaxMessageBytes is the record batch limit of Spine topics: a 2 MiB
// payload (schema.DefaultMaxPayloadBytes) plus 64 KiB for headers, framing
// and batch overhead. Kafka's default, 1 MiB, would refuse the 1 MiB events
// the catalog allows.
const MaxMessageBytes = 2<<20 + 64<<10

// Defaults for Config fields left zero.
const (
	DefaultClientID         = "spine"
	DefaultLinger           = 5 * time.Millisecond
	DefaultBatchMaxBytes    = MaxMessageBytes
	DefaultDeliveryTimeout  = 2 * time.Minute
	DefaultFetchMaxWait     = 500 * time.Millisecond
	DefaultMaxPollRecords   = 500
	DefaultSessionTimeout   = 45 * time.Second
	DefaultRebalanceTimeout = 60 * time.Second
	DefaultDialTimeout      = 10 * time.Second
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("kafka: invalid config")

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	return c
}

func (c Config) validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: no brokers", ErrConfig)
	}
	if _, err := codecOf(c.Compression); err != nil {
		return err
	}
	if c.MaxPollRecords < 0 {
		return fmt.Errorf("%w: MaxPollRecords %d is negative", ErrConfig, c.MaxPollRecords)
	}
	if c.SASL.enabled() {
		if _, err := c.SASL.mechanism(); err != nil {
			return err
		}
	}
	return nil
}

func codecOf(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%w: unknown compression %q (none, gzip, snappy, lz4, zstd)", ErrConfig, name)
}

// commonOpts are the options every client of the transport shares.
func (c Config) commonOpts() []kgo.Opt {
	opts := append(c.connOpts(), kgo.WithLogger(newKgoLogger(c.Logger)))
	if c.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	return opts
}

// producerOpts configure the transport's producer. Idempotence, acks=all and
// the Java-compatible murmur2 key partitioner are franz-go's defaults and are
// deliberately left alone.
func (c Config) producerOpts() []kgo.Opt {
	codec, _ := codecOf(c.Compression) // validated in New
	linger := max(c.Linger, 0)
	return append(c.commonOpts(),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(c.BatchMaxBytes),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(c.DeliveryTimeout),
	)
}
