package sinkhorn

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// The engine runs the scaling iteration shared by every solver: a plan
//
//	P = diag(u) · A · diag(v)        (exp domain, A the n×k kernel)
//	log P_ij = f_i + L_ij + g_j      (log domain, L the n×k log-kernel)
//
// over the worker's n rows and all k columns, alternating a column update
// (v_j = b_j / Σ_i A_ij u_i) and a row update (u_i = a_i / Σ_j A_ij v_j).
// The row update of one iteration and the column sums for the next column
// update share one pass over the matrix (rowPass), so an iteration streams
// the matrix once. Column sums are combined over the row blocks in block
// order, then over the workers by the Reducer.
//
// Precision. The kernel is stored in float32 (it is computed once, and
// its rounding only perturbs the problem by a relative 6e-8); the scaling
// vectors, potentials and every sum are float64, so that the iteration
// itself is exact to float64 rounding and tolerances such as POT's 1e-9 on
// the marginals can be met.
//
// Exp-domain validity. Kernel entries below the smallest normal float32
// (2^-126) are flushed; a flushed entry can change a row sum by at most
// 2^-126·max v / min v relative to the row's largest term (every row or
// column of a kernel built here has an entry 1, or the solver checks the
// row sums directly), and a column sum by 2^-126·max u / min u. When
// entries may have been flushed, the exp domain is therefore accepted only
// while the spreads of u and v keep the worst total flush below float32
// rounding: spread ≤ 2^102 / count (2^-24 relative over count terms). A
// scaling that leaves that range, or is not finite and positive, makes the
// solver restart in the log domain (or fail, when the exp domain was
// forced).

const spreadLimit = 0x1p102 // see "Exp-domain validity" above

type blockFn func(e *engine, blk, lo, hi int)

type engine struct {
	n, k, grain, nb int
	nTotal          int // rows over all workers
	red             Reducer
	pool            *pool

	a          []float32 // n×k kernel (exp) or log-kernel (log)
	rowT       []float32 // per-row targets, or nil for rowC
	rowC       float64
	colT       []float64 // per-column targets, or nil for colC
	colC       float64
	logDomain  bool
	mayFlush   bool // kernel entries may have been flushed to zero
	check      bool // accumulate SeLa's Σ|u_old/u_new − 1| in rowPass
	fixRows    bool // rowLogBlock only sums columns, leaving f unchanged
	fn         blockFn
	next       atomic.Int64
	parallelOK bool

	u, v   []float64 // exp-domain scalings
	f, g   []float64 // log-domain potentials
	acc    []float64 // k column sums (exp: Σ_i A_ij u_i; log: Σ_i P_ij) + scalars
	part   []float64 // nb×k block column sums
	part2  []float32 // nb×k block column minima
	part3  []float32 // nb×k block column maxima
	rowBuf []float64 // nb×k log-domain row scratch
	blk    []float64 // nb×4 block scalars
	red8   []float64 // small reduction vectors
	redK   []float64 // 2k+4 reduction vector
	colBuf []float64 // k column targets

	// Method data used by the block functions.
	src        []float32 // the caller's input matrix
	cmax       []float32 // k per-column shift
	cmin       []float32 // k
	ref        []float32 // k: Transport's per-column reference (cmin or cmax)
	rmax       []float64 // n per-row shift
	param      float64   // 1/ε, λ or 1/reg
	param2     float64   // SeLa: max_j λ·log max_k P_jk
	fromKernel bool      // SeLa: the log-kernel is built from the exp kernel in place
	intPow     int       // λ when it is a small integer, else 0
	out        []float32 // n×k output
	labels     []int
	outScale   float64
}

// size prepares the engine's buffers for n local rows and k columns.
func (e *engine) size(n, k int) {
	e.n, e.k = n, k
	e.grain = rowGrain(n, k)
	e.nb = (n + e.grain - 1) / e.grain
	e.u = grow(e.u, n)
	e.f = grow(e.f, n)
	e.rmax = grow(e.rmax, n)
	e.v = grow(e.v, k)
	e.g = grow(e.g, k)
	e.acc = grow(e.acc, k+4)
	e.cmax = grow(e.cmax, k)
	e.cmin = grow(e.cmin, k)
	e.part = grow(e.part, e.nb*k)
	e.part2 = grow(e.part2, e.nb*k)
	e.part3 = grow(e.part3, e.nb*k)
	e.blk = grow(e.blk, e.nb*4)
	e.red8 = grow(e.red8, 8)
	e.redK = grow(e.redK, 2*k+4)
	e.colBuf = grow(e.colBuf, k)
	e.rowT, e.colT, e.red, e.labels, e.out = nil, nil, nil, nil, nil
	e.check, e.logDomain, e.mayFlush, e.fixRows, e.fromKernel = false, false, false, false, false
	e.outScale = 1
}

func (e *engine) sizeChunk() { e.rowBuf = grow(e.rowBuf, e.nb*e.k) }

