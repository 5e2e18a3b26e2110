package redisstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stream replies are read from go-redis's generic reply values (Do), not from
// its typed stream commands: those return an entry's fields as a map, which
// loses their order and any repeated name, and the wire format depends on
// both (a repeated authorization header must reach codec.Decode to be
// refused, not be silently collapsed).

// errReply is wrapped when Redis answers in a shape no Redis version uses:
// something that is not Redis (or a proxy that changes replies) is on the
// other end, and retrying cannot help.
var errReply = errors.New("redisstream: unexpected reply from Redis")

// rawEntry is one stream entry as a reply holds it. Deleted marks an entry
// that is still pending but no longer in the stream (trimmed or XDEL'ed):
// history reads return its id with no fields.
type rawEntry struct {
	id      string
	fields  []string
	deleted bool
}

// parseEntries reads an array of entries, [[id, [field, value, …]], …].
func parseEntries(v any) ([]rawEntry, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, replyError("entries", v)
	}
	out := make([]rawEntry, 0, len(arr))
	for _, x := range arr {
		e, ok := x.([]any)
		if !ok || len(e) < 2 {
			return nil, replyError("entry", x)
		}
		id, ok := e[0].(string)
		if !ok {
			return nil, replyError("entry id", e[0])
		}
		if e[1] == nil {
			out = append(out, rawEntry{id: id, deleted: true})
			continue
		}
		fv, ok := e[1].([]any)
		if !ok {
			return nil, replyError("entry fields", e[1])
		}
		fields := make([]string, len(fv))
		for i, f := range fv {
			if fields[i], ok = f.(string); !ok {
				return nil, replyError("entry field", f)
			}
		}
		out = append(out, rawEntry{id: id, fields: fields})
	}
	return out, nil
}

// parseRead reads the reply of XREADGROUP on one stream: under RESP2 an array
// of [stream, entries] pairs, under RESP3 a map from stream to entries.
func parseRead(v any, stream string) ([]rawEntry, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case map[any]any:
		for k, es := range r {
			if k == stream {
				return parseEntries(es)
			}
		}
		return nil, nil
	case []any:
		for _, x := range r {
			pair, ok := x.([]any)
			if !ok || len(pair) != 2 {
				return nil, replyError("stream reply", x)
			}
			if pair[0] == stream {
				return parseEntries(pair[1])
			}
		}
		return nil, nil
	}
	return nil, replyError("XREADGROUP reply", v)
}

// parseAutoClaim reads the reply of XAUTOCLAIM: the cursor for the next call,
// the claimed entries and (Redis 7+) the ids of pending entries that were no
// longer in the stream, which Redis has just removed from the pending list.
func parseAutoClaim(v any) (cursor string, entries []rawEntry, deleted []string, err error) {
	r, ok := v.([]any)
	if !ok || len(r) < 2 {
		return "", nil, nil, replyError("XAUTOCLAIM reply", v)
	}
	if cursor, ok = r[0].(string); !ok {
		return "", nil, nil, replyError("XAUTOCLAIM cursor", r[0])
	}
	if entries, err = parseEntries(r[1]); err != nil {
		return "", nil, nil, err
	}
	if len(r) > 2 {
		ids, ok := r[2].([]any)
		if !ok {
			return "", nil, nil, replyError("XAUTOCLAIM deleted ids", r[2])
		}
		for _, x := range ids {
			id, ok := x.(string)
			if !ok {
				return "", nil, nil, replyError("XAUTOCLAIM deleted id", x)
			}
			deleted = append(deleted, id)
		}
	}
	return cursor, entries, deleted, nil
}

func replyError(what string, v any) error {
	s := fmt.Sprintf("%v", v)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Errorf("%w: %s is %T %s", errReply, what, v, s)
}

// streamID is an entry id, "<ms>-<seq>", parsed so that ids order
// numerically ("9-0" < "10-0", which string order gets wrong).
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, fmt.Errorf("%w: entry id %q", errReply, s)
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("%w: entry id %q", errReply, s)
	}
	return streamID{a, b}, nil
}

func (a streamID) less(b streamID) bool {
	return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq
}
