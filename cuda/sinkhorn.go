package cuda

import (
	"fmt"
	"math"

	"ssl"
)

// Balance computes SwAV's codes on the device: for scores (B×K) it writes
// into q (B×K, which may be scores itself)
//
//	Q = B · diag(e^f) · exp(scores/ε) · diag(e^g)
//
// after iterations alternating normalisations, first of the prototype
// columns to mass 1/K, then of the sample rows to mass 1/B, as
// facebookresearch/swav's distributed_sinkhorn (world size 1) does; every
// row of q sums to 1. The potentials f (B) and g (K) are updated in the log
// domain,
//
//	g_k = −log K − LSE_b(scores_bk/ε + f_b),  f_b = −log B − LSE_k(scores_bk/ε + g_k),
//
// so scores/ε of any magnitude stay finite (the reference overflows float32
// past scores/ε ≈ 88.7). Each iteration reads scores twice.
//
// It returns an error wrapping ssl.ErrShape for mismatched or non-device
// tensors and ssl.ErrParam for ε ≤ 0 or iterations < 0.
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments, NeurIPS 2020, Alg. 1 and App. A.1.
func (d *Device) Balance(q, scores *Tensor, epsilon float32, iterations int) error {
	const fn = "Balance"
	d.lock()
	defer d.unlock()
	b, k, err := d.matrix(fn, "scores", scores)
	if err != nil {
		return err
	}
	if err := d.vector(fn, "q", q, b*k); err != nil {
		return err
	}
	if !(epsilon > 0) || math.IsInf(float64(epsilon), 0) {
		return fmt.Errorf("cuda: %s: epsilon=%v must be positive and finite: %w", fn, epsilon, ssl.ErrParam)
	}
	if iterations < 0 {
		return fmt.Errorf("cuda: %s: iterations=%d must be ≥ 0: %w", fn, iterations, ssl.ErrParam)
	}
	f, err := d.scratch("balance_f", 4*uint64(b))
	if err != nil {
		return err
	}
	g, err := d.scratch("balance_g", 4*uint64(k))
	if err != nil {
		return err
	}
	scale := 1 / epsilon
	if err := d.memset(f, 0, b); err != nil {
		return err
	}
	if iterations == 0 {
		// Q = B·exp(L − LSE(L)): f_b = −LSE over the whole matrix.
		rows := make([]float32, b)
		if err := d.lseRows(f, scores.ptr, 0, 0, b, k, scale, 0, false); err != nil {
			return err
		}
		if err := d.dtoh(rows, f); err != nil {
			return err
		}
		total := logSumExp64(rows)
		for i := range rows {
			rows[i] = float32(-total)
		}
		if err := d.htod(f, rows); err != nil {
			return err
		}
		if err := d.memset(g, 0, k); err != nil {
			return err
		}
	}
	logK, logB := float32(-math.Log(float64(k))), float32(-math.Log(float64(b)))
	for range iterations {
		if err := d.lseCols(g, scores.ptr, f, 0, b, k, scale, logK, true); err != nil {
			return err
		}
		if err := d.lseRows(f, scores.ptr, g, 0, b, k, scale, logB, true); err != nil {
			return err
		}
	}
	return d.plan(q.ptr, scores.ptr, f, g, b, k, scale, float32(b))
}

