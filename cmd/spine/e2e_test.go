package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/devserver"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/schema/registry"
)

// startDev runs the dev platform on free ports in a temporary data dir.
func startDev(t *testing.T) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := devserver.Start(ctx, devserver.Config{
		DataDir: t.TempDir(), KafkaAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// The operator's round trip on the embedded broker: publish prints the
// event_id, tail prints the envelope, and an independent Kafka client, kcat,
// reads the record with every header field and the Confluent framing.
func TestPublishTailAndKcat(t *testing.T) {
	s := startDev(t)
	spec := repoFile("schema", "testdata", "spec", "lead.created.json")

	pub := runCLI(t, "", "publish", "--brokers", s.KafkaAddr(), "lead.created", spec)
	if pub.code != 0 {
		t.Fatalf("publish: exit %d: %s", pub.code, pub.stderr)
	}
	eventID := strings.TrimSpace(pub.stdout)
	if err := (event.Header{EventID: eventID}).Validate(); err != nil && strings.Contains(err.Error(), "event_id") {
		t.Fatalf("publish printed %q, not an event_id", eventID)
	}

	bad := runCLI(t, `{"lead_id":"x"}`, "publish", "--brokers", s.KafkaAddr(), "lead.created", "-")
	if bad.code != 1 || !strings.Contains(bad.stdout, "/lead_id: ") {
		t.Fatalf("invalid publish: exit %d, stdout %q", bad.code, bad.stdout)
	}

	tail := runCLI(t, "", "tail", "--brokers", s.KafkaAddr(), "--event", "lead.created", "--from-beginning", "--max", "1")
	if tail.code != 0 {
		t.Fatalf("tail: exit %d: %s", tail.code, tail.stderr)
	}
	var env struct {
		Header  map[string]string `json:"header"`
		Payload json.RawMessage   `json:"payload"`
	}
	if err := json.Unmarshal([]byte(tail.stdout), &env); err != nil {
		t.Fatalf("tail printed %q: %v", tail.stdout, err)
	}
	if env.Header["event_id"] != eventID || env.Header["tenant_id"] != "7c9e6679-7425-40de-944b-e07fc1f90ae7" {
		t.Errorf("tail header = %v", env.Header)
	}
	var want, got any
	_ = json.Unmarshal(mustReadFile(t, spec), &want)
	_ = json.Unmarshal(env.Payload, &got)
	if !jsonEqual(want, got) {
		t.Errorf("tail payload = %s", env.Payload)
	}

	kcat := kcatPath(t)
	headers := runKcat(t, kcat, s.KafkaAddr(), "%h")
	for _, f := range event.HeaderFields {
		if !strings.Contains(headers, f+"=") {
			t.Errorf("kcat: header %q missing from %q", f, headers)
		}
	}
	if !strings.Contains(headers, "event_id="+eventID) || !strings.Contains(headers, "traceparent=00-") {
		t.Errorf("kcat headers = %q", headers)
	}
	value := []byte(runKcat(t, kcat, s.KafkaAddr(), "%s"))
	if len(value) < 5 || value[0] != 0x00 {
		t.Fatalf("kcat value does not start with the Confluent magic byte: % x", value[:min(len(value), 8)])
	}
	local, _ := registry.NewLocal(mustCatalog(t))
	wantID, _ := local.ID("lead.created", "1.0.0")
	if id := binary.BigEndian.Uint32(value[1:5]); int(id) != wantID {
		t.Errorf("schema id in the frame = %d, want %d", id, wantID)
	}
	if !bytes.Equal(value[5:], mustReadFile(t, spec)) {
		t.Errorf("framed payload differs from the published bytes: %q", value[5:])
	}

	// The registry serves the id from the frame to any Confluent client.
	reg, err := registry.NewConfluent("http://" + s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SchemaByID(context.Background(), wantID); err != nil {
		t.Errorf("dev registry: schema %d: %v", wantID, err)
	}
}

// kcatPath finds kcat, which scripts/services.sh installs; in CI
// (SPINE_REQUIRE_SERVICES=1) its absence fails the test.
func kcatPath(t *testing.T) string {
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SPINE_REQUIRE_SERVICES") == "1" {
		t.Fatal("kcat is not installed: run scripts/services.sh up")
	}
	t.Skip("kcat is not installed (scripts/services.sh up installs it)")
	return ""
}

func runKcat(t *testing.T, kcat, addr, format string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", "lead.created", "-o", "beginning",
		"-c", "1", "-e", "-q", "-f", format).Output()
	if err != nil {
		t.Fatalf("kcat -f %s: %v", format, err)
	}
	return string(out)
}

func TestTopicsApply(t *testing.T) {
	s := startDev(t) // spine dev applied the topics at start
	r := runCLI(t, "", "topics", "apply", "--brokers", s.KafkaAddr(), "--partitions", "4")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "lead.created.dlq") || !strings.Contains(r.stdout, "partitions raised") {
		t.Errorf("first apply:\n%s", r.stdout)
	}
	again := runCLI(t, "", "topics", "apply", "--brokers", s.KafkaAddr(), "--partitions", "4")
	topics := len(kafka.CatalogTopics(catalog.MustDefault(), 1))
	if again.code != 0 || strings.Contains(again.stdout, "raised") || strings.Count(again.stdout, "unchanged") != topics ||
		!strings.Contains(again.stdout, "lead.created.retry-4") {
		t.Errorf("second apply is not a no-op:\n%s", again.stdout)
	}
	if r := runCLI(t, "", "topics", "apply", "--partitions", "0"); r.code != 2 {
		t.Errorf("--partitions 0: exit %d, want 2", r.code)
	}
}
