package codec_test

import (
	"os"
	"os/exec"
	"testing"
)

// testdata/check_vectors.py is a second reader of the wire format, written in
// Python from docs/wire-format.md alone: the vectors must mean the same to
// it as to package codec, or the document and the code disagree.
func TestVectorsWithIndependentPythonReader(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("SPINE_REQUIRE_SERVICES") == "1" {
			t.Fatal("python3 is needed to check the vectors with the independent reader")
		}
		t.Skip("python3 not installed")
	}
	out, err := exec.Command(py, "testdata/check_vectors.py").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python reader disagrees with the vectors: %v\n%s", err, out)
	}
}
