package bustest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/schema"
)

// recorder is a testing.TB that records errors instead of failing, to test
// that the suite's checks catch what they must.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckOrder(t *testing.T) {
	order := map[string][]string{"a": {"a0", "a1", "a2"}, "b": {"b0", "b1"}}
	ok := func(id string) call { return call{id: id, attempt: 1, ok: true} }
	fail := func(id string) call { return call{id: id, attempt: 1} }
	retry := func(id string) call { return call{id: id, attempt: 2, ok: true} }
	tests := []struct {
		name  string
		calls []call
		dups  bool
		want  string // substring of the first error; "" = none
		redel int
	}{
		{"in order, keys interleaved", []call{ok("a0"), ok("b0"), ok("a1"), ok("b1"), ok("a2")}, false, "", 0},
		{"out of order", []call{ok("a1"), ok("a0")}, false, "handled before #0", 0},
		{"failed then retried first", []call{ok("a0"), fail("a1"), ok("b0"), retry("a1"), ok("a2")}, false, "", 0},
		{"later event overtakes a failed one", []call{ok("a0"), fail("a1"), ok("a2"), retry("a1")}, false, "overtook a failed event", 0},
		{"duplicate without dups", []call{ok("a0"), ok("a1"), ok("a0")}, false, "handled again", 1},
		{"replay allowed with dups", []call{ok("a0"), ok("a1"), fail("a2"), ok("a0"), ok("a1"), retry("a2")}, true, "", 2},
		{"replay still may not skip ahead", []call{ok("a0"), fail("a1"), ok("a0"), ok("a2")}, true, "overtook", 1},
		{"unknown ids ignored", []call{ok("zz"), ok("a0")}, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			n := checkOrder(r, tt.calls, order, tt.dups)
			switch {
			case tt.want == "" && len(r.errs) > 0:
				t.Errorf("unexpected errors: %v", r.errs)
			case tt.want != "" && (len(r.errs) == 0 || !strings.Contains(r.errs[0], tt.want)):
				t.Errorf("errors %v, want one containing %q", r.errs, tt.want)
			}
			if n != tt.redel {
				t.Errorf("redelivered = %d, want %d", n, tt.redel)
			}
		})
	}
}

func TestCheckAttempts(t *testing.T) {
	tests := []struct {
		name  string
		calls []call
		fail  map[string]bool
		bad   bool
	}{
		{"right", []call{{id: "x", attempt: 1}, {id: "x", attempt: 2, ok: true}, {id: "y", attempt: 1, ok: true}}, map[string]bool{"x": true}, false},
		{"attempt not incremented", []call{{id: "x", attempt: 1}, {id: "x", attempt: 1, ok: true}}, map[string]bool{"x": true}, true},
		{"never redelivered", []call{{id: "x", attempt: 1}}, map[string]bool{"x": true}, true},
		{"first delivery not attempt 1", []call{{id: "y", attempt: 2, ok: true}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			checkAttempts(r, tt.calls, tt.fail)
			if got := len(r.errs) > 0; got != tt.bad {
				t.Errorf("errors %v, want bad=%v", r.errs, tt.bad)
			}
		})
	}
}

func TestLargeMetrics(t *testing.T) {
	v, err := schema.NewValidator(LoadFixtures(t).Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{10 << 10, 1 << 20, schema.DefaultMaxPayloadBytes} {
		b, err := LargeMetrics("7c9e6679-7425-40de-944b-e07fc1f90ae7", size)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if len(b) != size {
			t.Fatalf("%d bytes, want %d", len(b), size)
		}
		if err := v.Validate("metrics.published", "1.0.0", b); err != nil {
			t.Errorf("%d bytes: %v", size, err)
		}
	}
	if _, err := LargeMetrics("7c9e6679-7425-40de-944b-e07fc1f90ae7", 8<<20); err == nil {
		t.Error("8 MiB fits metrics.published's schema? it should not")
	}
}

func TestCheckDelay(t *testing.T) {
	t0 := time.Now()
	calls := []call{
		{id: "x", at: t0}, {id: "x", ok: true, at: t0.Add(60 * time.Millisecond)},
		{id: "y", at: t0}, {id: "y", ok: true, at: t0.Add(10 * time.Millisecond)},
	}
	r := &recorder{TB: t}
	checkDelay(r, calls, 50*time.Millisecond, 5*time.Millisecond)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "1 failed events came back sooner") {
		t.Errorf("errors %v, want one about y", r.errs)
	}
}
