package run

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"time"

	"ssl/dataset"
)

// Config is what every example's flags set.
type Config struct {
	Method string
	// Epochs of training; 0 means the example's default for the data found.
	Epochs int
	// Batch is the number of images per step (each seen in every view).
	Batch int
	// Seed drives every random choice of the run.
	Seed uint64
	// Data is a folder holding Fashion-MNIST's four files; empty means the
	// full set at /usr/share/datasets/fashion-mnist when Debian's
	// dataset-fashion-mnist is installed, else the embedded subset.
	Data string
	// Embedded forces the embedded subset even when the full set exists.
	Embedded bool
	// Out is the folder for result.json, the pictures and the checkpoint.
	Out string
	// Resume continues from the checkpoint in Out.
	Resume bool
	// Limit keeps only the first Limit training and Limit/6 test images
	// (0: all); for smoke tests.
	Limit int
	// LR is the base learning rate of the warm-up + cosine schedule.
	LR float64
	// Warmup is the number of linear warm-up steps.
	Warmup int
	// CropMin is the smallest area fraction of the 28×28 views'
	// RandomResizedCrop ([Config.MultiCrop]); the protocol's is 0.25.
	CropMin float64
	// Jitter is the strength of the views' brightness and contrast jitter
	// (applied with probability 0.8) in [Config.MultiCrop]; Parse sets the
	// protocol's [ProtocolJitter], and an example may offer a flag for it.
	Jitter float64
	// Blur is the probability of a Gaussian blur of each view after its
	// jitter in [Config.MultiCrop]: a 3×3 kernel (SimCLR's kernel of about
	// a tenth of the side, for 28×28) with σ uniform in [0.1, 2], as
	// SimCLR's, BYOL's and SwAV's views blur theirs. Parse sets the
	// protocol's 0 (no blur), and an example may offer a flag for it.
	Blur float64
	// GlobalSize is the side of the two global views after their
	// RandomResizedCrop in [Config.MultiCrop]; Parse sets the protocol's
	// [ProtocolGlobalSize] (28), and an example may offer a flag for it.
	// Evaluation always reads the 28×28 images.
	GlobalSize int
	// EvalEvery runs the kNN evaluation for the training curve every that
	// many epochs (0: only at the end).
	EvalEvery int
	// LogEvery prints a progress line every that many steps.
	LogEvery int
	// Quiet suppresses progress lines (tests).
	Quiet bool
	// StopAfter stops the run as a signal would (checkpoint, then exit)
	// once that many steps have run (0: never); for testing -resume.
	StopAfter int
	// CPUProfile, when set, is the file that receives a pprof CPU profile
	// of the training steps (evaluation excluded).
	CPUProfile string
	// Budget is the -budget wall-clock budget of training, as given (empty:
	// none); Main turns it into a Plan and Epochs.
	Budget string
	// Plan is the -budget plan this run follows (nil: none).
	Plan *Plan
	// Calibrate, when > 0, makes this a calibration pass of a -budget run:
	// it stops after that many steps, once its timed steps (those after
	// the first calibrationSkip) also last CalibrateTime, and writes their
	// mean time.
	Calibrate     int
	CalibrateTime time.Duration
	// Log receives progress lines and the final table.
	Log io.Writer

	defEmbedded, defFull int
	dist                 distRun // -dist (dist.go)
}

// Defaults are an example's own defaults.
type Defaults struct {
	// EpochsEmbedded and EpochsFull are the default budgets on the embedded
	// subset (6,000 images) and on the full set (60,000 images): a few
	// minutes on 2 cores.
	EpochsEmbedded, EpochsFull int
	// LR is the base learning rate; 0 means the protocol's 0.3.
	LR float64
	// CropMin is the default of -crop-min; 0 means the protocol's
	// [ProtocolCropMin].
	CropMin float64
	// Flags, if not nil, adds the example's own flags.
	Flags func(*flag.FlagSet)
}

