package sinkhorn

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// SwAV's defaults (facebookresearch/swav@06b1b7cb main_swav.py: --epsilon
// 0.05, --sinkhorn_iterations 3) and the iteration cap used with a tolerance.
const (
	defaultIterations    = 3
	defaultTolIterations = 1000
)

// BalanceOptions are the optional settings of [Balance]. A nil
// *BalanceOptions means all defaults: SwAV's 3 iterations, no tolerance.
type BalanceOptions struct {
	// Iterations caps the scaling iterations; ≥ 0, and 0 means SwAV's 3
	// when Tol is 0 and 1000 when Tol > 0.
	Iterations int
	// Tol, when > 0, stops as soon as the marginal error of the codes (see
	// [Result]) is ≤ Tol; ≥ 0, and 0 runs exactly Iterations iterations
	// with no test, as SwAV does.
	Tol float64
	// Domain selects the exp- or log-domain iteration; the zero value [Auto]
	// detects which one the input needs.
	Domain Domain
	// Reducer, when not nil, makes the call one worker of a sharded solve:
	// scores and dst hold only this worker's rows (≥ 1), B is the total
	// over workers, and the prototype sums are combined through the
	// Reducer, as SwAV's distributed_sinkhorn all-reduces them across GPUs.
	// Every worker must call Balance with the same ε, K and options. The
	// kernel then lives in the Workspace, so an error from the Reducer
	// leaves dst untouched.
	Reducer Reducer
	// Workspace, when not nil, holds the scratch, so that repeated calls
	// allocate nothing; nil allocates per call.
	Workspace *Workspace
}

type balanceCfg struct {
	iters  int
	tol    float64
	domain Domain
	red    Reducer
	ws     *Workspace
}

func balanceConfig(fn string, o *BalanceOptions) (balanceCfg, error) {
	c := balanceCfg{iters: defaultIterations}
	if o == nil {
		return c, nil
	}
	if err := check.Count(fn, "Iterations", o.Iterations, 0); err != nil {
		return c, err
	}
	if err := check.NonNegative(fn, "Tol", o.Tol); err != nil {
		return c, err
	}
	if err := checkDomain(fn, o.Domain); err != nil {
		return c, err
	}
	switch {
	case o.Iterations > 0:
		c.iters = o.Iterations
	case o.Tol > 0:
		c.iters = defaultTolIterations
	}
	c.tol, c.domain, c.red, c.ws = o.Tol, o.Domain, o.Reducer, o.Workspace
	return c, nil
}

