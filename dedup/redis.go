package dedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every member of a consumer group.
// Each event is one string key, spine:dedup:<group>:<event_id>, holding
// either a claim token (in progress, expiring after the lease) or "done"
// (expiring after the TTL); tokens start with "claim:", so they never equal
// "done". Every operation is one round trip.
type Redis struct {
	rdb        redis.UniversalClient
	ttl, lease time.Duration
}

// KeyPrefix starts every key of the Redis store.
const KeyPrefix = "spine:dedup:"

// The scripts run atomically on the key's node; each touches one key, so
// they work on Redis Cluster too.
var (
	// beginScript claims the key for ARGV[1] (the token) for ARGV[2] ms, or
	// says who holds it: 1 claimed, 2 done, 3 in progress.
	beginScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == 'done' then return 2 end
return 3`)
	// doneScript records the event as done for ARGV[2] ms — it was
	// handled, whoever holds the key now — and returns 1 if the key still
	// held our token ARGV[1], 0 if the claim had been lost.
	doneScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
if v == ARGV[1] then return 1 end
return 0`)
	// abortScript deletes the key only if it still holds our token.
	abortScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// NewRedis returns a store on client, which the caller keeps (and closes).
// ttl is how long a handled event is remembered: at least DefaultTTL unless
// AllowShortTTL is given.
func NewRedis(client redis.UniversalClient, ttl time.Duration, opts ...StoreOption) (*Redis, error) {
	c := newStoreConfig(opts)
	switch {
	case client == nil:
		return nil, errors.New("dedup: NewRedis needs a client")
	case ttl < time.Millisecond:
		return nil, fmt.Errorf("dedup: TTL %v is not positive (Redis counts in milliseconds)", ttl)
	case ttl < DefaultTTL && !c.allowShortTTL:
		return nil, fmt.Errorf("%w: %v is under %v, so a replayed dead letter could be handled twice (AllowShortTTL overrides)",
			ErrTTLTooShort, ttl, DefaultTTL)
	case c.lease < time.Millisecond:
		return nil, fmt.Errorf("dedup: lease %v is not positive (Redis counts in milliseconds)", c.lease)
	}
	return &Redis{rdb: client, ttl: ttl, lease: c.lease}, nil
}

// Key returns the Redis key of an event of a group.
func Key(group, eventID string) string { return KeyPrefix + group + ":" + eventID }

// Begin implements Store.
func (s *Redis) Begin(ctx context.Context, group, eventID string) (Claim, error) {
	key := Key(group, eventID)
	tok := newToken()
	n, err := beginScript.Run(ctx, s.rdb, []string{key}, tok, s.lease.Milliseconds()).Int()
	if err != nil {
		return Claim{}, fmt.Errorf("dedup: redis begin %s: %w", key, err)
	}
	switch n {
	case 1:
		return Claim{Status: Claimed, Token: &redisToken{s: s, key: key, token: tok}}, nil
	case 2:
		return Claim{Status: Duplicate}, nil
	case 3:
		return Claim{Status: InProgress}, nil
	}
	return Claim{}, fmt.Errorf("dedup: redis begin %s: unexpected reply %d", key, n)
}

type redisToken struct {
	s          *Redis
	key, token string
}

// Done implements Token.
func (t *redisToken) Done(ctx context.Context) error {
	n, err := doneScript.Run(ctx, t.s.rdb, []string{t.key}, t.token, t.s.ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		return fmt.Errorf("dedup: redis done %s: %w", t.key, err)
	case n == 0:
		return fmt.Errorf("%s: %w", t.key, ErrLeaseLost)
	}
	return nil
}

// Abort implements Token.
func (t *redisToken) Abort(ctx context.Context) error {
	if err := abortScript.Run(ctx, t.s.rdb, []string{t.key}, t.token).Err(); err != nil {
		return fmt.Errorf("dedup: redis abort %s: %w", t.key, err)
	}
	return nil
}

// newToken returns a claim token no other claim will have.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "claim:" + hex.EncodeToString(b[:])
}

var _ Store = (*Redis)(nil)
