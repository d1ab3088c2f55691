package cuda

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/sinkhorn"
)

// Balance computes SwAV's codes on the device, as [sinkhorn.Balance] does
// on the host, with the same options and result: for scores (B×K) it writes
// into q (B×K, which may be scores itself)
//
//	Q = B · diag(e^f) · exp(scores/ε) · diag(e^g)
//
// after iterations alternating normalizations, first of the prototype
// columns to mass 1/K, then of the sample rows to mass 1/B, as
// facebookresearch/swav's distributed_sinkhorn (world size 1) does; every
// row of q sums to 1. The potentials f (B) and g (K) are updated in the log
// domain,
//
//	g_k = −log K − LSE_b(scores_bk/ε + f_b),  f_b = −log B − LSE_k(scores_bk/ε + g_k),
//
// so scores/ε of any magnitude stay finite (the reference overflows float32
// past scores/ε ≈ 88.7). Each iteration reads scores twice; the marginal
// error of the codes (the Residual, in the codes' units) costs one more
// read per tested iteration, and one at the end when Tol is 0.
//
// Options are [sinkhorn.BalanceOptions] under the library's stopping rule:
// nil means SwAV's 3 iterations; Tol = 0 runs exactly Iterations (0: 3);
// a positive Tol stops once the marginal error is ≤ Tol (Iterations 0:
// 1000). The device always runs the log domain (Domain Auto or Log; Exp is
// an error), keeps its own scratch (Workspace is ignored), and solves on
// one device (a Reducer is an error). The result has LogDomain set and
// Plan = q.
//
// It returns an error wrapping ssl.ErrShape for mismatched or non-device
// tensors, ssl.ErrParam for ε ≤ 0 or non-finite and invalid options, and,
// with a positive Tol not met, the complete result with an error wrapping
// [sinkhorn.ErrNotConverged].
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments, NeurIPS 2020, Alg. 1 and App. A.1.
func (d *Device) Balance(q, scores *Tensor, eps float64, opts *sinkhorn.BalanceOptions) (sinkhorn.Result, error) {
	const fn = "cuda: Balance"
	d.lock()
	defer d.unlock()
	var res sinkhorn.Result
	b, k, err := d.matrix("Balance", "scores", scores)
	if err != nil {
		return res, err
	}
	if err := d.vector("Balance", "q", q, b*k); err != nil {
		return res, err
	}
	if err := check.Positive(fn, "eps", eps); err != nil {
		return res, err
	}
	iters, tol := 3, 0.0
	if opts != nil {
		if err := deviceOptions(fn, opts.Iterations, opts.Tol, opts.Domain, opts.Reducer); err != nil {
			return res, err
		}
		tol = opts.Tol
		switch {
		case opts.Iterations > 0:
			iters = opts.Iterations
		case tol > 0:
			iters = 1000
		}
	}
	f, err := d.scratch("balance_f", 4*uint64(b))
	if err != nil {
		return res, err
	}
	g, err := d.scratch("balance_g", 4*uint64(k))
	if err != nil {
		return res, err
	}
	cols, err := d.scratch("balance_cols", 4*uint64(k))
	if err != nil {
		return res, err
	}
	host := make([]float32, k)
	scale := float32(1 / eps)
	if err := d.memset(f, 0, b); err != nil {
		return res, err
	}
	// marginal returns B·max_k |Σ_b Q_bk − 1/K| for the current potentials.
	marginal := func() (float64, error) {
		if err := d.lseCols(cols, scores.ptr, f, g, b, k, scale, 0, false); err != nil {
			return 0, err
		}
		if err := d.dtoh(host, cols); err != nil {
			return 0, err
		}
		m := 0.0
		for _, x := range host {
			m = max(m, math.Abs(math.Exp(float64(x))-1/float64(k)))
		}
		return float64(b) * m, nil
	}
	logK, logB := float32(-math.Log(float64(k))), float32(-math.Log(float64(b)))
	res.LogDomain, res.Plan = true, q
	for res.Iterations < iters {
		if err := d.lseCols(g, scores.ptr, f, 0, b, k, scale, logK, true); err != nil {
			return res, err
		}
		if err := d.lseRows(f, scores.ptr, g, 0, b, k, scale, logB, true); err != nil {
			return res, err
		}
		res.Iterations++
		if tol > 0 {
			if res.Residual, err = marginal(); err != nil {
				return res, err
			}
			if res.Residual <= tol {
				break
			}
		}
	}
	if tol == 0 {
		if res.Residual, err = marginal(); err != nil {
			return res, err
		}
	}
	res.MarginalError = res.Residual
	if err := d.plan(q.ptr, scores.ptr, f, g, b, k, scale, float32(b)); err != nil {
		return res, err
	}
	if math.IsNaN(res.Residual) || math.IsInf(res.Residual, 0) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "codes are not finite (eps=%v)", eps)
	}
	if tol > 0 && res.Residual > tol {
		return res, check.Errorf(fn, sinkhorn.ErrNotConverged, "marginal error %.3g > Tol %.3g after %d iterations (Iterations=%d)", res.Residual, tol, res.Iterations, iters)
	}
	return res, nil
}