// parallel runs fn over every row block: on the calling goroutine when one
// thread or one block suffices, on the Workspace's pool when it has one,
// else on fresh goroutines. Blocks write disjoint outputs, so the result is
// the same in every case.
func (e *engine) parallel(fn blockFn) {
	w := min(runtime.GOMAXPROCS(0), e.nb)
	if w <= 1 {
		for blk := range e.nb {
			lo := blk * e.grain
			fn(e, blk, lo, min(lo+e.grain, e.n))
		}
		return
	}
	e.fn = fn
	e.next.Store(0)
	if e.pool != nil {
		e.pool.run(e, w)
		return
	}
	var wg sync.WaitGroup
	for range w - 1 {
		wg.Go(e.drain)
	}
	e.drain()
	wg.Wait()
}

func (e *engine) drain() {
	for {
		blk := int(e.next.Add(1) - 1)
		if blk >= e.nb {
			return
		}
		lo := blk * e.grain
		e.fn(e, blk, lo, min(lo+e.grain, e.n))
	}
}

// pool is a set of goroutines owned by a Workspace that run the blocks of
// a pass, so that repeated calls start no goroutines and allocate nothing.
// It holds no reference to the Workspace: when the Workspace is collected,
// a cleanup closes the task channel and the goroutines exit.
type pool struct {
	tasks   chan *engine
	workers int
	wg      sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{tasks: make(chan *engine), workers: workers}
	for range workers {
		go p.loop()
	}
	return p
}

func (p *pool) loop() {
	for e := range p.tasks {
		e.drain()
		p.wg.Done()
	}
}

func (p *pool) run(e *engine, w int) {
	helpers := min(w-1, p.workers)
	p.wg.Add(helpers)
	for range helpers {
		p.tasks <- e
	}
	e.drain()
	p.wg.Wait()
}

// reduce combines x over the workers; without a Reducer it does nothing.
func (e *engine) reduce(x []float64, op ReduceOp) error {
	if e.red == nil {
		return nil
	}
	if err := e.red.AllReduce(x, op); err != nil {
		return fmt.Errorf("Reducer: %w", err)
	}
	return nil
}

func (e *engine) rowTarget(i int) float64 {
	if e.rowT != nil {
		return float64(e.rowT[i])
	}
	return e.rowC
}

func (e *engine) colTarget(j int) float64 {
	if e.colT != nil {
		return e.colT[j]
	}
	return e.colC
}

// sumParts writes acc[j] = Σ_blk part[blk·k + j] in block order.
func (e *engine) sumParts() {
	k := e.k
	acc := e.acc[:k]
	copy(acc, e.part[:k])
	for blk := 1; blk < e.nb; blk++ {
		for j, x := range e.part[blk*k : (blk+1)*k] {
			acc[j] += x
		}
	}
}

// blockScalars returns the sums of blk[4·b] and blk[4·b+1] and the maxima
// of blk[4·b+2] and blk[4·b+3] over the blocks b.
func (e *engine) blockScalars() (s0, s1, s2, s3 float64) {
	for b := range e.nb {
		s0 += e.blk[4*b]
		s1 += e.blk[4*b+1]
		s2 = max(s2, e.blk[4*b+2])
		s3 = max(s3, e.blk[4*b+3])
	}
	return
}

// spreadOK reports whether lo and hi (the extremes of a scaling vector)
// are finite and positive and, when entries may have been flushed, whether
// hi/lo ≤ spreadLimit/count.
func spreadOK(lo, hi float64, count int, flush bool) bool {
	if !(lo > 0) || !(hi <= math.MaxFloat64) {
		return false
	}
	return !flush || hi/lo <= spreadLimit/float64(count)
}

func minMax(x []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if !(v >= lo) { // also catches NaN
			lo = v
		}
		if !(v <= hi) {
			hi = v
		}
	}
	return lo, hi
}

// colUpdateExp sets v_j = b_j / acc_j and reports whether v is valid.
func (e *engine) colUpdateExp() bool {
	v, acc := e.v[:e.k], e.acc[:e.k]
	for j := range v {
		v[j] = e.colTarget(j) / acc[j]
	}
	lo, hi := minMax(v)
	return spreadOK(lo, hi, e.k, e.mayFlush)
}

// colUpdateLog sets g_j += log b_j − log acc_j (acc holds the column sums
// of the plan with the current g).
func (e *engine) colUpdateLog() {
	for j := range e.k {
		e.g[j] += math.Log(e.colTarget(j) / e.acc[j])
	}
}

// colSum returns the j-th column sum of the plan after the last rowPass.
func (e *engine) colSum(j int) float64 {
	if e.logDomain {
		return e.acc[j]
	}
	return e.v[j] * e.acc[j]
}

// colError returns max_j |colsum_j − b_j| and the L2 norm of the same.
func (e *engine) colError() (maxErr, l2 float64) {
	for j := range e.k {
		d := math.Abs(e.colSum(j) - e.colTarget(j))
		maxErr = max(maxErr, d)
		l2 += d * d
	}
	return maxErr, math.Sqrt(l2)
}

