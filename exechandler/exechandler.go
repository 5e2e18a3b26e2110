// Package exechandler handles events by running a command: the consumer for
// services on any stack (`spine consume --exec`). The command gets the JSON
// envelope on stdin and the header in environment variables; its exit status
// says what happened.
package exechandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inopsio/spine/bus"
)

// ExitPermanent is the exit status a command uses for an event it can never
// handle: the event goes straight to the dead-letter topic (EX_DATAERR of
// sysexits.h).
const ExitPermanent = 65

// DefaultTimeout bounds one run of the command.
const DefaultTimeout = 5 * time.Minute

// Config configures the handler.
type Config struct {
	Command string        // run with `sh -c`
	Timeout time.Duration // per event (default DefaultTimeout)
	Stdout  io.Writer     // where the command's output goes (default os.Stdout)
	Stderr  io.Writer     // default os.Stderr
	Env     []string      // base environment (default os.Environ())
}

// Environment variables the command receives.
const (
	EnvEventID   = "SPINE_EVENT_ID"
	EnvEventName = "SPINE_EVENT_NAME"
	EnvTenantID  = "SPINE_TENANT_ID"
	EnvTraceID   = "SPINE_TRACE_ID"
	EnvAttempt   = "SPINE_ATTEMPT"
)

// ExitError reports a command that did not exit 0.
type ExitError struct {
	EventID string
	Code    int // -1 when killed by a signal or timed out
	Stderr  string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("command for event %s exited with status %d", e.EventID, e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// New returns a handler that runs cfg.Command once per event. Exit 0:
// handled. Exit 65: a permanent failure (dead letter). Any other status, a
// signal or the timeout: a retryable failure.
func New(cfg Config) (bus.Handler, error) {
	if cfg.Command == "" {
		return nil, errors.New("exechandler: a command is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	// Commands run concurrently (one per tenant at a time); their output
	// goes to shared writers, which need not be safe for concurrent use.
	cfg.Stdout, cfg.Stderr = &lockedWriter{w: cfg.Stdout}, &lockedWriter{w: cfg.Stderr}
	return func(ctx context.Context, m *bus.Message) error {
		return run(ctx, cfg, m)
	}, nil
}

// maxStderrInError bounds the command's stderr quoted in the error (and so
// in a dead letter's header).
const maxStderrInError = 512

func run(ctx context.Context, cfg Config, m *bus.Message) error {
	input, err := json.Marshal(m.Envelope)
	if err != nil {
		return bus.Permanent(fmt.Errorf("encode envelope of %s: %w", m.Header.EventID, err))
	}
	// The handler's context is not cancelled at shutdown (in-flight events
	// finish); the timeout still bounds a hung command.
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", cfg.Command)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = cfg.Stdout
	var tail tailBuffer
	cmd.Stderr = io.MultiWriter(cfg.Stderr, &tail)
	cmd.Env = append(append([]string(nil), cfg.Env...),
		EnvEventID+"="+m.Header.EventID,
		EnvEventName+"="+m.Header.EventName,
		EnvTenantID+"="+m.Header.TenantID,
		EnvTraceID+"="+m.Header.TraceID,
		fmt.Sprintf("%s=%d", EnvAttempt, m.Attempt),
	)
	// Its own process group, so a timeout kills what the shell started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second

	err = cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run command for event %s: %w", m.Header.EventID, err)
	}
	xerr := &ExitError{EventID: m.Header.EventID, Code: ee.ExitCode(), Stderr: tail.String()}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (timed out after %s)", xerr, cfg.Timeout)
	}
	if xerr.Code == ExitPermanent {
		return bus.Permanent(xerr)
	}
	return xerr
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxStderrInError {
		t.b = t.b[len(t.b)-maxStderrInError:]
	}
	return len(p), nil
}

// String is the kept text as valid UTF-8: it ends up in a dead letter's
// header, which must be UTF-8 for every reader.
func (t *tailBuffer) String() string {
	return strings.ToValidUTF8(string(bytes.TrimSpace(t.b)), "\uFFFD")
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
