package run

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"ssl"
	"ssl/backbone"
	"ssl/dist"
)

// State is everything a checkpoint holds besides the loop's own position:
// the trainable parameters, the batch-norm buffers, the optimizer's state
// and the method's state: float32 tensors (a teacher network, prototypes)
// in Extra, and queues, pseudo-labels and neighbor lists in Saved. Method
// state computed at the start of an epoch must be in Extra or Saved so that
// a run resumed mid-epoch has it.
type State struct {
	Params  []*backbone.Param
	Buffers []*backbone.Param
	Opt     backbone.Optimizer
	Extra   []*backbone.Param
	Saved   []Checkpointer
	// Layers are the method's modules beside the backbone (heads,
	// predictors, a momentum encoder) whose BatchNorm layers -sync-bn
	// synchronizes with the backbone's.
	Layers []backbone.Layer
}

// Trainer runs the outer loop of an example: the epochs and steps, the
// batch order, the learning rate, progress lines, checkpoints and the
// training curve. The method's own step stays in the example:
//
//	for tr.Next() {
//		x, ids := tr.Images(), tr.IDs()
//		… augment, forward, loss, backward …
//		opt.Step(tr.LR())
//		tr.Done(loss)
//	}
//	if err := tr.Err(); err != nil { … }
type Trainer struct {
	// OnEpoch, if not nil, runs at the start of every epoch, before its
	// first batch is drawn: where a method relabels the dataset (SeLa,
	// DeepCluster). It does not run again when a run resumes in the middle
	// of an epoch, so whatever it computes must be in State.Extra or
	// State.Saved.
	OnEpoch func(epoch int) error
	// Order, if not nil, returns the epoch's sample order (at least
	// StepsPerEpoch·Batch indices); by default a permutation drawn from
	// (seed, epoch). It must depend only on the epoch and State.
	Order func(epoch int) ([]int, error)
	// Online, if not nil, is the network that trains when the network the
	// evaluation reads is an average of its weights (swav -ema): Finish
	// then also scores Online's kNN and linear accuracy (result.json's
	// online_knn and online_linear), so that one run compares the two.
	Online backbone.Layer

	cfg   *Config
	data  *Data
	net   backbone.Layer
	state State

	lrs           []float64
	stepsPerEpoch int
	epoch, step   int // the current step (the first to run before Next)
	perm, ids     []int
	x             ssl.Tensor

	trained  time.Duration
	images   int64
	stepFrom time.Time
	lossSum  float64
	lossN    int
	records  []EpochRecord
	lastLoss float64

	calibrationFrom time.Duration // step time before the calibration's timed steps

	profile     *os.File
	signals     chan os.Signal
	interrupted bool
	err         error
	started     bool
}

