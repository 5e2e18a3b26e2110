package redisstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/redis/go-redis/v9"
)

func TestNewValidates(t *testing.T) {
	short := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ReadTimeout: 200 * time.Millisecond})
	defer short.Close()
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"addr", Config{Addr: "127.0.0.1:1"}, ""},
		{"url", Config{Addr: "redis://user:pw@127.0.0.1:1/2"}, ""},
		{"bad url", Config{Addr: "redis://127.0.0.1:1/notadb"}, "Addr"},
		{"nothing", Config{}, "Client or Addr"},
		{"claim idle too small", Config{Addr: "x:1", ClaimIdle: time.Millisecond}, "ClaimIdle"},
		{"block too long", Config{Addr: "x:1", Block: time.Hour}, "Block"},
		{"block negative", Config{Addr: "x:1", Block: -time.Second}, "Block"},
		{"count negative", Config{Addr: "x:1", Count: -1}, "Count"},
		{"consumer with space", Config{Addr: "x:1", Consumer: "a b"}, "Consumer"},
		{"client read timeout under block", Config{Client: short}, "ReadTimeout"},
		{"client read timeout over block", Config{Client: short, Block: 100 * time.Millisecond}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				if err := tr.Close(); err != nil {
					t.Error(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want ErrConfig about %s", err, tt.want)
			}
		})
	}
}

func TestOwnClientReadTimeout(t *testing.T) {
	tr, err := New(Config{Addr: "127.0.0.1:1", Block: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if rt := tr.Client().(*redis.Client).Options().ReadTimeout; rt <= 10*time.Second {
		t.Errorf("ReadTimeout %v does not exceed Block", rt)
	}
}

func TestConsumerNames(t *testing.T) {
	tr, err := New(Config{Addr: "127.0.0.1:1", Consumer: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a, doneA := tr.consumerName("g")
	b, doneB := tr.consumerName("g")
	o, doneO := tr.consumerName("other")
	if a != "w" || b != "w-2" || o != "w" {
		t.Errorf("names %q %q %q", a, b, o)
	}
	doneA()
	c, doneC := tr.consumerName("g")
	if c != "w" {
		t.Errorf("a freed name is not reused: %q", c)
	}
	d, doneD := tr.consumerName("g")
	if d != "w-3" {
		t.Errorf("third concurrent name %q, want w-3", d)
	}
	doneB()
	doneC()
	doneD()
	doneO()
	if len(tr.groups) != 0 {
		t.Errorf("names leak: %v", tr.groups)
	}
}

func TestDefaultConsumer(t *testing.T) {
	a, b := defaultConsumer(), defaultConsumer()
	if a == b || strings.ContainsAny(a, " \n") {
		t.Errorf("default consumer names %q %q", a, b)
	}
}

// A subscription whose blocking reads would take the pool's last
// connections is refused before it reads anything, naming the numbers; the
// refusal reserves nothing. The own client gets DefaultPoolSize, unless the
// URL says otherwise.
func TestConsumeReservesConnections(t *testing.T) {
	tr, err := New(Config{Addr: "127.0.0.1:1", PoolSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	topics := []string{"a", "b", "c", "d", "e"} // 5 + PoolReserve > 20
	h := func(context.Context, *bus.Delivery) error { return nil }
	for range 2 {
		err = tr.Consume(context.Background(), bus.Subscription{Group: "g", Topics: topics}, h)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "consuming 5 streams (with 0 already read)") ||
			!strings.Contains(err.Error(), "the client's pool has 20") {
			t.Fatalf("Consume: %v, want ErrConfig naming 5 streams and a pool of 20", err)
		}
	}

	for _, c := range []struct {
		cfg  Config
		want int
	}{
		{Config{Addr: "127.0.0.1:1"}, DefaultPoolSize},
		{Config{Addr: "redis://127.0.0.1:1/0?pool_size=7"}, 7},
	} {
		tr, err := New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.poolSize(); got != c.want {
			t.Errorf("%s: pool size %d, want %d", c.cfg.Addr, got, c.want)
		}
		tr.Close()
	}
}
