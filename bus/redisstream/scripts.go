package redisstream

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The two scripts below check that an entry is still pending with this
// consumer before they touch it, atomically (a script runs alone on the
// server). Plain XCLAIM would take an entry from whichever consumer holds it:
// a consumer that was cut off for longer than ClaimIdle, whose entries
// another consumer rightly reclaimed, would otherwise steal them back and
// both would handle them.

// holdScript renews (idle 0) or releases (a huge idle) the entries this
// consumer still owns: XCLAIM … IDLE <ms> JUSTID sets their idle time without
// counting a delivery. Renewing keeps entries that wait in this consumer —
// behind a failed entry of their key, or in a long handler — from looking
// abandoned to other consumers' XAUTOCLAIM; releasing at shutdown lets them
// reclaim at once instead of after ClaimIdle. It returns the ids it touched:
// an id missing from the reply is no longer this consumer's (reclaimed by
// another consumer, acknowledged, or trimmed from the stream).
//
// KEYS[1] stream; ARGV group, consumer, idle ms, id…
var holdScript = redis.NewScript(`
local mine = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then mine[#mine + 1] = ARGV[i] end
end
if #mine == 0 then return {} end
local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for _, id in ipairs(mine) do args[#args + 1] = id end
args[#args + 1] = 'IDLE'
args[#args + 1] = ARGV[3]
args[#args + 1] = 'JUSTID'
return redis.call(unpack(args))
`)

// redeliverScript takes a failed entry for its next attempt: XCLAIM without
// JUSTID counts a delivery and returns the entry's fields. Replies: 0 when
// the entry is no longer this consumer's, 1 when it was trimmed from the
// stream (XCLAIM has then dropped it from the pending list), else
// {delivery count, fields}.
//
// KEYS[1] stream; ARGV group, consumer, id
var redeliverScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then return 0 end
local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3])
if not e[1] or not e[1][2] then return 1 end
return {p[1][4] + 1, e[1][2]}
`)

// holdChunk bounds the ids of one holdScript call: Lua's unpack takes at
// most a few thousand values.
const holdChunk = 1000

// releaseIdle is the idle time a released entry gets: longer than any
// sensible ClaimIdle, so the next XAUTOCLAIM of any consumer takes it.
const releaseIdle = 24 * time.Hour

// hold runs holdScript over ids in chunks and returns the set of ids still
// owned. On error the ids of the chunks already run are lost from the
// answer; callers treat an error as "nothing learned".
func hold(ctx context.Context, rdb redis.Scripter, stream, group, consumer string, idle time.Duration, ids []string) (map[string]bool, error) {
	owned := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), holdChunk)
		args := make([]any, 0, 3+n)
		args = append(args, group, consumer, idle.Milliseconds())
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		v, err := holdScript.Run(ctx, rdb, []string{stream}, args...).Result()
		if err != nil {
			return nil, err
		}
		got, ok := v.([]any)
		if !ok {
			return nil, replyError("hold script reply", v)
		}
		for _, x := range got {
			if id, ok := x.(string); ok {
				owned[id] = true
			}
		}
		ids = ids[n:]
	}
	return owned, nil
}

// redeliverOutcome is what redeliver found.
type redeliverOutcome int

const (
	redeliverOK redeliverOutcome = iota
	redeliverNotMine
	redeliverTrimmed
)

// redeliver runs redeliverScript for id.
func redeliver(ctx context.Context, rdb redis.Scripter, stream, group, consumer, id string) (redeliverOutcome, int, []string, error) {
	v, err := redeliverScript.Run(ctx, rdb, []string{stream}, group, consumer, id).Result()
	if err != nil {
		return 0, 0, nil, err
	}
	switch r := v.(type) {
	case int64:
		if r == 0 {
			return redeliverNotMine, 0, nil, nil
		}
		return redeliverTrimmed, 0, nil, nil
	case []any:
		if len(r) == 2 {
			count, ok := r[0].(int64)
			es, err := parseEntries([]any{[]any{id, r[1]}})
			if ok && err == nil && len(es) == 1 && !es[0].deleted {
				return redeliverOK, int(count), es[0].fields, nil
			}
		}
	}
	return 0, 0, nil, replyError("redeliver script reply", v)
}

// pendingCounts returns the delivery count of each id (XPENDING id id 1, in
// one round trip); ids no longer pending are missing from the map.
func pendingCounts(ctx context.Context, rdb redis.Cmdable, stream, group string, ids []string) (map[string]int, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.XPendingExtCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Start: id, End: id, Count: 1})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("XPENDING: %w", err)
	}
	counts := make(map[string]int, len(ids))
	for _, c := range cmds {
		for _, p := range c.Val() {
			counts[p.ID] = int(p.RetryCount)
		}
	}
	return counts, nil
}
