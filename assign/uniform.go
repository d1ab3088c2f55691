package assign

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// defaultUniformIterations bounds the coordinate sweeps of
// [UniformTranslate]; balanced data typically need a handful.
const defaultUniformIterations = 50

// UniformTranslateOptions holds the optional settings of
// [UniformTranslate]. A nil *UniformTranslateOptions means the defaults.
type UniformTranslateOptions struct {
	// Iterations is the most coordinate sweeps over the K clusters, ≥ 0; 0
	// means 50. Once every cluster holds ⌊N/K⌋ or ⌈N/K⌉ samples a sweep
	// changes nothing, so the sweeps stop there whatever Tol.
	Iterations int
	// Tol, if > 0, stops the sweeps once the residual (the Imbalance of
	// [UniformTranslateResult], a count of samples) is ≤ Tol; if it is
	// still above Tol after Iterations, UniformTranslate returns the
	// complete result with an error wrapping ErrNotConverged. 0 (the
	// default) runs the sweeps up to Iterations with no test.
	Tol float64
}

// UniformTranslateResult is the outcome of [UniformTranslate].
type UniformTranslateResult struct {
	// Shift is the translation b (len K) added to every output row.
	Shift []float64
	// Labels[i] = argmax_k (z_ik + b_k) (lowest k on ties).
	Labels []int
	// Counts[k] is the number of samples labelled k.
	Counts []int
	// Iterations is the number of sweeps run.
	Iterations int
	// Imbalance, the residual, is the largest distance of a count from
	// [⌊N/K⌋, ⌈N/K⌉]: 0 when the assignment is as uniform as N and K
	// allow.
	Imbalance int
}

// UniformTranslate is the neighbour-preserving uniform assignment of the
// output-translation method for remote-sensing images: it moves the network
// outputs z (N×K, one row per sample, one column per cluster) by one common
// translation b so that the samples spread evenly over the clusters,
//
//	find b ∈ ℝ^K such that  n_k(b) = #{i : argmax_j (z_ij + b_j) = k} ∈ {⌊N/K⌋, ⌈N/K⌉}
//	labels_i = argmax_k (z_ik + b_k),  dst = z + 1bᵀ
//
// A translation moves every output by the same vector, so all distances
// between outputs, and with them every sample's neighbourhood, are kept
// exactly; only the decision boundaries move. The paper gives no code; this
// follows its description (translate the outputs so the distribution over
// clusters becomes uniform while the outputs' neighbourhood relations are
// preserved), with b found as the dual variables of the balanced
// assignment max Σ_i z_{i,y_i} s.t. n_k = N/K: block-coordinate descent on
// the convex dual g(b) = Σ_i max_k (z_ik + b_k) − (N/K) Σ_k b_k. One step
// sets b_k, the others fixed, to the value that gives cluster k exactly its
// target count T (⌈N/K⌉ for an over-full cluster, ⌊N/K⌋ for an
// under-full one): with d_i = z_ik − max_{j≠k}(z_ij + b_j), b_k is minus the
// midpoint of the T-th and (T+1)-th largest d_i. A sweep visits k = 0 … K−1;
// sweeps repeat until every count is within target, opts.Tol is met or
// opts.Iterations is reached, and the b with the lowest Imbalance seen is
// returned. Ties in
// the outputs (equal d_i at the cut) can leave a residual imbalance.
//
// labels (len N) receives the labels (nil allocates); dst (N×K) receives
// z + 1bᵀ if not nil. b is computed in float64.
//
// It returns an error wrapping ssl.ErrShape if outputs is not a matrix, has
// K < 1 columns or fewer rows than columns, or a destination has the wrong
// shape or overlaps outputs; ssl.ErrParam for a negative Iterations or a
// negative or non-finite Tol; and ssl.ErrNotFinite if outputs holds a NaN
// or an infinity. Nothing is written then. If opts.Tol > 0 is not met it
// returns the complete result with an error wrapping ErrNotConverged.
//
// Reference: Li, Li, Garibaldi and Qiu, Clustering-Based Representation
// Learning through Output Translation and Its Application to Remote-Sensing
// Images, Remote Sensing 14(14):3361, 2022, Sec. 3.
func UniformTranslate(dst ssl.Tensor, labels []int, outputs ssl.Tensor, opts *UniformTranslateOptions) (UniformTranslateResult, error) {
	const fn = "assign: UniformTranslate"
	var o UniformTranslateOptions
	if opts != nil {
		o = *opts
	}
	n, k, zv, err := check.Matrix(fn, "outputs", outputs)
	if err != nil {
		return UniformTranslateResult{}, err
	}
	if k < 1 || n < k {
		return UniformTranslateResult{}, check.Errorf(fn, ssl.ErrShape, "outputs is %d×%d, want K ≥ 1 and N ≥ K", n, k)
	}
	if o.Iterations < 0 {
		return UniformTranslateResult{}, check.Errorf(fn, ssl.ErrParam, "Iterations must be ≥ 0 (Iterations=%d)", o.Iterations)
	}
	if err := check.NonNegative(fn, "Tol", o.Tol); err != nil {
		return UniformTranslateResult{}, err
	}
	var dv []float32
	if !check.IsNil(dst) {
		if dv, err = check.MatrixOf(fn, "dst", dst, n, k); err != nil {
			return UniformTranslateResult{}, err
		}
		if kernel.Overlaps(dv, zv) {
			return UniformTranslateResult{}, check.Errorf(fn, ssl.ErrShape, "dst overlaps outputs")
		}
	}
	if labels != nil && len(labels) != n {
		return UniformTranslateResult{}, check.Errorf(fn, ssl.ErrShape, "labels has len %d, want N=%d", len(labels), n)
	}
	if err := check.FiniteData(fn, "outputs", zv, n, k); err != nil {
		return UniformTranslateResult{}, err
	}
	iters := o.Iterations
	if iters == 0 {
		iters = defaultUniformIterations
	}
	u := newUniformState(zv, n, k)
	best := append([]float64(nil), u.b...)
	bestImb := u.imbalance()
	var res UniformTranslateResult
	for res.Iterations < iters && bestImb > 0 {
		if o.Tol > 0 && float64(bestImb) <= o.Tol {
			break
		}
		for c := range k {
			u.step(c)
		}
		res.Iterations++
		if imb := u.imbalance(); imb < bestImb {
			bestImb = imb
			copy(best, u.b)
		}
	}
	// Final labels under the best translation.
	if labels == nil {
		labels = make([]int, n)
	}
	counts := make([]int, k)
	for i := range n {
		row := zv[i*k : (i+1)*k]
		bj, bv := 0, float64(row[0])+best[0]
		for j := 1; j < k; j++ {
			if v := float64(row[j]) + best[j]; v > bv {
				bj, bv = j, v
			}
		}
		labels[i] = bj
		counts[bj]++
		if dv != nil {
			for j, z := range row {
				dv[i*k+j] = float32(float64(z) + best[j])
			}
		}
	}
	res.Shift, res.Labels, res.Counts = best, labels, counts
	lo, hi := n/k, (n+k-1)/k
	for _, c := range counts {
		res.Imbalance = max(res.Imbalance, lo-c, c-hi)
	}
	if o.Tol > 0 && float64(res.Imbalance) > o.Tol {
		return res, check.Errorf(fn, ErrNotConverged, "imbalance %d > Tol=%g after %d sweeps", res.Imbalance, o.Tol, res.Iterations)
	}
	return res, nil
}

