package sinkhorn

import "ssl/dist"

// ReduceOp is the elementwise combination a [Reducer] applies: dist's Op.
type ReduceOp = dist.Op

const (
	// Sum adds the workers' vectors.
	Sum = dist.Sum
	// Max takes the elementwise maximum.
	Max = dist.Max
)

// Reducer combines a vector across the workers of a sharded solve, as
// torch.distributed.all_reduce does for SwAV and SeLa across GPUs: every
// worker calls AllReduce with a vector of the same length and the same op,
// in the same order, and every worker gets back, in x, the same
// elementwise combination of all of them. A solver given a Reducer holds
// only its worker's rows; the vectors exchanged have length K (prototype
// sums) plus a few scalars, never N.
//
// Every [dist.Comm] is a Reducer: [dist.Local] for goroutines of one
// process, [dist.MPI] for the processes of an MPI job.
//
// AllReduce must return identical results to every worker; combining in a
// fixed worker order makes a sharded solve reproducible. An error it
// returns aborts the solve and is returned wrapped.
type Reducer interface {
	AllReduce(x []float64, op ReduceOp) error
}

// LocalReducers returns n Reducers that combine the vectors of n goroutines
// of one process: worker i uses the i-th one. It is [dist.Local]'s
// communicators as Reducers; for n < 1 it returns nil.
//
// Deprecated: use dist.Local, whose communicators are Reducers.
func LocalReducers(n int) []Reducer {
	cs := dist.Local(n)
	if cs == nil {
		return nil
	}
	rs := make([]Reducer, n)
	for i, c := range cs {
		rs[i] = c
	}
	return rs
}
