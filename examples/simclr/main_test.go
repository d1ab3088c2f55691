package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "simclr", simclr) }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, simclr) }

func TestBudget(t *testing.T) { runtest.Budget(t, "simclr", simclr) }

// TestCalibration checks -budget's calibration pass, timed by duration, in
// one process and on two in-process ranks.
func TestCalibration(t *testing.T) {
	runtest.Calibration(t, simclr, 1)
	runtest.Calibration(t, simclr, 2)
}

// TestDist runs a tiny two-epoch job of two in-process ranks: negatives
// gathered from both ranks, the ranks in lockstep (their states are
// compared at every epoch's end), rank 0 writing the results.
func TestDist(t *testing.T) {
	out := t.TempDir()
	args := append(slices.Clone(runtest.Tiny), "-epochs", "2", "-out", out)
	if err := run.InProcess(2, simclr, args, io.Discard); err != nil {
		t.Fatalf("simclr on 2 ranks: %v", err)
	}
	r := runtest.ReadResult(t, out)
	if r.Method != "simclr" || r.Batch != 64 || r.KNN <= 0.1 {
		t.Errorf("result.json = %+v: want simclr, the global batch 64, kNN above chance", r)
	}
}

// TestTemperature checks that -temperature reaches the loss and that a
// temperature that is not a positive finite number is refused by name.
func TestTemperature(t *testing.T) {
	for _, bad := range []string{"0", "-0.1", "NaN", "+Inf"} {
		err := simclr(append(slices.Clone(runtest.Tiny), "-temperature", bad, "-out", t.TempDir()), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-temperature") {
			t.Errorf("-temperature %s: err = %v, want one naming -temperature", bad, err)
		}
	}
	knn := func(temp string) float64 {
		out := t.TempDir()
		if err := simclr(append(slices.Clone(runtest.Tiny), "-temperature", temp, "-epochs", "1", "-eval-every", "0", "-out", out), io.Discard); err != nil {
			t.Fatal(err)
		}
		return runtest.ReadResult(t, out).KNN
	}
	if a, b := knn("0.2"), knn("0.05"); a == b {
		t.Errorf("-temperature 0.05 trained the same network as 0.2 (kNN %v)", a)
	}
}
