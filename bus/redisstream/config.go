package redisstream

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Transport. Client or Addr is required; every zero
// field takes the default named in its comment.
type Config struct {
	// Client is the Redis connection to use (*redis.Client,
	// *redis.ClusterClient, a failover client…). The caller keeps it: Close
	// does not close it. Its ReadTimeout must be longer than Block, or every
	// blocking read would time out.
	Client redis.UniversalClient
	// Addr is used when Client is nil: "host:port" or a redis:// (rediss://)
	// URL with credentials and database. The transport then opens its own
	// client and Close closes it.
	Addr string
	// Namespace is prefixed to every topic on the wire: the stream of topic
	// "lead.created" is Namespace + "lead.created". Received records carry
	// the logical topic again. Consumer groups live inside their stream, so
	// they need no prefix.
	Namespace string
	// Logger receives the transport's logs (default slog.Default()).
	Logger *slog.Logger

	// MaxLen bounds each stream's length: every XADD trims the oldest
	// entries with MAXLEN ~ (default 1,000,000; negative: never trim).
	// Approximate trimming removes whole macro nodes, so a stream may hold a
	// little more than MaxLen. Trimming does not look at consumer groups: a
	// group lagging more than MaxLen entries behind loses what was trimmed.
	// Consume logs an error when it notices that; size MaxLen for the longest
	// outage a consumer must survive.
	MaxLen int64
	// SendTimeout bounds how long Send retries failures that a restart or
	// failover of Redis causes (default 2m; negative: no retries beyond
	// go-redis's own). Without a bound an outage would block publishers —
	// and a consumer's dead-letter writes — forever.
	SendTimeout time.Duration
	// ClaimIdle is how long an entry may sit unacknowledged with a consumer
	// that no longer renews it (it crashed, or lost its connection) before
	// another consumer of the group reclaims it (default 30s, at least
	// 50ms). Live consumers renew what they hold every ClaimIdle/3, so a
	// slow handler or an entry held behind a failed one is never taken from
	// a consumer that is alive.
	ClaimIdle time.Duration
	// Block is how long one XREADGROUP waits for new entries (default
	// 500ms, between 1ms and 1 minute). It bounds how long Consume takes to
	// notice the end of its context.
	Block time.Duration
	// Count is how many entries one read fetches (default 128). Per topic, a
	// consumer keeps the data of at most about max(2×Count, 2×Concurrency) +
	// 2×Count entries in memory; entries held back behind a failed one keep
	// only their ids.
	Count int
	// Consumer names this process in every consumer group it joins (default
	// "<hostname>-<pid>-<random>"). A stable name lets a restarted process
	// finish the entries it held before it stopped at once, instead of
	// after ClaimIdle; two live processes must never share a name. Within
	// one Transport, concurrent Consume calls on the same group add "-2",
	// "-3"… to it.
	Consumer string
	// PoolSize caps the connections of the transport's own client (default
	// DefaultPoolSize; a pool_size in Addr's URL wins). A consumer holds one
	// connection per stream while its blocking XREADGROUP waits — a
	// subscription reads each topic and, for non-blocking events, its four
	// retry streams — and sends, acknowledgements and claims share the
	// rest. go-redis's own default, 10 per CPU, starves a subscription to
	// the catalog's topics. Consume refuses a subscription that would leave
	// fewer than PoolReserve connections free, instead of starving.
	PoolSize int
}

// Defaults for Config fields left zero.
const (
	DefaultMaxLen      = 1_000_000
	DefaultSendTimeout = 2 * time.Minute
	DefaultClaimIdle   = 30 * time.Second
	DefaultBlock       = 500 * time.Millisecond
	DefaultCount       = 128
	DefaultPoolSize    = 256
)

// PoolReserve is how many connections Consume keeps free of blocking reads
// for sends, acknowledgements, claims and renewals.
const PoolReserve = 16

const (
	minClaimIdle = 50 * time.Millisecond
	maxBlock     = time.Minute
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultMaxLen
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.ClaimIdle == 0 {
		c.ClaimIdle = DefaultClaimIdle
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.Count == 0 {
		c.Count = DefaultCount
	}
	if c.Consumer == "" {
		c.Consumer = defaultConsumer()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Client == nil && c.Addr == "":
		return fmt.Errorf("%w: Client or Addr is required", ErrConfig)
	case c.ClaimIdle < minClaimIdle:
		return fmt.Errorf("%w: ClaimIdle %v is under %v", ErrConfig, c.ClaimIdle, minClaimIdle)
	case c.Block < time.Millisecond || c.Block > maxBlock:
		// BLOCK 0 would wait forever and never notice shutdown.
		return fmt.Errorf("%w: Block %v is outside 1ms..%v", ErrConfig, c.Block, maxBlock)
	case c.Count < 1:
		return fmt.Errorf("%w: Count %d is under 1", ErrConfig, c.Count)
	case strings.ContainsAny(c.Consumer, " \r\n"):
		return fmt.Errorf("%w: Consumer %q contains white space", ErrConfig, c.Consumer)
	}
	return nil
}

// clientOptions builds the options of the transport's own client.
func (c Config) clientOptions() (*redis.Options, error) {
	var opt *redis.Options
	if strings.Contains(c.Addr, "://") {
		var err error
		if opt, err = redis.ParseURL(c.Addr); err != nil {
			return nil, fmt.Errorf("%w: Addr: %w", ErrConfig, err)
		}
	} else {
		opt = &redis.Options{Addr: c.Addr}
	}
	if opt.PoolSize == 0 {
		opt.PoolSize = c.PoolSize
	}
	// A blocking read must not hit the read deadline (negative values mean
	// no deadline at all and are kept).
	if opt.ReadTimeout >= 0 {
		opt.ReadTimeout = max(opt.ReadTimeout, c.Block+3*time.Second)
	}
	return opt, nil
}

// checkReadTimeout refuses a caller's client whose read deadline would cut
// every blocking read short; clients that do not expose options pass.
func (c Config) checkReadTimeout() error {
	o, ok := c.Client.(interface{ Options() *redis.Options })
	if !ok || o.Options() == nil {
		return nil
	}
	rt := o.Options().ReadTimeout
	if rt == 0 {
		rt = 3 * time.Second // go-redis's default
	}
	if rt > 0 && rt <= c.Block {
		return fmt.Errorf("%w: the client's ReadTimeout %v must be longer than Block %v", ErrConfig, rt, c.Block)
	}
	return nil
}

func defaultConsumer() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "spine"
	}
	host = strings.Map(func(r rune) rune {
		if r <= ' ' {
			return '_'
		}
		return r
	}, host)
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}
