package assign

import (
	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// assignBlockFloats bounds the scratch of the blocked distance computation:
// one block of rows × K inner products, at most 2^20 floats (4 MiB, about a
// core's share of L3), so the N×K distance matrix never exists in memory.
const assignBlockFloats = 1 << 20

// assignBlockRows returns the rows per block for K centroids: as many as fit
// assignBlockFloats, at least 16 (one register tile of the GEMM), at most n.
func assignBlockRows(n, k int) int {
	return max(1, min(n, max(16, assignBlockFloats/max(k, 1))))
}

// nearest writes, for each of the n rows x_i of x (n×d, squared norms xn),
// the index of the nearest of the k centroids c (k×d, squared norms cn) and
// the squared distance to it:
//
//	labels_i = argmin_j ‖c_j‖² − 2·x_i·c_j      (lowest j on ties, as faiss)
//	dist_i   = max(‖x_i‖² + ‖c_j‖² − 2·x_i·c_j, 0)
//
// The inner products come from kernel.Gemm one block of rows at a time into
// ip (at least one row of k floats); each row's argmin is independent, so
// the result does not depend on GOMAXPROCS.
func nearest(labels []int, dist []float32, x, xn []float32, n, d int, c, cn []float32, k int, ip []float32) {
	bs := max(1, min(n, len(ip)/k))
	grain := kernel.Grain(bs, k, 1<<14)
	for lo := 0; lo < n; lo += bs {
		m := min(bs, n-lo)
		kernel.Gemm(false, true, m, k, d, 1, x[lo*d:], d, c, d, 0, ip, k)
		kernel.ParallelFor(m, grain, func(a, b int) {
			for r := a; r < b; r++ {
				row := ip[r*k : (r+1)*k]
				best, bj := cn[0]-2*row[0], 0
				for j := 1; j < len(row); j++ {
					if v := cn[j] - 2*row[j]; v < best {
						best, bj = v, j
					}
				}
				i := lo + r
				labels[i] = bj
				dist[i] = max(xn[i]+best, 0)
			}
		})
	}
}

// NearestResult is the outcome of [Nearest].
type NearestResult struct {
	// Labels[n] is the index of the centroid nearest to x_n: the caller's
	// labels, or a new slice when it was nil.
	Labels []int
	// Dist[n] is the squared distance from x_n to that centroid: the
	// caller's dist, or a new slice when it was nil.
	Dist []float32
	// Inertia is Σ_n Dist[n].
	Inertia float64
}

// Nearest assigns each row of x (N×D) to its nearest centroid (centroids is
// K×D) in squared Euclidean distance, writes the index into labels and the
// squared distance into dist, and returns them with their sum (the
// inertia):
//
//	labels_n = argmin_k ‖x_n − c_k‖²,  dist_n = ‖x_n − c_k‖²  at k = labels_n
//
// computed as ‖x‖² − 2x·c + ‖c‖² through the blocked GEMM (never all N×K
// distances at once), clamped at 0; ties go to the lowest index (the
// package's tie rule; faiss's IndexFlatL2 search with k = 1 does the same).
// labels (len N) and dist (len N) may be nil, and are then allocated.
//
// It returns an error wrapping ssl.ErrShape if x or centroids is not a
// matrix, they differ in D, K = 0 or a destination has the wrong length or
// dist overlaps an input, and one wrapping ssl.ErrNotFinite if either holds
// a NaN or an infinity or a squared norm overflows float32. Nothing is
// written then.
func Nearest(labels []int, dist []float32, x, centroids ssl.Tensor) (NearestResult, error) {
	const fn = "assign: Nearest"
	n, d, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return NearestResult{}, err
	}
	k, dc, cv, err := check.Matrix(fn, "centroids", centroids)
	if err != nil {
		return NearestResult{}, err
	}
	if dc != d {
		return NearestResult{}, check.Errorf(fn, ssl.ErrShape, "centroids have D=%d, x has D=%d", dc, d)
	}
	if k == 0 {
		return NearestResult{}, check.Errorf(fn, ssl.ErrShape, "centroids have K=0 rows")
	}
	if labels != nil && len(labels) != n {
		return NearestResult{}, check.Errorf(fn, ssl.ErrShape, "labels has len %d, want N=%d", len(labels), n)
	}
	if dist != nil && len(dist) != n {
		return NearestResult{}, check.Errorf(fn, ssl.ErrShape, "dist has len %d, want N=%d", len(dist), n)
	}
	if dist != nil && (kernel.Overlaps(dist, xv) || kernel.Overlaps(dist, cv)) {
		return NearestResult{}, check.Errorf(fn, ssl.ErrShape, "dist overlaps an input")
	}
	if err := check.FiniteData(fn, "x", xv, n, d); err != nil {
		return NearestResult{}, err
	}
	if err := check.FiniteData(fn, "centroids", cv, k, d); err != nil {
		return NearestResult{}, err
	}
	xn, cn := make([]float32, n), make([]float32, k)
	rowNorms2(xn, xv, n, d)
	rowNorms2(cn, cv, k, d)
	if err := checkNorms(fn, "x", xn); err != nil {
		return NearestResult{}, err
	}
	if err := checkNorms(fn, "centroids", cn); err != nil {
		return NearestResult{}, err
	}
	if labels == nil {
		labels = make([]int, n)
	}
	if dist == nil {
		dist = make([]float32, n)
	}
	if n == 0 {
		return NearestResult{Labels: labels, Dist: dist}, nil
	}
	ip := make([]float32, assignBlockRows(n, k)*k)
	nearest(labels, dist, xv, xn, n, d, cv, cn, k, ip)
	return NearestResult{Labels: labels, Dist: dist, Inertia: kernel.Sum(dist)}, nil
}

// checkNorms returns an error wrapping ssl.ErrNotFinite if a squared row
// norm overflowed float32.
func checkNorms(fn, name string, norms []float32) error {
	for i, v := range norms {
		if v-v != 0 {
			return check.Errorf(fn, ssl.ErrNotFinite, "%s row %d has squared norm %v (overflows float32)", name, i, v)
		}
	}
	return nil
}
