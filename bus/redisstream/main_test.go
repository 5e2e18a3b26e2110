package redisstream_test

import (
	"testing"

	"github.com/inopsio/spine/bus/bustest"
)

// TestMain checks for leaked goroutines (bustest.Main runs goleak) and, when
// the conformance suite re-executes this binary as a consumer child, runs
// that consumer instead (dialConformance, conformance_test.go).
func TestMain(m *testing.M) { bustest.Main(m, dialConformance) }
