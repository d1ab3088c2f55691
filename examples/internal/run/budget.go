package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A wall-clock budget (-budget 30m) replaces the epoch count: the run first
// measures its own step rate, then fixes the number of epochs that fit, so
// the learning-rate schedule and every phase the example sizes from the
// epoch count (warm-up, freezing, SCAN's pretext share, BYOL's EMA ramp) are
// planned for the steps that will run.
//
// Main does it in two passes of the example's function: a calibration pass
// on a scratch folder (no evaluation, no checkpoint kept), whose steps after
// the first calibrationSkip are timed until they number at least
// CalibrationSteps−calibrationSkip and last at least [CalibrationTime] of
// the budget, then the real run with -epochs set to the plan. The plan is
// written to plan.json in -out, reported in result.json, and read back by
// -resume, so a resumed run keeps the schedule it started with. The budget
// bounds the training steps' time (the "train_seconds" of result.json); the
// calibration and the evaluations come on top of it.

// CalibrationSteps is the least number of steps a -budget run takes before
// it fixes its plan; the first calibrationSkip of them (first-touch of the
// workspaces, cold caches) are not timed. calibrationMaxSteps bounds the
// pass whatever its time.
const (
	CalibrationSteps    = 24
	calibrationSkip     = 4
	calibrationMaxSteps = 20000
)

// CalibrationTime returns the least time the timed steps of a -budget
// run's calibration pass cover: a sixtieth of the budget, at most 30 s (30 s
// of a 30-minute budget). On a shared 2-core host the mean time of a step
// moves from one 30-second epoch to the next (0.128 to 0.165 s, standard
// deviation 5.6 % of the mean 0.143, over the 52 epochs of a SwAV run) and
// more over a few seconds: 20 timed steps (3 s) planned 0.125 s a step for
// a run whose undisturbed steps took 0.140, 12 % more than planned; a
// window of tens of seconds averages the short bursts.
func CalibrationTime(budget time.Duration) time.Duration {
	return min(budget/60, 30*time.Second)
}

// planName is the plan's file name inside -out.
const planName = "plan.json"

// Plan is how a -budget run sized itself.
type Plan struct {
	Budget        string  `json:"budget"`
	StepSeconds   float64 `json:"step_seconds"`
	StepsPerEpoch int     `json:"steps_per_epoch"`
	Epochs        int     `json:"epochs"`
	// CalibrationSteps is the number of steps StepSeconds was timed over
	// (absent from the plans of earlier runs).
	CalibrationSteps int `json:"calibration_steps,omitempty"`
}

// errCalibrated ends a calibration pass: the example returns it from its
// loop (through Trainer.Err and Finish) and Main reads the measurement.
var errCalibrated = errors.New("calibration pass done")

