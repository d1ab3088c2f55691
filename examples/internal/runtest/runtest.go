// Package runtest holds the tests every example runs: a smoke test of one
// tiny epoch and a check that an interrupted run resumes bit-identically.
package runtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ssl/backbone"
	"ssl/examples/internal/run"
)

// Main is an example's entry point: its flags and where it logs.
type Main func(args []string, log io.Writer) error

// Tiny is a run of a few steps on the first 256 embedded images, batch 64
// (4 steps per epoch).
var Tiny = []string{"-embedded", "-limit", "256", "-batch", "64", "-quiet", "-eval-every", "0", "-warmup", "2"}

// Smoke trains one tiny epoch (Tiny plus extra flags) and checks the
// outputs a user reads: result.json with the method's name and a kNN
// accuracy above chance, the pictures and the checkpoint. It returns the
// result.
func Smoke(t *testing.T, method string, main Main, extra ...string) run.Result {
	t.Helper()
	out := t.TempDir()
	args := append(append(append([]string(nil), Tiny...), extra...), "-epochs", "1", "-out", out)
	if err := main(args, io.Discard); err != nil {
		t.Fatalf("%s %v: %v", method, args, err)
	}
	r := ReadResult(t, out)
	if r.Method != method || r.Epochs != 1 || r.KNN <= 0.1 || r.KNN > 1 || r.ImagesPerSecond <= 0 {
		t.Errorf("result.json = %+v: want method %s, 1 epoch, kNN above chance", r, method)
	}
	for _, f := range []string{"clusters.png", "curves.png", run.CheckpointName} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
	return r
}

// ReadResult reads the result.json a run wrote into dir.
func ReadResult(t *testing.T, dir string) run.Result {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r run.Result
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Resume interrupts a two-epoch tiny run in the middle of its second epoch
// (after step 5), resumes it, and checks that every tensor of the final
// checkpoint equals, bit for bit, that of the uninterrupted run.
func Resume(t *testing.T, main Main, extra ...string) {
	t.Helper()
	whole, split := t.TempDir(), t.TempDir()
	args := append(append(append([]string(nil), Tiny...), extra...), "-epochs", "2")
	if err := main(append(args, "-out", whole), io.Discard); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	if err := main(append(args, "-out", split, "-stop-after", "5"), io.Discard); err == nil {
		t.Fatal("the interrupted run reported success")
	}
	if err := main(append(args, "-out", split, "-resume"), io.Discard); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	a, b := ReadCheckpoint(t, whole), ReadCheckpoint(t, split)
	if len(a.Names()) == 0 || len(a.Names()) != len(b.Names()) {
		t.Fatalf("checkpoints hold %d and %d tensors", len(a.Names()), len(b.Names()))
	}
	for _, name := range a.Names() {
		da, sa, ra, _ := a.Raw(name)
		db, sb, rb, ok := b.Raw(name)
		if !ok || da != db || !slices.Equal(sa, sb) || !bytes.Equal(ra, rb) {
			t.Errorf("tensor %s differs after resuming", name)
		}
	}
}

// ReadCheckpoint reads the checkpoint a run wrote into dir.
func ReadCheckpoint(t *testing.T, dir string) *backbone.Checkpoint {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, run.CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := backbone.ReadCheckpoint(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Budget runs a tiny -budget run through run.RunWithBudget, interrupts it
// after its first step and resumes it, and checks that it planned itself
// (at least one epoch, a measured step time), wrote plan.json, kept that
// plan on -resume and reported it in result.json.
func Budget(t *testing.T, method string, main Main, extra ...string) {
	t.Helper()
	out := t.TempDir()
	args := append(append(append([]string(nil), Tiny...), extra...), "-budget", "2s", "-out", out)
	if err := run.RunWithBudget(main, append(args, "-stop-after", "1"), io.Discard); err == nil {
		t.Fatal("the interrupted run reported success")
	}
	planned, err := os.ReadFile(filepath.Join(out, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.RunWithBudget(main, append(args, "-resume"), io.Discard); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	after, err := os.ReadFile(filepath.Join(out, "plan.json"))
	if err != nil || !bytes.Equal(planned, after) {
		t.Errorf("plan.json changed on -resume: %s → %s (%v)", planned, after, err)
	}
	var r run.Result
	js, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	p := r.Plan
	if p == nil || p.Budget != "2s" || !(p.StepSeconds > 0) || p.StepsPerEpoch != 4 || p.Epochs < 1 || r.Epochs != p.Epochs || p.CalibrationSteps < run.CalibrationSteps-4 {
		t.Fatalf("result.json: epochs %d, plan %+v: want the plan of a 2s budget, 4 steps per epoch, at least %d timed steps", r.Epochs, p, run.CalibrationSteps-4)
	}
	if want := max(1, int(2/(p.StepSeconds*4))); p.Epochs != want {
		t.Errorf("plan: %d epochs, want ⌊2 s / (%g s · 4 steps)⌋ = %d", p.Epochs, p.StepSeconds, want)
	}
}

// Calibration runs the calibration pass of a -budget run (Tiny, -calibrate
// 6, -calibrate-time 300ms) in one process, or as ranks in-process ranks
// of a -dist job, and checks that it ends as a calibration pass and that
// its plan.json times at least the 2 steps after the skipped ones and at
// least 300 ms of them: the pass runs past -calibrate's steps until its
// time is reached, and the ranks of a job stop at the same step (a rank
// stopping alone would leave the others waiting in a collective).
func Calibration(t *testing.T, main Main, ranks int) {
	t.Helper()
	out := t.TempDir()
	args := append(slices.Clone(Tiny), "-calibrate", "6", "-calibrate-time", "300ms", "-out", out)
	var err error
	if ranks > 1 {
		err = run.InProcess(ranks, main, args, io.Discard)
	} else {
		err = main(args, io.Discard)
	}
	if err == nil {
		t.Fatal("the calibration pass reported a finished run")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.Contains(line, "calibration pass done") {
			t.Fatalf("calibration pass on %d rank(s): %v", ranks, err)
		}
	}
	js, err := os.ReadFile(filepath.Join(out, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p run.Plan
	if err := json.Unmarshal(js, &p); err != nil {
		t.Fatal(err)
	}
	if timed := p.StepSeconds * float64(p.CalibrationSteps); p.CalibrationSteps < 2 || timed < 0.3 || p.StepsPerEpoch != 4 {
		t.Errorf("plan.json %s: %d timed steps of %g s (%.3f s), want at least 2 steps and 0.3 s, 4 steps per epoch", js, p.CalibrationSteps, p.StepSeconds, timed)
	}
}
