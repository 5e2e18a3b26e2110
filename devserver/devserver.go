// Package devserver runs the whole platform in one process — what `spine
// dev` starts: the embedded Kafka-protocol broker with every catalog topic,
// and the local schema registry served over the Confluent REST API.
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
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/compat"
	"github.com/inopsio/spine/schema/registry"
)

// Config configures the dev platform.
type Config struct {
	DataDir   string // default ./.spine
	KafkaAddr string // default 127.0.0.1:9092
	HTTPAddr  string // default 127.0.0.1:8080
	Logger    *slog.Logger
}

// Defaults of `spine dev`.
const (
	DefaultDataDir  = ".spine"
	DefaultKafkaAdr = "127.0.0.1:9092"
	DefaultHTTPAddr = "127.0.0.1:8080"
)

// Server is the running platform.
type Server struct {
	broker   *broker.Broker
	http     *http.Server
	httpAddr string
	served   chan error
	log      *slog.Logger
}

// Start brings the platform up and returns once it serves.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = DefaultKafkaAdr
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
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
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("dev: listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	b, err := broker.Start(ctx, broker.Config{
		Addr: cfg.KafkaAddr, DataDir: filepath.Join(cfg.DataDir, "kafka"), Catalog: cat, Logger: cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("dev: %w", err)
	}
	s := &Server{broker: b, httpAddr: ln.Addr().String(), served: make(chan error, 1), log: cfg.Logger}
	s.http = &http.Server{Handler: routes(reg, cat), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.http.Serve(ln) }()

	cfg.Logger.Info("spine dev is up",
		"kafka", b.Addr(), "schema_registry", "http://"+s.httpAddr, "data_dir", cfg.DataDir,
		"events", len(cat.Events()))
	return s, nil
}

func routes(reg registry.Registry, cat *catalog.Catalog) http.Handler {
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

// HTTPAddr is the HTTP address (registry, health).
func (s *Server) HTTPAddr() string { return s.httpAddr }

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