// deviceOptions checks the options the device solvers share with their
// CPU twins: the stopping rule, a domain the device runs (the log domain)
// and no Reducer.
func deviceOptions(fn string, iters int, tol float64, domain sinkhorn.Domain, red sinkhorn.Reducer) error {
	if err := check.Count(fn, "Iterations", iters, 0); err != nil {
		return err
	}
	if err := check.NonNegative(fn, "Tol", tol); err != nil {
		return err
	}
	if domain != sinkhorn.Auto && domain != sinkhorn.Log {
		return check.Errorf(fn, ssl.ErrParam, "the device runs the log domain (Domain=%v)", domain)
	}
	if red != nil {
		return check.Errorf(fn, ssl.ErrParam, "a Reducer is not supported on the device")
	}
	return nil
}

func (d *Device) plan(q, x, f, g uint64, rows, cols int, scale, mult float32) error {
	blocks := min((rows*cols+blockSize-1)/blockSize, 65535)
	return d.launch("sk_plan", blocks, 1, blockSize, q, x, f, g, int32(rows), int32(cols), scale, mult)
}

// SeLa solves SeLa's self-labelling problem for probs (N×K, positive rows
// of softmax outputs) held on the device, as [sinkhorn.SeLa] does on the
// host, with the same options and result: with A = probsᵀ^λ,
//
//	r = (1/K) / (A c),  c' = (1/N) / (Aᵀ r),  err = Σ_j |c_j/c'_j − 1| every CheckEvery updates,
//
// stopping after the first tested update with err ≤ Tol. It writes the
// pseudo-labels argmax_k Q[j,k] into labels (length N; nil allocates) and,
// when q is not nil, the plan Q[j,k] = r_k·A[k,j]·c_j (N×K, total mass 1)
// into q. The iteration runs on log r and log c (log-sum-exp reductions of
// λ·log probs plus a potential), so probabilities raised to λ = 25 neither
// underflow nor lose precision in float32. Each update reads the N×K
// matrix twice (a column pass for r, a row pass for c).
//
// Options are [sinkhorn.SeLaOptions] under the library's stopping rule: nil
// means SeLa's own schedule (Tol 0.1, tested every 10 updates, at most
// 10000); Tol = 0 runs exactly Iterations updates. InPlace overwrites probs
// with λ·log(probs) instead of allocating a second N×K matrix; q must not
// alias probs even then. LogR and LogC receive log r and log c (allocated
// when nil): Q_jk = exp(LogC_j + λ·log P_jk + LogR_k). The device always
// runs the log domain (Domain Auto or Log; Exp is an error), keeps its own
// scratch (Workspace is ignored) and solves on one device (a Reducer is an
// error). Residual is SeLa's error at the last check, MarginalError the
// plan's column error max_k |Σ_j Q_jk − 1/K|.
//
// It returns an error wrapping ssl.ErrShape or ssl.ErrParam for bad
// arguments, one wrapping ssl.ErrNotFinite (with the result) when the error
// turns NaN, and, with a positive Tol not met, the complete result with an
// error wrapping [sinkhorn.ErrNotConverged].
//
// Reference: Asano, Rupprecht, Vedaldi, Self-labelling via simultaneous
// clustering and representation learning, ICLR 2020, eq. 6–8.
func (d *Device) SeLa(labels []int, q, probs *Tensor, lambda float64, opts *sinkhorn.SeLaOptions) (sinkhorn.SeLaResult, error) {
	const fn = "cuda: SeLa"
	d.lock()
	defer d.unlock()
	var res sinkhorn.SeLaResult
	n, k, err := d.matrix("SeLa", "probs", probs)
	if err != nil {
		return res, err
	}
	if labels != nil && len(labels) != n {
		return res, check.Errorf(fn, ssl.ErrShape, "labels has length %d, want N=%d", len(labels), n)
	}
	if q != nil {
		if err := d.vector("SeLa", "q", q, n*k); err != nil {
			return res, err
		}
		if q.ptr == probs.ptr {
			return res, check.Errorf(fn, ssl.ErrShape, "q aliases probs")
		}
	}
	if err := check.Positive(fn, "lambda", lambda); err != nil {
		return res, err
	}
	iters, tol, every := 10000, 0.1, 10
	var o sinkhorn.SeLaOptions
	if opts != nil {
		o = *opts
		if err := deviceOptions(fn, o.Iterations, o.Tol, o.Domain, o.Reducer); err != nil {
			return res, err
		}
		if err := check.Count(fn, "CheckEvery", o.CheckEvery, 0); err != nil {
			return res, err
		}
		tol = o.Tol
		if o.Iterations > 0 {
			iters = o.Iterations
		}
		if o.CheckEvery > 0 {
			every = o.CheckEvery
		}
	}
	switch {
	case o.LogR != nil && len(o.LogR) != k:
		return res, check.Errorf(fn, ssl.ErrShape, "LogR has length %d, want K=%d", len(o.LogR), k)
	case o.LogC != nil && len(o.LogC) != n:
		return res, check.Errorf(fn, ssl.ErrShape, "LogC has length %d, want N=%d", len(o.LogC), n)
	}

	// L = λ·log(probs), in place or in a copy.
	logA := probs
	if !o.InPlace {
		if logA, err = d.Alloc(n, k); err != nil {
			return res, err
		}
		defer logA.Free()
	}
	total := n * k
	if err := d.launch("scale_log", min((total+blockSize-1)/blockSize, 65535), 1, blockSize, logA.ptr, probs.ptr, uint64(total), float32(lambda)); err != nil {
		return res, err
	}
	logC, err := d.scratch("sela_c", 4*uint64(n))
	if err != nil {
		return res, err
	}
	logC2, err := d.scratch("sela_c2", 4*uint64(n))
	if err != nil {
		return res, err
	}
	logR, err := d.scratch("sela_r", 4*uint64(k))
	if err != nil {
		return res, err
	}
	errAcc, err := d.scratch("sela_err", 8)
	if err != nil {
		return res, err
	}
	logInvN, logInvK := float32(-math.Log(float64(n))), float32(-math.Log(float64(k)))
	if err := d.fill(logC, logInvN, n); err != nil {
		return res, err
	}
	res.Residual = math.Inf(1)
	met := func() bool { return tol > 0 && res.Residual <= tol }
	for res.Iterations < iters && !met() {
		// log r_k = −log K − LSE_j(L_jk + log c_j)
		if err := d.lseCols(logR, logA.ptr, logC, 0, n, k, 1, logInvK, true); err != nil {
			return res, err
		}
		// log c'_j = −log N − LSE_k(L_jk + log r_k)
		if err := d.lseRows(logC2, logA.ptr, logR, 0, n, k, 1, logInvN, true); err != nil {
			return res, err
		}
		if res.Iterations%every == 0 {
			if res.Residual, err = d.selaErr(errAcc, logC, logC2, n); err != nil {
				return res, err
			}
		}
		logC, logC2 = logC2, logC
		res.Iterations++
	}
	if labels == nil {
		labels = make([]int, n)
	}
	res.Labels, res.LogDomain = labels, true
	lab := make([]int32, n)
	labDev, err := d.scratch("sela_labels", 4*uint64(n))
	if err != nil {
		return res, err
	}
	if err := d.launch("argmax_rows", n, 1, blockSize, labDev, logA.ptr, logR, int32(n), int32(k), float32(1)); err != nil {
		return res, err
	}
	if err := d.dtohInt32(lab, labDev); err != nil {
		return res, err
	}
	for i, v := range lab {
		labels[i] = int(v)
	}
	// The scalings, and the plan's column error (its rows are exact).
	hc, hr := make([]float32, n), make([]float32, k)
	if err := d.dtoh(hc, logC); err != nil {
		return res, err
	}
	if err := d.dtoh(hr, logR); err != nil {
		return res, err
	}
	res.LogC, res.LogR = o.LogC, o.LogR
	if res.LogC == nil {
		res.LogC = make([]float64, n)
	}
	if res.LogR == nil {
		res.LogR = make([]float64, k)
	}
	for i, v := range hc {
		res.LogC[i] = float64(v)
	}
	for j, v := range hr {
		res.LogR[j] = float64(v)
	}
	if err := d.lseCols(logC2, logA.ptr, logC, logR, n, k, 1, 0, false); err != nil {
		return res, err
	}
	if err := d.dtoh(hr, logC2); err != nil {
		return res, err
	}
	for _, v := range hr {
		res.MarginalError = max(res.MarginalError, math.Abs(math.Exp(float64(v))-1/float64(k)))
	}
	if q != nil {
		if err := d.plan(q.ptr, logA.ptr, logC, logR, n, k, 1, 1); err != nil {
			return res, err
		}
		res.Plan = q
	}
	if math.IsNaN(res.Residual) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "scaling error is NaN after %d updates", res.Iterations)
	}
	if tol > 0 && !met() {
		return res, check.Errorf(fn, sinkhorn.ErrNotConverged, "error %.4g > Tol %.4g after %d updates (Iterations=%d)", res.Residual, tol, res.Iterations, iters)
	}
	return res, nil
}

func (d *Device) selaErr(acc, old, cur uint64, n int) (float64, error) {
	zero := []float64{0}
	if err := d.htod64(acc, zero); err != nil {
		return 0, err
	}
	blocks := min((n+blockSize-1)/blockSize, 1024)
	if err := d.launch("sela_err", blocks, 1, blockSize, acc, old, cur, int32(n)); err != nil {
		return 0, err
	}
	if err := d.dtoh64(zero, acc); err != nil {
		return 0, err
	}
	return zero[0], nil
}
