package conformance_test

import (
	"testing"

	"ssl/internal/conformance"
)

// runners maps each kind to its adapter. The files <area>_test.go of this
// package register theirs in init functions.
var runners = map[string]conformance.Runner{}

func register(kind string, r conformance.Runner) {
	if _, dup := runners[kind]; dup {
		panic("conformance: kind registered twice: " + kind)
	}
	runners[kind] = r
}

// TestVectors runs every reference case in testdata/vectors and in the
// folders named by SSL_VECTORS (colon-separated).
func TestVectors(t *testing.T) {
	conformance.Run(t, runners, conformance.Dirs("testdata/vectors")...)
}
