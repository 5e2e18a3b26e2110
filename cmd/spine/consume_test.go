package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
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
		r := runCLI(t, string(p), append(devArgs(s), "publish", "lead.created", "-")...)
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
		code := run(ctx, append(devArgs(s), "consume", "--group", "crm-sync", "--event", "lead.created",
			"--from-beginning", "--exec", script), strings.NewReader(""), &out, &errb)
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
	if env.Header["event_id"] != okID || env.Payload["name"] != "John Doe" || env.Payload["email"] != "john.doe@example.com" {
		t.Errorf("envelope on stdin is not the decrypted event: %v", env)
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
	noPlaintextPII(t, "the dead letter", rawRecord(dead[0]))
	// The consumer's reads of PII are in the audit trail, as the group.
	consumed := 0
	for _, r := range auditRows(t, s.DataDir()) {
		if r.Actor == "service:crm-sync" && r.Action == "event.consume" && r.Outcome == "decrypted" {
			consumed++
		}
	}
	if consumed < 4 { // ok, poison, flaky twice
		t.Errorf("%d event.consume audit rows by service:crm-sync, want at least 4", consumed)
	}
}

// rawRecord is every byte of a record as a Kafka client sees it.
func rawRecord(r codec.Record) []byte {
	b := append([]byte(nil), r.Key...)
	for _, h := range r.Headers {
		b = append(append(append(b, h.Key...), '='), h.Value...)
	}
	return append(b, r.Value...)
}

// staticToken is a token source that always gives the same header: how a
// test forges what a producer attaches.
type staticToken string

func (s staticToken) Header(context.Context) (string, error) { return string(s), nil }

