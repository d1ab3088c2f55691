package sinkhorn

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/kernel"
)

// SwAV's defaults (facebookresearch/swav@06b1b7cb main_swav.py: --epsilon
// 0.05, --sinkhorn_iterations 3) and the iteration cap used with a tolerance.
const (
	defaultIterations = 3
	defaultMaxIter    = 1000
)

// BalanceOptions are the optional settings of [Balance]. A nil
// *BalanceOptions means all defaults.
type BalanceOptions struct {
	// Iterations is the fixed number of scaling iterations run when Tol is
	// 0; ≥ 0, and 0 means SwAV's 3.
	Iterations int
	// Tol, when > 0, replaces the fixed count: iterate until the marginal
	// error of the codes (see [Result]) is ≤ Tol, at most MaxIter times.
	Tol float64
	// MaxIter caps the iterations when Tol > 0; ≥ 0, and 0 means 1000.
	MaxIter int
	// Domain selects the exp- or log-domain iteration; the zero value [Auto]
	// detects which one the input needs.
	Domain Domain
}

type balanceCfg struct {
	iters, maxIter int
	tol            float64
	domain         Domain
}

func balanceConfig(fn string, o *BalanceOptions) (balanceCfg, error) {
	c := balanceCfg{iters: defaultIterations, maxIter: defaultMaxIter}
	if o == nil {
		return c, nil
	}
	switch {
	case o.Iterations < 0:
		return c, fmt.Errorf("sinkhorn: %s: Iterations must be >= 0 (Iterations=%d): %w", fn, o.Iterations, ssl.ErrParam)
	case o.MaxIter < 0:
		return c, fmt.Errorf("sinkhorn: %s: MaxIter must be >= 0 (MaxIter=%d): %w", fn, o.MaxIter, ssl.ErrParam)
	case !(o.Tol >= 0) || math.IsInf(o.Tol, 0):
		return c, fmt.Errorf("sinkhorn: %s: Tol must be finite and >= 0 (Tol=%v): %w", fn, o.Tol, ssl.ErrParam)
	case o.Domain < Auto || o.Domain > Log:
		return c, fmt.Errorf("sinkhorn: %s: unknown Domain (Domain=%d): %w", fn, int(o.Domain), ssl.ErrParam)
	}
	if o.Iterations > 0 {
		c.iters = o.Iterations
	}
	if o.MaxIter > 0 {
		c.maxIter = o.MaxIter
	}
	c.tol, c.domain = o.Tol, o.Domain
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
// a tolerance, until the marginal error is at most Tol. It writes
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
// prototype update removes any per-prototype constant). With [Auto], when a
// column of S/ε spans more than the float32 exponent range (exp would
// underflow to a subnormal or zero) or a scaling vector leaves the float32
// range, Balance runs the log-domain iteration instead, which updates the
// dual potentials with log-sum-exp and stays finite for any finite scores.
//
// It returns an error wrapping ssl.ErrShape for an empty, non-matrix or
// mismatched tensor or a dst overlapping scores; ssl.ErrParam for
// ε ≤ 0 or non-finite and for invalid options; ssl.ErrNotFinite for NaN or
// ±Inf scores, or, with [Exp], for a problem the exp domain cannot
// represent. Nothing is written then. With Tol it returns an error wrapping
// [ErrNotConverged] together with the codes after MaxIter iterations.
//
// Reference: Caron et al., SwAV, NeurIPS 2020, §3.1 eq. 3 and Appendix A.1
// (Algorithm 1); facebookresearch/swav@06b1b7cb main_swav.py
// distributed_sinkhorn.
func Balance(dst, scores ssl.Tensor, eps float64, ws *Workspace, opts *BalanceOptions) (Result, error) {
	b, k, s, err := ssl.Matrix(scores)
	if err != nil {
		return Result{}, fmt.Errorf("sinkhorn: Balance: scores: %w", err)
	}
	if b == 0 || k == 0 {
		return Result{}, fmt.Errorf("sinkhorn: Balance: scores is empty (B=%d, K=%d): %w", b, k, ssl.ErrShape)
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return Result{}, fmt.Errorf("sinkhorn: Balance: epsilon must be positive and finite (epsilon=%v): %w", eps, ssl.ErrParam)
	}
	cfg, err := balanceConfig("Balance", opts)
	if err != nil {
		return Result{}, err
	}
	var q []float32
	if dst == nil {
		t := ssl.New(b, k)
		dst, q = t, t.Data().([]float32)
	} else if q, err = ssl.MatrixOf(dst, b, k); err != nil {
		return Result{}, fmt.Errorf("sinkhorn: Balance: dst: %w", err)
	}
	if kernel.Overlaps(q, s) {
		return Result{}, fmt.Errorf("sinkhorn: Balance: dst overlaps scores: %w", ssl.ErrShape)
	}
	if ws == nil {
		ws = new(Workspace)
	}
	ws.reserve(b, k)
	if i, v := colMinMax(ws.colMin[:k], ws.colMax[:k], s, b, k, ws); i >= 0 {
		return Result{}, fmt.Errorf("sinkhorn: Balance: scores[%d, %d] is %v: %w", i/k, i%k, v, ssl.ErrNotFinite)
	}
	useLog := cfg.domain == Log
	if !useLog {
		// The largest span of a shifted column decides whether exp
		// underflows: every entry of the kernel must be a normal float32.
		span, at := 0.0, 0
		for j := range k {
			if d := float64(ws.colMax[j]-ws.colMin[j]) / eps; d > span {
				span, at = d, j
			}
		}
		if span > -expMinNormal {
			if cfg.domain == Exp {
				return Result{}, fmt.Errorf("sinkhorn: Balance: exp((scores - max)/epsilon) underflows float32: column %d spans %.4g/epsilon > %.4g: %w",
					at, span, -expMinNormal, ssl.ErrNotFinite)
			}
			useLog = true
		}
	}
	res := Result{Plan: dst}
	var conv bool
	if !useLog {
		var ok bool
		res.Iterations, res.MarginalError, conv, ok = balanceExp(q, s, b, k, eps, cfg, ws)
		if !ok {
			if cfg.domain == Exp {
				return Result{}, fmt.Errorf("sinkhorn: Balance: a scaling vector left the float32 range at iteration %d (epsilon=%v): %w",
					res.Iterations, eps, ssl.ErrNotFinite)
			}
			useLog = true
		}
	}
	if useLog {
		res.LogDomain = true
		res.Iterations, res.MarginalError, conv = balanceLog(q, s, b, k, eps, cfg, ws)
	}
	if !finite(res.MarginalError) {
		return res, fmt.Errorf("sinkhorn: Balance: codes are not finite (epsilon=%v): %w", eps, ssl.ErrNotFinite)
	}
	if !conv {
		return res, fmt.Errorf("sinkhorn: Balance: marginal error %.3g > Tol %.3g after %d iterations: %w",
			res.MarginalError, cfg.tol, res.Iterations, ErrNotConverged)
	}
	return res, nil
}

// colMinMax writes the minimum and maximum of every column of the b×k
// matrix s and returns the flat index and value of a NaN or ±Inf element,
// or -1.
func colMinMax(cmin, cmax, s []float32, b, k int, ws *Workspace) (int, float32) {
	grain := rowGrain(b, k)
	nb := (b + grain - 1) / grain
	pmin, pmax := ws.part[:nb*k], ws.part2[:nb*k]
	bad := ws.blockF[:nb]
	kernel.ParallelFor(b, grain, func(lo, hi int) {
		blk := lo / grain
		mn, mx := pmin[blk*k:(blk+1)*k], pmax[blk*k:(blk+1)*k]
		copy(mn, s[lo*k:(lo+1)*k])
		copy(mx, mn)
		bad[blk] = -1
		for i := lo; i < hi; i++ {
			row := s[i*k : (i+1)*k]
			for j, x := range row {
				if x-x != 0 {
					if bad[blk] < 0 {
						bad[blk] = float64(i*k + j)
					}
					continue
				}
				mn[j] = min(mn[j], x)
				mx[j] = max(mx[j], x)
			}
		}
	})
	for blk := range nb {
		if bad[blk] >= 0 {
			i := int(bad[blk])
			return i, s[i]
		}
	}
	copy(cmin, pmin[:k])
	copy(cmax, pmax[:k])
	for blk := 1; blk < nb; blk++ {
		mn, mx := pmin[blk*k:(blk+1)*k], pmax[blk*k:(blk+1)*k]
		for j := range k {
			cmin[j] = min(cmin[j], mn[j])
			cmax[j] = max(cmax[j], mx[j])
		}
	}
	return -1, 0
}

// sumBlocks writes acc[j] = Σ_blk part[blk·k + j], in block order.
func sumBlocks(acc []float64, part []float32, nb, k int) {
	for j := range k {
		acc[j] = float64(part[j])
	}
	for blk := 1; blk < nb; blk++ {
		p := part[blk*k : (blk+1)*k]
		for j, x := range p {
			acc[j] += float64(x)
		}
	}
}

// normalFloat32 reports whether x is a positive normal float32 value.
func normalFloat32(x float32) bool { return x >= 0x1p-126 && x <= math.MaxFloat32 }

// balanceExp runs the exp-domain iteration with the kernel held in q. It
// returns the iterations run, the marginal error of the codes, whether the
// tolerance was met, and false if a scaling vector left the float32 range
// (q then holds no result).
func balanceExp(q, s []float32, b, k int, eps float64, cfg balanceCfg, ws *Workspace) (iters int, merr float64, conv, ok bool) {
	grain := rowGrain(b, k)
	nb := (b + grain - 1) / grain
	part, bad := ws.part[:nb*k], ws.blockF[:nb]
	u, v, acc, cmax := ws.u[:b], ws.v[:k], ws.colAcc[:k], ws.colMax[:k]
	invEps := float32(1 / eps)
	// Kernel pass: q = exp((S − colmax)/ε), column sums with u = 1.
	kernel.ParallelFor(b, grain, func(lo, hi int) {
		p := part[(lo/grain)*k : (lo/grain+1)*k]
		clear(p)
		for i := lo; i < hi; i++ {
			row, srow := q[i*k:(i+1)*k], s[i*k:(i+1)*k]
			for j, x := range srow {
				row[j] = (x - cmax[j]) * invEps
			}
			kernel.Exp(row, row)
			kernel.Axpy(1, row, p)
		}
	})
	sumBlocks(acc, part, nb, k)
	bk, bb := float64(b), float64(k)
	tol := cfg.tol > 0
	conv = true
	for {
		iters++
		// Prototype update.
		for j := range k {
			v[j] = float32(1 / (bb * acc[j]))
			if !normalFloat32(v[j]) {
				return iters, 0, false, false
			}
		}
		if !tol && iters == cfg.iters {
			break
		}
		// Sample update, and the column sums for the next prototype update.
		kernel.ParallelFor(b, grain, func(lo, hi int) {
			blk := lo / grain
			p := part[blk*k : (blk+1)*k]
			clear(p)
			bad[blk] = 0
			for i := lo; i < hi; i++ {
				row := q[i*k : (i+1)*k]
				ui := float32(1 / (bk * kernel.Dot(row, v)))
				if !normalFloat32(ui) {
					bad[blk] = 1
				}
				u[i] = ui
				kernel.Axpy(ui, row, p)
			}
		})
		for _, x := range bad {
			if x != 0 {
				return iters, 0, false, false
			}
		}
		sumBlocks(acc, part, nb, k)
		if tol {
			e := 0.0
			for j := range k {
				e = math.Max(e, math.Abs(float64(v[j])*acc[j]-1/bb))
			}
			if e*bk <= cfg.tol {
				break
			}
			if iters == cfg.maxIter {
				conv = false
				break
			}
		}
	}
	// Final sample update, written as codes: q_ij = A_ij·v_j / Σ_l A_il·v_l.
	rowErr := ws.blockF[:nb]
	kernel.ParallelFor(b, grain, func(lo, hi int) {
		blk := lo / grain
		p := part[blk*k : (blk+1)*k]
		clear(p)
		e := 0.0
		for i := lo; i < hi; i++ {
			row := q[i*k : (i+1)*k]
			inv := float32(1 / kernel.Dot(row, v))
			for j := range row {
				row[j] *= v[j] * inv
			}
			e = math.Max(e, math.Abs(kernel.Sum(row)-1))
			kernel.Axpy(1, row, p)
		}
		rowErr[blk] = e
	})
	return iters, codesError(acc, part, rowErr, nb, k, bk/bb), conv, true
}

// codesError combines the per-block column sums of the codes and the
// per-block row errors into max(max_i |rowsum_i − 1|, max_j |colsum_j − B/K|).
func codesError(acc []float64, part []float32, rowErr []float64, nb, k int, colTarget float64) float64 {
	sumBlocks(acc, part, nb, k)
	e := 0.0
	for _, x := range rowErr[:nb] {
		e = math.Max(e, x)
	}
	for _, x := range acc[:k] {
		e = math.Max(e, math.Abs(x-colTarget))
	}
	return e
}

// balanceLog runs the log-domain iteration, with q as scratch, and writes
// the codes into q. The potentials are f (prototypes) and g (samples):
// log Q_ij = S_ij/ε + g_i + f_j. Every exponent is formed in float64 around
// the current potentials, so the float32 values handed to the kernels are
// log-plan entries of moderate size whatever the scale of S/ε.
func balanceLog(q, s []float32, b, k int, eps float64, cfg balanceCfg, ws *Workspace) (iters int, merr float64, conv bool) {
	grain := rowGrain(b, k)
	nb := (b + grain - 1) / grain
	f, g, lse, cmax := ws.f[:k], ws.g[:b], ws.colAcc[:k], ws.colMax[:k]
	lseRow := ws.blockF[:nb]
	_ = lseRow
	invEps := 1 / eps
	for j := range k {
		f[j] = -float64(cmax[j]) * invEps
	}
	clear(g)
	bk, bb := float64(b), float64(k)
	logB, logK := math.Log(bk), math.Log(bb)
	tol := cfg.tol > 0
	colLSE := func() {
		kernel.ParallelFor(b, grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row, srow := q[i*k:(i+1)*k], s[i*k:(i+1)*k]
				for j, x := range srow {
					row[j] = float32(float64(x)*invEps + g[i] + f[j])
				}
			}
		})
		tmp := ws.rowTmp[:k]
		kernel.LogSumExpCols(tmp, q, b, k)
		for j := range k {
			lse[j] = float64(tmp[j])
		}
	}
	conv = true
	for {
		iters++
		colLSE()
		if tol && iters > 1 {
			// lse holds the log column sums of the plan after the last sample
			// update: the marginal error of iteration iters−1.
			e := 0.0
			for j := range k {
				e = math.Max(e, math.Abs(math.Exp(lse[j])-1/bb))
			}
			if e*bk <= cfg.tol {
				iters--
				break
			}
			if iters-1 == cfg.maxIter {
				iters--
				conv = false
				break
			}
		}
		for j := range k {
			f[j] -= logK + lse[j]
		}
		if !tol && iters == cfg.iters {
			break
		}
		kernel.ParallelFor(b, grain, func(lo, hi int) {
			var out [1]float32
			for i := lo; i < hi; i++ {
				row, srow := q[i*k:(i+1)*k], s[i*k:(i+1)*k]
				for j, x := range srow {
					row[j] = float32(float64(x)*invEps + g[i] + f[j])
				}
				kernel.LogSumExpRows(out[:], row, 1, k)
				g[i] -= logB + float64(out[0])
			}
		})
	}
	// Final sample update: codes_i = softmax_j(S_ij/ε + f_j).
	part, rowErr := ws.part[:nb*k], ws.blockF[:nb]
	kernel.ParallelFor(b, grain, func(lo, hi int) {
		blk := lo / grain
		p := part[blk*k : (blk+1)*k]
		clear(p)
		e := 0.0
		for i := lo; i < hi; i++ {
			row, srow := q[i*k:(i+1)*k], s[i*k:(i+1)*k]
			for j, x := range srow {
				row[j] = float32(float64(x)*invEps + g[i] + f[j])
			}
			kernel.SoftmaxRows(row, row, 1, k)
			e = math.Max(e, math.Abs(kernel.Sum(row)-1))
			kernel.Axpy(1, row, p)
		}
		rowErr[blk] = e
	})
	return iters, codesError(lse, part, rowErr, nb, k, bk/bb), conv
}
