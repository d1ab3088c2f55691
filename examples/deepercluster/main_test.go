package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "deepercluster", deepercluster) }

// The hierarchical labels and the uniform order built from them survive a
// resume.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, deepercluster) }
