package sinkhorn

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// POT's defaults for ot.sinkhorn (PythonOT/POT 0.8.2 ot/bregman.py:
// numItermax=1000, stopThr=1e-9, error tested when ii % 10 == 0) and the
// relative tolerance on the equality of the marginals' totals, a few
// float32 roundings of a sum.
const (
	potIterations = 1000
	potStopThr    = 1e-9
	potCheckEvery = 10
	massTol       = 1e-5
)

// TransportOptions are the optional settings of [Transport]. A nil
// *TransportOptions means POT's defaults: Iterations 1000, Tol 1e-9,
// tested every 10 updates. An options struct follows the library's
// stopping rule: Tol 0 runs exactly Iterations updates (POT with
// stopThr = 0), so pass Tol: 1e-9 to keep POT's test.
type TransportOptions struct {
	// Iterations caps the updates (POT's numItermax); ≥ 0, and 0 means
	// POT's 1000.
	Iterations int
	// Tol, when > 0, is POT's stopThr: stop after the first tested update
	// whose column-marginal error ‖Pᵀ1 − b‖₂ is ≤ Tol. ≥ 0; 0 runs exactly
	// Iterations updates with no test.
	Tol float64
	// CheckEvery is the cadence of the test (updates 0, CheckEvery, …);
	// ≥ 0, and 0 means POT's 10.
	CheckEvery int
	// Domain selects the exp- or log-domain iteration; [Auto] detects.
	Domain Domain
	// LogKernel says that the matrix argument is the log-kernel log K_ij
	// itself (for example scores/ε) rather than the cost M_ij: K = exp(X)
	// instead of exp(−M/reg). reg is then not used, but must still be
	// positive and finite.
	LogKernel bool
	// Reducer, when not nil, makes the call one worker of a sharded solve:
	// dst, a and the matrix hold this worker's rows (≥ 1), b all columns.
	Reducer Reducer
	// LogU (length N, this worker's rows) and LogV (length K), when not
	// nil, receive the scaling vectors; otherwise they are allocated.
	LogU, LogV []float64
	// Workspace, when not nil, holds the scratch, so that repeated calls
	// allocate nothing; nil allocates per call.
	Workspace *Workspace
}

// transportCfg is TransportOptions with the defaults filled in.
type transportCfg struct {
	iters, checkEvery int
	tol               float64
}

// TransportResult is what [Transport] returns.
type TransportResult struct {
	// Result holds the updates run, the residual ‖Pᵀ1 − b‖₂ and the
	// marginal error (rows meet a exactly after the last update; both are
	// errors of the columns), the domain used and the plan.
	Result
	// LogU and LogV are the scalings in log form, plan_ij =
	// exp(LogU_i + log K_ij + LogV_j), in POT's gauge (u starts at 1/N).
	LogU, LogV []float64
}

