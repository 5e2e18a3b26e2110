package exechandler_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/exechandler"
)

func message() *bus.Message {
	return &bus.Message{Attempt: 2, Envelope: event.Envelope{
		Header: event.Header{EventID: "0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f", EventName: "lead.created",
			TenantID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		Payload: []byte(`{"name":"John"}`),
	}}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name      string
		command   string
		want      string // "ok", "permanent" or "retry"
		stdout    string
		errSubstr string
	}{
		{"exit 0", "exit 0", "ok", "", ""},
		{"stdin is the envelope", `grep -q '"payload":{"name":"John"}' && echo seen`, "ok", "seen\n", ""},
		{"environment", `echo "$SPINE_EVENT_ID $SPINE_EVENT_NAME $SPINE_TENANT_ID $SPINE_TRACE_ID $SPINE_ATTEMPT"`, "ok",
			"0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f lead.created 7c9e6679-7425-40de-944b-e07fc1f90ae7 4bf92f3577b34da6a3ce929d0e0e4736 2\n", ""},
		{"exit 65 is permanent", "echo gone >&2; exit 65", "permanent", "", "status 65: gone"},
		{"exit 1 is retried", "exit 1", "retry", "", "status 1"},
		{"exit 64 is retried", "exit 64", "retry", "", "status 64"},
		{"command not found is retried", "no-such-command-xyz", "retry", "", "status 127"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			h, err := exechandler.New(exechandler.Config{Command: tt.command, Stdout: &out, Stderr: &errb})
			if err != nil {
				t.Fatal(err)
			}
			err = h(context.Background(), message())
			switch tt.want {
			case "ok":
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			case "permanent":
				if !bus.IsPermanent(err) {
					t.Fatalf("err = %v, want permanent", err)
				}
			case "retry":
				if err == nil || bus.IsPermanent(err) {
					t.Fatalf("err = %v, want a retryable error", err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("err = %q, want it to contain %q", err, tt.errSubstr)
			}
			var xe *exechandler.ExitError
			if err != nil && !errors.As(err, &xe) {
				t.Errorf("err %T is not an *ExitError", err)
			}
			if out.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", out.String(), tt.stdout)
			}
		})
	}
}

// A hung command — and what it started — is killed at the timeout, and the
// event is retried.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	h, err := exechandler.New(exechandler.Config{Command: "sleep 30 & sleep 30; wait", Timeout: 200 * time.Millisecond,
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = h(context.Background(), message())
	if err == nil || bus.IsPermanent(err) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the handler returned after %s: the process group was not killed", d)
	}
}

// Stderr quoted in the error is bounded and valid UTF-8: it becomes a dead
// letter's header.
func TestStderrInErrorIsBoundedUTF8(t *testing.T) {
	h, err := exechandler.New(exechandler.Config{Command: `head -c 5000 /dev/zero | tr '\0' 'x'; printf '\377\376' >&2; exit 65`,
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	err = h(context.Background(), message())
	if !utf8.ValidString(err.Error()) || len(err.Error()) > 1024 {
		t.Fatalf("error is %d bytes, valid UTF-8: %v", len(err.Error()), utf8.ValidString(err.Error()))
	}
}

func TestNeedsCommand(t *testing.T) {
	if _, err := exechandler.New(exechandler.Config{}); err == nil {
		t.Fatal("New accepted an empty command")
	}
}
