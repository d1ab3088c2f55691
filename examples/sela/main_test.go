package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "sela", sela) }

// The pseudo-labels are part of the state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, sela) }