// NewTrainer prepares the loop over data for the backbone net (whose
// 128-d output the evaluation reads) and the state to checkpoint. With
// -resume it restores the checkpoint in cfg.Out (every rank of a -dist job
// reads the same file, which rank 0 wrote).
func NewTrainer(cfg *Config, data *Data, net backbone.Layer, state State) (*Trainer, error) {
	t := &Trainer{cfg: cfg, data: data, net: net, state: state}
	t.stepsPerEpoch = data.Train.N / (cfg.Batch * cfg.Ranks())
	total := t.stepsPerEpoch * cfg.Epochs
	lrs, err := backbone.WarmupCosine(0, cfg.LR, 0, min(cfg.Warmup, total), total)
	if err != nil {
		return nil, err
	}
	t.lrs = lrs
	t.x = ssl.New(cfg.Batch, data.Train.C, data.Train.H, data.Train.W)
	t.ids = make([]int, cfg.Batch)
	if cfg.root() {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.Resume {
		if err := t.restore(); err != nil {
			return nil, err
		}
	}
	if cfg.Plan != nil && !cfg.Resume && cfg.root() {
		if err := writePlan(cfg.Out, *cfg.Plan); err != nil {
			return nil, err
		}
	}
	if cfg.CPUProfile != "" && cfg.root() {
		if t.profile, err = os.Create(cfg.CPUProfile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(t.profile); err != nil {
			t.profile.Close()
			return nil, fmt.Errorf("%s: -cpuprofile: %w", cfg.Method, err)
		}
	}
	if err := t.startDist(); err != nil {
		return nil, err
	}
	t.signals = make(chan os.Signal, 1)
	signal.Notify(t.signals, syscall.SIGINT, syscall.SIGTERM)
	batch := fmt.Sprint(cfg.Batch)
	if n := cfg.Ranks(); n > 1 {
		batch = fmt.Sprintf("%d (%d on each of %d ranks)", cfg.Batch*n, cfg.Batch, n)
	}
	cfg.logf("%s: %s, %d training images, %d test images; %d epochs of %d steps, batch %s; %s\n",
		cfg.Method, data.Train.Name, data.Train.N, data.Test.N, cfg.Epochs, t.stepsPerEpoch, batch, machine())
	return t, nil
}

// Next advances to the next step and loads its images. It returns false
// when training is over, when a signal asked the run to stop (after
// writing a checkpoint) or on an error (see Err).
func (t *Trainer) Next() bool {
	if t.err != nil || t.interrupted {
		t.stopProfile()
		return false
	}
	if !t.next() {
		t.stopProfile()
		return false
	}
	return true
}

// stopProfile ends the -cpuprofile profile, once.
func (t *Trainer) stopProfile() {
	if t.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := t.profile.Close(); err != nil && t.err == nil {
		t.err = err
	}
	t.profile = nil
}

func (t *Trainer) next() bool {
	if t.started {
		t.step++
	}
	t.started = true
	if t.step >= t.stepsPerEpoch {
		if t.err = t.endEpoch(); t.err != nil {
			return false
		}
		t.epoch++
		t.step = 0
	}
	if t.epoch >= t.cfg.Epochs {
		signal.Stop(t.signals)
		return false
	}
	if t.cfg.Calibrate > 0 {
		var done bool
		if done, t.err = t.calibrated(); t.err != nil {
			return false
		}
		if done {
			signal.Stop(t.signals)
			t.err = t.endCalibration()
			return false
		}
	}
	var stop os.Signal
	select {
	case stop = <-t.signals:
	default:
		if t.cfg.StopAfter > 0 && t.GlobalStep() >= t.cfg.StopAfter {
			stop = syscall.SIGINT
		}
	}
	if stop, t.err = t.voteStop(stop); t.err != nil {
		return false
	}
	if stop != nil {
		t.interrupted = true
		t.cfg.logf("%s: %v: writing a checkpoint at epoch %d step %d\n", t.cfg.Method, stop, t.epoch+1, t.step)
		if t.err = t.save(); t.err == nil {
			t.cfg.logf("%s: resume with -resume -out %s\n", t.cfg.Method, t.cfg.Out)
		}
		signal.Stop(t.signals)
		return false
	}
	if t.step == 0 && t.OnEpoch != nil {
		if t.err = t.OnEpoch(t.epoch); t.err != nil {
			return false
		}
	}
	if t.step == 0 || t.perm == nil {
		if t.Order == nil {
			t.perm = Perm(t.data.Train.N, t.cfg.Seed, t.epoch)
		} else if t.perm, t.err = t.Order(t.epoch); t.err != nil {
			return false
		} else if len(t.perm) < t.stepsPerEpoch*t.cfg.Batch*t.cfg.Ranks() {
			t.err = fmt.Errorf("%s: the epoch's order has %d samples, want %d", t.cfg.Method, len(t.perm), t.stepsPerEpoch*t.cfg.Batch*t.cfg.Ranks())
			return false
		}
	}
	copy(t.ids, t.perm[t.batchStart(t.step):t.batchStart(t.step)+t.cfg.Batch])
	if _, err := t.data.Train.Batch(t.x, t.ids); err != nil {
		t.err = err
		return false
	}
	t.stepFrom = time.Now()
	return true
}

// calibrated reports whether a calibration pass has timed enough steps:
// at least cfg.Calibrate steps in all, and at least cfg.CalibrateTime of
// steps after the first calibrationSkip, or calibrationMaxSteps steps
// whatever their time. In a -dist job rank 0's clock decides for every
// rank (one all-reduce of a flag per step of the pass), so that all stop
// at the same step.
func (t *Trainer) calibrated() (bool, error) {
	step := t.GlobalStep()
	done := step >= t.cfg.Calibrate && (t.trained-t.calibrationFrom >= t.cfg.CalibrateTime || step >= calibrationMaxSteps)
	if t.cfg.Ranks() == 1 {
		return done, nil
	}
	flag := []int64{0}
	if done && t.cfg.Rank() == 0 {
		flag[0] = 1
	}
	if err := t.cfg.dist.comm.AllReduceInt64(flag, dist.Max); err != nil {
		return false, err
	}
	return flag[0] != 0, nil
}

// endCalibration writes the plan's measurement — the mean time of the
// steps after the first calibrationSkip, rank 0's in a -dist job — to
// plan.json in -out (every rank's own scratch folder) and returns
// errCalibrated, which ends the pass.
func (t *Trainer) endCalibration() error {
	timed := t.GlobalStep() - calibrationSkip
	p := Plan{
		StepSeconds:      (t.trained - t.calibrationFrom).Seconds() / float64(timed),
		StepsPerEpoch:    t.stepsPerEpoch,
		CalibrationSteps: timed,
	}
	if t.cfg.Ranks() > 1 {
		// Every rank plans from rank 0's measurement, so that all train
		// the same epochs.
		v := []float64{p.StepSeconds}
		if err := t.cfg.dist.comm.Broadcast(v, 0); err != nil {
			return err
		}
		p.StepSeconds = v[0]
	}
	if err := writePlan(t.cfg.Out, p); err != nil {
		return err
	}
	return errCalibrated
}

// Perm returns the batch order of an epoch: a permutation of [0, n) drawn
// from (seed, epoch).
func Perm(n int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^uint64(epoch))).Perm(n)
}

