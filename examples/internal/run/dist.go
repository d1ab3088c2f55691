package run

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"ssl/backbone"
	"ssl/dist"
)

// distRun is a run's place in a data-parallel job (-dist mpi): its
// communicator and the data-parallel state of its network.
type distRun struct {
	comm dist.Comm
	dp   *backbone.DataParallel
}

// addDistFlag adds -dist to an example's flags.
func addDistFlag(fs *flag.FlagSet) *string {
	return fs.String("dist", "", `"mpi": one rank of a data-parallel job launched by mpirun (each rank its share of every batch, gradients averaged; rank 0 prints, the others write under -out/rank<R>); outside mpirun, one rank`)
}

// openDist joins the job named by -dist. With more than one rank, -batch is
// the global batch: each rank takes Batch/Size images of every step.
func (c *Config) openDist(mode string) error {
	switch mode {
	case "":
		return nil
	case "mpi":
	default:
		return fmt.Errorf("%s: -dist %q: want mpi", c.Method, mode)
	}
	comm, err := dist.MPI()
	if err != nil {
		return fmt.Errorf("%s: -dist mpi: %w", c.Method, err)
	}
	c.dist.comm = comm
	distWorld = func() (dist.Comm, bool) { return comm, true }
	size, rank := comm.Size(), comm.Rank()
	if c.Batch%size != 0 || c.Batch/size < 2 {
		return fmt.Errorf("%s: -batch %d must be a multiple of the %d ranks, with at least 2 images per rank", c.Method, c.Batch, size)
	}
	c.Batch /= size
	if rank != 0 {
		c.Log = io.Discard
		c.Out = filepath.Join(c.Out, fmt.Sprintf("rank%d", rank))
	}
	return nil
}

// Comm returns the communicator of -dist, or nil without it.
func (c *Config) Comm() dist.Comm { return c.dist.comm }

// ranks is the number of ranks sharing each batch (1 without -dist).
func (c *Config) ranks() int {
	if c.dist.comm == nil {
		return 1
	}
	return c.dist.comm.Size()
}

// batchStart is where this rank's share of a step's batch begins in the
// epoch's order.
func (t *Trainer) batchStart(step int) int {
	rank := 0
	if t.cfg.dist.comm != nil {
		rank = t.cfg.dist.comm.Rank()
	}
	return (step*t.cfg.ranks() + rank) * t.cfg.Batch
}

// startDist gives every rank rank 0's weights (after a resume, too), as
// DistributedDataParallel does: every rank built the same network from the
// same seed, and the broadcast makes that a fact.
func (t *Trainer) startDist() error {
	d := &t.cfg.dist
	if d.comm == nil || d.comm.Size() == 1 {
		return nil
	}
	dp, err := backbone.NewDataParallel(d.comm, append(append([]*backbone.Param(nil), t.state.Params...), t.state.Buffers...))
	if err != nil {
		return err
	}
	if err := dp.Broadcast(0); err != nil {
		return err
	}
	d.dp = dp
	return nil
}

// AverageGrads averages the gradients of the State's parameters over the
// ranks of -dist: the example calls it between the backward pass and the
// optimizer step. Without -dist it does nothing.
func (t *Trainer) AverageGrads() error {
	if t.cfg.dist.dp == nil {
		return nil
	}
	return t.cfg.dist.dp.AverageGrads()
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