// Balance computes SwAV's codes for the scores of one batch: the entropic
// optimal-transport plan that spreads B samples evenly over K prototypes,
//
//	Q = diag(u) · exp(S/ε) · diag(v)
//	v_k = (1/K) / Σ_i exp(S_ik/ε)·u_i        (prototype update)
//	u_i = (1/B) / Σ_k exp(S_ik/ε)·v_k        (sample update)
//
// starting from u = 1 and alternating a prototype update and a sample
// update for a fixed number of iterations T (SwAV: ε = 0.05, T = 3), or, with
// a positive Tol, until the marginal error is at most Tol (at most
// Iterations times). It writes
// codes = B·Q into dst: every row sums to 1 and, once converged, every column
// to B/K. This is exactly what SwAV's distributed_sinkhorn returns for one
// process, computed in the vector-scaling form (only u and v change; the
// kernel is written once into dst and rescaled in place at the end).
//
// Shapes: scores and dst are B×K (B, K ≥ 1). A nil dst is allocated; the
// codes are returned as [Result.Plan]. dst must not overlap scores. scores
// is not modified. The codes are constants of the loss: no gradient flows
// through them.
//
// Numerics: each prototype column of S is shifted by its maximum before the
// exponential, which leaves the codes unchanged for T ≥ 1 (the first
// prototype update removes any per-prototype constant), so exp never
// overflows, whatever the scale of S/ε. With [Auto], when entries of the
// kernel that float32 flushed below 2^-126 could move a row or column sum
// by more than float32 rounding, or a scaling leaves the float64 range
// (see the package documentation), Balance runs the log-domain iteration
// instead, which updates the dual potentials with log-sum-exp in float64.
// Scaling vectors and sums are float64 throughout.
//
// Cost: one pass over S for the column maxima, one that writes the kernel
// into dst, one streaming pass per middle iteration, and one that rewrites
// dst with the codes (T + 2 passes; 5 for SwAV's T = 3).
//
// It returns an error wrapping ssl.ErrShape for an empty, non-matrix or
// mismatched tensor or a dst overlapping scores; ssl.ErrParam for
// ε ≤ 0 or non-finite and for invalid options; ssl.ErrNotFinite for NaN or
// ±Inf scores. Nothing is written then. With [Exp], a problem the exp
// domain cannot represent returns an error wrapping ssl.ErrNotFinite
// after dst has been used as scratch. With a positive Tol not met it
// returns the codes after Iterations iterations, with their Result,
// together with an error wrapping [ErrNotConverged]. A Reducer's error is
// returned wrapped, with dst untouched.
//
// Reference: Caron et al., SwAV, NeurIPS 2020, §3.1 eq. 3 and Appendix A.1
// (Algorithm 1); facebookresearch/swav@06b1b7cb main_swav.py
// distributed_sinkhorn.
func Balance(dst, scores ssl.Tensor, eps float64, opts *BalanceOptions) (Result, error) {
	const fn = "sinkhorn: Balance"
	b, k, s, err := check.NonEmptyMatrix(fn, "scores", scores)
	if err != nil {
		return Result{}, err
	}
	if err := check.Positive(fn, "eps", eps); err != nil {
		return Result{}, err
	}
	cfg, err := balanceConfig(fn, opts)
	if err != nil {
		return Result{}, err
	}
	q, err := check.Dst(fn, "dst", dst, check.Shape2(b, k), s)
	if err != nil {
		return Result{}, err
	}
	if q == nil {
		t := ssl.New(b, k)
		dst, q = t, t.Data().([]float32)
	}
	ws := cfg.ws
	if ws == nil {
		ws = new(Workspace)
	}
	e := ws.prepare(b, k)
	e.red, e.src, e.param = cfg.red, s, 1/eps
	e.nTotal = b

	// Column maxima (the shift), checked for NaN and ±Inf, combined over
	// workers, then the row count.
	bad, anyBad, err := e.colExtrema()
	if err != nil {
		return Result{}, fmt.Errorf(fn+": %w", err)
	}
	if bad >= 0 {
		return Result{}, check.Errorf(fn, ssl.ErrNotFinite, "scores[%d, %d] is %v", bad/k, bad%k, s[bad])
	}
	if anyBad {
		return Result{}, check.Errorf(fn, ssl.ErrNotFinite, "scores of another worker are not finite")
	}
	if e.red != nil {
		n := e.red8[:1]
		n[0] = float64(b)
		if err := e.reduce(n, Sum); err != nil {
			return Result{}, fmt.Errorf(fn+": %w", err)
		}
		e.nTotal = int(n[0])
	}
	e.rowC, e.colC = 1/float64(e.nTotal), 1/float64(k)
	e.outScale = float64(e.nTotal)
	e.a, e.out = q, q
	if e.red != nil {
		e.a = ws.kernelBuf(b, k)
	}

	res := Result{Plan: dst}
	conv, ok := true, false
	if cfg.domain != Log {
		res.Iterations, res.MarginalError, conv, ok, err = balanceRun(e, cfg, false)
		if err != nil {
			return Result{}, fmt.Errorf(fn+": %w", err)
		}
		if !ok && cfg.domain == Exp {
			return Result{}, check.Errorf(fn, ssl.ErrNotFinite, "a scaling vector left the float32 range at iteration %d (eps=%v, max span of a column of scores %.4g)",
				res.Iterations, eps, e.maxSpan())
		}
	}
	if !ok {
		res.LogDomain = true
		e.logDomain = true
		e.sizeRowBufs()
		res.Iterations, res.MarginalError, conv, _, err = balanceRun(e, cfg, true)
		if err != nil {
			return Result{}, fmt.Errorf(fn+": %w", err)
		}
	}
	res.Residual = res.MarginalError
	if !finite(res.MarginalError) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "codes are not finite (eps=%v)", eps)
	}
	if !conv {
		return res, check.Errorf(fn, ErrNotConverged, "marginal error %.3g > Tol %.3g after %d iterations (Iterations=%d)",
			res.Residual, cfg.tol, res.Iterations, cfg.iters)
	}
	return res, nil
}