// Images returns the step's images, [B, 1, 28, 28] with values in [0, 1]
// (the augmentations normalize them).
func (t *Trainer) Images() ssl.Tensor { return t.x }

// IDs returns the training-set indices of the step's images; augment uses
// them as the images' identities.
func (t *Trainer) IDs() []int { return t.ids }

// Epoch returns the current epoch, counting from 0.
func (t *Trainer) Epoch() int { return t.epoch }

// Step returns the current step within the epoch, counting from 0.
func (t *Trainer) Step() int { return t.step }

// GlobalStep returns the number of steps before the current one.
func (t *Trainer) GlobalStep() int { return t.epoch*t.stepsPerEpoch + t.step }

// StepsPerEpoch returns the number of steps of an epoch (the last partial
// batch is dropped).
func (t *Trainer) StepsPerEpoch() int { return t.stepsPerEpoch }

// LR returns the learning rate of the current step.
func (t *Trainer) LR() float64 { return t.lrs[t.GlobalStep()] }

// Rand returns a generator for what the method draws in the current epoch
// (k-means seeds, …), derived from (seed, epoch, purpose).
func (t *Trainer) Rand(purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(t.cfg.Seed^0x5851f42d4c957f2d*uint64(t.epoch+1), purpose))
}

// Done records the loss of the step and prints progress. In a -dist job
// the progress line shows rank 0's loss; the epoch's (endEpoch) is the
// mean over the ranks.
func (t *Trainer) Done(loss float64) {
	t.checkAveraged()
	t.trained += time.Since(t.stepFrom)
	if t.cfg.Calibrate > 0 && t.GlobalStep()+1 == calibrationSkip {
		t.calibrationFrom = t.trained
	}
	t.images += int64(t.cfg.Batch * t.cfg.Ranks()) // every rank's share of the step
	t.lossSum += loss
	t.lossN++
	t.lastLoss = loss
	if !t.cfg.Quiet && (t.step+1)%t.cfg.LogEvery == 0 {
		done := t.GlobalStep() + 1
		left := t.stepsPerEpoch*t.cfg.Epochs - done
		perStep := t.trained / time.Duration(done)
		t.cfg.logf("epoch %d/%d step %d/%d loss %.4f  %.0f img/s  ETA %s\n", t.epoch+1, t.cfg.Epochs, t.step+1,
			t.stepsPerEpoch, t.lossSum/float64(t.lossN), t.ImagesPerSecond(), (perStep * time.Duration(left)).Round(time.Second))
	}
}

