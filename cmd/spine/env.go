package main

import (
	"io"
	"log/slog"
	"os"
)

// envOr is how every command reads its environment defaults: a flag's
// default comes from the variable, and the flag wins.
func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// newLogger is the one logger of a command: text on stderr, at the level
// in SPINE_LOG_LEVEL (debug, info, warn, error), by default fallback.
func newLogger(w io.Writer, fallback slog.Level) *slog.Logger {
	level := fallback
	if v := os.Getenv("SPINE_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v)) // an unknown level keeps the default
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
