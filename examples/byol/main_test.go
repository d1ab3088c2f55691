package main

import (
	"io"
	"math"
	"slices"
	"strconv"
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "byol", byol) }

// The target network and its batch-norm statistics are part of the state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, byol) }

// TestLossScale: -loss-scale multiplies the loss, so the first step's
// (taken before any update) is scaled exactly.
func TestLossScale(t *testing.T) {
	first := func(scale string) float64 {
		out := t.TempDir()
		args := append(slices.Clone(runtest.Tiny), "-out", out, "-stop-after", "1", "-loss-scale", scale)
		if err := byol(args, io.Discard); err == nil {
			t.Fatal("a run stopped after one step reported success")
		}
		l, err := strconv.ParseFloat(runtest.ReadCheckpoint(t, out).Metadata["loss_sum"], 64)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	one, quarter := first("1"), first("0.25")
	if one <= 0 || math.Abs(quarter-one/4) > 1e-12*one {
		t.Errorf("first loss %v with -loss-scale 0.25, want a quarter of %v", quarter, one)
	}
}
