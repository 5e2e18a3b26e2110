package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/inopsio/spine/broker"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/compat"
	"github.com/inopsio/spine/schema/registry"
)

// Config configures the dev platform.
type Config struct {
	DataDir   string // default ./.spine (DefaultDataDir)
	KafkaAddr string // default 127.0.0.1:9092
	HTTPAddr  string // default 127.0.0.1:8080
	// IssuerPath is where the dev OIDC issuer is served on the HTTP
	// server; default "/realms/spine" (a Keycloak realm's layout).
	IssuerPath string
	// Clients are issuer clients beyond the catalog's services and
	// CLIClient, which are always registered.
	Clients []string
	Logger  *slog.Logger
}

// Defaults of `spine dev`.
const (
	// DefaultDataDir is the data dir of every spine command: the keyring's
	// default, so `spine keys` and `spine dev` agree without flags.
	DefaultDataDir    = keys.DefaultDataDir
	DefaultKafkaAdr   = "127.0.0.1:9092"
	DefaultHTTPAddr   = "127.0.0.1:8080"
	DefaultIssuerPath = "/realms/spine"
	// CLIClient is the issuer client of operator tools (spine dlq, …).
	CLIClient = "spine-cli"
)

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.KafkaAddr == "" {
		c.KafkaAddr = DefaultKafkaAdr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.IssuerPath == "" {
		c.IssuerPath = DefaultIssuerPath
	}
	if c.IssuerPath[0] != '/' || c.IssuerPath == "/" || c.IssuerPath[len(c.IssuerPath)-1] == '/' {
		return c, fmt.Errorf("dev: issuer path %q: want /a/path without a trailing slash", c.IssuerPath)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Server is the running platform.
type Server struct {
	broker    *broker.Broker
	http      *http.Server
	httpAddr  string
	issuerURL string
	dataDir   string
	served    chan error
	log       *slog.Logger
}

// Start brings the platform up and returns once it serves.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dev: data dir: %w", err)
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	reg, err := registry.NewLocal(cat, registry.WithCompatibilityChecker(schema.CompatibilityChecker(compat.Lenient)))
	if err != nil {
		return nil, fmt.Errorf("dev: local registry: %w", err)
	}
	kek, err := ensureKeyring(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("dev: listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	httpAddr := ln.Addr().String()
	iss, err := openIssuer(cfg, cat, issuerURL(httpAddr, cfg.IssuerPath))
	if err != nil {
		ln.Close()
		return nil, err
	}
	b, err := broker.Start(ctx, broker.Config{
		Addr: cfg.KafkaAddr, DataDir: filepath.Join(cfg.DataDir, "kafka"), Catalog: cat, Logger: cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("dev: %w", err)
	}
	s := &Server{broker: b, httpAddr: httpAddr, issuerURL: iss.URL(), dataDir: cfg.DataDir,
		served: make(chan error, 1), log: cfg.Logger}
	mux := routes(reg, cat)
	mux.Handle(cfg.IssuerPath+"/", iss)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.http.Serve(ln) }()

	cfg.Logger.Info("spine dev is up",
		"kafka", b.Addr(), "schema_registry", "http://"+s.httpAddr, "issuer", s.issuerURL,
		"data_dir", cfg.DataDir, "kek", kek, "events", len(cat.Events()), "issuer_clients", len(iss.Credentials().Clients))
	return s, nil
}

func routes(reg registry.Registry, cat *catalog.Catalog) *http.ServeMux {
	mux := http.NewServeMux()
	// Confluent clients take this server's root as schema.registry.url.
	mux.Handle("/", registry.Handler(reg))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "events": len(cat.Events())})
	})
	return mux
}

// KafkaAddr is the broker's address.
func (s *Server) KafkaAddr() string { return s.broker.Addr() }

// HTTPAddr is the HTTP address (registry, issuer, health).
func (s *Server) HTTPAddr() string { return s.httpAddr }

// IssuerURL is the dev OIDC issuer's identifier, the base of its endpoints.
func (s *Server) IssuerURL() string { return s.issuerURL }

// DataDir is the directory the platform keeps its state in.
func (s *Server) DataDir() string { return s.dataDir }

// Close stops serving HTTP, then closes the broker, which writes what it
// holds to the data dir.
func (s *Server) Close(ctx context.Context) error {
	herr := s.http.Shutdown(ctx)
	if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
		herr = errors.Join(herr, err)
	}
	berr := s.broker.Close()
	s.log.Info("spine dev stopped")
	return errors.Join(herr, berr)
}
