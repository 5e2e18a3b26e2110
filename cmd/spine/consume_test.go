package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// spine consume --exec: the envelope on stdin and the header in the
// environment; exit 0 handled, exit 65 dead-lettered at once, any other exit
// delivered again; the same event_id runs the command once.
func TestConsumeExec(t *testing.T) {
	s := startDev(t)
	dir := t.TempDir()
	spec := mustReadFile(t, repoFile("schema", "testdata", "spec", "lead.created.json"))
	const poison = "11111111-1111-4111-8111-111111111111" // this tenant's events exit 65
	const flaky = "22222222-2222-4222-8222-222222222222"  // fails once, then succeeds

	publish := func(tenant string) string {
		p := bytes.Replace(spec, []byte("7c9e6679-7425-40de-944b-e07fc1f90ae7"), []byte(tenant), 1)
		r := runCLI(t, string(p), "publish", "--brokers", s.KafkaAddr(), "lead.created", "-")
		if r.code != 0 {
			t.Fatalf("publish: exit %d: %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	okID := publish("7c9e6679-7425-40de-944b-e07fc1f90ae7")
	poisonID := publish(poison)
	flakyID := publish(flaky)

	script := `set -e
cat > "$OUT/$SPINE_EVENT_ID.json"
echo "$SPINE_EVENT_ID $SPINE_EVENT_NAME $SPINE_TENANT_ID $SPINE_TRACE_ID $SPINE_ATTEMPT" >> "$OUT/runs"
[ "$SPINE_TENANT_ID" = "` + poison + `" ] && { echo "no such lead" >&2; exit 65; }
if [ "$SPINE_TENANT_ID" = "` + flaky + `" ] && [ ! -e "$OUT/flaky-failed" ]; then touch "$OUT/flaky-failed"; exit 3; fi
exit 0`
	t.Setenv("OUT", dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan cliResult, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, []string{"consume", "--brokers", s.KafkaAddr(), "--group", "crm-sync", "--event", "lead.created",
			"--from-beginning", "--exec", script}, strings.NewReader(""), &out, &errb)
		done <- cliResult{code, out.String(), errb.String()}
	}()
	runs := func() string { b, _ := os.ReadFile(filepath.Join(dir, "runs")); return string(b) }
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(runs(), "\n") < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a wrong extra run to show up
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("consume: exit %d: %s", r.code, r.stderr)
	}

	lines := strings.Split(strings.TrimSpace(runs()), "\n")
	count := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 5 || f[1] != "lead.created" || len(f[3]) != 32 {
			t.Errorf("environment line %q", l)
			continue
		}
		count[f[0]]++
	}
	if count[okID] != 1 || count[poisonID] != 1 || count[flakyID] != 2 {
		t.Errorf("runs per event: ok %d (want 1), poison %d (want 1: no retry), flaky %d (want 2)\n%s",
			count[okID], count[poisonID], count[flakyID], runs())
	}
	var env struct {
		Header  map[string]string `json:"header"`
		Payload map[string]any    `json:"payload"`
	}
	if err := json.Unmarshal(mustReadFile(t, filepath.Join(dir, okID+".json")), &env); err != nil {
		t.Fatalf("stdin was not the JSON envelope: %v", err)
	}
	if env.Header["event_id"] != okID || env.Payload["name"] != "John Doe" {
		t.Errorf("envelope on stdin: %v", env)
	}

	// The poison event is in the dead-letter topic with the command's reason.
	tr, err := kafka.New(kafka.Config{Brokers: []string{s.KafkaAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var dead []codec.Record
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	err = tr.Read(rctx, kafka.ReadOptions{Topics: []string{bus.DLQTopic("lead.created")}, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error { dead = append(dead, d.Record); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1 (the poison event)", len(dead))
	}
	id, _ := dead[0].Header("event_id")
	kind, _ := dead[0].Header(codec.HeaderErrorKind)
	msg, _ := dead[0].Header(codec.HeaderErrorMessage)
	if string(id) != poisonID || string(kind) != bus.KindHandler || !strings.Contains(string(msg), "status 65: no such lead") {
		t.Errorf("dead letter: event %s, kind %s, message %q", id, kind, msg)
	}
}

func TestConsumeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"consume", "--exec", "true"},
		{"consume", "--group", "g"},
		{"consume", "--group", "g", "--exec", "true", "--event", "no.such"},
	} {
		if r := runCLI(t, "", args...); r.code != 2 {
			t.Errorf("spine %v: exit %d, want 2", args, r.code)
		}
	}
}
