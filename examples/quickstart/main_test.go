package main

import (
	"bytes"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"ssl"
	"ssl/backbone"
	"ssl/losses"
)

// TestRun runs the program briefly in-process: the queue fills after one
// step, so the later steps take their codes over it.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	s, err := run([]string{"-steps", "3", "-batch", "16", "-local", "1", "-queue", "32",
		"-bank", "300", "-test", "100", "-log-every", "1", "-out", dir}, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(s.Losses) != 3 {
		t.Fatalf("%d losses, want 3", len(s.Losses))
	}
	for i, l := range s.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
			t.Errorf("loss of step %d is %v, want finite and > 0", i+1, l)
		}
	}
	for name, acc := range map[string]float64{"before": s.KNNBefore, "after": s.KNNAfter} {
		if !(acc >= 0 && acc <= 1) {
			t.Errorf("kNN accuracy %s training is %v, want in [0, 1]", name, acc)
		}
	}
	if s.Train != 300 || s.Test != 100 {
		t.Errorf("kNN on %d bank and %d query images, want 300 and 100", s.Train, s.Test)
	}
	if !s.Restored || s.QueueRows != 32 {
		t.Errorf("queue restored %v with %d rows, want true with 32", s.Restored, s.QueueRows)
	}
	for _, want := range []string{"step    3/3  loss", "restored bit for bit: true", "kNN after 3 steps"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, log.String())
		}
	}

	// Read the checkpoint here too and compare with the state the program
	// saved, bit for bit.
	f, err := os.Open(filepath.Join(dir, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ck, err := backbone.ReadCheckpoint(f)
	if err != nil {
		t.Fatal(err)
	}
	keys := ssl.New(32, embedDim)
	if err := ck.Float32(keys, "queue.keys"); err != nil {
		t.Fatal(err)
	}
	pos, err := ck.Ints("queue.position", 2)
	if err != nil {
		t.Fatal(err)
	}
	q, err := losses.NewQueue(32, embedDim)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Restore(losses.QueueState{Keys: keys, Head: pos[0], Len: pos[1]}); err != nil {
		t.Fatal(err)
	}
	same, err := sameState(q.State(), s.Queue)
	if err != nil || !same {
		t.Errorf("queue restored from the file differs from the saved one (err %v)", err)
	}
	if _, shape, ok := ck.Info("affine.scale"); !ok || len(shape) != 1 || shape[0] != 128 {
		t.Errorf("checkpoint lacks the program's own layer's parameter affine.scale (shape %v)", shape)
	}
}

// TestBadFlags checks that invalid settings are refused before any work.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-steps", "0"}, {"-batch", "16", "-queue", "8"}, {"-nosuchflag"}} {
		if _, err := run(append(args, "-out", t.TempDir()), io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}

// TestFreshModule follows the steps of "Using it from another module" in the
// repository's README.md: a new module that requires ssl through a replace
// directive, with this program copied in, must tidy and build.
func TestFreshModule(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command on this machine: ", err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(mod), "module ssl\n") {
		t.Fatalf("%s is not the root of module ssl (%v)", root, err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, args := range [][]string{
		{"mod", "init", "example.com/quick"},
		{"mod", "edit", "-require=ssl@v0.0.0", "-replace=ssl=" + root},
		{"mod", "tidy"},
		{"build", "-o", filepath.Join(dir, "quick.exe"), "."},
	} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		// The module stands alone: no go.work of an enclosing folder.
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Logf("fresh module tidied and built in %.1f s", time.Since(start).Seconds())
}
