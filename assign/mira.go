package assign

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// defaultMIRAIterations is the repository default of MIRA's fixed-point
// iterations (movinghoon/MIRA train.py @ 2a62538d, mira(..., iters=30)).
const defaultMIRAIterations = 30

// miraRowGrain is the rows per parallel block of MIRA's iteration: each
// block keeps a K-vector of float64 partial column sums, combined in block
// order, so the result does not depend on GOMAXPROCS.
const miraRowGrain = 64

// MIRAOptions holds the optional settings of [MIRA]. A nil *MIRAOptions
// means the defaults.
type MIRAOptions struct {
	// Iterations is the number of fixed-point iterations, ≥ 0; 0 means 30
	// (the authors' default).
	Iterations int
	// Tol, if > 0, stops the iteration once the residual (see
	// [MIRAResult]) is ≤ Tol; if it is still above Tol after Iterations,
	// MIRA returns the complete result with an error wrapping
	// ErrNotConverged. 0 (the default) runs exactly Iterations, as the
	// authors' code does.
	Tol float64
	// Workspace, if not nil, holds the scratch memory reused across calls;
	// nil allocates per call.
	Workspace *Workspace
}

// MIRAResult describes a finished [MIRA] call.
type MIRAResult struct {
	// Iterations is the number of fixed-point iterations run.
	Iterations int
	// Residual is max_k |v_k' / v_k − 1| of the last iteration (v the
	// column scaling before it, v' after): how far v is from the fixed
	// point v = F(v). It is 0 when no iteration ran.
	Residual float64
	// Target is the B×K tensor of pseudo-labels: the caller's dst, or a
	// new tensor when dst was nil.
	Target ssl.Tensor
}

// Workspace holds the package's reusable scratch memory ([MIRA]'s B×K
// probabilities, float32 or float64, and its K- and B-vectors). The zero
// value is ready to use and grows to the largest size it has served; pass
// it as the Workspace field of the options. It is not safe for concurrent
// use.
type Workspace struct {
	b, k    int
	p64     []float64 // B×K probabilities, float64 storage (allocated on first use)
	p32     []float32 // B×K probabilities, float32 storage (allocated on first use)
	r       []float64 // B row normalisers Σ_j w_j p_bj
	v, w    []float64 // K: column scaling and weights
	mean    []float64 // K: column means of p/r
	partial []float64 // blocks×K partial column sums
}

// NewWorkspace returns a workspace already grown for [MIRA] on B×K logits
// (both storages of the probabilities), so that no call up to that size
// allocates.
func NewWorkspace(b, k int) *Workspace {
	ws := new(Workspace)
	ws.size(max(b, 0), max(k, 0))
	ws.p32 = grow(ws.p32, ws.b*ws.k)
	ws.p64 = grow(ws.p64, ws.b*ws.k)
	return ws
}

// size sets the workspace to B×K, growing its vectors as needed (the
// probabilities are grown by MIRA, for the storage it uses).
func (ws *Workspace) size(b, k int) {
	ws.b, ws.k = b, k
	blocks := (b + miraRowGrain - 1) / miraRowGrain
	ws.r = grow(ws.r, b)
	ws.v, ws.w, ws.mean = grow(ws.v, k), grow(ws.w, k), grow(ws.mean, k)
	ws.partial = grow(ws.partial, blocks*k)
}

