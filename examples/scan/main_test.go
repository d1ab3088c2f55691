package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
)

// One pretext epoch.
func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "scan", scan)
	if r.HeadACC <= 0 {
		t.Errorf("scan: the cluster head was not evaluated: %+v", r)
	}
}

// Neighbor mining and the SCAN loss from the first epoch.
func TestSmokeClustering(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "0")
}

// Self-labelling (a threshold the tiny run's head reaches).
func TestSmokeSelfLabel(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "1", "-threshold", "0.2")
}

// Pretext, then SCAN from mined neighbors: the neighbors are state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, scan) }

// Pretext, then self-labelling.
func TestResumeSelfLabel(t *testing.T) {
	runtest.Resume(t, scan, "-selflabel", "0.5", "-threshold", "0.2")
}

// -pretrained starts from another run's ConvNet3: with the clustering
// rates at 0 the backbone's weights stay those of the file.
func TestPretrained(t *testing.T) {
	first := t.TempDir()
	args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", first)
	if err := scan(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(first, run.CheckpointName)
	second := t.TempDir()
	args = append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", second,
		"-pretrained", ckpt, "-cluster-lr", "0", "-backbone-ratio", "0")
	if err := scan(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	want, got := runtest.ReadCheckpoint(t, first), runtest.ReadCheckpoint(t, second)
	for _, name := range []string{"conv1.weight", "conv3.weight"} {
		_, _, a, okA := want.Raw(name)
		_, _, b, okB := got.Raw(name)
		if !okA || !okB || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the pretrained checkpoint's", name)
		}
	}
	bad := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), "-pretrained", filepath.Join(first, "missing.safetensors"))
	if err := scan(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("scan with a missing -pretrained file: err = %v, want one naming the file", err)
	}
}
