package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "iic", iic)
	if r.HeadACC <= 0 {
		t.Errorf("iic: the 10-way head was not evaluated: %+v", r)
	}
}

func TestSmokeMainHeadOnly(t *testing.T) { runtest.Smoke(t, "iic", iic, "-over", "0") }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, iic) }
