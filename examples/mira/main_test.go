package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "mira", mira)
	if r.HeadACC <= 0 {
		t.Errorf("mira: the prototype head was not evaluated: %+v", r)
	}
}

func TestSmokeMultiCrop(t *testing.T) { runtest.Smoke(t, "mira", mira, "-local", "2", "-k", "30") }

// The teacher is part of the state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, mira) }
