package kafka_test

import (
	"testing"

	"github.com/inopsio/spine/bus/bustest"
)

// TestMain runs the tests with a goroutine-leak check, or — started by the
// conformance suite's process-kill case — a consumer child (bustest.Main).
func TestMain(m *testing.M) { bustest.Main(m, dialConformance) }
