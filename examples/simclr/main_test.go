package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ssl/backbone"
	"ssl/examples/internal/run"
)

// tiny is a run of a few steps on the first 256 embedded images.
var tiny = []string{"-embedded", "-limit", "256", "-batch", "64", "-quiet", "-eval-every", "0", "-warmup", "2"}

// TestSmoke trains one tiny epoch and checks the outputs a user reads.
func TestSmoke(t *testing.T) {
	out := t.TempDir()
	if err := simclr(append(tiny, "-epochs", "1", "-out", out), io.Discard); err != nil {
		t.Fatalf("simclr: %v", err)
	}
	var r run.Result
	js, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if r.Method != "simclr" || r.Epochs != 1 || r.KNN <= 0.1 || r.KNN > 1 || r.ImagesPerSecond <= 0 {
		t.Errorf("result.json = %+v: want method simclr, 1 epoch, kNN above chance", r)
	}
	for _, f := range []string{"clusters.png", "curves.png", run.CheckpointName} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
}

// TestResumeBitIdentical interrupts a two-epoch run in the middle of its
// second epoch, resumes it, and checks that every tensor of the final
// checkpoint equals, bit for bit, that of the uninterrupted run.
func TestResumeBitIdentical(t *testing.T) {
	whole, split := t.TempDir(), t.TempDir()
	args := append(tiny, "-epochs", "2")
	if err := simclr(append(args, "-out", whole), io.Discard); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	// 4 steps per epoch: stop after step 5, in the second epoch.
	if err := simclr(append(args, "-out", split, "-stop-after", "5"), io.Discard); err == nil {
		t.Fatal("the interrupted run reported success")
	}
	if err := simclr(append(args, "-out", split, "-resume"), io.Discard); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	a, b := readCheckpoint(t, whole), readCheckpoint(t, split)
	if len(a.Names()) == 0 || len(a.Names()) != len(b.Names()) {
		t.Fatalf("checkpoints hold %d and %d tensors", len(a.Names()), len(b.Names()))
	}
	for _, name := range a.Names() {
		_, _, ra, _ := a.Tensor(name)
		_, _, rb, ok := b.Tensor(name)
		if !ok || !bytes.Equal(ra, rb) {
			t.Errorf("tensor %s differs after resuming", name)
		}
	}
}

func readCheckpoint(t *testing.T, dir string) *backbone.SafetensorsFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, run.CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := backbone.ParseSafetensors(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