// Main runs an example: fn with the command line, output on stdout, and
// exit status 1 after printing the error. It implements -budget (see Plan).
func Main(fn func(args []string, log io.Writer) error) {
	err := RunWithBudget(fn, os.Args[1:], os.Stdout)
	endDist(err) // -dist: MPI_Finalize, or MPI_Abort naming the rank and err
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// RunWithBudget runs fn with args. When args hold -budget it plans the
// epochs first (a calibration pass, or plan.json with -resume) and then runs
// fn with -epochs set to the plan.
func RunWithBudget(fn func(args []string, log io.Writer) error, args []string, log io.Writer) error {
	budgetArg, ok := flagValue(args, "budget")
	if !ok || budgetArg == "" || budgetArg == "0" || budgetArg == "0s" {
		return fn(args, log)
	}
	budget, err := time.ParseDuration(budgetArg)
	if err != nil || budget <= 0 {
		return fmt.Errorf("-budget %q: want a positive duration such as 30m or 1h30m", budgetArg)
	}
	if _, set := flagValue(args, "epochs"); set {
		return errors.New("-budget and -epochs exclude each other: the budget sets the epochs")
	}
	out, _ := flagValue(args, "out")
	resume := boolFlag(args, "resume")
	var plan Plan
	if resume {
		if out == "" {
			return errors.New("-budget with -resume needs the -out folder of the run to resume")
		}
		if plan, err = readPlan(out); err != nil {
			return err
		}
		if plan.Budget != budget.String() {
			return fmt.Errorf("-resume: %s was planned for -budget %s, not %s", filepath.Join(out, planName), plan.Budget, budget)
		}
	} else {
		if plan, err = calibrate(fn, args, budget); err != nil {
			return err
		}
	}
	if c, open := distWorld(); !open || c.Rank() == 0 { // -dist: rank 0 prints
		timed := fmt.Sprintf("over %d timed steps", plan.CalibrationSteps)
		if resume {
			timed = "as planned"
		}
		fmt.Fprintf(log, "-budget %s: %.3f s per step %s → %d epochs of %d steps (%.1f min of training planned)\n",
			budget, plan.StepSeconds, timed, plan.Epochs, plan.StepsPerEpoch,
			plan.StepSeconds*float64(plan.Epochs*plan.StepsPerEpoch)/60)
	}
	real := append(append([]string(nil), args...), "-epochs", strconv.Itoa(plan.Epochs),
		"-plan", fmt.Sprintf("%s,%g,%d,%d", budget, plan.StepSeconds, plan.StepsPerEpoch, plan.CalibrationSteps))
	return fn(real, log)
}

// calibrate runs fn for at least CalibrationSteps steps and
// CalibrationTime(budget) of timed steps in a scratch folder and plans the
// epochs that fit in budget.
func calibrate(fn func(args []string, log io.Writer) error, args []string, budget time.Duration) (Plan, error) {
	dir, err := os.MkdirTemp("", "calibration")
	if err != nil {
		return Plan{}, err
	}
	defer os.RemoveAll(dir)
	cal := append(append([]string(nil), args...), "-calibrate", strconv.Itoa(CalibrationSteps), "-calibrate-time", CalibrationTime(budget).String(),
		"-out", dir, "-quiet", "-eval-every", "0", "-resume=false", "-stop-after", "0", "-cpuprofile", "")
	if err := fn(cal, io.Discard); err != nil && !errors.Is(err, errCalibrated) {
		return Plan{}, fmt.Errorf("-budget: calibration pass: %w", err)
	}
	p, err := readPlan(dir)
	if err != nil {
		return Plan{}, fmt.Errorf("-budget: calibration pass: %w", err)
	}
	p.Budget = budget.String()
	p.Epochs = int(budget.Seconds() / (p.StepSeconds * float64(p.StepsPerEpoch)))
	if p.Epochs < 1 {
		p.Epochs = 1 // one epoch is the least a run trains; it overruns a budget this small
	}
	return p, nil
}

func readPlan(dir string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(filepath.Join(dir, planName))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", filepath.Join(dir, planName), err)
	}
	if !(p.StepSeconds > 0) || math.IsInf(p.StepSeconds, 0) || p.StepsPerEpoch < 1 {
		return p, fmt.Errorf("%s: step_seconds %v, steps_per_epoch %d: not a plan", filepath.Join(dir, planName), p.StepSeconds, p.StepsPerEpoch)
	}
	return p, nil
}

func writePlan(dir string, p Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, planName), append(b, '\n'))
}

// parsePlan reads the hidden -plan flag "budget,stepSeconds,stepsPerEpoch"
// or "budget,stepSeconds,stepsPerEpoch,calibrationSteps" that
// RunWithBudget passes to the real run.
func parsePlan(s string, epochs int) (Plan, error) {
	const want = "want budget,step-seconds,steps-per-epoch[,calibration-steps]"
	f := strings.Split(s, ",")
	if len(f) != 3 && len(f) != 4 {
		return Plan{}, fmt.Errorf("-plan %q: %s", s, want)
	}
	sec, err1 := strconv.ParseFloat(f[1], 64)
	spe, err2 := strconv.Atoi(f[2])
	var cal int
	var err3 error
	if len(f) == 4 {
		cal, err3 = strconv.Atoi(f[3])
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return Plan{}, fmt.Errorf("-plan %q: %s", s, want)
	}
	return Plan{Budget: f[0], StepSeconds: sec, StepsPerEpoch: spe, Epochs: epochs, CalibrationSteps: cal}, nil
}

// flagValue returns the value of -name or --name in args (as "-name=v" or
// "-name v") and whether it is there; the last occurrence wins, as in
// package flag. It does not know the other flags, so it looks at every
// argument up to "--".
func flagValue(args []string, name string) (string, bool) {
	val, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		k, v, hasEq := strings.Cut(a, "=")
		if k != name {
			continue
		}
		found = true
		if hasEq {
			val = v
		} else if i+1 < len(args) {
			val = args[i+1]
			i++
		}
	}
	return val, found
}

// boolFlag reports whether the boolean flag -name is set true in args.
func boolFlag(args []string, name string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		k, v, hasEq := strings.Cut(a, "=")
		if k == name {
			on = !hasEq || v == "true" || v == "1"
		}
	}
	return on
}
