package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "carl", carl)
	if r.HeadACC <= 0 {
		t.Errorf("carl: the prototype head was not evaluated: %+v", r)
	}
}

// The teacher is part of the state; each step's partition comes from the step.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, carl, "-k", "20", "-partition", "10") }