// uniformState keeps, for every row, the best and second-best of
// z_ij + b_j, so one coordinate step costs O(N) plus O(K) per row whose
// top two change.
type uniformState struct {
	z      []float32
	n, k   int
	b      []float64
	best   []float64 // best value per row
	bestJ  []int
	second []float64 // second-best value per row
	secJ   []int
	counts []int
	d      []float64 // scratch: margins of the cluster being stepped
}

func newUniformState(z []float32, n, k int) *uniformState {
	u := &uniformState{
		z: z, n: n, k: k, b: make([]float64, k),
		best: make([]float64, n), bestJ: make([]int, n), second: make([]float64, n), secJ: make([]int, n),
		counts: make([]int, k), d: make([]float64, n),
	}
	for i := range n {
		u.rescan(i)
		u.counts[u.bestJ[i]]++
	}
	return u
}

// rescan recomputes row i's top two (ties to the lowest index).
func (u *uniformState) rescan(i int) {
	row := u.z[i*u.k : (i+1)*u.k]
	b1, j1, b2, j2 := math.Inf(-1), 0, math.Inf(-1), -1
	for j, z := range row {
		v := float64(z) + u.b[j]
		if v > b1 {
			b2, j2 = b1, j1
			b1, j1 = v, j
		} else if v > b2 {
			b2, j2 = v, j
		}
	}
	u.best[i], u.bestJ[i], u.second[i], u.secJ[i] = b1, j1, b2, j2
}

// imbalance is the largest distance of a count from [⌊N/K⌋, ⌈N/K⌉].
func (u *uniformState) imbalance() int {
	lo, hi := u.n/u.k, (u.n+u.k-1)/u.k
	m := 0
	for _, c := range u.counts {
		m = max(m, lo-c, c-hi)
	}
	return m
}

// step moves b_c so that cluster c gets its target count, and updates the
// rows' top two and the counts.
func (u *uniformState) step(c int) {
	lo, hi := u.n/u.k, (u.n+u.k-1)/u.k
	var t int
	switch {
	case u.counts[c] > hi:
		t = hi
	case u.counts[c] < lo:
		t = lo
	default:
		return
	}
	k := u.k
	for i := range u.n {
		other := u.best[i]
		if u.bestJ[i] == c {
			other = u.second[i]
		}
		u.d[i] = float64(u.z[i*k+c]) - other
	}
	// Exactly t rows must have d_i + b_c > 0: cut between the t-th and
	// (t+1)-th largest margins.
	scratch := append(u.d[:0:0], u.d...)
	dt := nthLargest(scratch, t)
	var nb float64
	if t < u.n {
		dt1 := nthLargest(scratch, t+1)
		nb = -(dt + dt1) / 2
	} else {
		nb = -dt + 1
	}
	if !finite(nb) {
		return
	}
	u.b[c] = nb
	for i := range u.n {
		v := float64(u.z[i*k+c]) + nb
		if u.bestJ[i] == c || u.secJ[i] == c || v > u.second[i] {
			old := u.bestJ[i]
			u.rescan(i)
			if nj := u.bestJ[i]; nj != old {
				u.counts[old]--
				u.counts[nj]++
			}
		}
	}
}

// nthLargest returns the t-th largest element (t ≥ 1) of x, reordering x
// (quickselect with median-of-three pivots).
func nthLargest(x []float64, t int) float64 {
	lo, hi, want := 0, len(x)-1, t-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// median of three as pivot, descending order
		a, b, c := x[lo], x[mid], x[hi]
		p := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for x[i] > p {
				i++
			}
			for x[j] < p {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return x[want]
		}
	}
	return x[want]
}