// Fail stops the loop with err.
func (t *Trainer) Fail(err error) { t.err = err }

// Err returns the error that stopped the loop, if any.
func (t *Trainer) Err() error { return t.err }

// Interrupted reports whether a signal stopped the run (after its
// checkpoint was written).
func (t *Trainer) Interrupted() bool { return t.interrupted }

// ImagesPerSecond returns the training throughput so far: images per
// second of step time (augmentation, forward, backward, update), evaluation
// excluded.
func (t *Trainer) ImagesPerSecond() float64 {
	if t.trained <= 0 {
		return 0
	}
	return float64(t.images) / t.trained.Seconds()
}

// endEpoch closes the epoch: mean loss, kNN for the curve when due, and a
// checkpoint. In a -dist job the ranks first agree (agreeEpoch); the loss
// is the mean over the ranks and the kNN runs over the sharded bank.
func (t *Trainer) endEpoch() error {
	if err := t.agreeEpoch(); err != nil {
		return err
	}
	mean, err := t.epochLoss()
	if err != nil {
		return err
	}
	rec := EpochRecord{Epoch: t.epoch + 1, Loss: mean, KNNTop1: math.NaN()}
	last := t.epoch+1 == t.cfg.Epochs
	if t.cfg.EvalEvery > 0 && ((t.epoch+1)%t.cfg.EvalEvery == 0 || last) {
		acc, err := t.knnTop1()
		if err != nil {
			return err
		}
		rec.KNNTop1 = acc
		t.cfg.logf("epoch %d/%d done: loss %.4f, kNN top-1 %.4f (%.1f s of training)\n", t.epoch+1, t.cfg.Epochs, mean, acc, t.trained.Seconds())
	} else {
		t.cfg.logf("epoch %d/%d done: loss %.4f (%.1f s of training)\n", t.epoch+1, t.cfg.Epochs, mean, t.trained.Seconds())
	}
	t.records = append(t.records, rec)
	t.lossSum, t.lossN = 0, 0
	// The checkpoint names the first step of the next epoch.
	t.epoch++
	t.step = 0
	err = t.save()
	t.epoch--
	t.step = t.stepsPerEpoch
	return err
}

// knnTop1 is the kNN top-1 accuracy of the protocol for the epoch's curve.
// In a -dist job every rank calls it: each extracts the features of its
// shard of both sets, and the kNN runs over the sharded bank.
func (t *Trainer) knnTop1() (float64, error) {
	e, err := t.evalFeatures(t.net)
	if err != nil {
		return 0, err
	}
	return e.knn()
}

// epochLoss is the mean of the epoch's step losses; in a -dist job, the
// mean over the ranks (each rank's loss is that of its share of the step,
// or, for a loss over the gathered batch, the same on every rank).
func (t *Trainer) epochLoss() (float64, error) {
	v := []float64{t.lossSum, float64(t.lossN)}
	if c := t.cfg.Sharded(); c != nil {
		if err := c.AllReduce(v, dist.Sum); err != nil {
			return 0, err
		}
	}
	if v[1] == 0 {
		return math.NaN(), nil
	}
	return v[0] / v[1], nil
}

// InitRand returns the generator of the network's initial weights, derived
// from the seed.
func InitRand(c *Config) *rand.Rand { return rand.New(rand.NewPCG(c.Seed, 0x1417)) }
