package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/internal/pgtest"
)

// dlqWorld is a dev platform with real dead letters: a group whose handler
// rejects tenant B's events until fixed, and a record that is no event.
type dlqWorld struct {
	brokers  string
	tr       *kafka.Transport
	tenantB  string
	bEvents  []string
	fixed    chan struct{}
	mu       sync.Mutex
	handled  map[string]int    // event_id → successful runs
	replayed map[string]string // event_id → spine-replay-count seen
}

func newDlqWorld(t *testing.T) *dlqWorld {
	s := startDev(t)
	w := &dlqWorld{brokers: s.KafkaAddr(), tenantB: "0b6f2a4e-5c1d-4e8f-9a2b-3c4d5e6f7a8b", fixed: make(chan struct{}),
		handled: map[string]int{}, replayed: map[string]string{}}
	quiet := slog.New(slog.DiscardHandler)
	tr, err := kafka.New(kafka.Config{Brokers: []string{w.brokers}, Logger: quiet, FetchMaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	w.tr = tr
	client, err := bus.New(tr, bus.WithLogger(quiet), bus.WithPII(devCipher(t, s.DataDir())))
	if err != nil {
		t.Fatal(err)
	}
	h := func(_ context.Context, m *bus.Message) error {
		if m.Header.TenantID == w.tenantB {
			select {
			case <-w.fixed:
			default:
				return bus.Permanent(errors.New("crm: owner user_id not found"))
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.handled[m.Header.EventID]++
		for _, x := range m.Headers {
			if x.Key == codec.HeaderReplayCount {
				w.replayed[m.Header.EventID] = string(x.Value)
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- client.Subscribe(ctx, bus.Subscription{Group: "crm-sync", Topics: []string{"lead.created"},
			FromBeginning: true}, dedup.Middleware(dedup.NewMemory(time.Hour), "crm-sync", dedup.WithLogger(quiet))(h))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("subscribe: %v", err)
		}
	})

	spec := mustReadFile(t, repoFile("schema", "testdata", "spec", "lead.created.json"))
	for _, tenant := range []string{"7c9e6679-7425-40de-944b-e07fc1f90ae7", w.tenantB, w.tenantB} {
		p := bytes.ReplaceAll(spec, []byte("7c9e6679-7425-40de-944b-e07fc1f90ae7"), []byte(tenant))
		r := runCLI(t, string(p), append(devArgs(s), "publish", "lead.created", "-")...)
		if r.code != 0 {
			t.Fatalf("publish: exit %d: %s", r.code, r.stderr)
		}
		if tenant == w.tenantB {
			w.bEvents = append(w.bEvents, strings.TrimSpace(r.stdout))
		}
	}
	w.waitOpen(t, 2)
	// Garbage behind B's letters in their DLQ partition (same key).
	junk := codec.Record{Topic: "lead.created", Key: []byte(w.tenantB), Value: []byte("not an event"),
		Headers: []codec.Header{{Key: event.FieldEventName, Value: []byte("lead.created")}}}
	if err := tr.Send(context.Background(), junk); err != nil {
		t.Fatal(err)
	}
	w.waitOpen(t, 3)
	return w
}

// list runs `spine dlq list --json` with args.
func (w *dlqWorld) list(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	r := runCLI(t, "", append([]string{"dlq", "list", "--brokers", w.brokers, "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("dlq list %v: exit %d: %s", args, r.code, r.stderr)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("dlq list --json printed %q: %v", r.stdout, err)
	}
	return items
}

func (w *dlqWorld) waitOpen(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(w.list(t)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d dead letters: %v", n, w.list(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *dlqWorld) runs(id string) (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handled[id], w.replayed[id]
}

func TestDlqCLI(t *testing.T) {
	w := newDlqWorld(t)
	dataDir := t.TempDir()
	act := func(args ...string) cliResult {
		return runCLI(t, "", append(append([]string{"dlq"}, args...), "--brokers", w.brokers, "--data-dir", dataDir, "--actor", "alice")...)
	}

	// list: the JSON shape, and every filter.
	all := w.list(t)
	for _, it := range all {
		for _, k := range []string{"event_id", "event_name", "tenant_id", "original_topic", "partition", "offset",
			"attempts", "error", "first_failure", "last_failure"} {
			if _, ok := it[k]; !ok {
				t.Errorf("%v has no %q", it["id"], k)
			}
		}
		if _, err := time.Parse(time.RFC3339, it["last_failure"].(string)); err != nil {
			t.Errorf("%v: last_failure %v", it["id"], it["last_failure"])
		}
	}
	filters := []struct {
		args []string
		want int
	}{
		{[]string{"--event", "lead.created"}, 3},
		{[]string{"--event", "deal.stage.changed"}, 0},
		{[]string{"--tenant", w.tenantB}, 3},
		{[]string{"--error", "OWNER USER_ID"}, 2},
		{[]string{"--kind", "decode"}, 1},
		{[]string{"--since", "1h"}, 3},
		{[]string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, 0},
	}
	for _, f := range filters {
		if got := w.list(t, f.args...); len(got) != f.want {
			t.Errorf("list %v: %d letters, want %d", f.args, len(got), f.want)
		}
	}
	if r := runCLI(t, "", "dlq", "list", "--brokers", w.brokers); r.code != 0 || !strings.Contains(r.stdout, "crm: owner user_id not found") ||
		!strings.HasPrefix(r.stdout, "ID ") {
		t.Errorf("list table: exit %d\n%s", r.code, r.stdout)
	}

	// show, by the three forms of ID.
	var b1 map[string]any
	for _, it := range all {
		if it["event_id"] == w.bEvents[0] {
			b1 = it
		}
	}
	if b1 == nil {
		t.Fatalf("B's event %s is not listed: %v", w.bEvents[0], all)
	}
	orig := strings.Join([]string{"lead.created", jsonNum(b1["partition"]), jsonNum(b1["offset"])}, "/")
	for _, id := range []string{b1["id"].(string), orig, w.bEvents[0]} {
		r := runCLI(t, "", "dlq", "show", "--brokers", w.brokers, id)
		var shown map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil {
			t.Fatalf("show %s: exit %d: %s%s", id, r.code, r.stdout, r.stderr)
		}
		value, _ := shown["value"].(map[string]any)
		if shown["id"] != b1["id"] || value["tenant_id"] != w.tenantB || len(shown["headers"].([]any)) < 18 {
			t.Errorf("show %s: %s", id, r.stdout)
		}
	}

	// Usage errors, and a dry run, change nothing.
	for _, args := range [][]string{
		{"replay"}, {"purge"}, {"replay", "--reason", "x", "--rate", "-1"}, {"replay", "--reason", "x", "--since", "soon"},
		{"replay", "--reason", "x", "--event", "no.such"}, {"replay", "--reason", "x", "not-an-id"},
	} {
		if r := act(args...); r.code != 2 {
			t.Errorf("dlq %v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, "", "dlq", "show", "--brokers", w.brokers, "lead.created.dlq/0/999"); r.code != 1 {
		t.Errorf("show of nothing: exit %d", r.code)
	}
	if r := act("replay", "--dry-run", "--tenant", w.tenantB); r.code != 0 ||
		!strings.Contains(r.stdout, "3 dead letters matched, 2 would be replayed, 1 skipped") {
		t.Errorf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "audit.db")); !os.IsNotExist(err) {
		t.Errorf("a dry run touched the audit trail: %v", err)
	}
	if len(w.list(t)) != 3 {
		t.Error("a dry run resolved dead letters")
	}

	// Purge the garbage: B's open letters before it keep its partition.
	if r := act("purge", "--kind", "decode", "--reason", "producer fixed"); r.code != 0 || !strings.Contains(r.stdout, "1 purged") {
		t.Fatalf("purge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := w.list(t, "--kind", "decode"); len(got) != 0 {
		t.Errorf("purged letter still listed: %v", got)
	}
	if got := w.list(t, "--kind", "decode", "--all"); len(got) != 1 || got[0]["status"] != "purged" {
		t.Errorf("--all after purge: %v", got)
	}

	// Fix the handler, replay B's letters: handled once each, same event_id.
	close(w.fixed)
	r := act("replay", "--tenant", w.tenantB, "--reason", "owners imported", "--rate", "50", "--json")
	var rep struct {
		Done []map[string]any `json:"done"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || len(rep.Done) != 2 {
		t.Fatalf("replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(time.Minute)
	for _, id := range w.bEvents {
		for n, _ := w.runs(id); n == 0 && time.Now().Before(deadline); n, _ = w.runs(id) {
			time.Sleep(50 * time.Millisecond)
		}
		if n, rc := w.runs(id); n != 1 || rc != "1" {
			t.Errorf("replayed %s: handled %d times, spine-replay-count %q", id, n, rc)
		}
	}
	if r := act("replay", "--tenant", w.tenantB, "--reason", "again"); r.code != 0 || !strings.Contains(r.stdout, "0 dead letters matched") {
		t.Errorf("second replay: exit %d\n%s", r.code, r.stdout)
	}
	if got := w.list(t); len(got) != 0 {
		t.Errorf("open after replay and purge: %v", got)
	}
	statuses := map[string]int{}
	for _, it := range w.list(t, "--all") {
		statuses[it["status"].(string)]++
	}
	if statuses["replayed"] != 2 || statuses["purged"] != 1 {
		t.Errorf("--all statuses: %v", statuses)
	}

	// The audit trail: one row per letter and per command, chained.
	s, err := audit.OpenSQLite(context.Background(), filepath.Join(dataDir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := audit.Verify(context.Background(), s)
	if err != nil || n != 6 { // purge 1+1, replay 2+1, replay again 1
		t.Fatalf("audit: %d rows, %v", n, err)
	}
	rows, _ := s.Rows(context.Background(), 0, 0)
	for _, row := range rows {
		if row.Actor != "alice" {
			t.Errorf("row %d: actor %q", row.ID, row.Actor)
		}
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// --postgres writes the same audit rows to PostgreSQL.
func TestDlqPurgeAuditPostgres(t *testing.T) {
	url := bustest.Service(t, "SPINE_TEST_POSTGRES")
	s := startDev(t)
	tr, err := kafka.New(kafka.Config{Brokers: []string{s.KafkaAddr()}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// A dead letter as bus writes them, without the consumer that would.
	letter := codec.Record{Topic: bus.DLQTopic("lead.created"), Key: []byte("k"), Value: []byte("x"), Headers: []codec.Header{
		{Key: codec.HeaderOriginalTopic, Value: []byte("lead.created")},
		{Key: codec.HeaderErrorKind, Value: []byte(bus.KindDecode)},
		{Key: codec.HeaderErrorMessage, Value: []byte("codec: cannot decode")},
	}}
	if err := tr.Send(context.Background(), letter); err != nil {
		t.Fatal(err)
	}
	table := pgtest.Table(t, url, "dlq_cli_audit_")
	r := runCLI(t, "", "dlq", "purge", "--brokers", s.KafkaAddr(), "--postgres", url, "--audit-table", table,
		"--actor", "bob", "--reason", "synthetic")
	if r.code != 0 || !strings.Contains(r.stdout, "1 purged") {
		t.Fatalf("purge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	store, err := audit.OpenPostgres(context.Background(), url, table)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := audit.Verify(context.Background(), store); err != nil || n != 2 {
		t.Fatalf("audit in PostgreSQL: %d rows, %v", n, err)
	}
}