func (e *engine) maxSpan() float64 {
	m := 0.0
	for j := range e.k {
		m = max(m, float64(e.cmax[j]-e.cmin[j]))
	}
	return m
}

// balanceRun runs SwAV's iteration in the engine's domain and writes the
// codes. ok is false when the exp domain failed (nothing useful written).
func balanceRun(e *engine, cfg balanceCfg, logDomain bool) (iters int, merr float64, conv, ok bool, err error) {
	k := e.k
	// Kernel (or log-kernel) pass, with the column sums for u = 1.
	if logDomain {
		e.parallel(balanceLogKernelBlock)
		clear(e.f[:e.n])
		clear(e.g[:k])
		if err := e.colLogSums(); err != nil {
			return 0, 0, false, false, err
		}
	} else {
		e.parallel(balanceKernelBlock)
		e.sumParts()
		if err := e.reduce(e.acc[:k], Sum); err != nil {
			return 0, 0, false, false, err
		}
	}
	bk := float64(e.nTotal)
	tol := cfg.tol > 0
	conv = true
	rowsCurrent := false // u holds the row update for the current v
	for {
		iters++
		if logDomain {
			e.colUpdateLog()
		} else if !e.colUpdateExp() {
			return iters, 0, false, false, nil
		}
		rowsCurrent = false
		if !tol && iters == cfg.iters {
			break
		}
		_, ok, err := e.rowPass()
		if err != nil {
			return iters, 0, false, false, err
		}
		if !ok {
			return iters, 0, false, false, nil
		}
		rowsCurrent = true
		if tol {
			me, _ := e.colError()
			if me*bk <= cfg.tol {
				break
			}
			if iters == cfg.iters {
				conv = false
				break
			}
		}
	}
	if !rowsCurrent && e.red == nil && &e.a[0] == &e.out[0] {
		// Final sample update fused with the write: codes_i = the row of
		// A·diag(v) (or of exp(L + g)) normalized to sum 1.
		if logDomain {
			e.parallel(balanceLogWriteBlock)
		} else {
			e.parallel(balanceWriteBlock)
			if _, bad, _, _ := e.blockScalars(); bad != 0 {
				return iters, 0, false, false, nil
			}
		}
		e.sumParts()
		for j := range k {
			merr = max(merr, math.Abs(e.acc[j]-bk/float64(k)))
		}
		return iters, merr, conv, true, nil
	}
	if !rowsCurrent {
		_, ok, err := e.rowPass()
		if err != nil {
			return iters, 0, false, false, err
		}
		if !ok {
			return iters, 0, false, false, nil
		}
	}
	me, _ := e.colError()
	e.writeScaled()
	return iters, me * bk, conv, true, nil
}

func colMinMaxBlock(e *engine, blk, lo, hi int) {
	k := e.k
	mn, mx := e.part2[blk*k:(blk+1)*k], e.part3[blk*k:(blk+1)*k]
	s := e.src
	for j := range k {
		mn[j], mx[j] = math.MaxFloat32, -math.MaxFloat32
	}
	e.blk[4*blk] = -1
	nan := false
	for i := lo; i < hi; i++ {
		row := s[i*k : (i+1)*k]
		mn, mx := mn[:len(row)], mx[:len(row)]
		for j, x := range row {
			if !(x <= mx[j]) { // a new maximum, or NaN
				if x != x {
					nan = true
				} else {
					mx[j] = x
				}
			}
			if x < mn[j] {
				mn[j] = x
			}
		}
	}
	bad := nan
	for j := range k {
		if mx[j] > math.MaxFloat32 || mn[j] < -math.MaxFloat32 {
			bad = true
		}
	}
	if !bad {
		return
	}
	// Rare path: name the first non-finite element.
	for i := lo; i < hi; i++ {
		for j, x := range s[i*k : (i+1)*k] {
			if x-x != 0 {
				e.blk[4*blk] = float64(i*k + j)
				return
			}
		}
	}
}

