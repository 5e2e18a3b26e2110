package redisstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestParseRead(t *testing.T) {
	entries := []any{
		[]any{"1-0", []any{"key", "k", "value", "v"}},
		[]any{"2-0", nil}, // pending but trimmed
	}
	want := []rawEntry{{id: "1-0", fields: []string{"key", "k", "value", "v"}}, {id: "2-0", deleted: true}}
	tests := []struct {
		name  string
		reply any
		want  []rawEntry
		bad   bool
	}{
		{"RESP2", []any{[]any{"other", []any{}}, []any{"s", entries}}, want, false},
		{"RESP3", map[any]any{"s": entries}, want, false},
		{"nil", nil, nil, false},
		{"other stream only", map[any]any{"x": entries}, nil, false},
		{"not an array", "OK", nil, true},
		{"entry without fields slot", []any{[]any{"s", []any{[]any{"1-0"}}}}, nil, true},
		{"numeric field", []any{[]any{"s", []any{[]any{"1-0", []any{"key", int64(1)}}}}}, nil, true},
		{"pair of three", []any{[]any{"s", entries, "x"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRead(tt.reply, "s")
			if tt.bad {
				if !errors.Is(err, errReply) {
					t.Fatalf("err = %v, want errReply", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAutoClaim(t *testing.T) {
	reply := []any{"5-0", []any{[]any{"3-0", []any{"key", "k", "value", "v"}}}, []any{"4-0"}}
	cursor, es, deleted, err := parseAutoClaim(reply)
	if err != nil {
		t.Fatal(err)
	}
	if cursor != "5-0" || len(es) != 1 || es[0].id != "3-0" || !reflect.DeepEqual(deleted, []string{"4-0"}) {
		t.Errorf("got %q %+v %q", cursor, es, deleted)
	}
	// Redis 6.2 replies without the deleted ids.
	if _, _, deleted, err := parseAutoClaim(reply[:2]); err != nil || deleted != nil {
		t.Errorf("two-element reply: %v %v", deleted, err)
	}
	for _, bad := range []any{nil, []any{"0-0"}, []any{1, []any{}}, []any{"0-0", []any{}, []any{1}}} {
		if _, _, _, err := parseAutoClaim(bad); !errors.Is(err, errReply) {
			t.Errorf("parseAutoClaim(%v) err = %v, want errReply", bad, err)
		}
	}
}

func TestStreamIDOrder(t *testing.T) {
	ids := []string{"9-0", "10-0", "10-1", "1700000000000-12"}
	for i := 1; i < len(ids); i++ {
		a, err1 := parseID(ids[i-1])
		b, err2 := parseID(ids[i])
		if err1 != nil || err2 != nil || !a.less(b) || b.less(a) {
			t.Errorf("%s < %s does not hold (%v %v)", ids[i-1], ids[i], err1, err2)
		}
	}
	for _, bad := range []string{"", "1", "a-1", "1-b", "-1-0"} {
		if _, err := parseID(bad); err == nil {
			t.Errorf("parseID(%q) accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	rerr := func(s string) error { return fmt.Errorf("wrapped: %w", redisError(s)) }
	tests := []struct {
		err  error
		want errorClass
	}{
		{io.EOF, transient},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, transient},
		{redis.ErrPoolTimeout, transient},
		{rerr("LOADING Redis is loading the dataset in memory"), transient},
		{rerr("READONLY You can't write against a read only replica."), transient},
		{rerr("MASTERDOWN Link with MASTER is down"), transient},
		{rerr("BUSY Redis is busy running a script"), transient},
		{rerr("UNBLOCKED the stream key no longer exists"), transient},
		{rerr("NOGROUP No such key 's' or consumer group 'g'"), noGroup},
		{rerr("WRONGTYPE Operation against a key holding the wrong kind of value"), permanent},
		{rerr("NOAUTH Authentication required."), permanent},
		{rerr("WRONGPASS invalid username-password pair"), permanent},
		{rerr("NOPERM this user has no permissions to run the 'xadd' command"), permanent},
		{rerr("ERR unknown command 'XAUTOCLAIM'"), permanent},
		{redis.ErrClosed, permanent},
		{fmt.Errorf("x: %w", errReply), permanent},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// redisError is an error as go-redis returns a Redis error reply.
type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

func TestBackoff(t *testing.T) {
	var b backoff
	prev := b.next()
	if prev < backoffMin*4/5 || prev > backoffMin*6/5 {
		t.Errorf("first backoff %v, want about %v", prev, backoffMin)
	}
	for range 20 {
		d := b.next()
		if d > backoffMax*6/5 {
			t.Fatalf("backoff %v exceeds the cap", d)
		}
	}
	b.reset()
	if d := b.next(); d > backoffMin*6/5 {
		t.Errorf("after reset %v", d)
	}
}
