package run

// -dist: a data-parallel job. The ranks run the same loop in lockstep: every
// collective below (the broadcasts, the gradient average, the stop vote, the
// end-of-epoch agreement check and loss average, an example's relabelling,
// the evaluation's feature extraction and kNN over the sharded bank) is
// made by every rank in the same order. Rank 0 alone prints, runs the
// evaluations that need the whole training set (linear probe, k-means) and
// writes -out.

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"ssl"
	"ssl/backbone"
	"ssl/dist"
)

// distRun is a run's place in a data-parallel job (-dist mpi): its
// communicator and the data-parallel state of its network.
type distRun struct {
	comm dist.Comm
	// dp holds the parameters and buffers: the start's broadcast and the
	// gradient average of every step.
	dp *backbone.DataParallel
	// state holds the buffers and the method's Extra tensors, rank 0's
	// values of which every rank takes at the end of each epoch.
	state *backbone.DataParallel
	// averaged records that the current step averaged its gradients.
	averaged bool
	// syncBN is -sync-bn: the batch-norm statistics of the global batch.
	syncBN bool
}

// addDistFlags adds -dist and -sync-bn to an example's flags.
func addDistFlags(fs *flag.FlagSet, d *distRun) *string {
	fs.BoolVar(&d.syncBN, "sync-bn", false, "with -dist: every BatchNorm of the network and the method's heads normalizes with the statistics of the global batch (torch.nn.SyncBatchNorm), not of its rank's share")
	return fs.String("dist", "", `"mpi": one rank of a data-parallel job launched by mpirun (each rank its share of every batch, gradients averaged, the kNN over every rank's share of the features; rank 0 alone prints, runs the linear probe and k-means and writes -out, and -resume reads -out's checkpoint on every rank); outside mpirun, one rank`)
}

// openDist joins the job named by -dist. With more than one rank, -batch is
// the global batch: each rank takes Batch/Size images of every step.
func (c *Config) openDist(mode string) error {
	var comm dist.Comm
	switch {
	case mode == "" && c.dist.syncBN:
		return fmt.Errorf("%s: -sync-bn needs -dist", c.Method)
	case mode == "":
		return nil
	case mode == "mpi":
		var err error
		if comm, err = dist.MPI(); err != nil {
			return fmt.Errorf("%s: -dist mpi: %w", c.Method, err)
		}
		distWorld = func() (dist.Comm, bool) { return comm, true }
	default:
		v, ok := inProcess.Load(mode)
		if !ok {
			return fmt.Errorf("%s: -dist %q: want mpi", c.Method, mode)
		}
		comm = v.(dist.Comm)
	}
	c.dist.comm = comm
	size, rank := comm.Size(), comm.Rank()
	if c.Batch%size != 0 || c.Batch/size < 2 {
		return fmt.Errorf("%s: -batch %d must be a multiple of the %d ranks, with at least 2 images per rank", c.Method, c.Batch, size)
	}
	c.Batch /= size
	if rank != 0 {
		c.Log = io.Discard
	}
	return nil
}