// combineMinMax combines the block extrema into cmin and cmax and returns
// the flat index of the first non-finite element, or -1.
func (e *engine) combineMinMax() int {
	k := e.k
	for blk := range e.nb {
		if e.blk[4*blk] >= 0 {
			return int(e.blk[4*blk])
		}
	}
	copy(e.cmin[:k], e.part2[:k])
	copy(e.cmax[:k], e.part3[:k])
	for blk := 1; blk < e.nb; blk++ {
		mn, mx := e.part2[blk*k:(blk+1)*k], e.part3[blk*k:(blk+1)*k]
		for j := range k {
			e.cmin[j] = min(e.cmin[j], mn[j])
			e.cmax[j] = max(e.cmax[j], mx[j])
		}
	}
	return -1
}

// colExtrema computes the column minima and maxima of e.src over all
// workers and returns the flat index of this worker's first non-finite
// element (-1 if none) and whether any worker has one.
func (e *engine) colExtrema() (bad int, anyBad bool, err error) {
	k := e.k
	e.parallel(colMinMaxBlock)
	bad = e.combineMinMax()
	if e.red == nil {
		return bad, bad >= 0, nil
	}
	x := e.redK[:2*k+1]
	for j := range k {
		x[j], x[k+j] = float64(e.cmax[j]), -float64(e.cmin[j])
	}
	x[2*k] = 0
	if bad >= 0 {
		x[2*k] = 1
	}
	if err := e.reduce(x, Max); err != nil {
		return bad, false, err
	}
	for j := range k {
		e.cmax[j], e.cmin[j] = float32(x[j]), float32(-x[k+j])
	}
	return bad, x[2*k] != 0, nil
}

// balanceKernelBlock writes A_ij = exp((S_ij − max_i S_ij)/ε) and the
// block's column sums.
func balanceKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	cmax := e.cmax[:k]
	inv := float32(e.param)
	for i := lo; i < hi; i++ {
		row, src := e.a[i*k:(i+1)*k], e.src[i*k:(i+1)*k]
		tmax := math.Inf(-1)
		for j, x := range src {
			t := (x - cmax[j]) * inv
			if t < expMinNormal {
				tmax = max(tmax, float64(t))
			}
			row[j] = t
		}
		e.flush[i] = flushedMax(tmax)
		kernel.Exp(row, row)
		axpy64(1, row, p)
		e.u[i] = 1
	}
}

// balanceLogKernelBlock writes L_ij = (S_ij − max_i S_ij)/ε.
func balanceLogKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	cmax := e.cmax[:k]
	inv := float32(e.param)
	for i := lo; i < hi; i++ {
		row, src := e.a[i*k:(i+1)*k], e.src[i*k:(i+1)*k]
		for j, x := range src {
			row[j] = (x - cmax[j]) * inv
		}
	}
}

// balanceWriteBlock overwrites each kernel row A_i with A_i·diag(v)
// normalized to sum 1, sums the block's columns, and records in the block
// scalars whether a row sum was not valid (see "Exp-domain validity").
func balanceWriteBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	v := e.v[:k]
	var bad float64
	t := flushRel * e.vSum
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		s := dot64(row, v)
		inv := 1 / s
		if !(inv > 0 && inv <= math.MaxFloat64) || !(s >= t*e.flush[i]) {
			bad = 1
		}
		for j, x := range row {
			row[j] = float32(float64(x) * v[j] * inv)
		}
		axpy64(1, row, p)
	}
	e.blk[4*blk+1] = bad
}

// balanceLogWriteBlock overwrites each log-kernel row L_i with
// softmax(L_i + g), in float64, and sums the block's columns.
func balanceLogWriteBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	x := e.rowBuf[blk*k : (blk+1)*k]
	g := e.g[:k]
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		_, s := expShifted(x, row, 0, g)
		for j, xj := range x {
			row[j] = float32(xj / s)
			p[j] += xj / s
		}
	}
}