func logSumExp64(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

func (d *Device) plan(q, x, f, g uint64, rows, cols int, scale, mult float32) error {
	blocks := min((rows*cols+blockSize-1)/blockSize, 65535)
	return d.launch("sk_plan", blocks, 1, blockSize, q, x, f, g, int32(rows), int32(cols), scale, mult)
}

// SeLaOptions are the optional settings of [Device.SeLa]; nil means the
// defaults.
type SeLaOptions struct {
	// InPlace lets SeLa overwrite probs with λ·log(probs) instead of
	// allocating a second N×K matrix on the device.
	InPlace bool
	// StopErr is the stopping threshold on Σ_j |c_j/c'_j − 1|; 0 means
	// SeLa's 0.1.
	StopErr float64
	// CheckEvery is the cadence of the error check; 0 means SeLa's 10.
	CheckEvery int
	// MaxIter bounds the updates; 0 means 10000. Reaching it without
	// convergence returns the partial result and an error wrapping
	// [ErrNotConverged].
	MaxIter int
}

// SeLaResult reports a SeLa solve.
type SeLaResult struct {
	Iterations int     // scaling updates made (10·m + 1 with the defaults)
	Err        float64 // the error at the last check
}

// SeLa solves SeLa's self-labelling problem for probs (N×K, positive rows
// of softmax outputs) held on the device, as the contract sinkhorn.sela and
// yukimasano/self-label's optimize_L_sk state it: with A = probsᵀ^λ,
//
//	r = (1/K) / (A c),  c' = (1/N) / (Aᵀ r),  err = Σ_j |c_j/c'_j − 1| every CheckEvery updates,
//
// stopping after the first check with err ≤ StopErr. It writes the
// pseudo-labels argmax_k Q[j,k] into labels (length N) and, when q is not
// nil, the plan Q[j,k] = r_k·A[k,j]·c_j (N×K, total mass 1) into q. The
// iteration runs on log r and log c (log-sum-exp reductions of λ·log probs
// plus a potential), so probabilities raised to λ = 25 neither underflow
// nor lose precision in float32. Each update reads the N×K matrix twice
// (a column pass for r, a row pass for c).
//
// It returns an error wrapping ssl.ErrShape or ssl.ErrParam for bad
// arguments, and one wrapping ssl.ErrNotFinite (with the partial result)
// when the error turns NaN, and one wrapping [ErrNotConverged] (with the
// partial result) when MaxIter updates pass without convergence.
//
// Reference: Asano, Rupprecht, Vedaldi, Self-labelling via simultaneous
// clustering and representation learning, ICLR 2020, eq. 6–8.
func (d *Device) SeLa(labels []int, q, probs *Tensor, lambda float32, opts *SeLaOptions) (SeLaResult, error) {
	const fn = "SeLa"
	d.lock()
	defer d.unlock()
	var res SeLaResult
	n, k, err := d.matrix(fn, "probs", probs)
	if err != nil {
		return res, err
	}
	if len(labels) != n {
		return res, fmt.Errorf("cuda: %s: labels has %d elements, want %d: %w", fn, len(labels), n, ssl.ErrShape)
	}
	if q != nil {
		if err := d.vector(fn, "q", q, n*k); err != nil {
			return res, err
		}
		if q.ptr == probs.ptr {
			return res, fmt.Errorf("cuda: %s: q aliases probs: %w", fn, ssl.ErrShape)
		}
	}
	if !(lambda > 0) || math.IsInf(float64(lambda), 0) {
		return res, fmt.Errorf("cuda: %s: lambda=%v must be positive and finite: %w", fn, lambda, ssl.ErrParam)
	}
	o := SeLaOptions{StopErr: 0.1, CheckEvery: 10, MaxIter: 10000}
	if opts != nil {
		o.InPlace = opts.InPlace
		if opts.StopErr < 0 || math.IsNaN(opts.StopErr) {
			return res, fmt.Errorf("cuda: %s: StopErr=%v must be ≥ 0: %w", fn, opts.StopErr, ssl.ErrParam)
		}
		if opts.StopErr > 0 {
			o.StopErr = opts.StopErr
		}
		if opts.CheckEvery < 0 || opts.MaxIter < 0 {
			return res, fmt.Errorf("cuda: %s: CheckEvery=%d and MaxIter=%d must be ≥ 0: %w", fn, opts.CheckEvery, opts.MaxIter, ssl.ErrParam)
		}
		if opts.CheckEvery > 0 {
			o.CheckEvery = opts.CheckEvery
		}
		if opts.MaxIter > 0 {
			o.MaxIter = opts.MaxIter
		}
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
	if err := d.launch("scale_log", min((total+blockSize-1)/blockSize, 65535), 1, blockSize, logA.ptr, probs.ptr, uint64(total), lambda); err != nil {
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
	stop := math.Inf(1)
	for res.Iterations < o.MaxIter {
		// log r_k = −log K − LSE_j(L_jk + log c_j)
		if err := d.lseCols(logR, logA.ptr, logC, 0, n, k, 1, logInvK, true); err != nil {
			return res, err
		}
		// log c'_j = −log N − LSE_k(L_jk + log r_k)
		if err := d.lseRows(logC2, logA.ptr, logR, 0, n, k, 1, logInvN, true); err != nil {
			return res, err
		}
		if res.Iterations%o.CheckEvery == 0 {
			if stop, err = d.selaErr(errAcc, logC, logC2, n); err != nil {
				return res, err
			}
			res.Err = stop
		}
		logC, logC2 = logC2, logC
		res.Iterations++
		if stop <= o.StopErr {
			break
		}
	}
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
	if q != nil {
		if err := d.plan(q.ptr, logA.ptr, logC, logR, n, k, 1, 1); err != nil {
			return res, err
		}
	}
	if math.IsNaN(res.Err) {
		return res, fmt.Errorf("cuda: %s: scaling error is NaN after %d updates: %w", fn, res.Iterations, ssl.ErrNotFinite)
	}
	if stop > o.StopErr {
		return res, fmt.Errorf("cuda: %s: not converged after MaxIter=%d updates (err %.4g > %.4g): %w", fn, o.MaxIter, stop, o.StopErr, ErrNotConverged)
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