// Transport computes the entropic optimal-transport plan between row
// marginal a (N) and column marginal b (K) for the cost M (N×K) and
// regularization reg:
//
//	P = diag(u) · K · diag(v),  K = exp(−M/reg),  P·1 = a,  Pᵀ·1 = b
//	u = 1/N; repeat: v = b / (Kᵀu); u = a / (K v)
//
// which is POT's ot.sinkhorn (method "sinkhorn", and "sinkhorn_log" in the
// log domain: the same iteration on the potentials log u, log v), with
// POT's update order, initialization and stopping test. It writes P into
// dst (nil: allocated; returned as Plan). With LogKernel the matrix is
// log K itself. a, b and the matrix are not modified; dst must not overlap
// them.
//
// Each column of −M/reg is shifted by its maximum before the exponential,
// which changes only v's gauge (the first update is the column update), so
// the plans are those of POT's iteration exactly. Where exp(−M/reg)
// underflows, [Auto] keeps the exp domain only while flushed entries
// cannot matter and otherwise runs the log domain; POT's plain method
// instead returns an all-zero plan there.
//
// It returns an error wrapping ssl.ErrShape for empty or mismatched
// tensors or an overlapping dst; ssl.ErrParam for reg ≤ 0 or non-finite,
// invalid options, marginals with an entry ≤ 0 or with unequal totals
// (relative difference above 1e-5); ssl.ErrNotFinite for NaN or ±Inf in the
// matrix or the marginals, or with [Exp] for a problem the exp domain
// cannot represent. Nothing is written then. With a positive Tol that the
// returned plan does not meet, it returns the plan after Iterations updates,
// with its result, together with an error wrapping [ErrNotConverged].
//
// Reference: Cuturi, Sinkhorn Distances, NeurIPS 2013, Algorithm 1;
// PythonOT/POT 0.8.2 ot/bregman.py sinkhorn_knopp and sinkhorn_log.
func Transport(dst, a, b, cost ssl.Tensor, reg float64, opts *TransportOptions) (TransportResult, error) {
	const fn = "sinkhorn: Transport"
	n, k, m, err := check.NonEmptyMatrix(fn, "cost", cost)
	if err != nil {
		return TransportResult{}, err
	}
	av, err := check.VectorOf(fn, "a", a, n)
	if err != nil {
		return TransportResult{}, err
	}
	bv, err := check.VectorOf(fn, "b", b, k)
	if err != nil {
		return TransportResult{}, err
	}
	if err := check.Positive(fn, "reg", reg); err != nil {
		return TransportResult{}, err
	}
	cfg := transportCfg{iters: potIterations, checkEvery: potCheckEvery, tol: potStopThr}
	var o TransportOptions
	if opts != nil {
		o = *opts
		if err := check.Count(fn, "Iterations", o.Iterations, 0); err != nil {
			return TransportResult{}, err
		}
		if err := check.NonNegative(fn, "Tol", o.Tol); err != nil {
			return TransportResult{}, err
		}
		if err := check.Count(fn, "CheckEvery", o.CheckEvery, 0); err != nil {
			return TransportResult{}, err
		}
		if err := checkDomain(fn, o.Domain); err != nil {
			return TransportResult{}, err
		}
		cfg.tol = o.Tol
		if o.Iterations > 0 {
			cfg.iters = o.Iterations
		}
		if o.CheckEvery > 0 {
			cfg.checkEvery = o.CheckEvery
		}
	}
	switch {
	case o.LogU != nil && len(o.LogU) != n:
		return TransportResult{}, check.Errorf(fn, ssl.ErrShape, "LogU has length %d, want N=%d", len(o.LogU), n)
	case o.LogV != nil && len(o.LogV) != k:
		return TransportResult{}, check.Errorf(fn, ssl.ErrShape, "LogV has length %d, want K=%d", len(o.LogV), k)
	}
	q, err := check.Dst(fn, "dst", dst, check.Shape2(n, k), m, av, bv)
	if err != nil {
		return TransportResult{}, err
	}
	if q == nil {
		t := ssl.New(n, k)
		dst, q = t, t.Data().([]float32)
	}
	// Marginals: finite, positive, equal totals.
	sa, err := marginal(fn, "a", av)
	if err != nil {
		return TransportResult{}, err
	}
	sb, err := marginal(fn, "b", bv)
	if err != nil {
		return TransportResult{}, err
	}
	ws := o.Workspace
	if ws == nil {
		ws = new(Workspace)
	}
	e := ws.prepare(n, k)
	e.red, e.src, e.nTotal = o.Reducer, m, n
	bad, anyBad, err := e.colExtrema()
	if err != nil {
		return TransportResult{}, fmt.Errorf(fn+": %w", err)
	}
	if bad >= 0 {
		return TransportResult{}, check.Errorf(fn, ssl.ErrNotFinite, "cost[%d, %d] is %v", bad/k, bad%k, m[bad])
	}
	if anyBad {
		return TransportResult{}, check.Errorf(fn, ssl.ErrNotFinite, "cost of another worker is not finite")
	}
	if e.red != nil {
		c := e.red8[:2]
		c[0], c[1] = float64(n), sa
		if err := e.reduce(c, Sum); err != nil {
			return TransportResult{}, fmt.Errorf(fn+": %w", err)
		}
		e.nTotal, sa = int(c[0]), c[1]
	}
	if math.Abs(sa-sb) > massTol*max(sa, sb) {
		return TransportResult{}, check.Errorf(fn, ssl.ErrParam, "marginals have unequal totals (sum a=%.9g, sum b=%.9g)", sa, sb)
	}
	// Kernel exponent (x − ref_j)·scale ≤ 0, with column maximum 0.
	e.param, e.ref = -1/reg, e.cmin
	if o.LogKernel {
		e.param, e.ref = 1, e.cmax
	}
	// The float32 marginals' totals differ by their rounding, which no plan
	// can satisfy; b is rescaled in float64 to the total of a.
	e.rowT, e.colT = av, e.colBuf[:k]
	for j, x := range bv {
		e.colT[j] = float64(x) * (sa / sb)
	}
	e.a, e.out = q, q
	if e.red != nil {
		e.a = ws.kernelBuf(n, k)
	}

	res := TransportResult{LogU: o.LogU, LogV: o.LogV}
	res.Plan = dst
	ok := false
	if o.Domain != Log {
		res.Iterations, ok, err = transportRun(e, cfg, false)
		if err != nil {
			return TransportResult{}, fmt.Errorf(fn+": %w", err)
		}
		if !ok && o.Domain == Exp {
			return TransportResult{}, check.Errorf(fn, ssl.ErrNotFinite, "a scaling vector left the float32 range at update %d (reg=%v)", res.Iterations, reg)
		}
	}
	if !ok {
		e.logDomain, res.LogDomain = true, true
		e.sizeRowBufs()
		res.Iterations, _, err = transportRun(e, cfg, true)
		if err != nil {
			return TransportResult{}, fmt.Errorf(fn+": %w", err)
		}
	}
	res.MarginalError, res.Residual = e.colError()
	e.writeScaled()
	if res.LogU == nil {
		res.LogU = make([]float64, n)
	}
	if res.LogV == nil {
		res.LogV = make([]float64, k)
	}
	for i := range n {
		if e.logDomain {
			res.LogU[i] = e.f[i]
		} else {
			res.LogU[i] = math.Log(e.u[i])
		}
	}
	for j := range k {
		off := -float64(e.ref[j]) * e.param
		if e.logDomain {
			res.LogV[j] = e.g[j] + off
		} else {
			res.LogV[j] = math.Log(e.v[j]) + off
		}
	}
	if !finite(res.MarginalError) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "plan is not finite (reg=%v)", reg)
	}
	if cfg.tol > 0 && !(res.Residual <= cfg.tol) {
		return res, check.Errorf(fn, ErrNotConverged, "column-marginal error %.3g > Tol %.3g after %d updates (Iterations=%d)", res.Residual, cfg.tol, res.Iterations, cfg.iters)
	}
	return res, nil
}

