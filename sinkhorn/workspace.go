package sinkhorn

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
	g := max((n+maxBlocks-1)/maxBlocks, (minBlockOps+k-1)/k)
	return max(1, min(g, n))
}

// Workspace holds the scratch of the solvers: scaling vectors, dual
// potentials and per-block column accumulators. A Workspace made by
// [NewWorkspace] for n rows and k columns makes repeated calls of that size
// or smaller allocation-free; it grows when a call needs more. It is not for
// concurrent use; a nil *Workspace makes each call allocate its own.
type Workspace struct {
	u, v           []float32 // row and column scaling
	f, g           []float64 // row and column potentials (log domain)
	colAcc         []float64 // combined column sums
	colMax, colMin []float32
	part, part2    []float32 // maxBlocks×K block accumulators
	blockF         []float64 // per-block scalars
	rowTmp         []float32 // scratch rows, one K-row per block
}

// NewWorkspace returns a Workspace sized for n×k problems.
func NewWorkspace(n, k int) *Workspace {
	ws := new(Workspace)
	ws.reserve(max(n, 0), max(k, 0))
	return ws
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (ws *Workspace) reserve(n, k int) {
	nb := (n + rowGrain(n, k) - 1) / max(rowGrain(n, k), 1)
	ws.u = grow(ws.u, n)
	ws.g = grow(ws.g, n)
	ws.v = grow(ws.v, k)
	ws.f = grow(ws.f, k)
	ws.colAcc = grow(ws.colAcc, k)
	ws.colMax = grow(ws.colMax, k)
	ws.colMin = grow(ws.colMin, k)
	ws.part = grow(ws.part, nb*k)
	ws.part2 = grow(ws.part2, nb*k)
	ws.blockF = grow(ws.blockF, nb)
	ws.rowTmp = grow(ws.rowTmp, nb*k)
}
