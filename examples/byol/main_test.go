package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "byol", byol) }

// The target network and its batch-norm statistics are part of the state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, byol) }
