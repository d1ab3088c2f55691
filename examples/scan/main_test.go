package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

// One pretext epoch.
func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "scan", scan)
	if r.HeadACC <= 0 {
		t.Errorf("scan: the cluster head was not evaluated: %+v", r)
	}
}

// Neighbour mining and the SCAN loss from the first epoch.
func TestSmokeClustering(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "0")
}

// Self-labelling (a threshold the tiny run's head reaches).
func TestSmokeSelfLabel(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "1", "-threshold", "0.2")
}

// Pretext, then SCAN from mined neighbours: the neighbours are state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, scan) }

// Pretext, then self-labelling.
func TestResumeSelfLabel(t *testing.T) {
	runtest.Resume(t, scan, "-selflabel", "0.5", "-threshold", "0.2")
}
