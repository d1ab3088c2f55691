package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "uniform", uniform) }

// The translated labels survive a resume.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, uniform) }
