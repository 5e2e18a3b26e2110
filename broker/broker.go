// Package broker is the embedded Kafka-protocol broker that `spine dev`
// runs: franz-go's kfake, in-process, on one address, persisting to a data
// directory so that events and committed offsets survive a restart. Any
// Kafka client (kcat, kafkajs, aiokafka, the Java client, bus/kafka) can
// connect to it; Spine itself uses the same bus/kafka code path as against
// Apache Kafka.
//
// It is a development broker: one node, no replication, no security, and
// writes reach the disk through the page cache (a process crash loses
// nothing, a machine crash may lose the last writes unless SyncWrites is
// set).
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
)

// Config configures the embedded broker.
type Config struct {
	// Addr is the host:port to listen on (default 127.0.0.1:9092; port 0
	// picks a free one). The host must be a specific address: the broker
	// advertises its listen address to clients, and a client cannot connect
	// to a wildcard such as 0.0.0.0.
	Addr string
	// DataDir is where the broker keeps its topics, records and group
	// offsets; required. One broker at a time may use a directory.
	DataDir string
	// Partitions is the partition count of the catalog topics created at
	// start, and of topics created on first use (default 3).
	Partitions int32
	// Catalog lists the topics created at start, each with its dead-letter
	// topic (default: the embedded catalog).
	Catalog *catalog.Catalog
	// SyncWrites fsyncs every produced batch before it is acknowledged, so
	// that even a machine crash loses nothing, at a large cost in
	// throughput (default off, as Apache Kafka's log.flush defaults).
	SyncWrites bool
	// Logger receives the broker's logs (default slog.Default()).
	Logger *slog.Logger
}

// Defaults for Config fields left zero.
const (
	DefaultAddr       = "127.0.0.1:9092"
	DefaultPartitions = 3
)

// ErrDataDirInUse reports a data directory another running broker holds.
var ErrDataDirInUse = errors.New("broker: data directory is in use by another running broker")

// clusterID names the embedded cluster; it is stored in the data directory
// on first start and read back after.
const clusterID = "spine-dev"

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	lock    *dirLock
	log     *slog.Logger
	once    sync.Once
	err     error
}

// Start starts a broker for cfg, loads what its data directory holds, and
// makes sure every catalog topic and its dead-letter topic exists. ctx bounds
// the start-up only; the broker runs until Close.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data directory: %w", err)
	}
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("broker: listen on %s: %w", cfg.Addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake listens on 127.0.0.1 with a port of its choosing; handing it
		// our listener binds the configured address instead.
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID(clusterID),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		// As Apache Kafka's auto.create.topics.enable: clients that ask for
		// it (franz-go only when told to) may create topics by using them.
		kfake.AllowAutoTopicCreation(),
		kfake.WithLogger(kfakeLogger{cfg.Logger}),
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		lock.release()
		return nil, fmt.Errorf("broker: start on %s with data in %s: %w", cfg.Addr, cfg.DataDir, err)
	}
	b := &Broker{cluster: cluster, addr: ln.Addr().String(), lock: lock, log: cfg.Logger}
	if err := b.ensureTopics(ctx, cfg); err != nil {
		b.Close()
		return nil, err
	}
	b.log.Info("embedded broker listening", "addr", b.addr, "data_dir", cfg.DataDir)
	return b, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.DataDir == "" {
		return cfg, errors.New("broker: a data directory is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return cfg, fmt.Errorf("broker: address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return cfg, fmt.Errorf("broker: address %q: listen on a specific host (such as 127.0.0.1): "+
			"the broker advertises its listen address, and clients cannot connect to a wildcard", cfg.Addr)
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Catalog == nil {
		if cfg.Catalog, err = catalog.Default(); err != nil {
			return cfg, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// ensureTopics creates the catalog topics through the Kafka protocol, like
// any client would; on a restart only topics new to the catalog are created.
func (b *Broker) ensureTopics(ctx context.Context, cfg Config) error {
	t, err := kafka.New(kafka.Config{Brokers: []string{b.addr}, ClientID: "spine-broker", Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer t.Close()
	if err := t.EnsureTopics(ctx, kafka.CatalogTopics(cfg.Catalog, cfg.Partitions)...); err != nil {
		return fmt.Errorf("broker: catalog topics: %w", err)
	}
	return nil
}

// Addr returns the address the broker listens on, for clients' bootstrap
// list.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker: it stops accepting connections, answers commits
// still queued, writes its state to the data directory, closes its files
// and releases the directory. Records were already on disk when produced;
// Close adds the snapshots that make the next start fast. Close is safe to
// call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		b.cluster.Close()
		b.err = b.lock.release()
		b.log.Info("embedded broker stopped", "addr", b.addr)
	})
	return b.err
}
