package sinkhorn

import "runtime"

// Row blocking of every pass over an N×K matrix: rows are handed out in
// blocks of rowGrain(n, k) rows, each block accumulating its column sums in
// its own K-vector, and the block vectors are combined in block order. The
// partition depends only on n and k, so results are the same for any
// GOMAXPROCS.
const (
	maxBlocks   = 64      // bounds the per-block column accumulators to 64·K floats
	minBlockOps = 1 << 14 // elements per block below which a goroutine does not pay
)

func rowGrain(n, k int) int {
	g := max((n+maxBlocks-1)/maxBlocks, (minBlockOps+k-1)/max(k, 1))
	return max(1, min(g, n))
}

// Workspace holds the scratch of the solvers: scaling vectors, dual
// potentials, per-block column accumulators, the kernel copy of [SeLa] and
// of a sharded [Balance], and a set of goroutines for the parallel passes.
// With a Workspace sized for the problem, repeated calls allocate nothing
// beyond the root package's tensor views, in either domain. It grows when a
// call needs more. It is not for concurrent use; a nil *Workspace makes each
// call allocate its own scratch and goroutines.
type Workspace struct {
	e    engine
	kbuf []float32
}

// NewWorkspace returns a Workspace sized for problems of n rows (samples)
// and k columns (prototypes); the N×K kernel copy that SeLa needs is
// allocated on first use. Its goroutines (GOMAXPROCS − 1 of them) exit when
// the Workspace is garbage-collected.
func NewWorkspace(n, k int) *Workspace {
	ws := new(Workspace)
	ws.prepare(max(n, 1), max(k, 1))
	if w := runtime.GOMAXPROCS(0) - 1; w > 0 {
		p := newPool(w)
		ws.e.pool = p
		runtime.AddCleanup(ws, func(p *pool) { close(p.tasks) }, p)
	}
	return ws
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// prepare sizes the engine for n local rows and k columns and returns it.
func (ws *Workspace) prepare(n, k int) *engine {
	ws.e.size(n, k)
	return &ws.e
}

// kernelBuf returns the Workspace's n×k kernel copy.
func (ws *Workspace) kernelBuf(n, k int) []float32 {
	ws.kbuf = grow(ws.kbuf, n*k)
	return ws.kbuf
}
