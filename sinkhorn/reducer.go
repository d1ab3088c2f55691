package sinkhorn

import (
	"fmt"
	"sync"

	"ssl"
)

// ReduceOp is the elementwise combination a [Reducer] applies.
type ReduceOp int

const (
	// Sum adds the workers' vectors.
	Sum ReduceOp = iota
	// Max takes the elementwise maximum.
	Max
)

// Reducer combines a vector across the workers of a sharded solve, as
// torch.distributed.all_reduce does for SwAV and SeLa across GPUs: every
// worker calls AllReduce with a vector of the same length and the same op,
// in the same order, and every worker gets back, in x, the same
// elementwise combination of all of them. A solver given a Reducer holds
// only its worker's rows; the vectors exchanged have length K (prototype
// sums) plus a few scalars, never N.
//
// AllReduce must return identical results to every worker; combining in a
// fixed worker order makes a sharded solve reproducible. An error it
// returns aborts the solve and is returned wrapped.
type Reducer interface {
	AllReduce(x []float64, op ReduceOp) error
}

// LocalReducers returns n Reducers that combine the vectors of n goroutines
// of one process: worker i uses the i-th one. Vectors are combined in worker
// order, so results do not depend on scheduling. Every worker must make the
// same sequence of calls; a call whose length or op differs from the other
// workers' returns an error wrapping ssl.ErrShape (to every worker). For
// n < 1 it returns nil.
func LocalReducers(n int) []Reducer {
	if n < 1 {
		return nil
	}
	g := &localGroup{n: n, slots: make([][]float64, n), ops: make([]ReduceOp, n)}
	g.cond = sync.NewCond(&g.mu)
	rs := make([]Reducer, n)
	for i := range rs {
		rs[i] = &localReducer{g: g, rank: i}
	}
	return rs
}

type localGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n       int
	slots   [][]float64
	ops     []ReduceOp
	arrived int
	readers int // workers still to copy the result out
	gen     uint64
	out     []float64
	err     error
}

type localReducer struct {
	g    *localGroup
	rank int
}

func (r *localReducer) AllReduce(x []float64, op ReduceOp) error {
	g := r.g
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.readers > 0 { // the previous round is still being read
		g.cond.Wait()
	}
	g.slots[r.rank], g.ops[r.rank] = x, op
	g.arrived++
	gen := g.gen
	if g.arrived == g.n {
		g.combine()
		g.arrived, g.readers = 0, g.n
		g.gen++
		g.cond.Broadcast()
	} else {
		for g.gen == gen {
			g.cond.Wait()
		}
	}
	err := g.err
	if err == nil {
		copy(x, g.out)
	}
	g.slots[r.rank] = nil
	if g.readers--; g.readers == 0 {
		g.cond.Broadcast()
	}
	return err
}

func (g *localGroup) combine() {
	g.err = nil
	x0, op := g.slots[0], g.ops[0]
	for i := 1; i < g.n; i++ {
		if len(g.slots[i]) != len(x0) || g.ops[i] != op {
			g.err = fmt.Errorf("sinkhorn: LocalReducers: worker %d reduces %d values with op %d, worker 0 %d with op %d: %w",
				i, len(g.slots[i]), g.ops[i], len(x0), op, ssl.ErrShape)
			return
		}
	}
	g.out = append(g.out[:0], x0...)
	for i := 1; i < g.n; i++ {
		for j, v := range g.slots[i] {
			if op == Max {
				g.out[j] = max(g.out[j], v)
			} else {
				g.out[j] += v
			}
		}
	}
}
