package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "s4l", s4l) }

func TestSmokeLabelsAlone(t *testing.T) {
	runtest.Smoke(t, "s4l", s4l, "-rotation=false", "-labels", "0.01")
}

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, s4l) }