// transportRun builds the kernel for its domain and runs POT's loop: at
// most cfg.iters updates, stopping after a tested update whose error is
// ≤ a positive Tol. ok is false when the exp domain failed.
func transportRun(e *engine, cfg transportCfg, logDomain bool) (iters int, ok bool, err error) {
	k := e.k
	logN := math.Log(float64(e.nTotal))
	if logDomain {
		e.parallel(transportLogKernelBlock)
		for i := range e.n {
			e.f[i] = -logN
		}
		clear(e.g[:k])
		if err := e.colLogSums(); err != nil {
			return 0, false, err
		}
	} else {
		e.parallel(transportKernelBlock)
		e.sumParts()
		if err := e.reduce(e.acc[:k], Sum); err != nil {
			return 0, false, err
		}
	}
	for ii := 0; ii < cfg.iters; ii++ {
		iters++
		if logDomain {
			e.colUpdateLog()
		} else if !e.colUpdateExp() {
			return iters, false, nil
		}
		_, ok, err := e.rowPass()
		if err != nil {
			return iters, false, err
		}
		if !ok {
			return iters, false, nil
		}
		if cfg.tol > 0 && ii%cfg.checkEvery == 0 {
			if _, l2 := e.colError(); l2 <= cfg.tol {
				break
			}
		}
	}
	return iters, true, nil
}

// transportKernelBlock writes A_ij = exp((x_ij − ref_j)·scale), u_i = 1/N
// and the block's column sums Σ_i A_ij·u_i.
func transportKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	ref, scale := e.ref[:k], e.param
	u0 := 1 / float64(e.nTotal)
	for i := lo; i < hi; i++ {
		row, src := e.a[i*k:(i+1)*k], e.src[i*k:(i+1)*k]
		tmax := math.Inf(-1)
		for j, x := range src {
			// In float64, so that the exponent is rounded once (M/reg
			// reaches thousands).
			t := float32((float64(x) - float64(ref[j])) * scale)
			if t < expMinNormal {
				tmax = max(tmax, float64(t))
			}
			row[j] = t
		}
		e.flush[i] = flushedMax(tmax)
		kernel.Exp(row, row)
		e.u[i] = u0
		axpy64(u0, row, p)
	}
}

// transportLogKernelBlock writes L_ij = (x_ij − ref_j)·scale.
func transportLogKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	ref, scale := e.ref[:k], e.param
	for i := lo; i < hi; i++ {
		row, src := e.a[i*k:(i+1)*k], e.src[i*k:(i+1)*k]
		for j, x := range src {
			row[j] = float32((float64(x) - float64(ref[j])) * scale)
		}
	}
}

// marginal checks that every entry of x is finite and positive and returns
// the float64 sum.
func marginal(fn, name string, x []float32) (float64, error) {
	s := 0.0
	for i, v := range x {
		if v-v != 0 {
			return 0, check.Errorf(fn, ssl.ErrNotFinite, "%s[%d] is %v", name, i, v)
		}
		if !(v > 0) {
			return 0, check.Errorf(fn, ssl.ErrParam, "%s[%d] = %v, marginals must be > 0", name, i, v)
		}
		s += float64(v)
	}
	return s, nil
}
