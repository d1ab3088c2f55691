package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "cacr", cacr) }

func TestSmokeInfoNCEQueue(t *testing.T) { runtest.Smoke(t, "cacr", cacr, "-cacr=false") }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, cacr) }

func TestResumeBitIdenticalInfoNCEQueue(t *testing.T) {
	runtest.Resume(t, cacr, "-cacr=false", "-queue", "200")
}