// forgeToken signs the claims of a real token of client with a key of its
// own under the issuer's key id: a token that looks right and must not
// verify.
func forgeToken(t *testing.T, issuerURL, kid, client string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": issuerURL, "aud": "spine", "azp": client, "client_id": client, "sub": "service-account-" + client,
		"typ": "Bearer", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "forged",
	})
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// readDead returns the records of the dead-letter topics of events.
func readDead(t *testing.T, tr *kafka.Transport, events ...string) []codec.Record {
	t.Helper()
	topics := make([]string, len(events))
	for i, e := range events {
		topics[i] = bus.DLQTopic(e)
	}
	var dead []codec.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := tr.Read(ctx, kafka.ReadOptions{Topics: topics, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error { dead = append(dead, d.Record); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return dead
}

// spine consume verifies every record's token against the dev issuer of
// its data dir: records without a token, with a forged one, or with the
// token of a service that does not produce the event are dead-lettered
// with kind auth, PII still encrypted; the genuine event reaches the
// command decrypted.
func TestConsumeVerifiesTokens(t *testing.T) {
	s := startDev(t)
	quiet := slog.New(slog.DiscardHandler)
	lead := mustReadFile(t, repoFile("schema", "testdata", "spec", "lead.created.json"))
	invoice := mustReadFile(t, repoFile("schema", "testdata", "spec", "invoice.generated.json"))

	good := runCLI(t, string(lead), append(devArgs(s), "publish", "lead.created", "-")...)
	missing := runCLI(t, string(lead), append(devArgs(s), "publish", "--no-token", "lead.created", "-")...)
	for _, r := range []cliResult{good, missing} {
		if r.code != 0 {
			t.Fatalf("publish: exit %d: %s", r.code, r.stderr)
		}
	}

	creds, err := issuer.LoadCredentials(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := creds.SourceConfig("crm-service")
	if err != nil {
		t.Fatal(err)
	}
	crm, err := token.NewSource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	crmToken, err := crm.Header(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var jws struct {
		Kid string `json:"kid"`
	}
	head, _ := base64.RawURLEncoding.DecodeString(strings.Split(strings.TrimPrefix(crmToken, "Bearer "), ".")[0])
	if err := json.Unmarshal(head, &jws); err != nil || jws.Kid == "" {
		t.Fatalf("token header %q: %v", head, err)
	}

	tr, err := kafka.New(kafka.Config{Brokers: []string{s.KafkaAddr()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	publishWith := func(tok bus.TokenSource, name string, payload []byte) string {
		t.Helper()
		c, err := bus.New(tr, bus.WithLogger(quiet), bus.WithPII(devCipher(t, s.DataDir())), bus.WithTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Publish(context.Background(), bus.Outgoing{Event: name, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Header.EventID
	}
	forged := publishWith(staticToken(forgeToken(t, creds.URL, jws.Kid, "crm-service")), "lead.created", lead)
	wrongClient := publishWith(staticToken(crmToken), "invoice.generated", invoice) // erp-service's event

	dir := t.TempDir()
	t.Setenv("OUT", dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan cliResult, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, append(devArgs(s), "consume", "--group", "analytics", "--event", "lead.created", "--event", "invoice.generated",
			"--from-beginning", "--exec", `cat > "$OUT/$SPINE_EVENT_ID.json"; echo "$SPINE_EVENT_ID" >> "$OUT/runs"`),
			strings.NewReader(""), &out, &errb)
		done <- cliResult{code, out.String(), errb.String()}
	}()
	var dead []codec.Record
	deadline := time.Now().Add(60 * time.Second)
	for dead = readDead(t, tr, "lead.created", "invoice.generated"); len(dead) < 3 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		dead = readDead(t, tr, "lead.created", "invoice.generated")
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong run to show up
	cancel()
	if r := <-done; r.code != 0 {
		t.Fatalf("consume: exit %d: %s", r.code, r.stderr)
	}

	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	goodID := strings.TrimSpace(good.stdout)
	if strings.TrimSpace(string(runs)) != goodID {
		t.Errorf("the command ran for %q, want only the genuine event %s", runs, goodID)
	}
	var env struct {
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(mustReadFile(t, filepath.Join(dir, goodID+".json")), &env); err != nil || env.Payload["email"] != "john.doe@example.com" {
		t.Errorf("the genuine event reached the command as %v (%v), want it decrypted", env.Payload, err)
	}

	want := map[string]string{ // event_id → what the dead letter's message says
		strings.TrimSpace(missing.stdout): "token missing",
		forged:                            "signature",
		wrongClient:                       `token of client "crm-service" may not produce invoice.generated`,
	}
	if len(dead) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(want))
	}
	for _, d := range dead {
		id, _ := d.Header(event.FieldEventID)
		kind, _ := d.Header(codec.HeaderErrorKind)
		msg, _ := d.Header(codec.HeaderErrorMessage)
		if string(kind) != bus.KindAuth || !strings.Contains(string(msg), want[string(id)]) || want[string(id)] == "" {
			t.Errorf("dead letter %s: kind %q, message %q; want kind %s, message with %q", id, kind, msg, bus.KindAuth, want[string(id)])
		}
		noPlaintextPII(t, "dead letter "+string(id), rawRecord(d))
	}
	// And the broker as an outsider sees it: every topic, dead-letter and
	// retry topics included, read byte by byte with kcat.
	topics := kcatAllTopics(t, s.KafkaAddr())
	for topic, raw := range topics {
		noPlaintextPII(t, "topic "+topic+" read by kcat", raw)
	}
	for _, want := range []string{"lead.created", "lead.created.dlq", "invoice.generated.dlq"} {
		if len(topics[want]) == 0 {
			t.Errorf("kcat read nothing from %s (read: %d topics)", want, len(topics))
		}
	}
}

func TestConsumeUsage(t *testing.T) {
	empty := []string{"--data-dir", t.TempDir()}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"consume", "--exec", "true"}, "--group"},
		{[]string{"consume", "--group", "g"}, "--exec"},
		{[]string{"consume", "--group", "g", "--exec", "true", "--event", "no.such"}, "no.such"},
		// No issuer to verify tokens with, and no --no-verify.
		{append([]string{"consume", "--group", "g", "--exec", "true"}, empty...), "no token issuer"},
		// The consume grant: crm-service produces lead.created, it does not consume it.
		{append([]string{"consume", "--no-verify", "--group", "g", "--service", "crm-service", "--event", "lead.created", "--exec", "true"}, empty...),
			`service "crm-service" may not consume lead.created`},
		{append([]string{"consume", "--no-verify", "--group", "g", "--service", "nobody", "--exec", "true"}, empty...), "consumer of no event"},
	}
	for _, tt := range tests {
		r := runCLI(t, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("spine %v: exit %d, stderr %q; want 2 and %q", tt.args, r.code, r.stderr, tt.stderr)
		}
	}
}

func TestConsumableTopics(t *testing.T) {
	cat := mustCatalog(t)
	tests := []struct {
		service   string
		has, lack []string
	}{
		{"analytics-service", []string{"lead.created", "invoice.generated", "tenant.created"}, []string{"metrics.published", "alert.new"}},
		{"crm-service", []string{"invoice.generated", "tenant.created"}, []string{"lead.created", "customer.synced"}},
		{"nobody", nil, []string{"lead.created"}},
	}
	for _, tt := range tests {
		got := consumableTopics(cat, tt.service)
		for _, topic := range tt.has {
			if !slices.Contains(got, topic) {
				t.Errorf("%s: %v lacks %s", tt.service, got, topic)
			}
		}
		for _, topic := range tt.lack {
			if slices.Contains(got, topic) {
				t.Errorf("%s: %v has %s", tt.service, got, topic)
			}
		}
	}
}