// grow returns s resliced to n elements, reallocated if its capacity is
// smaller.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// MIRA computes MIRA's pseudo-labels for a batch of logits (B×K): the
// assignment that maximises the mutual information between labels and
// samples while staying close (in KL) to the model's probabilities, found by
// the authors' fixed-point iteration (β the trade-off, τ the temperature):
//
//	p_bk = softmax_k(logits_bk / τ / (1 − β))
//	v_k  = (mean_b p_bk)^(1−β)
//	repeat Iterations times:
//	    w_k = v_k^(−β/(1−β))
//	    v_k = (mean_b [ p_bk / Σ_j w_j p_bj ])^(1−β)
//	w_k = v_k^(−β/(1−β))
//	target_bk = w_k p_bk / Σ_j w_j p_bj
//
// so every row of target sums to 1. The fixed point v = F(v) of the update
// is the stationary point of the paper's objective (eq. 7–9); its residual
// is reported. Every sum, v and w (through exp/log) are float64, and p is a
// float64 softmax with max subtraction. p is stored in float32 when every
// row of logits/(τ(1−β)) spans at most 60 (all p ≥ e^−60/K are then normal
// float32, rounded to 6e-8 relative; MIRA's cosine logits with the
// default τ, β span at most 36) and in float64 otherwise, so spans up to
// ±700 stay exact; target is rounded to float32. A class whose
// probability underflows float64 in every row (v_k = 0, w_k = +Inf in the
// formula) gets w_k = 0: its target column is 0, where the formula gives
// 0·Inf.
//
// dst (B×K) receives target; nil allocates. opts.Workspace, if not nil,
// is reused (and grown) instead of allocating the B×K scratch per call.
//
// It returns an error wrapping ssl.ErrParam if τ ≤ 0, β ∉ (0, 1), either is
// not finite, or an option is out of range; ssl.ErrShape if logits is not a
// matrix or is empty, or dst has the wrong shape or overlaps logits;
// ssl.ErrNotFinite if logits holds a NaN or an
// infinity; and ErrNotConverged (with the result) if opts.Tol is not met.
// Nothing is written on a bad argument.
//
// Reference: Lee et al., Unsupervised Visual Representation Learning via
// Mutual Information Regularized Assignment, NeurIPS 2022, eq. 9 and
// Alg. 1 (movinghoon/MIRA train.py mira() @ 2a62538d, world size 1).
func MIRA(dst, logits ssl.Tensor, tau, beta float64, opts *MIRAOptions) (MIRAResult, error) {
	const fn = "assign: MIRA"
	var o MIRAOptions
	if opts != nil {
		o = *opts
	}
	b, k, lv, err := check.Matrix(fn, "logits", logits)
	if err != nil {
		return MIRAResult{}, err
	}
	if b == 0 || k == 0 {
		return MIRAResult{}, check.Errorf(fn, ssl.ErrShape, "logits is %d×%d, want B ≥ 1 and K ≥ 1", b, k)
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return MIRAResult{}, check.Errorf(fn, ssl.ErrParam, "tau must be finite and > 0 (tau=%v)", tau)
	}
	if !(beta > 0 && beta < 1) {
		return MIRAResult{}, check.Errorf(fn, ssl.ErrParam, "beta must be in (0, 1) (beta=%v)", beta)
	}
	if o.Iterations < 0 {
		return MIRAResult{}, check.Errorf(fn, ssl.ErrParam, "Iterations must be ≥ 0 (Iterations=%d)", o.Iterations)
	}
	if !(o.Tol >= 0) || math.IsInf(o.Tol, 0) {
		return MIRAResult{}, check.Errorf(fn, ssl.ErrParam, "Tol must be finite and ≥ 0 (Tol=%v)", o.Tol)
	}
	var tv []float32
	if !check.IsNil(dst) {
		if tv, err = check.MatrixOf(fn, "dst", dst, b, k); err != nil {
			return MIRAResult{}, err
		}
		if kernel.Overlaps(tv, lv) {
			return MIRAResult{}, check.Errorf(fn, ssl.ErrShape, "dst overlaps logits")
		}
	}
	if err := check.FiniteData(fn, "logits", lv, b, k); err != nil {
		return MIRAResult{}, err
	}
	iters := o.Iterations
	if iters == 0 {
		iters = defaultMIRAIterations
	}
	ws := o.Workspace
	if ws == nil {
		ws = new(Workspace)
	}
	ws.size(b, k)
	if check.IsNil(dst) {
		dst = ssl.New(b, k)
		tv = dst.Data().([]float32)
	}

	scale := 1 / (tau * (1 - beta))
	var it miraIter
	if float32Safe(lv, b, k, scale) {
		ws.p32 = grow(ws.p32, b*k)
		it = miraOps[float32]{ws, ws.p32}
	} else {
		ws.p64 = grow(ws.p64, b*k)
		it = miraOps[float64]{ws, ws.p64}
	}
	it.softmax(lv, scale)
	// v = (mean_b p)^(1−β).
	it.columnMeans(false)
	for j, m := range ws.mean {
		ws.v[j] = math.Pow(m, 1-beta)
	}
	res := MIRAResult{Target: dst}
	for res.Iterations < iters {
		ws.weights(beta)
		it.columnMeans(true)
		resid := 0.0
		for j, m := range ws.mean {
			nv := math.Pow(m, 1-beta)
			if old := ws.v[j]; old != 0 {
				resid = math.Max(resid, math.Abs(nv/old-1))
			} else if nv != 0 {
				resid = math.Inf(1)
			}
			ws.v[j] = nv
		}
		res.Iterations++
		res.Residual = resid
		if o.Tol > 0 && resid <= o.Tol {
			break
		}
	}
	ws.weights(beta)
	it.target(tv)
	if !finite(res.Residual) || !allFinite64(ws.v) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "the column scaling is not finite (residual %v; logits/(tau·(1−beta)) too extreme)", res.Residual)
	}
	if o.Tol > 0 && res.Residual > o.Tol {
		return res, check.Errorf(fn, ErrNotConverged, "residual %.3g > Tol=%g after %d iterations", res.Residual, o.Tol, res.Iterations)
	}
	return res, nil
}