// Parse reads the standard flags of an example from args.
func Parse(method string, def Defaults, args []string, log io.Writer) (*Config, error) {
	c := &Config{Method: method, Log: log}
	fs := flag.NewFlagSet(method, flag.ContinueOnError)
	fs.SetOutput(log)
	fs.IntVar(&c.Epochs, "epochs", 0, fmt.Sprintf("training epochs (0: %d on the embedded subset, %d on the full set)", def.EpochsEmbedded, def.EpochsFull))
	fs.IntVar(&c.Batch, "batch", 256, "images per step")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every random choice")
	fs.StringVar(&c.Data, "data", "", "folder with Fashion-MNIST's four files (default: "+dataset.DebianFashionMNISTDir+" if present, else the embedded subset)")
	fs.BoolVar(&c.Embedded, "embedded", false, "use the embedded 6,000-image subset even if the full set is installed")
	fs.StringVar(&c.Out, "out", filepath.Join("out", method), "folder for result.json, pictures and the checkpoint")
	fs.BoolVar(&c.Resume, "resume", false, "continue from the checkpoint in -out")
	fs.IntVar(&c.Limit, "limit", 0, "use only the first N training images (0: all)")
	lr := def.LR
	if lr == 0 {
		lr = 0.3
	}
	fs.Float64Var(&c.LR, "lr", lr, "base learning rate of the warm-up + cosine schedule (the examples use SGD with momentum 0.9 unless their doc says otherwise)")
	fs.IntVar(&c.Warmup, "warmup", 50, "linear warm-up steps")
	cropMin := def.CropMin
	if cropMin == 0 {
		cropMin = ProtocolCropMin
	}
	c.Jitter = ProtocolJitter
	c.GlobalSize = ProtocolGlobalSize
	fs.Float64Var(&c.CropMin, "crop-min", cropMin, "smallest area fraction of the 28×28 views' random resized crop, in (0, 1] (the protocol's is 0.25)")
	fs.IntVar(&c.EvalEvery, "eval-every", 1, "kNN evaluation for the training curve every N epochs (0: only at the end)")
	fs.IntVar(&c.LogEvery, "log-every", 10, "progress line every N steps")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	fs.IntVar(&c.StopAfter, "stop-after", 0, "stop as on SIGINT after N steps (checkpoint written; 0: never)")
	fs.StringVar(&c.Budget, "budget", "", "train for this wall-clock time of training steps instead of -epochs (e.g. 30m): the step rate is measured first and the epochs and schedule planned to fit")
	var plan string
	fs.StringVar(&plan, "plan", "", "set by -budget for its run (budget,step-seconds,steps-per-epoch,calibration-steps)")
	fs.IntVar(&c.Calibrate, "calibrate", 0, "set by -budget: time this many steps, write the plan and stop")
	fs.DurationVar(&c.CalibrateTime, "calibrate-time", 0, "set by -budget: with -calibrate, time steps for at least this long")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the training steps to this file (read it with go tool pprof)")
	distMode := addDistFlags(fs, &c.dist)
	if def.Flags != nil {
		def.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected arguments %v", method, fs.Args())
	}
	if c.Batch < 2 || c.Epochs < 0 || c.Limit < 0 || c.LR < 0 || c.Warmup < 0 || c.EvalEvery < 0 || c.LogEvery < 1 || c.StopAfter < 0 || c.Calibrate < 0 {
		return nil, fmt.Errorf("%s: -batch must be ≥ 2 and -epochs, -limit, -lr, -warmup, -eval-every ≥ 0, -log-every ≥ 1", method)
	}
	if !(c.CropMin > 0 && c.CropMin <= 1) {
		return nil, fmt.Errorf("%s: -crop-min must be in (0, 1] (-crop-min=%v)", method, c.CropMin)
	}
	if c.Calibrate > 0 && c.Calibrate <= calibrationSkip {
		return nil, fmt.Errorf("%s: -calibrate must be > %d", method, calibrationSkip)
	}
	if c.CalibrateTime < 0 {
		return nil, fmt.Errorf("%s: -calibrate-time %v must be ≥ 0", method, c.CalibrateTime)
	}
	if plan != "" {
		p, err := parsePlan(plan, c.Epochs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		c.Plan = &p
	} else if c.Budget != "" && c.Calibrate == 0 {
		return nil, fmt.Errorf("%s: -budget is planned by the example's main (run.Main); call it through run.RunWithBudget", method)
	}
	c.defEmbedded, c.defFull = def.EpochsEmbedded, def.EpochsFull
	if err := c.openDist(*distMode); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format, args...)
	}
}

// machine describes where a run happens, for result.json.
func machine() string {
	return fmt.Sprintf("%s/%s, %d cores (GOMAXPROCS %d)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}