// InProcess runs fn as the n ranks of a data-parallel job whose ranks are
// goroutines of this process ([dist.Local]): rank r runs fn with args and
// a -dist value naming its communicator, rank 0 printing to log. It is
// -dist mpi without MPI, for tests: the same collectives in the same order.
// A rank whose fn fails aborts the job, so that the others' collectives
// fail instead of waiting; InProcess returns the ranks' errors joined.
func InProcess(n int, fn func(args []string, log io.Writer) error, args []string, log io.Writer) error {
	comms := dist.Local(n)
	if comms == nil {
		return fmt.Errorf("run: InProcess: %d ranks: %w", n, ssl.ErrParam)
	}
	job := inProcessJobs.Add(1)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range comms {
		name := fmt.Sprintf("local:%d/%d", job, r)
		inProcess.Store(name, c)
		w := log
		if r != 0 {
			w = io.Discard
		}
		wg.Go(func() {
			defer inProcess.Delete(name)
			if errs[r] = fn(append(slices.Clone(args), "-dist", name), w); errs[r] != nil {
				c.Abort(errs[r])
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inProcess holds the communicators of the jobs InProcess runs, under the
// -dist values that name them; inProcessJobs numbers the jobs.
var (
	inProcess     sync.Map
	inProcessJobs atomic.Int64
)

// Comm returns the communicator of -dist, or nil without it.
func (c *Config) Comm() dist.Comm { return c.dist.comm }

// Sharded returns the communicator over which an example splits the work
// it does on the whole training set (relabelling it at an epoch's start)
// when the run is one rank of a job of more than one, and nil otherwise:
// pass it as sinkhorn's Reducer, assign.KMeansOptions.Comm and to [Shard]
// and the Gather functions, which treat nil as one process.
func (c *Config) Sharded() dist.Comm {
	if c.Ranks() == 1 {
		return nil
	}
	return c.dist.comm
}

// Ranks is the number of ranks sharing each batch (1 without -dist).
func (c *Config) Ranks() int {
	if c.dist.comm == nil {
		return 1
	}
	return c.dist.comm.Size()
}

// Rank is this run's rank (0 without -dist).
func (c *Config) Rank() int {
	if c.dist.comm == nil {
		return 0
	}
	return c.dist.comm.Rank()
}

// root reports whether this run prints, evaluates and writes -out: rank 0.
func (c *Config) root() bool { return c.Rank() == 0 }

// Shard returns the rows [lo, hi) of n that rank c.Rank() holds when n rows
// are split over c's ranks in order, in blocks that differ in size by at
// most one: lo = ⌊n·r/p⌋, hi = ⌊n·(r+1)/p⌋. With c nil it returns [0, n).
func Shard(c dist.Comm, n int) (lo, hi int) {
	if c == nil {
		return 0, n
	}
	return shard(c.Rank(), c.Size(), n)
}

// shard is Shard for rank r of p.
func shard(r, p, n int) (lo, hi int) { return n * r / p, n * (r + 1) / p }

// GatherInts returns, on every rank, the n values of which each rank holds
// the rows of its [Shard] in mine (len hi−lo), in row order: one all-gather
// of int64 with the shards padded to ⌈n/p⌉. With c nil it returns mine.
func GatherInts(c dist.Comm, mine []int, n int) ([]int, error) {
	if c == nil {
		return mine, nil
	}
	if lo, hi := Shard(c, n); len(mine) != hi-lo {
		return nil, fmt.Errorf("run: GatherInts: rank %d holds %d values, want its shard's %d (n=%d): %w", c.Rank(), len(mine), hi-lo, n, ssl.ErrShape)
	}
	m := (n + c.Size() - 1) / c.Size()
	src := make([]int64, m)
	for i, v := range mine {
		src[i] = int64(v)
	}
	all := make([]int64, m*c.Size())
	if err := c.AllGather(all, src); err != nil {
		return nil, err
	}
	out := make([]int, 0, n)
	for r := range c.Size() {
		lo, hi := shard(r, c.Size(), n)
		for _, v := range all[r*m : r*m+hi-lo] {
			out = append(out, int(v))
		}
	}
	return out, nil
}

// GatherFloat32 is [GatherInts] for float32 rows of width values each: mine
// holds this rank's hi−lo rows, the result all n.
func GatherFloat32(c dist.Comm, mine []float32, n, width int) ([]float32, error) {
	if c == nil {
		return mine, nil
	}
	if lo, hi := Shard(c, n); len(mine) != (hi-lo)*width {
		return nil, fmt.Errorf("run: GatherFloat32: rank %d holds %d values, want its shard's %d rows of %d (n=%d): %w", c.Rank(), len(mine), hi-lo, width, n, ssl.ErrShape)
	}
	m := (n + c.Size() - 1) / c.Size() * width
	src := make([]float32, m)
	copy(src, mine)
	all := make([]float32, m*c.Size())
	if err := c.AllGather(all, src); err != nil {
		return nil, err
	}
	out := make([]float32, 0, n*width)
	for r := range c.Size() {
		lo, hi := shard(r, c.Size(), n)
		out = append(out, all[r*m:r*m+(hi-lo)*width]...)
	}
	return out, nil
}

// GatherRows is [GatherFloat32] for a matrix: mine is this rank's rows of
// an n×D matrix, the result the whole matrix. With c nil it returns mine.
func GatherRows(c dist.Comm, mine ssl.Tensor, n int) (ssl.Tensor, error) {
	if c == nil {
		return mine, nil
	}
	_, d, v, err := ssl.Matrix(mine)
	if err != nil {
		return nil, fmt.Errorf("run: GatherRows: %w", err)
	}
	all, err := GatherFloat32(c, v, n, d)
	if err != nil {
		return nil, err
	}
	return ssl.FromSlice(all, n, d), nil
}

// batchStart is where this rank's share of a step's batch begins in the
// epoch's order.
func (t *Trainer) batchStart(step int) int {
	return (step*t.cfg.Ranks() + t.cfg.Rank()) * t.cfg.Batch
}

// startDist gives every rank rank 0's weights, buffers and method state
// (after a resume, too), as DistributedDataParallel does: every rank built
// the same network from the same seed, and the broadcast makes that a fact.
func (t *Trainer) startDist() error {
	d := &t.cfg.dist
	if t.cfg.Ranks() == 1 {
		return nil
	}
	dp, err := backbone.NewDataParallel(d.comm, append(slices.Clone(t.state.Params), t.state.Buffers...))
	if err != nil {
		return err
	}
	if err := dp.Broadcast(0); err != nil {
		return err
	}
	d.dp = dp
	if d.syncBN {
		layers := append([]backbone.Layer{t.net}, t.state.Layers...)
		n := backbone.SyncBatchNorm(d.comm, layers...)
		t.cfg.logf("%s: -sync-bn: %d BatchNorm layers normalize over the %d ranks' batch\n", t.cfg.Method, n, t.cfg.Ranks())
	}
	if shared := append(slices.Clone(t.state.Buffers), t.state.Extra...); len(shared) > 0 {
		if d.state, err = backbone.NewDataParallel(d.comm, shared); err != nil {
			return err
		}
		if err := d.state.Broadcast(0); err != nil {
			return err
		}
	}
	return nil
}

// AverageGrads averages the gradients of the State's parameters over the
// ranks of -dist: the example calls it between the backward pass and the
// optimizer step. Without -dist it does nothing. With more than one rank a
// step that did not call it stops the run with an error (see Done).
func (t *Trainer) AverageGrads() error {
	if t.cfg.dist.dp == nil {
		return nil
	}
	t.cfg.dist.averaged = true
	return t.cfg.dist.dp.AverageGrads()
}

// checkAveraged is Done's check that a step of a job of more than one rank
// averaged its gradients: an example without -dist support fails there,
// after its first step, instead of training diverging copies.
func (t *Trainer) checkAveraged() {
	if t.cfg.dist.dp == nil {
		return
	}
	if !t.cfg.dist.averaged && t.err == nil {
		t.err = fmt.Errorf("%s: -dist: the step did not average its gradients over the %d ranks (Trainer.AverageGrads before the optimizer step): this example does not support -dist", t.cfg.Method, t.cfg.Ranks())
	}
	t.cfg.dist.averaged = false
}

// voteStop makes a stop that one rank saw (a signal reaches the ranks of a
// job at different steps) every rank's, at the same step: an all-reduce of
// one flag per step. It returns the signal to act on, nil to go on.
func (t *Trainer) voteStop(mine os.Signal) (os.Signal, error) {
	if t.cfg.Ranks() == 1 {
		return mine, nil
	}
	flag := []int64{0}
	if mine != nil {
		flag[0] = 1
	}
	if err := t.cfg.dist.comm.AllReduceInt64(flag, dist.Max); err != nil {
		return nil, err
	}
	if flag[0] != 0 && mine == nil {
		return syscall.SIGINT, nil // another rank's signal
	}
	return mine, nil
}

// agreeEpoch ends an epoch of a job: every rank takes rank 0's buffers
// (batch-norm statistics, which each rank updated from its own images) and
// Extra tensors, as DistributedDataParallel broadcasts buffers, so that the
// next relabelling computes the same features everywhere; then the ranks
// compare a hash of their whole state (parameters, optimizer, Extra,
// Saved) and stop with an error if any differs. Rank 0's values are never
// changed, so a run's checkpoint and results are rank 0's.
func (t *Trainer) agreeEpoch() error {
	d := &t.cfg.dist
	if t.cfg.Ranks() == 1 {
		return nil
	}
	if d.state != nil {
		if err := d.state.Broadcast(0); err != nil {
			return err
		}
	}
	c, err := t.checkpoint(nil)
	if err != nil {
		return err
	}
	h := fnv.New64a()
	if _, err := c.WriteTo(h); err != nil {
		return err
	}
	all := make([]int64, d.comm.Size())
	if err := d.comm.AllGather(all, []int64{int64(h.Sum64())}); err != nil {
		return err
	}
	for r, v := range all {
		if v != all[0] {
			return fmt.Errorf("%s: -dist: after epoch %d rank %d's state differs from rank 0's (FNV-1a hashes %016x and %016x): the ranks are not in lockstep",
				t.cfg.Method, t.epoch+1, r, uint64(v), uint64(all[0]))
		}
	}
	return nil
}

// endDist ends the job after fn's return: MPI_Finalize on success, and on
// failure MPI_Abort with the rank and the error, so that no rank hangs.
func endDist(err error) {
	c, open := distWorld()
	if !open {
		return
	}
	if err != nil {
		c.Abort(err)
		return
	}
	c.Close()
}

// distWorld is the process's MPI communicator, if -dist mpi opened one.
var distWorld = func() (dist.Comm, bool) { return nil, false }
