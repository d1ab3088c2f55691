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
	g := max((n+maxBlocks-1)/maxBlocks, (minBlockOps+k-1)/max(k, 1))
	return max(1, min(g, n))
}

// Workspace holds the scratch of the solvers: scaling vectors, dual
// potentials, per-block column accumulators, and the kernel copy of [SeLa]
// and of a sharded [Balance]. It is passed as the Workspace field of the
// options; a nil Workspace (or nil options) makes each call allocate its
// own scratch. The zero value is ready to use and grows to the largest
// problem it has seen; with a Workspace sized for the problem, repeated
// calls allocate nothing beyond the root package's tensor views, in either
// domain. It is not for concurrent use.
type Workspace struct {
	e    engine
	kbuf []float32
}

// NewWorkspace returns a Workspace already sized for problems of n rows
// (samples) and k columns (prototypes), so that the first call does not
// allocate either; the N×K kernel copy that SeLa needs is allocated on
// first use.
func NewWorkspace(n, k int) *Workspace {
	ws := new(Workspace)
	ws.prepare(max(n, 1), max(k, 1))
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
