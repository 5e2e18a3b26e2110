package exechandler_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The handler starts a process per event, with goroutines copying its
// output: none may outlive the event.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
