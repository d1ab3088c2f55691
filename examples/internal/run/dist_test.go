package run

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/dist"
	"ssl/losses"
	"ssl/probe"
)

// TestDistFlag checks -dist outside mpirun: one rank, the batch whole,
// and the batch order of a single process.
func TestDistFlag(t *testing.T) {
	if dist.Launched() {
		t.Skip("launched by mpirun")
	}
	c, err := Parse("x", Defaults{}, []string{"-dist", "mpi", "-batch", "6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Comm() == nil || c.Comm().Size() != 1 || c.Batch != 6 || c.Ranks() != 1 || c.Sharded() != nil {
		t.Errorf("-dist mpi outside mpirun: comm %v, batch %d, sharded %v", c.Comm(), c.Batch, c.Sharded())
	}
	tr := &Trainer{cfg: c}
	if got := tr.batchStart(3); got != 18 {
		t.Errorf("batchStart(3) = %d, want 18", got)
	}
	if _, err := Parse("x", Defaults{}, []string{"-dist", "nccl"}, io.Discard); err == nil {
		t.Error("-dist nccl accepted")
	}
}

// onRanks runs fn on every communicator of dist.Local(n), each on its
// goroutine, and returns the ranks' errors joined.
func onRanks(n int, fn func(c dist.Comm) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for _, c := range dist.Local(n) {
		wg.Go(func() { errs[c.Rank()] = fn(c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestShardGather checks that the shards of n rows over p ranks tile [0, n)
// in order and that GatherInts and GatherFloat32 give every rank the whole
// array, for n not a multiple of p and n < p.
func TestShardGather(t *testing.T) {
	for _, tc := range []struct{ n, p, width int }{{10, 1, 1}, {10, 3, 2}, {403, 4, 3}, {2, 3, 1}} {
		t.Run(fmt.Sprintf("n%d_p%d_w%d", tc.n, tc.p, tc.width), func(t *testing.T) {
			ints := make([]int, tc.n)
			floats := make([]float32, tc.n*tc.width)
			for i := range ints {
				ints[i] = 7*i + 1
			}
			for i := range floats {
				floats[i] = float32(i) + 0.5
			}
			err := onRanks(tc.p, func(c dist.Comm) error {
				lo, hi := Shard(c, tc.n)
				if wlo, whi := tc.n*c.Rank()/tc.p, tc.n*(c.Rank()+1)/tc.p; lo != wlo || hi != whi {
					return fmt.Errorf("rank %d: Shard = [%d, %d), want [%d, %d)", c.Rank(), lo, hi, wlo, whi)
				}
				gi, err := GatherInts(c, slices.Clone(ints[lo:hi]), tc.n)
				if err != nil {
					return err
				}
				gf, err := GatherFloat32(c, slices.Clone(floats[lo*tc.width:hi*tc.width]), tc.n, tc.width)
				if err != nil {
					return err
				}
				if !slices.Equal(gi, ints) || !slices.Equal(gf, floats) {
					return fmt.Errorf("rank %d: gathered %v and %v, want %v and %v", c.Rank(), gi, gf, ints, floats)
				}
				if _, err := GatherInts(c, append(slices.Clone(ints[lo:hi]), 0), tc.n); !errors.Is(err, ssl.ErrShape) {
					return fmt.Errorf("rank %d: GatherInts with one value too many: err = %v, want ssl.ErrShape", c.Rank(), err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	if lo, hi := Shard(nil, 5); lo != 0 || hi != 5 {
		t.Errorf("Shard(nil, 5) = [%d, %d), want [0, 5)", lo, hi)
	}
}

// TestVoteStop checks that a signal seen by one rank stops every rank at
// the same step.
func TestVoteStop(t *testing.T) {
	err := onRanks(3, func(c dist.Comm) error {
		tr := &Trainer{cfg: &Config{dist: distRun{comm: c}}}
		var mine os.Signal
		if c.Rank() == 2 {
			mine = syscall.SIGTERM
		}
		got, err := tr.voteStop(mine)
		if err != nil {
			return err
		}
		if got == nil {
			return fmt.Errorf("rank %d goes on while rank 2 stops", c.Rank())
		}
		if got, err = tr.voteStop(nil); got != nil || err != nil {
			return fmt.Errorf("rank %d: no signal anywhere: stop %v, err %v", c.Rank(), got, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// tinyArgs is a run of 4 steps per epoch: 128 embedded images, the global
// batch 32.
var tinyArgs = []string{"-embedded", "-limit", "128", "-batch", "32", "-quiet", "-eval-every", "1", "-warmup", "2", "-epochs", "2"}

// supervised is a small data-parallel example for the tests: ConvNet3 and
// a linear layer trained by cross-entropy on the true labels. fault makes
// it misbehave: "skip-average" leaves out AverageGrads, "diverge" nudges
// rank 1's weights after its first step. finished, when not nil, receives
// each rank's trained network and Finish's result.
func supervised(fault string, finished ...func(rank int, net backbone.Layer, data *Data, r *Result)) func(args []string, log io.Writer) error {
	return func(args []string, log io.Writer) error {
		cfg, err := Parse("supervised", Defaults{EpochsEmbedded: 1}, args, log)
		if err != nil {
			return err
		}
		data, err := LoadData(cfg)
		if err != nil {
			return err
		}
		rng := InitRand(cfg)
		net, err := backbone.NewConvNet3(rng, nil)
		if err != nil {
			return err
		}
		head, err := backbone.NewLinear("head", 128, data.Train.Classes, true, rng)
		if err != nil {
			return err
		}
		model := backbone.NewSequential("supervised", net, head)
		opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9})
		if err != nil {
			return err
		}
		tr, err := NewTrainer(cfg, data, net, State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt})
		if err != nil {
			return err
		}
		ws := backbone.NewWorkspace()
		logits, dlogits := ssl.New(cfg.Batch, data.Train.Classes), ssl.New(cfg.Batch, data.Train.Classes)
		var y []int
		for tr.Next() {
			x, err := Normalized(nil, data.Train, tr.IDs())
			if err != nil {
				return err
			}
			y = y[:0]
			for _, i := range tr.IDs() {
				y = append(y, data.Train.Labels[i])
			}
			backbone.ZeroGrad(model.Params())
			if err := model.Forward(ws, logits, x, true); err != nil {
				return err
			}
			loss, err := losses.PseudoLabelCE(dlogits, logits, y, nil)
			if err != nil {
				return err
			}
			if err := model.Backward(ws, nil, dlogits); err != nil {
				return err
			}
			if fault != "skip-average" {
				if err := tr.AverageGrads(); err != nil {
					return err
				}
			}
			if err := opt.Step(tr.LR()); err != nil {
				return err
			}
			if fault == "diverge" && cfg.Rank() == 1 && tr.GlobalStep() == 0 {
				model.Params()[0].Data()[0] += 1e-3
			}
			tr.Done(loss)
		}
		r, err := tr.Finish(nil)
		if err == nil && len(finished) > 0 {
			finished[0](cfg.Rank(), net, data, r)
		}
		return err
	}
}

// TestInProcess runs supervised as a job of two in-process ranks: rank 0
// alone writes -out (the same folder for both), and a run interrupted in
// its second epoch and resumed (every rank reading rank 0's checkpoint)
// ends with the checkpoint of the uninterrupted job, bit for bit.
func TestInProcess(t *testing.T) {
	whole, split := t.TempDir(), t.TempDir()
	fn := supervised("")
	var (
		mu      sync.Mutex
		results = map[int]*Result{}
		want    float64
	)
	check := supervised("", func(rank int, net backbone.Layer, data *Data, r *Result) {
		mu.Lock()
		defer mu.Unlock()
		results[rank] = r
		if rank != 0 {
			return
		}
		// The kNN over the ranks' shards is the kNN of one process on
		// every feature.
		train, err := Features(net, data.Train)
		if err != nil {
			t.Error(err)
			return
		}
		test, err := Features(net, data.Test)
		if err != nil {
			t.Error(err)
			return
		}
		if want, err = probe.EvaluateKNN(train, data.Train.Labels, test, data.Test.Labels, data.Train.Classes, nil); err != nil {
			t.Error(err)
		}
	})
	if err := InProcess(2, check, append(slices.Clone(tinyArgs), "-out", whole), io.Discard); err != nil {
		t.Fatal(err)
	}
	for rank, r := range results {
		if r.KNN != want {
			t.Errorf("rank %d: kNN %v, want one process's %v", rank, r.KNN, want)
		}
	}
	if results[0].Ranks != 2 || results[0].SyncBN {
		t.Errorf("result: ranks %d, sync_bn %v; want 2 and false", results[0].Ranks, results[0].SyncBN)
	}
	if len(results) != 2 || results[0].Linear == 0 || results[1].Linear != 0 {
		t.Errorf("results %v: want both ranks', the linear probe on rank 0 only", results)
	}
	entries, err := os.ReadDir(whole)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{CheckpointName, "clusters.png", "curves.png", "result.json"}; !slices.Equal(names, want) {
		t.Errorf("-out holds %v, want %v", names, want)
	}
	if err := InProcess(2, fn, append(slices.Clone(tinyArgs), "-out", split, "-stop-after", "5"), io.Discard); err == nil {
		t.Fatal("the interrupted job reported success")
	}
	if err := InProcess(2, fn, append(slices.Clone(tinyArgs), "-out", split, "-resume"), io.Discard); err != nil {
		t.Fatalf("resumed job: %v", err)
	}
	a, b := readCheckpoint(t, whole), readCheckpoint(t, split)
	for _, name := range a.Names() {
		_, _, ra, _ := a.Raw(name)
		_, _, rb, ok := b.Raw(name)
		if !ok || string(ra) != string(rb) {
			t.Errorf("tensor %s differs after resuming", name)
		}
	}
	if a.Metadata["ranks"] != "2" || a.Metadata["batch"] != "16" {
		t.Errorf("checkpoint metadata ranks=%q batch=%q, want 2 and 16", a.Metadata["ranks"], a.Metadata["batch"])
	}
	// A job of another size does not resume it.
	err = fn(append(slices.Clone(tinyArgs), "-out", split, "-resume", "-batch", "16"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ranks=2") {
		t.Errorf("one process resuming a 2-rank checkpoint: err = %v, want the ranks named", err)
	}
}

// TestInProcessFaults checks that a job whose ranks drift apart stops with
// an error instead of training diverging copies.
func TestInProcessFaults(t *testing.T) {
	for _, tc := range []struct{ fault, want string }{
		{"skip-average", "did not average its gradients"},
		{"diverge", "rank 1's state differs from rank 0's"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			err := InProcess(2, supervised(tc.fault), append(slices.Clone(tinyArgs), "-out", t.TempDir()), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func readCheckpoint(t *testing.T, dir string) *backbone.Checkpoint {
	t.Helper()
	c, err := readFile(filepath.Join(dir, CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInProcessSyncBN checks -sync-bn: a 2-rank job whose batch norms
// normalize over the global batch trains the network of one process on
// that batch (the ranks' shares of each step are the process's batch, the
// gradients averaged); the same job without -sync-bn normalizes each half
// on its own and ends elsewhere. Equal up to float32 rounding is not
// bit-equal: where a ReLU input or a max-pool window lies within rounding
// of a tie, the two sides can take different branches, and one such
// element moves a gradient by about one part in the number of elements
// summed (~1e-3 here), so the bound is 1e-2 against ~0.5 without -sync-bn.
func TestInProcessSyncBN(t *testing.T) {
	one, synced, plain := t.TempDir(), t.TempDir(), t.TempDir()
	fn := supervised("")
	args := append(slices.Clone(tinyArgs), "-epochs", "1", "-lr", "0.01")
	if err := fn(append(slices.Clone(args), "-out", one), io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := InProcess(2, fn, append(slices.Clone(args), "-out", synced, "-sync-bn"), io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := InProcess(2, fn, append(slices.Clone(args), "-out", plain), io.Discard); err != nil {
		t.Fatal(err)
	}
	want := readCheckpoint(t, one)
	// dev is the largest difference from the one-process checkpoint
	// (weights, running statistics, momentum), relative to the largest
	// magnitude of each tensor.
	dev := func(c *backbone.Checkpoint) float64 {
		worst := 0.0
		for _, name := range want.Names() {
			dtype, shape, _ := want.Info(name)
			if dtype != "F32" {
				continue
			}
			a, b := ssl.New(shape...), ssl.New(shape...)
			if err := want.Float32(a, name); err != nil {
				t.Fatal(err)
			}
			if err := c.Float32(b, name); err != nil {
				t.Fatal(err)
			}
			var scale, diff float64
			bv := b.Data().([]float32)
			for i, v := range a.Data().([]float32) {
				scale = max(scale, math.Abs(float64(v)))
				diff = max(diff, math.Abs(float64(v-bv[i])))
			}
			if scale > 0 {
				worst = max(worst, diff/scale)
			}
		}
		return worst
	}
	ds, dp := dev(readCheckpoint(t, synced)), dev(readCheckpoint(t, plain))
	t.Logf("relative difference from one process: -sync-bn %.2g, without %.2g", ds, dp)
	if ds > 1e-2 {
		t.Errorf("-sync-bn job differs from one process by %.2g (relative), want ≤ 1e-2", ds)
	}
	if dp < 0.1 {
		t.Errorf("without -sync-bn the job differs by only %.2g: the test does not tell the two apart", dp)
	}
	if _, err := Parse("x", Defaults{}, []string{"-sync-bn"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-sync-bn needs -dist") {
		t.Errorf("-sync-bn without -dist: err = %v", err)
	}
}
