package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

// One tiny epoch of Local Aggregation, and the bank's clustering scores.
func TestSmoke(t *testing.T) {
	runtest.Smoke(t, "localagg", localagg, "-ir-epochs", "0")
}

// The memory bank and the k-means clusterings of it survive a resume: the
// interrupted run stops in the second epoch, the first with LA's neighbors.
func TestResumeBitIdentical(t *testing.T) {
	runtest.Resume(t, localagg)
}
