package main

import (
	"io"
	"slices"
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "supervised", supervised) }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, supervised) }

func TestBudget(t *testing.T) { runtest.Budget(t, "supervised", supervised) }

// TestLearnsLabels checks that the labels reach the loss: four epochs on
// 512 images give a classifier (the head) far above the 10 % of chance
// (about 0.55 here; 0.15 with -lr 0).
func TestLearnsLabels(t *testing.T) {
	out := t.TempDir()
	args := append(slices.Clone(runtest.Tiny), "-limit", "512", "-epochs", "4", "-out", out)
	if err := supervised(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	if r := runtest.ReadResult(t, out); r.HeadACC < 0.4 {
		t.Errorf("head ACC %.3f after 4 epochs on 512 images: want ≥ 0.4 (chance 0.1)", r.HeadACC)
	}
}
