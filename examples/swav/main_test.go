package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "swav", swav)
	if r.HeadACC <= 0 {
		t.Errorf("swav: the prototype head was not evaluated: %+v", r)
	}
}

func TestSmokeTwoCrops(t *testing.T) { runtest.Smoke(t, "swav", swav, "-local", "0") }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, swav) }
