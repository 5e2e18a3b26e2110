// Command spine is the operator's CLI and the long-running processes of the
// Spine event backbone. It only wires commands to packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes shared by every command; scripts rely on them.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and the answer is "no" (invalid, incompatible…) or it failed
	exitUsage   = 2 // the command line is wrong
)

// exitError carries an exit code through cobra; its message is already printed
// when silent is set.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// failed reports that the command's answer is "no": details are printed.
func failed(err error) error { return &exitError{code: exitFailure, err: err, silent: true} }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Loggers, handlers and child processes of one command write the same
	// streams from several goroutines.
	stdout, stderr = &syncWriter{w: stdout}, &syncWriter{w: stderr}
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent {
			fmt.Fprintf(stderr, "spine: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "spine: %v\n", err)
	return exitFailure
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
