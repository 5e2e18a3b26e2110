package redisstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	// ErrConfig is wrapped by every error New returns for a bad Config.
	ErrConfig = errors.New("redisstream: invalid config")
	// ErrClosed is returned by Send and Consume after Close.
	ErrClosed = errors.New("redisstream: transport closed")
)

// errorClass says what a consumer does about a failed Redis call.
type errorClass int

const (
	// transient: wait and try again (connection refused or reset during a
	// restart or failover, LOADING, READONLY, timeouts…).
	transient errorClass = iota
	// noGroup: the stream or its consumer group is gone (the key was
	// deleted, or Redis restarted without persistence): create it again.
	noGroup
	// permanent: retrying cannot help (WRONGTYPE, bad credentials, missing
	// permissions, an unknown command, a closed client): Consume returns it.
	permanent
)

// Redis replies to errors with a code as the first word of the message
// ("WRONGTYPE Operation against a key…"); the codes are the protocol's way
// of typing errors, so they are what is matched here, never the prose.
//
// UNBLOCKED ends a blocked XREADGROUP whose stream was deleted (or a CLIENT
// UNBLOCK … ERROR): the next read says NOGROUP if the stream is really gone.
var transientCodes = []string{
	"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN",
	"OOM", "NOREPLICAS", "MOVED", "ASK", "UNBLOCKED",
}

func classify(err error) errorClass {
	var rerr redis.Error
	switch {
	case errors.Is(err, redis.ErrClosed), errors.Is(err, errReply):
		return permanent
	case !errors.As(err, &rerr):
		// Not a reply from Redis: the network, a pool timeout, a deadline.
		return transient
	case redis.HasErrorPrefix(err, "NOGROUP"):
		return noGroup
	case redis.IsMaxClientsError(err):
		return transient
	}
	for _, code := range transientCodes {
		if redis.HasErrorPrefix(err, code) {
			return transient
		}
	}
	return permanent
}

// backoff spaces out retries after transient failures: from 50ms doubling to
// 5s, with ±20% jitter so that many consumers do not hammer a Redis that is
// coming back all at the same instant.
type backoff struct{ n int }

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 5 * time.Second
)

func (b *backoff) next() time.Duration {
	d := backoffMin << min(b.n, 10)
	if d > backoffMax {
		d = backoffMax
	}
	b.n++
	return d + time.Duration(rand.Int64N(int64(d)*2/5)) - d/5
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends, and reports whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
