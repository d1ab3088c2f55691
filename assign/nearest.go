package assign

import (
	"fmt"

	"ssl"
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

// Nearest assigns each row of x (N×D) to its nearest centroid (centroids is
// K×D) in squared Euclidean distance, writes the index into labels and the
// squared distance into dist, and returns the sum of dist (the inertia):
//
//	labels_n = argmin_k ‖x_n − c_k‖²,  dist_n = ‖x_n − c_k‖²  at k = labels_n
//
// computed as ‖x‖² − 2x·c + ‖c‖² through the blocked GEMM (never all N×K
// distances at once), clamped at 0; ties go to the lowest index, as faiss's
// IndexFlatL2 search with k = 1 does. labels (len N) and dist (len N) may be
// nil, and are then allocated; they are returned.
//
// It returns an error wrapping ssl.ErrShape if x or centroids is not a
// matrix, they differ in D, K = 0 or a destination has the wrong length, and
// one wrapping ssl.ErrNotFinite if either holds a NaN or an infinity or a
// squared norm overflows float32. Nothing is written then.
func Nearest(labels []int, dist []float32, x, centroids ssl.Tensor) ([]int, []float32, float64, error) {
	const fn = "Nearest"
	n, d, xv, err := matrix(fn, "x", x)
	if err != nil {
		return nil, nil, 0, err
	}
	k, dc, cv, err := matrix(fn, "centroids", centroids)
	if err != nil {
		return nil, nil, 0, err
	}
	if dc != d {
		return nil, nil, 0, fmt.Errorf("assign: %s: centroids have D=%d, x has D=%d: %w", fn, dc, d, ssl.ErrShape)
	}
	if k == 0 {
		return nil, nil, 0, fmt.Errorf("assign: %s: centroids have K=0 rows: %w", fn, ssl.ErrShape)
	}
	if labels != nil && len(labels) != n {
		return nil, nil, 0, fmt.Errorf("assign: %s: labels has len %d, want N=%d: %w", fn, len(labels), n, ssl.ErrShape)
	}
	if dist != nil && len(dist) != n {
		return nil, nil, 0, fmt.Errorf("assign: %s: dist has len %d, want N=%d: %w", fn, len(dist), n, ssl.ErrShape)
	}
	if dist != nil && (kernel.Overlaps(dist, xv) || kernel.Overlaps(dist, cv)) {
		return nil, nil, 0, fmt.Errorf("assign: %s: dist aliases an input: %w", fn, ssl.ErrShape)
	}
	if err := checkFinite(fn, "x", xv, n, d); err != nil {
		return nil, nil, 0, err
	}
	if err := checkFinite(fn, "centroids", cv, k, d); err != nil {
		return nil, nil, 0, err
	}
	xn, cn := make([]float32, n), make([]float32, k)
	rowNorms2(xn, xv, n, d)
	rowNorms2(cn, cv, k, d)
	if err := checkNorms(fn, "x", xn); err != nil {
		return nil, nil, 0, err
	}
	if err := checkNorms(fn, "centroids", cn); err != nil {
		return nil, nil, 0, err
	}
	if labels == nil {
		labels = make([]int, n)
	}
	if dist == nil {
		dist = make([]float32, n)
	}
	if n == 0 {
		return labels, dist, 0, nil
	}
	ip := make([]float32, assignBlockRows(n, k)*k)
	nearest(labels, dist, xv, xn, n, d, cv, cn, k, ip)
	return labels, dist, kernel.Sum(dist), nil
}

// checkNorms returns an error wrapping ssl.ErrNotFinite if a squared row
// norm overflowed float32.
func checkNorms(fn, name string, norms []float32) error {
	for i, v := range norms {
		if v-v != 0 {
			return fmt.Errorf("assign: %s: %s row %d has squared norm %v (overflows float32): %w", fn, name, i, v, ssl.ErrNotFinite)
		}
	}
	return nil
}
