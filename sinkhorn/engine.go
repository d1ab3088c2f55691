package sinkhorn

import (
	"fmt"
	"math"

	"ssl/internal/kernel"
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
// (2^-126) are flushed to zero or kept as subnormals, so each is off by at
// most its true value. The kernel passes record, for every row i, the
// largest true value F_i of such an entry (0 if there is none). The
// flushed entries then change a row sum Σ_j A_ij·v_j by at most F_i·Σ_j v_j
// and a column sum Σ_i A_ij·u_i by at most Σ_i F_i·u_i. After every update
// the solver checks that each row sum is at least 2^24 times its bound and
// each column sum at least 2^24·Σ_i F_i·u_i, which keeps the relative error
// of every sum below 2^-24, float32 rounding: the exp domain is then as
// exact as the float32 kernel. A sum below its bound, or a scaling that is
// not finite and positive, makes the solver restart in the log domain (or
// fail, when the exp domain was forced).

const flushRel = 0x1p24 // see "Exp-domain validity" above

type blockFn func(e *engine, blk, lo, hi int)

type engine struct {
	n, k, grain, nb int
	nTotal          int // rows over all workers
	red             Reducer

	a         []float32 // n×k kernel (exp) or log-kernel (log)
	rowT      []float32 // per-row targets, or nil for rowC
	rowC      float64
	colT      []float64 // per-column targets, or nil for colC
	colC      float64
	logDomain bool
	check     bool // accumulate SeLa's Σ|u_old/u_new − 1| in rowPass
	fixRows   bool // rowLogBlock only sums columns, leaving f unchanged
	fn        blockFn
	body      func(lo, hi int) // e.runBlock, built once

	u, v    []float64 // exp-domain scalings
	flush   []float64 // n: largest true value of a flushed kernel entry per row
	f, g    []float64 // log-domain potentials
	acc     []float64 // k column sums (exp: Σ_i A_ij u_i; log: Σ_i P_ij) + scalars
	part    []float64 // nb×k block column sums
	part2   []float32 // nb×k block column minima
	part3   []float32 // nb×k block column maxima
	rowBuf  []float64 // nb×k row scratch
	rowBuf2 []float64 // nb×k row scratch
	blk     []float64 // nb×4 block scalars
	red8    []float64 // small reduction vectors
	redK    []float64 // 2k+4 reduction vector
	colBuf  []float64 // k column targets

	// Method data used by the block functions.
	src        []float32 // the caller's input matrix
	cmax       []float32 // k per-column shift
	cmin       []float32 // k
	ref        []float32 // k: Transport's per-column reference (cmin or cmax)
	rmax       []float64 // n per-row shift
	param      float64   // 1/ε, λ or 1/reg
	param2     float64   // SeLa: max_j λ·log max_k P_jk
	vSum       float64   // Σ_j v_j after the last column update
	param3     float64   // SeLa: the error of update 0
	firstDone  bool      // SeLa: update 0 built the exp kernel
	logMode    int       // SeLa: how the log domain starts
	vt         []float64 // SeLa: k, ṽ after update 0
	rowS       []float64 // SeLa: n, s_j after update 0
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
	e.flush = grow(e.flush, n)
	e.rowS = grow(e.rowS, n)
	e.vt = grow(e.vt, k)
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
	e.check, e.logDomain, e.fixRows, e.fromKernel = false, false, false, false
	e.logMode = 0
	e.outScale = 1
}

func (e *engine) sizeRowBufs() {
	e.rowBuf = grow(e.rowBuf, e.nb*e.k)
	e.rowBuf2 = grow(e.rowBuf2, e.nb*e.k)
}

// parallel runs fn over every row block with kernel.ParallelFor: the
// blocks are the engine's fixed partition and write disjoint outputs, so
// the result is the same for any GOMAXPROCS. The function handed to
// ParallelFor is built once per engine, so a pass allocates nothing.
func (e *engine) parallel(fn blockFn) {
	if e.body == nil {
		e.body = e.runBlock
	}
	e.fn = fn
	kernel.ParallelFor(e.n, e.grain, e.body)
	e.fn = nil
}

func (e *engine) runBlock(lo, hi int) { e.fn(e, lo/e.grain, lo, hi) }

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

// blockScalars returns the sums of the four block scalars over the
// blocks, in block order.
func (e *engine) blockScalars() (s0, s1, s2, s3 float64) {
	for b := range e.nb {
		s0 += e.blk[4*b]
		s1 += e.blk[4*b+1]
		s2 += e.blk[4*b+2]
		s3 += e.blk[4*b+3]
	}
	return
}

// sumOK reports whether every x[j] ≥ flushRel·bound (see "Exp-domain
// validity"); with no flushed entry (bound 0) it is always true.
func sumOK(x []float64, bound float64) bool {
	t := flushRel * bound
	for _, v := range x {
		if !(v >= t) {
			return false
		}
	}
	return true
}

// flushedMax returns exp(t) for the largest exponent t < expMinNormal of a
// kernel row (given as tmax, or -Inf when there is none): the largest true
// value of an entry that float32 flushed, or 0.
func flushedMax(tmax float64) float64 {
	if math.IsInf(tmax, -1) {
		return 0
	}
	return math.Exp(tmax)
}

// colUpdateExp sets v_j = b_j / acc_j and reports whether v is valid.
func (e *engine) colUpdateExp() bool {
	v, acc := e.v[:e.k], e.acc[:e.k]
	sum := 0.0
	for j := range v {
		v[j] = e.colTarget(j) / acc[j]
		if !(v[j] > 0 && v[j] <= math.MaxFloat64) {
			return false
		}
		sum += v[j]
	}
	e.vSum = sum
	return true
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
	s0, s1, s2, _ := e.blockScalars()
	if e.red != nil {
		x := e.acc[:e.k+3]
		x[e.k], x[e.k+1], x[e.k+2] = s0, s1, s2
		if err := e.reduce(x, Sum); err != nil {
			return 0, false, err
		}
		s0, s1, s2 = x[e.k], x[e.k+1], x[e.k+2]
	}
	if e.logDomain {
		return s0, true, nil
	}
	return s0, s1 == 0 && sumOK(e.acc[:e.k], s2), nil
}

func rowExpBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	v := e.v[:k]
	var errSum, bad, fu float64
	t := flushRel * e.vSum
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		s := dot64(row, v)
		ui := e.rowTarget(i) / s
		if !(ui > 0 && ui <= math.MaxFloat64) || !(s >= t*e.flush[i]) {
			bad = 1
		}
		fu += e.flush[i] * ui
		if e.check {
			if t := math.Abs(e.u[i]/ui - 1); t == t {
				errSum += t
			}
		}
		e.u[i] = ui
		axpy64(ui, row, p)
	}
	e.blk[4*blk], e.blk[4*blk+1], e.blk[4*blk+2] = errSum, bad, fu
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
		m, s := expShifted(x, row, fi, g)
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
	e.blk[4*blk], e.blk[4*blk+1], e.blk[4*blk+2] = errSum, 0, 0
}

// expShifted writes x_j = exp(c + l_j + g_j − m), in float64, for the
// maximum m of c + l_j + g_j, and returns m and Σ_j x_j: the row
// log-sum-exp is m + log Σ.
func expShifted(x []float64, l []float32, c float64, g []float64) (m, sum float64) {
	x, g = x[:len(l)], g[:len(l)]
	m = math.Inf(-1)
	for j, lj := range l {
		x[j] = c + float64(lj) + g[j]
		m = max(m, x[j])
	}
	for j, xj := range x {
		x[j] = math.Exp(xj - m)
		sum += x[j]
	}
	return m, sum
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