// rowPass runs the row update with the current column scaling and
// accumulates the column sums for the next column update, combined over
// workers. With e.check it also returns SeLa's Σ_i |u_old,i/u_new,i − 1|
// (NaN terms skipped, as numpy's nansum), summed over workers. ok is false
// when the exp-domain row scaling left its valid range (on any worker).
func (e *engine) rowPass() (errSum float64, ok bool, err error) {
	if e.logDomain {
		e.parallel(rowLogBlock)
	} else {
		e.parallel(rowExpBlock)
	}
	e.sumParts()
	s0, s1, _, _ := e.blockScalars()
	lo, hi := 1.0, 1.0
	if !e.logDomain {
		lo, hi = minMax(e.u[:e.n])
	}
	if e.red != nil {
		x := e.acc[:e.k+2]
		x[e.k], x[e.k+1] = s0, s1
		if err := e.reduce(x, Sum); err != nil {
			return 0, false, err
		}
		s0, s1 = x[e.k], x[e.k+1]
		r := e.red8[:2]
		r[0], r[1] = -lo, hi
		if err := e.reduce(r, Max); err != nil {
			return 0, false, err
		}
		lo, hi = -r[0], r[1]
	}
	if e.logDomain {
		return s0, true, nil
	}
	return s0, s1 == 0 && spreadOK(lo, hi, e.nTotal, e.mayFlush), nil
}

func rowExpBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	v := e.v[:k]
	var errSum, bad float64
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		ui := e.rowTarget(i) / dot64(row, v)
		if !(ui > 0 && ui <= math.MaxFloat64) {
			bad = 1
		}
		if e.check {
			if t := math.Abs(e.u[i]/ui - 1); t == t {
				errSum += t
			}
		}
		e.u[i] = ui
		axpy64(ui, row, p)
	}
	e.blk[4*blk], e.blk[4*blk+1] = errSum, bad
}

// rowLogBlock: f_i = log a_i − log Σ_j exp(f_i + L_ij + g_j) (around the
// row maximum, in float64), then the block's column sums of the new plan
// P_ij = exp(f_i + L_ij + g_j), whose entries are at most a_i.
func rowLogBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	x := e.rowBuf[blk*k : (blk+1)*k]
	g := e.g[:k]
	var errSum float64
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		fi := e.f[i]
		m := math.Inf(-1)
		for j, l := range row {
			x[j] = fi + float64(l) + g[j]
			m = max(m, x[j])
		}
		s := 0.0
		for j, xj := range x {
			x[j] = math.Exp(xj - m)
			s += x[j]
		}
		d := 0.0 // f_new − f_old
		if !e.fixRows {
			d = math.Log(e.rowTarget(i)/s) - m
		}
		if e.check {
			if t := math.Abs(math.Exp(-d) - 1); t == t {
				errSum += t
			}
		}
		e.f[i] = fi + d
		scale := math.Exp(m + d)
		for j, xj := range x {
			p[j] += xj * scale
		}
	}
	e.blk[4*blk], e.blk[4*blk+1] = errSum, 0
}

// dot64 returns Σ_j a[j]·v[j] with a float32 row and a float64 vector,
// accumulated in float64.
func dot64(a []float32, v []float64) float64 {
	v = v[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += float64(a[j]) * v[j]
		s1 += float64(a[j+1]) * v[j+1]
		s2 += float64(a[j+2]) * v[j+2]
		s3 += float64(a[j+3]) * v[j+3]
	}
	for ; j < len(a); j++ {
		s0 += float64(a[j]) * v[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy64 computes p[j] += alpha·a[j] in float64.
func axpy64(alpha float64, a []float32, p []float64) {
	p = p[:len(a)]
	j := 0
	for ; j+4 <= len(a); j += 4 {
		p[j] += alpha * float64(a[j])
		p[j+1] += alpha * float64(a[j+1])
		p[j+2] += alpha * float64(a[j+2])
		p[j+3] += alpha * float64(a[j+3])
	}
	for ; j < len(a); j++ {
		p[j] += alpha * float64(a[j])
	}
}

// colLogSums sets acc to the column log-sums of exp(f_i + L_ij + g_j)
// without updating f (the first column update of the log domain).
func (e *engine) colLogSums() error {
	e.fixRows = true
	_, _, err := e.rowPass()
	e.fixRows = false
	return err
}

// writeScaledBlock writes out_ij = outScale·u_i·A_ij·v_j (exp) or
// outScale·exp(f_i + L_ij + g_j) (log).
func writeScaledBlock(e *engine, blk, lo, hi int) {
	k := e.k
	v, g := e.v[:k], e.g[:k]
	ls := math.Log(e.outScale)
	for i := lo; i < hi; i++ {
		row, out := e.a[i*k:(i+1)*k], e.out[i*k:(i+1)*k]
		if e.logDomain {
			fi := e.f[i] + ls
			for j, x := range row {
				out[j] = float32(math.Exp(fi + float64(x) + g[j]))
			}
			continue
		}
		s := e.outScale * e.u[i]
		for j, x := range row {
			out[j] = float32(s * float64(x) * v[j])
		}
	}
}

// writeScaled writes the plan scaled by outScale into e.out.
func (e *engine) writeScaled() { e.parallel(writeScaledBlock) }
