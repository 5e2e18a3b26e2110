package bustest_test

import (
	"testing"

	"github.com/inopsio/spine/bus/bustest"
)

func TestMain(m *testing.M) { bustest.Main(m, nil) }

// TestConformanceMemory runs the suite against the memory double: it checks
// the suite (and the double) itself, not a backend.
func TestConformanceMemory(t *testing.T) {
	bustest.Run(t, bustest.MemoryBackend())
}
