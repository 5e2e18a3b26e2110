package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/devserver"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/schema/registry"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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

// devArgs are the flags that point a command at the dev platform s: its
// broker and its data dir, where the keyring and the issuer's credentials are.
func devArgs(s *devserver.Server) []string {
	return []string{"--brokers", s.KafkaAddr(), "--data-dir", s.DataDir()}
}

// devCipher is a PII cipher over the keyring of a dev data dir: what a
// test client needs to publish and read events as the CLI does.
func devCipher(t *testing.T, dataDir string) *pii.Cipher {
	t.Helper()
	k, err := keys.Open(context.Background(), keys.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	c, err := pii.New(mustCatalog(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The spec example's PII: it must never reach the broker in plaintext.
var specPII = []string{"john.doe@example.com", "John Doe"}

// noPlaintextPII fails when raw (bytes read from the broker) holds any of
// the spec example's PII values.
func noPlaintextPII(t *testing.T, what string, raw []byte) {
	t.Helper()
	for _, v := range specPII {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("%s holds the plaintext PII %q", what, v)
		}
	}
}

// The operator's round trip on the embedded broker: publish prints the
// event_id, tail prints the envelope, and an independent Kafka client, kcat,
// reads the record with every header field and the Confluent framing. PII
// is on the wire only encrypted, the record carries the producer's token,
// and tail with the dev data dir shows the plaintext (recorded in the audit
// trail), or with --ciphertext what travels.
func TestPublishTailAndKcat(t *testing.T) {
	s := startDev(t)
	spec := repoFile("schema", "testdata", "spec", "lead.created.json")

	pub := runCLI(t, "", append(devArgs(s), "publish", "lead.created", spec)...)
	if pub.code != 0 {
		t.Fatalf("publish: exit %d: %s", pub.code, pub.stderr)
	}
	eventID := strings.TrimSpace(pub.stdout)
	if err := (event.Header{EventID: eventID}).Validate(); err != nil && strings.Contains(err.Error(), "event_id") {
		t.Fatalf("publish printed %q, not an event_id", eventID)
	}

	bad := runCLI(t, `{"lead_id":"x"}`, append(devArgs(s), "publish", "lead.created", "-")...)
	if bad.code != 1 || !strings.Contains(bad.stdout, "/lead_id: ") {
		t.Fatalf("invalid publish: exit %d, stdout %q", bad.code, bad.stdout)
	}

	type envelope struct {
		Header  map[string]string `json:"header"`
		Payload json.RawMessage   `json:"payload"`
	}
	tailOne := func(extra ...string) envelope {
		t.Helper()
		r := runCLI(t, "", append(append(devArgs(s), "tail", "--event", "lead.created", "--from-beginning", "--max", "1"), extra...)...)
		if r.code != 0 {
			t.Fatalf("tail %v: exit %d: %s", extra, r.code, r.stderr)
		}
		var env envelope
		if err := json.Unmarshal([]byte(r.stdout), &env); err != nil {
			t.Fatalf("tail %v printed %q: %v", extra, r.stdout, err)
		}
		return env
	}
	env := tailOne()
	if env.Header["event_id"] != eventID || env.Header["tenant_id"] != "7c9e6679-7425-40de-944b-e07fc1f90ae7" {
		t.Errorf("tail header = %v", env.Header)
	}
	var want, got any
	_ = json.Unmarshal(mustReadFile(t, spec), &want)
	_ = json.Unmarshal(env.Payload, &got)
	if !jsonEqual(want, got) {
		t.Errorf("tail payload = %s, want the published plaintext", env.Payload)
	}
	var sealed map[string]any
	if err := json.Unmarshal(tailOne("--ciphertext").Payload, &sealed); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"name", "email"} {
		if v, _ := sealed[f].(string); !strings.HasPrefix(v, pii.Prefix) {
			t.Errorf("tail --ciphertext: %s = %q, want %s…", f, v, pii.Prefix)
		}
	}

	kcat := kcatPath(t)
	headers := runKcat(t, kcat, s.KafkaAddr(), "lead.created", "%h")
	for _, f := range event.HeaderFields {
		if !strings.Contains(headers, f+"=") {
			t.Errorf("kcat: header %q missing from %q", f, headers)
		}
	}
	for _, h := range []string{"event_id=" + eventID, "traceparent=00-", codec.HeaderEncryption + "=" + pii.HeaderValue, codec.HeaderAuthorization + "=Bearer ey"} {
		if !strings.Contains(headers, h) {
			t.Errorf("kcat headers lack %q: %q", h, headers)
		}
	}
	noPlaintextPII(t, "the record read by kcat", []byte(runKcat(t, kcat, s.KafkaAddr(), "lead.created", "%k %h %s")))
	value := []byte(runKcat(t, kcat, s.KafkaAddr(), "lead.created", "%s"))
	if len(value) < 5 || value[0] != 0x00 {
		t.Fatalf("kcat value does not start with the Confluent magic byte: % x", value[:min(len(value), 8)])
	}
	local, _ := registry.NewLocal(mustCatalog(t))
	wantID, _ := local.ID("lead.created", "1.0.0")
	if id := binary.BigEndian.Uint32(value[1:5]); int(id) != wantID {
		t.Errorf("schema id in the frame = %d, want %d", id, wantID)
	}
	// Only the PII values changed: decrypted, the framed payload is the
	// published file byte for byte.
	plain, err := devCipher(t, s.DataDir()).Decrypt(context.Background(), "lead.created", "1.0.0",
		"7c9e6679-7425-40de-944b-e07fc1f90ae7", eventID, value[5:])
	if err != nil {
		t.Fatalf("decrypt the framed payload: %v", err)
	}
	if !bytes.Equal(plain, mustReadFile(t, spec)) {
		t.Errorf("framed payload, decrypted, differs from the published bytes: %q", plain)
	}

	// The token is the event's producer's, from the dev issuer.
	auth := headerValue(headers, codec.HeaderAuthorization)
	v, err := token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: s.IssuerURL()})
	if err != nil {
		t.Fatal(err)
	}
	if claims, err := v.Verify(context.Background(), auth); err != nil || claims.ClientID != "crm-service" {
		t.Errorf("record token: claims %+v, %v; want client crm-service", claims, err)
	}

	// The registry serves the id from the frame to any Confluent client.
	reg, err := registry.NewConfluent("http://" + s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SchemaByID(context.Background(), wantID); err != nil {
		t.Errorf("dev registry: schema %d: %v", wantID, err)
	}

	// The publish and the plaintext read are in the audit trail, intact.
	rows := auditRows(t, s.DataDir())
	wantRows := map[string]bool{"service:crm-service event.publish published": false, "event.read decrypted": false}
	for _, r := range rows {
		if r.EventID != eventID {
			continue
		}
		if r.Actor == "service:crm-service" && r.Action == "event.publish" && r.Outcome == "published" {
			wantRows["service:crm-service event.publish published"] = true
		}
		if strings.HasPrefix(r.Actor, "user:") && r.Action == "event.read" && r.Outcome == "decrypted" {
			wantRows["event.read decrypted"] = true
		}
	}
	for k, found := range wantRows {
		if !found {
			t.Errorf("audit trail lacks a row %q for %s: %+v", k, eventID, rows)
		}
	}
	if r := runCLI(t, "", "audit", "verify", "--data-dir", s.DataDir()); r.code != 0 {
		t.Errorf("audit verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// headerValue returns the value of header k in kcat's %h output
// ("k1=v1,k2=v2"); values here hold no commas.
func headerValue(kcatHeaders, k string) string {
	for kv := range strings.SplitSeq(strings.TrimSpace(kcatHeaders), ",") {
		if name, v, ok := strings.Cut(kv, "="); ok && name == k {
			return v
		}
	}
	return ""
}

// auditRows reads the SQLite audit trail of a data dir.
func auditRows(t *testing.T, dataDir string) []audit.Entry {
	t.Helper()
	st, err := audit.OpenSQLite(context.Background(), filepath.Join(dataDir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Rows(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// An event with PII fields is not published where there is no keyring:
// the error names the data dir and the fix, and nothing is created there.
// An event without PII needs no keyring.
func TestPublishWithoutKeyring(t *testing.T) {
	s := startDev(t)
	lead := repoFile("schema", "testdata", "spec", "lead.created.json")
	invoice := repoFile("schema", "testdata", "spec", "invoice.generated.json")
	fresh := filepath.Join(t.TempDir(), "fresh")

	r := runCLI(t, "", "publish", "--brokers", s.KafkaAddr(), "--data-dir", fresh, "lead.created", lead)
	if r.code != 1 || !strings.Contains(r.stderr, "no keyring in data dir "+fresh) ||
		!strings.Contains(r.stderr, "spine dev --data-dir "+fresh) {
		t.Errorf("publish with PII, no keyring: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the failed publish created %s (%v)", fresh, err)
	}

	r = runCLI(t, "", "publish", "--brokers", s.KafkaAddr(), "--data-dir", fresh, "invoice.generated", invoice)
	if r.code != 0 || !strings.Contains(r.stderr, "without a service token") {
		t.Errorf("publish without PII, no data dir: exit %d, stderr %q", r.code, r.stderr)
	}

	// A production issuer needs the client secret from the environment.
	r = runCLI(t, "", append(devArgs(s), "publish", "--issuer", s.IssuerURL(), "invoice.generated", invoice)...)
	if r.code != 2 || !strings.Contains(r.stderr, clientSecretEnv) {
		t.Errorf("--issuer without $%s: exit %d, stderr %q", clientSecretEnv, r.code, r.stderr)
	}
	creds, err := issuer.LoadCredentials(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(clientSecretEnv, string(creds.Clients["erp-service"]))
	r = runCLI(t, "", "publish", "--brokers", s.KafkaAddr(), "--data-dir", fresh, "--issuer", s.IssuerURL(),
		"--client-id", "erp-service", "invoice.generated", invoice)
	if r.code != 0 || strings.Contains(r.stderr, "without a service token") {
		t.Errorf("publish with --issuer and $%s: exit %d, stderr %q", clientSecretEnv, r.code, r.stderr)
	}
}

// A record whose PII does not decrypt (sealed under another keyring) is
// printed as it travels, the reason on stderr, and tail goes on.
func TestTailUndecryptable(t *testing.T) {
	s := startDev(t)
	spec := mustReadFile(t, repoFile("schema", "testdata", "spec", "lead.created.json"))
	if r := runCLI(t, string(spec), append(devArgs(s), "publish", "lead.created", "-")...); r.code != 0 {
		t.Fatalf("publish: exit %d: %s", r.code, r.stderr)
	}
	tr, err := kafka.New(kafka.Config{Brokers: []string{s.KafkaAddr()}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	foreign, err := bus.New(tr, bus.WithLogger(slog.New(slog.DiscardHandler)), bus.WithPII(bustest.NewPIICipher(t, mustCatalog(t))))
	if err != nil {
		t.Fatal(err)
	}
	out, err := foreign.Publish(context.Background(), bus.Outgoing{Event: "lead.created", Payload: spec})
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", append(devArgs(s), "tail", "--event", "lead.created", "--from-beginning", "--max", "2")...)
	if r.code != 0 {
		t.Fatalf("tail: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"John Doe"`) || !strings.Contains(lines[1], pii.Prefix) {
		t.Fatalf("tail printed:\n%s\nwant the first event decrypted, the foreign one as ciphertext", r.stdout)
	}
	if !strings.Contains(r.stderr, "PII does not decrypt") || !strings.Contains(r.stderr, out[0].Header.EventID) {
		t.Errorf("stderr %q does not report the failed decryption of %s", r.stderr, out[0].Header.EventID)
	}
	noPlaintextPII(t, "tail's stderr", []byte(r.stderr))
	failed := false
	for _, row := range auditRows(t, s.DataDir()) {
		failed = failed || (row.EventID == out[0].Header.EventID && row.Action == "pii.decrypt" && row.Outcome == "failed")
	}
	if !failed {
		t.Error("audit trail lacks the failed decryption")
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

func runKcat(t *testing.T, kcat, addr, topic, format string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning",
		"-c", "1", "-e", "-q", "-f", format).Output()
	if err != nil {
		t.Fatalf("kcat -f %s: %v", format, err)
	}
	return string(out)
}

// kcatAllTopics reads every record of every non-empty topic on the broker
// with kcat: key, headers and value of each, by topic.
func kcatAllTopics(t *testing.T, addr string) map[string][]byte {
	t.Helper()
	kcat := kcatPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx)
	if err != nil {
		t.Fatalf("end offsets: %v", err)
	}
	out := map[string][]byte{}
	for topic, ps := range ends {
		empty := true
		for _, o := range ps {
			empty = empty && o.Offset == 0
		}
		if empty {
			continue
		}
		raw, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
			"-f", "%k %h %s\n").Output()
		if err != nil {
			t.Fatalf("kcat -t %s: %v", topic, err)
		}
		out[topic] = raw
	}
	return out
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

// lockedBuffer is a bytes.Buffer a test reads while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `spine dev` logs where everything is; `spine publish` and `spine tail`
// given only its data dir (and broker) find the keyring and the issuer.
func TestDevCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data-dir", dir, "--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
			strings.NewReader(""), io.Discard, &logs)
	}()
	up := regexp.MustCompile(`msg="spine dev is up" kafka=(\S+) schema_registry=http://(\S+) issuer=(\S+) data_dir=(\S+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m = up.FindStringSubmatch(logs.String())
	}
	if m == nil {
		cancel()
		t.Fatalf("spine dev did not say it is up, with the issuer and the data dir:\n%s (exit %d)", logs.String(), <-done)
	}
	if m[3] != "http://"+m[2]+"/realms/spine" || m[4] != dir {
		t.Errorf("spine dev: issuer %s, data dir %s; want http://%s/realms/spine and %s", m[3], m[4], m[2], dir)
	}
	args := []string{"--brokers", m[1], "--data-dir", dir}
	spec := repoFile("schema", "testdata", "spec", "lead.created.json")
	if r := runCLI(t, "", append(args, "publish", "lead.created", spec)...); r.code != 0 {
		t.Errorf("publish: exit %d: %s", r.code, r.stderr)
	}
	if r := runCLI(t, "", append(args, "tail", "--from-beginning", "--max", "1")...); r.code != 0 || !strings.Contains(r.stdout, `"john.doe@example.com"`) {
		t.Errorf("tail: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("spine dev: exit %d after Ctrl-C:\n%s", code, logs.String())
	}
}

// Publishing to a broker that is not there gives up after --timeout with an
// error that says so, instead of waiting forever.
func TestPublishTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := runCLI(t, "", "publish", "--data-dir", t.TempDir(), "--brokers", addr, "--timeout", "500ms", "--no-token",
		"task.completed", filepath.Join("..", "..", "schema", "testdata", "spec", "task.completed.json"))
	if r.code != 1 || !strings.Contains(r.stderr, "no acknowledgement from "+addr+" within 500ms") {
		t.Errorf("exit %d, stderr %q; want exit 1 saying no acknowledgement came", r.code, r.stderr)
	}
}
