package backbone

import (
	"fmt"

	"ssl"
	"ssl/dist"
)

// DataParallel keeps the copies of a network on the ranks of a
// communicator in step, as PyTorch's DistributedDataParallel does for the
// SSL papers' training: [DataParallel.Broadcast] gives every rank the same
// initial weights, and [DataParallel.AverageGrads], called after Backward
// and before the optimizer's Step, replaces every gradient by its mean over
// the ranks. Each rank then takes the same step, the one a single process
// takes on the concatenation of the ranks' batches when each rank's loss
// is the mean over its own equal share of the batch.
//
// The tensors travel as one flat float32 buffer per call (gradients in one
// all-reduce, values in one broadcast), reused between calls, so a step
// allocates nothing. A DataParallel is not for concurrent use.
type DataParallel struct {
	comm    dist.Comm
	params  []*Param // with gradients
	buffers []*Param // without: batch-norm statistics
	flat    []float32
}

// NewDataParallel returns the data-parallel state of params (a network's
// Params, optionally followed by its Buffers) on c. Every rank passes the
// same list: a list that differs in length across the ranks is an error of
// the first collective. It returns an error wrapping ssl.ErrParam for a nil
// communicator or parameter.
func NewDataParallel(c dist.Comm, params []*Param) (*DataParallel, error) {
	const fn = "backbone: NewDataParallel"
	if c == nil {
		return nil, fmt.Errorf("%s: c is nil: %w", fn, ssl.ErrParam)
	}
	dp := &DataParallel{comm: c}
	for i, p := range params {
		if p == nil || p.Value == nil {
			return nil, fmt.Errorf("%s: params[%d] is nil: %w", fn, i, ssl.ErrParam)
		}
		if p.Grad == nil {
			dp.buffers = append(dp.buffers, p)
		} else {
			dp.params = append(dp.params, p)
		}
	}
	size := 0
	for _, p := range params {
		size += len(p.Data())
	}
	dp.flat = make([]float32, size)
	return dp, nil
}

// Broadcast copies rank root's values of every parameter and buffer into
// every rank's, with one broadcast.
func (dp *DataParallel) Broadcast(root int) error {
	flat := dp.flat[:0]
	for _, ps := range [][]*Param{dp.params, dp.buffers} {
		for _, p := range ps {
			flat = append(flat, p.Data()...)
		}
	}
	if err := dp.comm.Broadcast(flat, root); err != nil {
		return fmt.Errorf("backbone: DataParallel.Broadcast: %w", err)
	}
	for _, ps := range [][]*Param{dp.params, dp.buffers} {
		for _, p := range ps {
			flat = flat[copy(p.Data(), flat):]
		}
	}
	return nil
}

// AverageGrads replaces every parameter's gradient by the mean of the
// ranks' gradients, with one all-reduce of the flat gradients.
func (dp *DataParallel) AverageGrads() error {
	flat := dp.flat[:0]
	for _, p := range dp.params {
		flat = append(flat, p.GradData()...)
	}
	if err := dp.comm.AllReduceFloat32(flat, dist.Sum); err != nil {
		return fmt.Errorf("backbone: DataParallel.AverageGrads: %w", err)
	}
	inv := 1 / float32(dp.comm.Size())
	for _, p := range dp.params {
		g := p.GradData()
		for j, v := range flat[:len(g)] {
			g[j] = v * inv
		}
		flat = flat[len(g):]
	}
	return nil
}

// AverageBuffers replaces every buffer (batch-norm running statistics) by
// its mean over the ranks, so that an evaluation on any rank sees the same
// statistics.
func (dp *DataParallel) AverageBuffers() error {
	flat := dp.flat[:0]
	for _, p := range dp.buffers {
		flat = append(flat, p.Data()...)
	}
	if err := dp.comm.AllReduceFloat32(flat, dist.Sum); err != nil {
		return fmt.Errorf("backbone: DataParallel.AverageBuffers: %w", err)
	}
	inv := 1 / float32(dp.comm.Size())
	for _, p := range dp.buffers {
		d := p.Data()
		for j, v := range flat[:len(d)] {
			d[j] = v * inv
		}
		flat = flat[len(d):]
	}
	return nil
}
