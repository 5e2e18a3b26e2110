package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, dataDir string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{DataDir: dataDir, KafkaAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stop(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Error(err)
	}
}

// The first start creates the master key and the issuer's state in the
// data dir; any process reading the data dir gets a token of a catalog
// service that verifies against the served issuer; a restart on another
// port keeps the master key and the secrets and records the new URL.
func TestStartSecurity(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	if want := "http://" + s.HTTPAddr() + DefaultIssuerPath; s.IssuerURL() != want {
		t.Errorf("IssuerURL = %q, want %q", s.IssuerURL(), want)
	}
	if s.DataDir() != dir {
		t.Errorf("DataDir = %q, want %q", s.DataDir(), dir)
	}
	master := filepath.Join(dir, "keys", "master.key")
	fi, err := os.Stat(master)
	if err != nil {
		t.Fatalf("no master key after the first start: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master key mode %04o, want 0600", fi.Mode().Perm())
	}
	key1, _ := os.ReadFile(master)

	resp, err := http.Get(token.DiscoveryURL(s.IssuerURL()))
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || disc.Issuer != s.IssuerURL() {
		t.Errorf("discovery: %d, issuer %q, %v", resp.StatusCode, disc.Issuer, err)
	}

	creds, err := issuer.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if creds.URL != s.IssuerURL() {
		t.Errorf("credentials URL = %q, want %q", creds.URL, s.IssuerURL())
	}
	if got, want := creds.ClientIDs(), Clients(catalog.MustDefault()); !slices.Equal(got, want) {
		t.Errorf("issuer clients = %v, want %v", got, want)
	}
	cfg, err := creds.SourceConfig("crm-service")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := token.NewSource(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := src.Header(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(ctx, token.VerifierConfig{Issuer: s.IssuerURL()})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(ctx, auth); err != nil || c.ClientID != "crm-service" {
		t.Errorf("token of crm-service: %+v, %v", c, err)
	}
	stop(t, s)

	s = start(t, dir)
	defer stop(t, s)
	again, err := issuer.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.URL != s.IssuerURL() {
		t.Errorf("after a restart, credentials URL = %q, want the new %q", again.URL, s.IssuerURL())
	}
	if again.Clients["crm-service"] != creds.Clients["crm-service"] {
		t.Error("a restart changed crm-service's secret")
	}
	if key2, _ := os.ReadFile(master); !bytes.Equal(key1, key2) {
		t.Error("a restart changed the master key: every encrypted PII would be lost")
	}
}

func TestClients(t *testing.T) {
	cat := catalog.MustDefault()
	got := Clients(cat, "extra-tool", "crm-service")
	for _, id := range []string{CLIClient, "extra-tool", "crm-service", "erp-service", "notifications-service", "analytics-service", "tenant-service"} {
		if !slices.Contains(got, id) {
			t.Errorf("Clients() = %v lacks %s", got, id)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("Clients() = %v: not sorted and unique", got)
	}
}

func TestIssuerURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/realms/spine"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/realms/spine"},
		{"[::]:8080", "http://127.0.0.1:8080/realms/spine"},
		{"[::1]:8080", "http://[::1]:8080/realms/spine"},
		{"dev.local:80", "http://dev.local:80/realms/spine"},
	}
	for _, tt := range tests {
		if got := issuerURL(tt.addr, DefaultIssuerPath); got != tt.want {
			t.Errorf("issuerURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestIssuerPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"", true}, {"/realms/spine", true}, {"/oidc", true},
		{"/", false}, {"realms/spine", false}, {"/realms/spine/", false},
	}
	for _, tt := range tests {
		_, err := Config{IssuerPath: tt.path}.withDefaults()
		if (err == nil) != tt.ok {
			t.Errorf("IssuerPath %q: error %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}