// float32SafeSpan is the widest row span of logits/(τ(1−β)) for which
// [MIRA] stores p in float32: every p_bk ≥ e^−60/K stays a normal float32
// (≥ 2^−126) for K up to 10^8, so float32 storage only rounds (relative
// 6e-8); wider rows use float64 storage, where p stays exact down to
// e^−700.
const float32SafeSpan = 60

// float32Safe reports whether every row's span (max − min)·scale is at
// most float32SafeSpan.
func float32Safe(lv []float32, b, k int, scale float64) bool {
	for i := range b {
		lo, hi := lv[i*k], lv[i*k]
		for _, x := range lv[i*k : (i+1)*k] {
			lo, hi = min(lo, x), max(hi, x)
		}
		if (float64(hi)-float64(lo))*scale > float32SafeSpan {
			return false
		}
	}
	return true
}

// miraIter is the part of MIRA's iteration that touches p, for either
// storage type.
type miraIter interface {
	softmax(lv []float32, scale float64)
	columnMeans(useW bool)
	target(tv []float32)
}

// miraOps runs MIRA's passes over p stored as T; every sum is float64.
type miraOps[T float32 | float64] struct {
	ws *Workspace
	p  []T
}

// softmax fills p with softmax(scale·logits) row by row, computed in
// float64.
func (o miraOps[T]) softmax(lv []float32, scale float64) {
	ws := o.ws
	k := ws.k
	kernel.ParallelFor(ws.b, miraRowGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, pr := lv[i*k:(i+1)*k], o.p[i*k:(i+1)*k]
			mx := math.Inf(-1)
			for _, x := range row {
				mx = math.Max(mx, float64(x)*scale)
			}
			var s float64
			for j, x := range row {
				e := math.Exp(float64(x)*scale - mx)
				pr[j] = T(e)
				s += e
			}
			inv := 1 / s
			for j, e := range pr {
				pr[j] = T(float64(e) * inv)
			}
		}
	})
}

// weights sets w_k = v_k^(−β/(1−β)), and w_k = 0 where v_k = 0.
func (ws *Workspace) weights(beta float64) {
	e := -beta / (1 - beta)
	for j, v := range ws.v {
		if v == 0 {
			ws.w[j] = 0
			continue
		}
		ws.w[j] = math.Exp(e * math.Log(v))
	}
}

// columnMeans sets r_b = Σ_j w_j p_bj (1 when !useW) and
// mean_k = mean_b p_bk / r_b, summing each block of miraRowGrain rows into
// its own partial vector and the partials in block order.
func (o miraOps[T]) columnMeans(useW bool) {
	ws := o.ws
	b, k := ws.b, ws.k
	kernel.ParallelFor(b, miraRowGrain, func(lo, hi int) {
		part := ws.partial[lo/miraRowGrain*k : (lo/miraRowGrain+1)*k]
		clear(part)
		for i := lo; i < hi; i++ {
			pr := o.p[i*k : (i+1)*k]
			r := 1.0
			if useW {
				r = dotW(ws.w, pr)
			}
			ws.r[i] = r
			inv := 1 / r
			for j, p := range pr {
				part[j] += float64(p) * inv
			}
		}
	})
	clear(ws.mean)
	blocks := (b + miraRowGrain - 1) / miraRowGrain
	for t := range blocks {
		for j, v := range ws.partial[t*k : (t+1)*k] {
			ws.mean[j] += v
		}
	}
	invB := 1 / float64(b)
	for j := range ws.mean {
		ws.mean[j] *= invB
	}
}

// target writes target_bk = w_k p_bk / Σ_j w_j p_bj.
func (o miraOps[T]) target(tv []float32) {
	ws := o.ws
	k := ws.k
	kernel.ParallelFor(ws.b, miraRowGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			pr, tr := o.p[i*k:(i+1)*k], tv[i*k:(i+1)*k]
			inv := 1 / dotW(ws.w, pr)
			for j, p := range pr {
				tr[j] = float32(ws.w[j] * float64(p) * inv)
			}
		}
	})
}

// allFinite64 reports whether no element of x is NaN or ±Inf.
func allFinite64(x []float64) bool {
	for _, v := range x {
		if !finite(v) {
			return false
		}
	}
	return true
}

// dotW returns Σ_j w_j·p_j in float64 with four accumulators.
func dotW[T float32 | float64](w []float64, p []T) float64 {
	p = p[:len(w)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(w); j += 4 {
		s0 += w[j] * float64(p[j])
		s1 += w[j+1] * float64(p[j+1])
		s2 += w[j+2] * float64(p[j+2])
		s3 += w[j+3] * float64(p[j+3])
	}
	for ; j < len(w); j++ {
		s0 += w[j] * float64(p[j])
	}
	return (s0 + s1) + (s2 + s3)
}
